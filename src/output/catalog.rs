//! The built-in catalog as CSV, JSON and an aligned text table (`dynosim catalog`).

use crate::model::Catalog;

/// The catalog as CSV text.
pub fn catalog_csv(catalog: &Catalog) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for s in catalog.sizes() {
        w.serialize(s)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The catalog as a JSON array.
pub fn catalog_json(catalog: &Catalog) -> String {
    serde_json::to_string_pretty(catalog.sizes()).unwrap_or_else(|_| "[]".into())
}

/// The catalog as an aligned text table for terminals.
pub fn catalog_table(catalog: &Catalog) -> String {
    let header = [
        "size",
        "tier",
        "ram_mb",
        "vcpus",
        "cpu_share",
        "host",
        "usd/month",
        "r15",
        "max/proc",
        "sleeps",
        "preboot",
    ];
    let rows: Vec<Vec<String>> = catalog
        .sizes()
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.tier.to_string(),
                s.ram_mb.to_string(),
                format!("{}{}", s.vcpus, if s.vcpus_published { "" } else { "*" }),
                format!("{}", s.cpu_share),
                if s.dedicated { "dedicated" } else { "shared" }.to_string(),
                format!("{:.2}", s.price_usd_month),
                format!("{}x", s.r15_factor),
                s.max_per_process.to_string(),
                if s.sleeps { "yes" } else { "no" }.to_string(),
                if s.preboot { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.iter().map(|s| s.to_string()).collect(), &mut out);
    for r in rows {
        line(r, &mut out);
    }
    out.push_str(
        "\n* vCPU count is an assumption (Heroku does not publish it); see docs/catalog.md\n",
    );
    out
}
