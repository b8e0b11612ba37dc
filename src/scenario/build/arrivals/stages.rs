//! `{ stages = [ { at = D, rate = R }, ... ], repeat = D }`: a rate at points in time, linear in
//! between, the last rate held; `repeat` starts the profile again every period
//! ([`crate::model::arrivals::stages`]).

use super::{ArrivalKind, MAX_RATE};
use crate::model::Arrivals;
use crate::model::arrivals::Stages;
use crate::scenario::build::Ctx;
use crate::scenario::error::{KeyPath, ScenarioError};

pub(super) const KIND: ArrivalKind = ArrivalKind {
    key: "stages",
    extra: &["repeat"],
    shape: "{ stages = [ { at = \"0s\", rate = <requests per second> }, ... ] }",
    build,
};

/// The most points a profile may have (a week per minute is 10,080).
const MAX_STAGES: usize = 1_000_000;

fn build(ctx: &Ctx<'_>, table: &KeyPath, t: &toml::Table) -> Result<Arrivals, ScenarioError> {
    let p = table.key("stages");
    let Some(list) = t["stages"].as_array() else {
        return Err(ctx.err(
            &p,
            format!(
                "expected an array of {{ at = \"0s\", rate = 40.0 }} tables, found {}",
                t["stages"].type_str()
            ),
        ));
    };
    if list.is_empty() {
        return Err(ctx.err(&p, "needs at least one { at, rate } point"));
    }
    if list.len() > MAX_STAGES {
        return Err(ctx.err(&p, format!("{} points; at most {MAX_STAGES}", list.len())));
    }
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let sp = p.index(i);
        let st = ctx.table(&sp, v, "a table { at = \"0s\", rate = 40.0 }")?;
        ctx.known_keys(&sp, st, &["at", "rate"])?;
        let get = |k: &str| {
            st.get(k)
                .ok_or_else(|| ctx.err(&sp, format!("missing `{k}`")))
        };
        let at_p = sp.key("at");
        let at = ctx.duration_value(&at_p, get("at")?)?.as_secs_f64();
        let rate_p = sp.key("rate");
        let rate = ctx.number(&rate_p, get("rate")?)?;
        if rate < 0.0 {
            return Err(ctx.err(
                &rate_p,
                format!("a rate must be at least 0 requests/s, found {rate}"),
            ));
        }
        if rate > MAX_RATE {
            return Err(ctx.err(
                &rate_p,
                format!("{rate} requests/s is beyond what one app's router takes; at most 1e6"),
            ));
        }
        if let Some(&(prev, _)) = points.last() {
            if at < prev {
                return Err(ctx.err(
                    &at_p,
                    "the stages must be in time order: this `at` is earlier than the previous stage's",
                ));
            }
            if i >= 2 && at == prev && points[i - 2].0 == prev {
                return Err(ctx.err(
                    &at_p,
                    "three stages at the same time: two make a jump, a third means nothing",
                ));
            }
        }
        points.push((at, rate));
    }
    if points.iter().all(|p| p.1 == 0.0) {
        return Err(ctx.err(&p, "every rate is 0: nothing would ever arrive"));
    }
    let last = points[points.len() - 1].0;
    let repeat_s = match t.get("repeat") {
        None => None,
        Some(v) => {
            let rp = table.key("repeat");
            let r = ctx.duration_value(&rp, v)?.as_secs_f64();
            if r <= 0.0 || r < last {
                return Err(ctx.err(
                    &rp,
                    format!(
                        "the period must be longer than zero and at least the last stage's `at` ({last} s), found {r} s"
                    ),
                ));
            }
            Some(r)
        }
    };
    let shape = Stages { points, repeat_s };
    if repeat_s.is_some() && shape.long_run_rate() == 0.0 {
        return Err(ctx.err(&table.key("repeat"), "nothing would ever arrive"));
    }
    Ok(Arrivals::Stages(shape))
}
