//! A logged path into an endpoint's path: the query string dropped and the parts that name one
//! record collapsed, so `/products/1234?ref=home` and `/products/98` are one endpoint,
//! `/products/:id`.
//!
//! A path segment (and the stem of a segment with an extension, `123.json`) becomes:
//! - `:id` when it is a number;
//! - `:uuid` when it is a UUID (a UUID inside a segment, `job_<uuid>`, is replaced in place);
//! - `:hex` when it is 8 or more hex digits with at least one digit (a digest, an object id);
//! - `:token` when it is 8 or more letters, digits, `-` and `_` with at least two digits and a
//!   letter (session ids such as sockjs's `uqtr28pi`, fingerprinted asset names);
//! - `:email` when it holds an `@` (an address in a path is personal data);
//! - and within a segment, a part between `-` or `_` that is a number or a digest
//!   (`application-9f3a2c11d0.js` is `application-:hex.js`, `1234-blue-shoes` is
//!   `:id-blue-shoes`).
//!
//! The query string is never kept: it often carries search terms, tokens or addresses. A path
//! longer than [`MAX_PATH_CHARS`] after this is cut there (with `...`).

/// The longest endpoint path kept, in characters.
pub const MAX_PATH_CHARS: usize = 120;

/// The endpoint path of a logged path.
pub fn normalise(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() {
        return "/".to_string();
    }
    let mut out: String = path.split('/').map(segment).collect::<Vec<_>>().join("/");
    if !out.starts_with('/') {
        out.insert(0, '/');
    }
    if out.chars().count() > MAX_PATH_CHARS {
        out = out.chars().take(MAX_PATH_CHARS).collect::<String>() + "...";
    }
    out
}

fn segment(seg: &str) -> String {
    if seg.is_empty() {
        return String::new();
    }
    if seg.contains('@') {
        return ":email".to_string();
    }
    // `123.json`: the stem is collapsed, the extension kept.
    if let Some((stem, ext)) = seg.rsplit_once('.')
        && !stem.is_empty()
        && !ext.is_empty()
        && ext.len() <= 8
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return format!("{}.{ext}", stem_of(stem));
    }
    stem_of(seg)
}

fn stem_of(seg: &str) -> String {
    if let Some(kind) = id_kind(seg) {
        return kind.to_string();
    }
    let seg = replace_uuids(seg);
    // `application-9f3a2c11d0.js`, `1234-blue-shoes`: the parts between `-` and `_` that are
    // numbers or digests.
    let mut out = String::with_capacity(seg.len());
    let mut part = String::new();
    let flush = |part: &mut String, out: &mut String| {
        let b = part.as_bytes();
        let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
        if !b.is_empty() && digits == b.len() {
            out.push_str(":id");
        } else if b.len() >= 8 && digits >= 1 && b.iter().all(u8::is_ascii_hexdigit) {
            out.push_str(":hex");
        } else {
            out.push_str(part);
        }
        part.clear();
    };
    for c in seg.chars() {
        if c == '-' || c == '_' {
            flush(&mut part, &mut out);
            out.push(c);
        } else {
            part.push(c);
        }
    }
    flush(&mut part, &mut out);
    out
}

/// What a whole segment is, if it names a record.
fn id_kind(seg: &str) -> Option<&'static str> {
    let b = seg.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        return Some(":id");
    }
    if is_uuid(b) {
        return Some(":uuid");
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if b.len() >= 8 && digits >= 1 && b.iter().all(u8::is_ascii_hexdigit) {
        return Some(":hex");
    }
    let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
    if b.len() >= 8
        && digits >= 2
        && letters >= 1
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        && !b.contains(&b'-')
    {
        return Some(":token");
    }
    None
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Every UUID inside `seg` replaced by `:uuid`.
fn replace_uuids(seg: &str) -> String {
    let b = seg.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if i + 36 <= b.len() && is_uuid(&b[i..i + 36]) {
            out.push_str(":uuid");
            i += 36;
        } else {
            // Safe: ASCII or a whole character (UUIDs are ASCII, so boundaries hold).
            let ch = seg[i..].chars().next().unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn collapses_numbers_uuids_hex_tokens_and_addresses() {
        let cases = [
            ("/", "/"),
            ("", "/"),
            ("/products/1234", "/products/:id"),
            ("/products/1234?ref=home&u=a@b.c", "/products/:id"),
            ("/users?sort=&direction=&role=", "/users"),
            (
                "/orders/3f336f1a-9be3-4791-afe3-596a1f2a481f",
                "/orders/:uuid",
            ),
            (
                "/v1/jobs/measure-connection-count/job_defb88d6-0c2c-41d7-a261-743b48a16b6c",
                "/v1/jobs/measure-connection-count/job_:uuid",
            ),
            ("/blobs/f9ed4675f1c53513c61a3b3b4e25b4c0", "/blobs/:hex"),
            ("/assets/app-3fa2b9c1.css", "/assets/app-:hex.css"),
            ("/p/1234-blue-shoes", "/p/:id-blue-shoes"),
            ("/assets/3fa2b9c1d2.css", "/assets/:hex.css"),
            (
                "/sockjs/554/uqtr28pi/websocket",
                "/sockjs/:id/:token/websocket",
            ),
            ("/reports/77.csv", "/reports/:id.csv"),
            ("/users/jane@example.com/edit", "/users/:email/edit"),
            ("/styles/index.css", "/styles/index.css"),
            (
                "/locations/christian-counseling-centers-inc",
                "/locations/christian-counseling-centers-inc",
            ),
            ("/stats/country/", "/stats/country/"),
            ("/deadbeef", "/deadbeef"),
        ];
        for (path, want) in cases {
            assert_eq!(normalise(path), want, "{path}");
        }
        let long = format!("/{}", "a".repeat(300));
        assert_eq!(normalise(&long).chars().count(), super::MAX_PATH_CHARS + 3);
    }
}
