//! `[app.filesystem]`: the ephemeral filesystem (slug, writes, sticky reads) and the local cache.

use super::Ctx;
use crate::model::{Dist, FilesystemSpec};
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [app.filesystem] slug_mb = 80"
)]
pub struct RawFilesystem {
    slug_mb: Option<f64>,
    write_probability: Option<f64>,
    write_kb: Option<f64>,
    read_probability: Option<f64>,
    clients: Option<f64>,
    cache_items: Option<f64>,
    cache_zipf: Option<f64>,
    /// A distribution of durations.
    cache_miss: Option<toml::Value>,
}

pub(super) fn build_filesystem(
    ctx: &Ctx<'_>,
    p: &KeyPath,
    t: &RawFilesystem,
) -> Result<FilesystemSpec, ScenarioError> {
    let clients = ctx
        .whole_in(p, "clients", t.clients, 1.0, 10_000_000.0)?
        .unwrap_or(1000.0);
    let items = ctx
        .whole_in(p, "cache_items", t.cache_items, 0.0, 10_000_000.0)?
        .unwrap_or(0.0);
    Ok(FilesystemSpec {
        slug_mb: ctx
            .num_in(p, "slug_mb", t.slug_mb, 0.0, 100_000.0)?
            .unwrap_or(50.0),
        write_probability: ctx
            .num_in(p, "write_probability", t.write_probability, 0.0, 1.0)?
            .unwrap_or(0.0),
        write_kb: ctx
            .num_in(p, "write_kb", t.write_kb, 0.0, 10_000_000.0)?
            .unwrap_or(64.0),
        read_probability: ctx
            .num_in(p, "read_probability", t.read_probability, 0.0, 1.0)?
            .unwrap_or(0.0),
        clients: clients as u32,
        cache_items: items as u32,
        cache_zipf: ctx
            .num_in(p, "cache_zipf", t.cache_zipf, 0.0, 10.0)?
            .unwrap_or(1.0),
        cache_miss: match &t.cache_miss {
            Some(v) => ctx.dist(&p.key("cache_miss"), v)?,
            None => Dist::Constant(0.1),
        },
    })
}
