//! `[sweep]`: dotted paths into the scenario, each with a list of values; the grid of all
//! combinations is run. Apps and processes are addressed by name:
//! `"app.shop.process.web.size"` is the `size` of process type `web` in app `shop`.

use super::error::{KeyPath, Seg};
use toml::{Table, Value};

/// One swept key and its values.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The key as written in `[sweep]` (also the CSV column name).
    pub key: String,
    /// Where it points, in index form (`app[0].process[1].size`).
    pub target: KeyPath,
    pub values: Vec<Value>,
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
