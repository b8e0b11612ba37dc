//! `[catalog."<size>"]`: per-scenario overrides of the built-in catalog.

use super::Ctx;
use crate::model::{Catalog, Size};
use crate::scenario::error::{KeyPath, ScenarioError};

/// The built-in catalog, parsed once per process: a sweep builds every point, and parsing the
/// embedded TOML took most of the time of a large sweep's `check`.
fn builtin() -> &'static Catalog {
    static BUILTIN: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    BUILTIN.get_or_init(Catalog::builtin)
}

/// The built-in catalog with the scenario's `[catalog."<size>"]` overrides applied.
///
/// An override of a known size may set any of its fields; a new size must set all of them. The
/// result is checked like the built-in data, so an override cannot make an impossible size.
pub(super) fn build_catalog(
    ctx: &Ctx<'_>,
    overrides: Option<&toml::Table>,
) -> Result<Catalog, ScenarioError> {
    let mut catalog = builtin().clone();
    let Some(overrides) = overrides else {
        return Ok(catalog);
    };
    let fields: Vec<String> = match toml::Table::try_from(&catalog.sizes()[0]) {
        Ok(t) => t.keys().cloned().collect(),
        Err(e) => return Err(ctx.loc.error_file(format!("internal: catalog fields: {e}"))),
    };
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    for (name, value) in overrides {
        let p = KeyPath::root().key("catalog").key(name);
        let t = ctx.table(
            &p,
            value,
            "a table of size fields, e.g. [catalog.\"standard-1x\"] vcpus = 2",
        )?;
        ctx.known_keys(&p, t, &field_refs)?;
        if t.contains_key("name") {
            return Err(ctx.err(
                &p.key("name"),
                "the name is the table's key; it cannot be changed",
            ));
        }
        let mut merged = match catalog.get(name) {
            Some(base) => {
                toml::Table::try_from(base).map_err(|e| ctx.err(&p, format!("internal: {e}")))?
            }
            None => {
                if let Some(missing) = field_refs
                    .iter()
                    .find(|f| **f != "name" && !t.contains_key(**f))
                {
                    return Err(ctx.err(
                        &p,
                        format!("`{name}` is not a catalog size, so it must set every field; `{missing}` is missing"),
                    ));
                }
                toml::Table::new()
            }
        };
        merged.insert("name".into(), toml::Value::String(name.clone()));
        for (k, v) in t {
            merged.insert(k.clone(), v.clone());
        }
        let size: Size =
            serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
                // Point at the field the user wrote, if the problem is in one.
                let at = match e.path().iter().next() {
                    Some(serde_path_to_error::Segment::Map { key }) if t.contains_key(key) => {
                        p.key(key)
                    }
                    _ => p.clone(),
                };
                ctx.err(
                    &at,
                    format!(
                        "does not fit the catalog's fields: {}",
                        e.inner().message().trim()
                    ),
                )
            })?;
        if size.vcpus == 0 {
            return Err(ctx.err(&p.key("vcpus"), "a dyno needs at least one vCPU"));
        }
        if !(size.cpu_share.is_finite() && size.cpu_share > 0.0) {
            return Err(ctx.err(&p.key("cpu_share"), "must be a positive number"));
        }
        if !(size.price_usd_month.is_finite() && size.price_usd_month >= 0.0) {
            return Err(ctx.err(&p.key("price_usd_month"), "must be zero or more"));
        }
        if !(size.r15_factor.is_finite() && size.r15_factor >= 1.0) {
            return Err(ctx.err(
                &p.key("r15_factor"),
                "must be at least 1 (a multiple of the RAM quota)",
            ));
        }
        if size.ram_mb == 0 {
            return Err(ctx.err(&p.key("ram_mb"), "must be more than zero"));
        }
        catalog.upsert(size);
    }
    Ok(catalog)
}
