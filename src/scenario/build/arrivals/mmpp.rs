//! `{ mmpp = { rates = [R1, R2], mean_time = [D1, D2] } }`: a two-state Markov-modulated Poisson
//! process, starting in the first state ([`crate::model::arrivals::mmpp`]).

use super::{ArrivalKind, MAX_RATE};
use crate::model::Arrivals;
use crate::model::arrivals::Mmpp;
use crate::scenario::build::Ctx;
use crate::scenario::error::{KeyPath, ScenarioError};

pub(super) const KIND: ArrivalKind = ArrivalKind {
    key: "mmpp",
    extra: &[],
    shape: "{ mmpp = { rates = [40.0, 400.0], mean_time = [\"50m\", \"2m\"] } }",
    build,
};

fn build(ctx: &Ctx<'_>, table: &KeyPath, t: &toml::Table) -> Result<Arrivals, ScenarioError> {
    let p = table.key("mmpp");
    let m = ctx.table(
        &p,
        &t["mmpp"],
        "a table { rates = [40.0, 400.0], mean_time = [\"50m\", \"2m\"] }",
    )?;
    ctx.known_keys(&p, m, &["rates", "mean_time"])?;
    let pair = |k: &str| -> Result<&[toml::Value], ScenarioError> {
        let kp = p.key(k);
        let v = m
            .get(k)
            .ok_or_else(|| ctx.err(&p, format!("missing `{k}`")))?;
        match v.as_array() {
            Some(a) if a.len() == 2 => Ok(a.as_slice()),
            _ => Err(ctx.err(&kp, "expected a list of two values, one per state")),
        }
    };
    let mut rates = [0.0; 2];
    for (i, v) in pair("rates")?.iter().enumerate() {
        let rp = p.key("rates").index(i);
        let r = ctx.number(&rp, v)?;
        if !(0.0..=MAX_RATE).contains(&r) {
            return Err(ctx.err(
                &rp,
                format!("a rate must be between 0 and 1e6 requests/s, found {r}"),
            ));
        }
        rates[i] = r;
    }
    if rates == [0.0, 0.0] {
        return Err(ctx.err(
            &p.key("rates"),
            "both rates are 0: nothing would ever arrive",
        ));
    }
    let mut mean_time_s = [0.0; 2];
    for (i, v) in pair("mean_time")?.iter().enumerate() {
        let dp = p.key("mean_time").index(i);
        let d = ctx.duration_value(&dp, v)?;
        if d.as_nanos() < 1_000_000 {
            return Err(ctx.err(&dp, "a mean sojourn must be at least 1ms"));
        }
        mean_time_s[i] = d.as_secs_f64();
    }
    Ok(Arrivals::Mmpp(Mmpp { rates, mean_time_s }))
}
