//! `[sweep]`: dotted paths into the scenario, each with a list of values; the grid of all
//! combinations is run. Apps and processes are addressed by name:
//! `"app.shop.process.web.size"` is the `size` of process type `web` in app `shop`.
//!
//! `[[sweep.together]]` pairs keys instead: `keys` and a list of value tuples, one tuple per
//! choice (`values = [["standard-2x", 8], ["performance-m", 3]]`), so that a size and a count
//! change together instead of every size meeting every count. Each entry is one axis of the
//! grid, combined with the other keys as a plain key is.

use super::error::{KeyPath, Seg};
use toml::{Table, Value};

/// One axis of the sweep grid: a swept key and its values, or the keys of one
/// `[[sweep.together]]` entry and their value tuples.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The keys as written (also the CSV column names), one for a plain key.
    pub keys: Vec<String>,
    /// Where each key points, in index form (`app[0].process[1].size`).
    pub targets: Vec<KeyPath>,
    /// The choices: one value per key in each.
    pub values: Vec<Vec<Value>>,
    /// The sweep entry that wrote the axis (`sweep."<key>"` or `sweep.together[i]`), for errors.
    pub entry: KeyPath,
}

impl Axis {
    /// A plain key's axis: `key = [v1, v2, ...]`.
    pub fn single(key: &str, target: KeyPath, values: &[Value]) -> Axis {
        Axis {
            keys: vec![key.to_string()],
            targets: vec![target],
            values: values.iter().map(|v| vec![v.clone()]).collect(),
            entry: KeyPath::root().key("sweep").key(key),
        }
    }
}

/// Resolve a dotted sweep key against the scenario document.
pub fn resolve(doc: &Table, key: &str) -> Result<KeyPath, String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "`{key}` is not a dotted path such as \"app.shop.process.web.count\""
        ));
    }
    if parts[0] == "sweep" || parts[0] == "name" {
        return Err(format!("`{}` cannot be swept", parts[0]));
    }
    let mut path = KeyPath::root();
    let mut table = Some(doc);
    let mut i = 0;
    while i < parts.len() {
        let part = parts[i];
        let Some(t) = table else {
            return Err(format!(
                "`{}` is not a table, so `{key}` cannot go inside it",
                path
            ));
        };
        path = path.key(part);
        match t.get(part) {
            Some(Value::Array(items)) if items.iter().all(Value::is_table) && !items.is_empty() => {
                // An array of tables: the next part names an element by `name` or `type`.
                let Some(name) = parts.get(i + 1) else {
                    return Err(format!(
                        "`{key}` must name an element of `{part}`, e.g. \"{part}.<name>...\""
                    ));
                };
                let found = items.iter().position(|it| {
                    let t = it.as_table();
                    let field = |f: &str| t.and_then(|t| t.get(f)).and_then(Value::as_str);
                    field("name") == Some(name) || field("type") == Some(name)
                });
                let Some(idx) = found else {
                    let names: Vec<&str> = items
                        .iter()
                        .filter_map(|it| {
                            let t = it.as_table()?;
                            t.get("name")
                                .or_else(|| t.get("type"))
                                .and_then(Value::as_str)
                        })
                        .collect();
                    return Err(format!(
                        "`{key}`: no `{part}` named `{name}` (there are: {})",
                        names.join(", ")
                    ));
                };
                path = path.index(idx);
                table = items[idx].as_table();
                i += 2;
            }
            Some(Value::Table(inner)) => {
                table = Some(inner);
                i += 1;
            }
            Some(_) if i + 1 == parts.len() => {
                table = None;
                i += 1;
            }
            Some(_) => {
                return Err(format!(
                    "`{path}` is a value, so `{key}` cannot go inside it"
                ));
            }
            None => {
                // A key that is not written yet: allowed, the default is replaced.
                table = None;
                i += 1;
                if i < parts.len() {
                    for p in &parts[i..] {
                        path = path.key(p);
                    }
                    break;
                }
            }
        }
    }
    Ok(path)
}

/// The axes of `[[sweep.together]]` (`list` is the value of `sweep.together`): each entry's
/// `keys` resolved against `doc`, and its `values`, one tuple per choice with one value per key.
/// An error is placed at the entry (or the value) it is about.
pub fn together(doc: &Table, list: &Value) -> Result<Vec<Axis>, (KeyPath, String)> {
    let base = KeyPath::root().key("sweep").key("together");
    let shape =
        "[[sweep.together]] entries, each with `keys = [\"a.b\", ...]` and `values = [[..], ...]`";
    let Some(entries) = list.as_array().filter(|e| e.iter().all(Value::is_table)) else {
        return Err((base, format!("expected {shape}, found `{list}`")));
    };
    let mut axes = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let at = base.index(i);
        let t = e
            .as_table()
            .ok_or_else(|| (at.clone(), format!("expected {shape}")))?;
        if let Some(k) = t.keys().find(|k| *k != "keys" && *k != "values") {
            return Err((
                at.key(k),
                format!(
                    "unknown key `{k}` in a [[sweep.together]] entry, expected `keys` or `values`"
                ),
            ));
        }
        let keys: Vec<&str> = match t.get("keys").and_then(Value::as_array) {
            Some(ks) if !ks.is_empty() && ks.iter().all(Value::is_str) => {
                ks.iter().filter_map(Value::as_str).collect()
            }
            _ => {
                return Err((
                    at.key("keys"),
                    "expected a non-empty list of swept keys, e.g. keys = [\"app.shop.process.web.size\", \"app.shop.process.web.count\"]".into(),
                ));
            }
        };
        let Some(tuples) = t
            .get("values")
            .and_then(Value::as_array)
            .filter(|v| !v.is_empty())
        else {
            return Err((
                at.key("values"),
                "expected a non-empty list of value tuples, e.g. values = [[\"standard-2x\", 8], [\"performance-m\", 3]]".into(),
            ));
        };
        let mut values = Vec::new();
        for (j, tuple) in tuples.iter().enumerate() {
            match tuple.as_array() {
                Some(vs) if vs.len() == keys.len() => values.push(vs.clone()),
                _ => {
                    return Err((
                        at.key("values").index(j),
                        format!(
                            "each tuple needs one value per key ({}), found `{tuple}`",
                            keys.len()
                        ),
                    ));
                }
            }
        }
        let mut targets = Vec::new();
        for (k, key) in keys.iter().enumerate() {
            targets.push(resolve(doc, key).map_err(|m| (at.key("keys").index(k), m))?);
        }
        axes.push(Axis {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            targets,
            values,
            entry: at,
        });
    }
    Ok(axes)
}

/// Refuse a key swept twice (in two entries, or twice in one), or a key inside another swept
/// key's value: the grid would set it twice, and the later value would silently win.
pub fn check_distinct(axes: &[Axis]) -> Result<(), (KeyPath, String)> {
    let all: Vec<(&str, &KeyPath, &KeyPath)> = axes
        .iter()
        .flat_map(|a| {
            a.keys
                .iter()
                .zip(&a.targets)
                .map(move |(k, t)| (k.as_str(), t, &a.entry))
        })
        .collect();
    for (i, (k, t, entry)) in all.iter().enumerate() {
        for (k2, t2, _) in &all[..i] {
            if t.0.starts_with(&t2.0) || t2.0.starts_with(&t.0) {
                return Err((
                    (*entry).clone(),
                    format!("`{k}` is swept twice (also as `{k2}`); sweep each key in one place"),
                ));
            }
        }
    }
    Ok(())
}

/// Set the value at `path` (index form), creating missing tables on the way.
pub fn set(doc: &mut Table, path: &KeyPath, value: Value) {
    fn go(v: &mut Value, segs: &[Seg], value: Value) {
        match segs.split_first() {
            None => *v = value,
            Some((Seg::Key(k), rest)) => {
                if !v.is_table() {
                    *v = Value::Table(Table::new());
                }
                if let Value::Table(t) = v {
                    let slot = t
                        .entry(k.clone())
                        .or_insert_with(|| Value::Table(Table::new()));
                    go(slot, rest, value);
                }
            }
            Some((Seg::Index(i), rest)) => {
                if let Some(slot) = v.as_array_mut().and_then(|a| a.get_mut(*i)) {
                    go(slot, rest, value);
                }
            }
        }
    }
    let mut root = Value::Table(std::mem::take(doc));
    go(&mut root, &path.0, value);
    if let Value::Table(t) = root {
        *doc = t;
    }
}

/// A value as shown in CSV cells and messages: strings bare, everything else as TOML.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every combination of axis values, the last axis varying fastest.
pub fn grid(axes: &[Axis]) -> Vec<Vec<usize>> {
    let mut points = vec![Vec::new()];
    for axis in axes {
        let mut next = Vec::with_capacity(points.len() * axis.values.len());
        for p in &points {
            for i in 0..axis.values.len() {
                let mut q = p.clone();
                q.push(i);
                next.push(q);
            }
        }
        points = next;
    }
    points
}
