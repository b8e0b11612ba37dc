//! Which sweep points and formations go together in a figure: groups in which exactly one
//! thing varies, so that a line, a panel or a row of boxes compares like with like.
//!
//! A sweep is a grid: every combination of its keys' values. A line joining sweep points must
//! vary one key with the others fixed (joining 20 requests/s with 60 requests/s and a different
//! dyno count says nothing), and a panel of CDF curves must hold formations that differ in one
//! key. So the points are split by the values of every key but one, the *varying* key (the key
//! with the most values; the later key on a tie, as the grid varies it fastest), and each group
//! is ordered by the varying key's values as the scenario lists them. Without a sweep, the
//! formations are grouped by tier and size, as that is what they differ in.
//!
//! Every figure takes its grouping from here: `sweep_p99_cost` draws one line per group and
//! process type, `latency_by_formation` orders its boxes by group, `latency_cdf` (many
//! formations) and `p99_over_time` draw one panel per group.

use super::data::Data;
use std::collections::BTreeMap;

/// How a sweep value is labelled: `count=3`, `arrivals.poisson=20.0`; a size by its name alone
/// (`standard-1x` says what it is).
pub(super) fn value_label(name: &str, value: &str) -> String {
    if name == "size" || name.ends_with(".size") {
        value.to_string()
    } else {
        format!("{name}={value}")
    }
}

/// The sweep points in groups: one key varies within a group, the others are fixed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SweepLayout {
    /// Index (into `Data::sweep_keys`) of the key that varies within a group.
    pub(super) varying: usize,
    /// In the order of the fixed keys' values (the first key outermost).
    pub(super) groups: Vec<PointGroup>,
}

/// Sweep points that differ only in the varying key.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PointGroup {
    /// `key=value` of every fixed key, in key order (empty for a one-key sweep).
    pub(super) fixed: Vec<String>,
    /// The group's points, in the order of the varying key's values.
    pub(super) points: Vec<usize>,
}

impl PointGroup {
    /// The fixed values, `arrivals.poisson=20.0 · size=standard-1x`.
    pub(super) fn title(&self) -> String {
        self.fixed.join(" · ")
    }
}

impl SweepLayout {
    /// The layout of a sweep with `keys` (their label names) and each point's values; `None`
    /// without sweep keys. Points without values (none of their rows were read) are left out.
    pub(super) fn of(keys: &[String], points: &[Vec<String>]) -> Option<SweepLayout> {
        let k = keys.len();
        let complete = || points.iter().enumerate().filter(|(_, v)| v.len() == k);
        // Each key's values in the order the grid first reaches them: the scenario's order.
        let mut order: Vec<Vec<&str>> = vec![Vec::new(); k];
        for (_, values) in complete() {
            for (j, v) in values.iter().enumerate() {
                if !order[j].contains(&v.as_str()) {
                    order[j].push(v);
                }
            }
        }
        let varying = (0..k).max_by_key(|&j| (order[j].len(), j))?;
        let rank = |j: usize, v: &str| order[j].iter().position(|u| *u == v);
        let mut groups: BTreeMap<Vec<Option<usize>>, PointGroup> = BTreeMap::new();
        for (p, values) in complete() {
            let fixed: Vec<usize> = (0..k).filter(|&j| j != varying).collect();
            let group = groups
                .entry(fixed.iter().map(|&j| rank(j, &values[j])).collect())
                .or_insert_with(|| PointGroup {
                    fixed: fixed
                        .iter()
                        .map(|&j| value_label(&keys[j], &values[j]))
                        .collect(),
                    points: Vec::new(),
                });
            group.points.push(p);
        }
        let mut groups: Vec<PointGroup> = groups.into_values().collect();
        for g in &mut groups {
            g.points
                .sort_by_key(|&p| (rank(varying, &points[p][varying]), p));
        }
        Some(SweepLayout { varying, groups })
    }

    /// The points in layout order: group by group.
    pub(super) fn order(&self) -> Vec<usize> {
        self.groups.iter().flat_map(|g| g.points.clone()).collect()
    }
}

/// Formations that differ in one thing, drawn together (one panel, one run of boxes).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Group {
    /// What the members share: `shop/web · arrivals.poisson=20.0`, `standard · standard-1x`.
    pub(super) title: String,
    /// Indices into `Data::cats`, in the varying key's order (else file order).
    pub(super) members: Vec<usize>,
    /// What tells each member apart within the group: `count=3` (else the formation's label).
    pub(super) names: Vec<String>,
}

impl Data {
    /// The formations in groups. For a sweep: one group per point group of [`SweepLayout`] and
    /// process type, each member named by its varying key's value. Without a sweep: one group
    /// per tier and size, each member named by its formation label. A group of more than `max`
    /// members is split into near-equal parts, titled `(1/3)` and so on.
    pub(super) fn formation_groups(&self, max: usize) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        if let Some(layout) = &self.layout {
            let mut procs: Vec<(&str, &str)> = Vec::new();
            for c in &self.cats {
                if !procs.contains(&(c.app.as_str(), c.process.as_str())) {
                    procs.push((c.app.as_str(), c.process.as_str()));
                }
            }
            let index: BTreeMap<(usize, &str, &str), usize> = self
                .cats
                .iter()
                .enumerate()
                .map(|(i, c)| ((c.point, c.app.as_str(), c.process.as_str()), i))
                .collect();
            let key = &self.key_names()[layout.varying];
            for pg in &layout.groups {
                for &(app, process) in &procs {
                    let mut title = pg.fixed.clone();
                    if procs.len() > 1 || title.is_empty() {
                        title.insert(0, format!("{app}/{process}"));
                    }
                    let members: Vec<usize> = pg
                        .points
                        .iter()
                        .filter_map(|&p| index.get(&(p, app, process)).copied())
                        .collect();
                    if members.is_empty() {
                        continue;
                    }
                    // A size that is not swept is still worth naming.
                    let size = &self.cats[members[0]].size;
                    if members.iter().all(|&i| &self.cats[i].size == size) && !title.contains(size)
                    {
                        title.push(size.clone());
                    }
                    let names = members
                        .iter()
                        .map(|&i| {
                            value_label(key, &self.points[self.cats[i].point][layout.varying])
                        })
                        .collect();
                    groups.push(Group {
                        title: title.join(" · "),
                        members,
                        names,
                    });
                }
            }
        } else {
            for (i, c) in self.cats.iter().enumerate() {
                let title = c.tier_size();
                match groups.iter_mut().find(|g| g.title == title) {
                    Some(g) => {
                        g.members.push(i);
                        g.names.push(c.label.clone());
                    }
                    None => groups.push(Group {
                        title,
                        members: vec![i],
                        names: vec![c.label.clone()],
                    }),
                }
            }
        }
        groups.into_iter().flat_map(|g| split(g, max)).collect()
    }
}

/// `g` in near-equal parts of at most `max` members (`max` of at least 1).
fn split(g: Group, max: usize) -> Vec<Group> {
    let n = g.members.len();
    let parts = n.div_ceil(max.max(1)).max(1);
    if parts == 1 {
        return vec![g];
    }
    let size = n.div_ceil(parts);
    (0..parts)
        .map(|i| {
            let r = i * size..((i + 1) * size).min(n);
            Group {
                title: format!("{} ({}/{parts})", g.title, i + 1),
                members: g.members[r.clone()].to_vec(),
                names: g.names[r].to_vec(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grid of `keys` x `values`, the last key fastest, as dynosim runs it.
    fn grid(values: &[&[&str]]) -> Vec<Vec<String>> {
        let mut points = vec![Vec::new()];
        for vs in values {
            points = points
                .into_iter()
                .flat_map(|p: Vec<String>| {
                    vs.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push((*v).to_string());
                        q
                    })
                })
                .collect();
        }
        points
    }

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_string()).collect()
    }

    /// The 30-point sweep of issue 22: 3 arrival rates x 5 dyno counts x 2 sizes. The count
    /// varies (most values); each group fixes the rate and the size; every group's points
    /// differ in the count alone and cover it in the scenario's order.
    #[test]
    fn a_three_key_sweep_varies_the_key_with_most_values_and_fixes_the_others() {
        let rates: &[&str] = &["20.0", "60.0", "120.0"];
        let counts: &[&str] = &["1", "2", "3", "4", "6"];
        let sizes: &[&str] = &["standard-1x", "performance-m"];
        let points = grid(&[rates, counts, sizes]);
        assert_eq!(points.len(), 30);
        let names = keys(&["arrivals.poisson", "count", "size"]);
        let l = SweepLayout::of(&names, &points).expect("a sweep");
        assert_eq!(l.varying, 1);
        assert_eq!(l.groups.len(), 6);
        let mut seen: Vec<usize> = l.order();
        seen.sort_unstable();
        assert_eq!(seen, (0..30).collect::<Vec<_>>(), "every point once");
        for g in &l.groups {
            let vs: Vec<&Vec<String>> = g.points.iter().map(|&p| &points[p]).collect();
            for v in &vs {
                assert_eq!(v[0], vs[0][0], "{g:?}: one arrival rate");
                assert_eq!(v[2], vs[0][2], "{g:?}: one size");
            }
            let cs: Vec<&str> = vs.iter().map(|v| v[1].as_str()).collect();
            assert_eq!(cs, counts, "{g:?}");
            assert_eq!(
                g.fixed,
                [format!("arrivals.poisson={}", vs[0][0]), vs[0][2].clone()]
            );
        }
        // Rates outermost, in the scenario's order (20 before 120, not as strings).
        let first: Vec<&str> = l
            .groups
            .iter()
            .map(|g| points[g.points[0]][0].as_str())
            .collect();
        assert_eq!(first, ["20.0", "20.0", "60.0", "60.0", "120.0", "120.0"]);
    }

    #[test]
    fn ties_vary_the_later_key_and_one_key_is_one_group() {
        let points = grid(&[&["standard-1x", "performance-m"], &["1", "2"]]);
        let l = SweepLayout::of(&keys(&["size", "count"]), &points).expect("sweep");
        assert_eq!(l.varying, 1);
        assert_eq!(l.order(), [0, 1, 2, 3]);
        let points = grid(&[&["3", "4", "5", "6"]]);
        let l = SweepLayout::of(&keys(&["count"]), &points).expect("sweep");
        assert_eq!(l.groups.len(), 1);
        assert!(l.groups[0].fixed.is_empty());
        assert_eq!(SweepLayout::of(&[], &[Vec::new()]), None);
    }

    #[test]
    fn a_point_without_values_is_left_out() {
        let mut points = grid(&[&["1", "2", "3"]]);
        points[1].clear();
        let l = SweepLayout::of(&keys(&["count"]), &points).expect("sweep");
        assert_eq!(l.order(), [0, 2]);
    }

    #[test]
    fn big_groups_are_split_into_near_equal_parts() {
        let g = Group {
            title: "t".into(),
            members: (0..33).collect(),
            names: (0..33).map(|i| i.to_string()).collect(),
        };
        let parts = split(g, 8);
        let sizes: Vec<usize> = parts.iter().map(|p| p.members.len()).collect();
        assert_eq!(sizes, [7, 7, 7, 7, 5]);
        assert_eq!(parts[0].title, "t (1/5)");
        let all: Vec<usize> = parts.iter().flat_map(|p| p.members.clone()).collect();
        assert_eq!(all, (0..33).collect::<Vec<_>>());
        assert!(parts.iter().all(|p| p.names.len() == p.members.len()));
    }
}
