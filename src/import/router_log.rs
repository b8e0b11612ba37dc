//! One Heroku router log line into a typed record ([`RouterLine`]), whatever framing carried it.
//!
//! A router line is `timestamp source[dyno]: message` where the message is logfmt
//! (`at=info method=GET path="/" host=... request_id=... fwd="..." dyno=web.1 connect=1ms
//! service=37ms status=200 bytes=828 protocol=https`), and error lines add `code=H12
//! desc="..."` (planner-anchors.md 3.1). The framings seen in real logs (planner-anchors.md 3.2,
//! item 6) are recognised per line, so one file may mix them:
//! - `heroku logs`: `2015-04-02T11:52:34.520012+00:00 heroku[router]: at=info ...`;
//! - a Logplex HTTPS drain (RFC 5424 with an RFC 6587 octet count):
//!   `255 <158>1 2015-04-02T11:52:34.520012+00:00 host heroku router - at=info ...`;
//! - Papertrail: `Oct 05 21:58:23 slownews heroku/router: at=error code=H12 ...` (second
//!   resolution and no year: see [`Timestamp`]);
//! - a log viewer's `2014-09-19 11:39:25.901328+00:00 heroku router - - at=info ...`;
//! - a bare message without framing (no timestamp: parsed, but it cannot be placed in time);
//! - the pre-2013 `Error H12 (Request timeout) -> POST host/path dyno=web.1 queue= wait= ...`.
//!
//! Values may be quoted or not and may be empty (`dyno= connect= service=`); durations come
//! with `ms` or without a unit (H25's `connect=0 service=1`). Legacy `queue=` and `wait=` keys
//! are ignored.
//!
//! **Privacy.** `host`, `fwd` (client IPs), `request_id`, `desc`, `cause` and `agent` are
//! skipped while tokenising and never stored, so nothing downstream can copy them.
//!
//! logfmt is tokenised here by hand: the crates for it (`logfmt` 0.0.x) are unmaintained and do
//! not report where a value went wrong, which the bad-line report needs (the key).

use std::borrow::Cow;
use std::fmt;

/// A line of a log: a router request, a line of another source (an app's output, a dyno's state
/// change, an API line), or nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Router(RouterLine),
    /// A framed line of another source (`app[web.1]`, `heroku[web.1]`, `app api`): skipped.
    Other,
    /// An empty line.
    Blank,
}

/// Which framing carried a router line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `heroku logs`: `<RFC 3339> heroku[router]: ...`.
    HerokuLogs,
    /// A Logplex drain: `<octets> <pri>1 <RFC 3339> host heroku router - ...`.
    Drain,
    /// Papertrail: `Mon DD HH:MM:SS <app> heroku/router: ...`.
    Papertrail,
    /// A log viewer: `<date> <time> heroku router - - ...`.
    Viewer,
    /// The message alone (no timestamp).
    Bare,
}

/// When the router logged a line, in microseconds since 1970-01-01 UTC, and whether the clock
/// gave fractions of a second (Papertrail's syslog stamps do not, and carry no year: the year
/// is taken as 2000, so only time differences within a log mean anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub micros: i64,
    pub subsecond: bool,
}

/// The router's level for the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// A dyno name, `web.3`: process type and number (from 1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DynoName {
    pub process: String,
    pub number: u32,
}

/// What the importer keeps of a router line (nothing that identifies a client or an app).
#[derive(Debug, Clone, PartialEq)]
pub struct RouterLine {
    pub framing: Framing,
    pub timestamp: Option<Timestamp>,
    pub level: Level,
    /// The error code (`H12`), if any.
    pub code: Option<String>,
    pub method: String,
    /// The path as logged, query string included (normalised later; never written as is).
    pub path: String,
    pub dyno: Option<DynoName>,
    /// Milliseconds; `None` when empty.
    pub connect_ms: Option<f64>,
    pub service_ms: Option<f64>,
    pub status: Option<u16>,
}

/// Why a line is not a router line the importer can use: the key at fault (if one) and what
/// was wrong. Never carries the line's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub key: Option<&'static str>,
    pub reason: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key {
            Some(k) => write!(f, "key `{k}`: {}", self.reason),
            None => write!(f, "{}", self.reason),
        }
    }
}

fn bad(key: Option<&'static str>, reason: impl Into<String>) -> BadLine {
    BadLine {
        key,
        reason: reason.into(),
    }
}

/// Parse one line (without its line end).
pub fn parse_line(line: &str) -> Result<Line, BadLine> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Line::Blank);
    }
    let Some((framing, prefix, message)) = split_framing(line) else {
        if looks_like_message(line) {
            return parse_message(line, Framing::Bare, None).map(Line::Router);
        }
        if framed_timestamp(line).is_some() {
            return Ok(Line::Other);
        }
        return Err(bad(
            None,
            "neither a Heroku router line nor a timestamped line of another source",
        ));
    };
    let timestamp = match framing {
        Framing::Bare => None,
        Framing::Papertrail => Some(papertrail_timestamp(prefix).ok_or_else(|| {
            bad(
                None,
                "the Papertrail timestamp (`Mon DD HH:MM:SS`) does not read",
            )
        })?),
        _ => Some(framed_timestamp(prefix).ok_or_else(|| {
            bad(
                None,
                "the timestamp before the router's name is not RFC 3339 (2015-04-02T11:52:34.520012+00:00)",
            )
        })?),
    };
    parse_message(message, framing, timestamp).map(Line::Router)
}

/// The framing of a router line, the text before the router's name and the message after it;
/// `None` if the line names no router.
fn split_framing(line: &str) -> Option<(Framing, &str, &str)> {
    const MARKERS: [(&str, Framing); 4] = [
        ("heroku[router]:", Framing::HerokuLogs),
        ("heroku/router:", Framing::Papertrail),
        (" heroku router - ", Framing::Drain),
        ("heroku/router ", Framing::Bare),
    ];
    let (at, marker, mut framing) = MARKERS
        .iter()
        .filter_map(|(m, f)| line.find(m).map(|i| (i, *m, *f)))
        .min_by_key(|(i, _, _)| *i)?;
    let prefix = line[..at].trim();
    let mut message = line[at + marker.len()..].trim_start();
    if framing == Framing::Drain {
        // A viewer writes the syslog fields as `- -` where the drain has `-` alone.
        if let Some(rest) = message.strip_prefix("- ") {
            message = rest.trim_start();
        }
        if !prefix.contains('<') {
            framing = Framing::Viewer;
        }
    }
    if framing == Framing::Bare && framed_timestamp(prefix).is_some() {
        framing = Framing::HerokuLogs;
    }
    Some((framing, prefix, message))
}

/// Whether an unframed line is a router message (`at=...`, `sock=...`, the legacy `Error Hxx`,
/// or `error code=` as some reports quote it).
fn looks_like_message(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    first.starts_with("at=")
        || first.starts_with("sock=")
        || line.starts_with("Error H")
        || line.starts_with("error code=")
}

/// The RFC 3339 timestamp that starts `text`, after an optional octet count and syslog
/// `<pri>version` (a drain), or as `date time` (a viewer).
fn framed_timestamp(text: &str) -> Option<Timestamp> {
    let mut words = text.split_whitespace().peekable();
    if words
        .peek()
        .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
    {
        words.next();
    }
    if words.peek().is_some_and(|w| w.starts_with('<')) {
        words.next();
    }
    let first = words.next()?;
    if let Some(ts) = rfc3339(first) {
        return Some(ts);
    }
    let second = words.next()?;
    rfc3339(&format!("{first}T{second}"))
}

fn rfc3339(text: &str) -> Option<Timestamp> {
    if !text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let ts: jiff::Timestamp = text.parse().ok()?;
    let time = text.split(['T', 't']).nth(1)?;
    let subsecond = time.split(['+', '-', 'Z', 'z']).next()?.contains('.');
    Some(Timestamp {
        micros: ts.as_microsecond(),
        subsecond,
    })
}

/// `Oct 05 21:58:23` (syslog, no year: taken as 2000).
fn papertrail_timestamp(prefix: &str) -> Option<Timestamp> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut w = prefix.split_whitespace();
    let word = w.next()?;
    let month = MONTHS.iter().position(|m| *m == word)? + 1;
    let day: i8 = w.next()?.parse().ok()?;
    let mut hms = w.next()?.split(':').map(|x| x.parse::<i8>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() {
        return None;
    }
    let time = jiff::civil::Time::new(h, m, sec, 0).ok()?;
    let date = jiff::civil::Date::new(2000, month as i8, day).ok()?;
    let ts = date
        .to_datetime(time)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?;
    Some(Timestamp {
        micros: ts.timestamp().as_microsecond(),
        subsecond: false,
    })
}

/// The keys a router message has that the importer reads.
#[derive(Default)]
struct Fields<'a> {
    at: Option<Cow<'a, str>>,
    code: Option<Cow<'a, str>>,
    method: Option<Cow<'a, str>>,
    path: Option<Cow<'a, str>>,
    dyno: Option<Cow<'a, str>>,
    connect: Option<Cow<'a, str>>,
    service: Option<Cow<'a, str>>,
    status: Option<Cow<'a, str>>,
}

/// The logfmt message (or the legacy `Error Hxx (...) -> METHOD host/path ...` form).
fn parse_message(
    message: &str,
    framing: Framing,
    timestamp: Option<Timestamp>,
) -> Result<RouterLine, BadLine> {
    let mut f = Fields::default();
    let mut rest = message;
    if let Some(legacy) = message.strip_prefix("Error ") {
        // `Error H12 (Request timeout) -> POST host/path dyno=web.1 ...`
        let (code, after) = legacy.split_once(' ').unwrap_or((legacy, ""));
        let (_, after) = after
            .split_once("->")
            .ok_or_else(|| bad(None, "a legacy `Error Hxx` line without `->`"))?;
        let (method, after) = after.trim_start().split_once(' ').unwrap_or((after, ""));
        let after = after.trim_start();
        let (target, after) = after.split_once(' ').unwrap_or((after, ""));
        if target.is_empty() {
            return Err(bad(Some("path"), "a legacy line without `host/path`"));
        }
        f.code = Some(code.into());
        f.method = Some(method.trim().into());
        f.path = Some(match target.find('/') {
            Some(i) => target[i..].into(),
            None => "/".into(),
        });
        f.at = Some("error".into());
        rest = after;
    }
    let mut tok = Tokens { text: rest };
    while let Some((key, value)) = tok.next_pair()? {
        let slot = match key {
            Some("at") => &mut f.at,
            Some("code") => &mut f.code,
            Some("method") => &mut f.method,
            Some("path") => &mut f.path,
            Some("dyno") => &mut f.dyno,
            Some("connect") => &mut f.connect,
            Some("service") => &mut f.service,
            Some("status") => &mut f.status,
            // host, request_id, fwd, desc, cause, agent, sock, bytes, protocol, tls, queue,
            // wait, ...: not kept.
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    let method = f
        .method
        .ok_or_else(|| bad(Some("method"), "missing (not a request line)"))?;
    let method = method.as_ref();
    if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(
            Some("method"),
            "expected an HTTP method in capitals (GET, POST, ...)",
        ));
    }
    let path = f.path.ok_or_else(|| bad(Some("path"), "missing"))?;
    let code = match f.code.as_deref() {
        None | Some("") => None,
        Some(c)
            if c.len() == 3 && c.starts_with('H') && c[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(c.to_string())
        }
        Some(_) => return Err(bad(Some("code"), "expected a router code such as H12")),
    };
    let level = match f.at.as_deref() {
        Some("info") => Level::Info,
        Some("warning") => Level::Warning,
        Some("error") => Level::Error,
        None if code.is_some() => Level::Error,
        None => return Err(bad(Some("at"), "missing (info, warning or error)")),
        Some(_) => return Err(bad(Some("at"), "expected info, warning or error")),
    };
    let status = match f.status.as_deref() {
        None => return Err(bad(Some("status"), "missing (a line cut short?)")),
        Some("") => None,
        Some(s) => Some(
            s.parse::<u16>()
                .ok()
                .filter(|s| (100..=999).contains(s))
                .ok_or_else(|| bad(Some("status"), "expected an HTTP status (100 to 999)"))?,
        ),
    };
    let connect_ms = millis(f.connect.as_deref(), "connect")?;
    let service_ms = millis(f.service.as_deref(), "service")?;
    if code.is_none() && (service_ms.is_none() || status.is_none()) {
        return Err(bad(
            Some(if status.is_none() {
                "status"
            } else {
                "service"
            }),
            "empty on a line without an error code",
        ));
    }
    let dyno = match f.dyno.as_deref() {
        None | Some("") => None,
        Some(d) => Some(dyno_name(d).ok_or_else(|| {
            bad(
                Some("dyno"),
                "expected a dyno name such as web.1 (process type, a dot, a number)",
            )
        })?),
    };
    Ok(RouterLine {
        framing,
        timestamp,
        level,
        code,
        method: method.to_string(),
        path: path.into_owned(),
        dyno,
        connect_ms,
        service_ms,
        status,
    })
}

/// The longest `connect` or `service` taken, ms (a week; the longest real ones are websockets'
/// lifetimes, minutes to hours).
const MAX_MILLIS: f64 = 7.0 * 86_400e3;

/// `12ms`, `12` or empty (`None`); a missing key is `None` too (H19 lines have no service).
fn millis(value: Option<&str>, key: &'static str) -> Result<Option<f64>, BadLine> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let number = v.strip_suffix("ms").unwrap_or(v);
    match number.parse::<f64>() {
        Ok(x)
            if x.is_finite()
                && x >= 0.0
                && number.bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
        {
            if x > MAX_MILLIS {
                return Err(bad(Some(key), "more than a week of milliseconds"));
            }
            Ok(Some(x))
        }
        _ => Err(bad(
            Some(key),
            "expected milliseconds such as `37ms` or `37`",
        )),
    }
}

/// `web.1` -> (web, 1).
fn dyno_name(text: &str) -> Option<DynoName> {
    let (process, number) = text.rsplit_once('.')?;
    let ok = !process.is_empty()
        && process.len() <= 64
        && process
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let number: u32 = number.parse().ok().filter(|n| *n >= 1)?;
    ok.then(|| DynoName {
        process: process.to_string(),
        number,
    })
}

/// A key the importer knows (others are `None`) and its value.
type Pair<'a> = (Option<&'static str>, Cow<'a, str>);

/// The `key=value` pairs of a message, in order; words without `=` are skipped.
struct Tokens<'a> {
    text: &'a str,
}

impl<'a> Tokens<'a> {
    /// The next pair: the key if it is one the importer knows (others are `None`, never
    /// echoed), and the value.
    fn next_pair(&mut self) -> Result<Option<Pair<'a>>, BadLine> {
        loop {
            self.text = self.text.trim_start();
            if self.text.is_empty() {
                return Ok(None);
            }
            let end = self
                .text
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(self.text.len());
            let key = &self.text[..end];
            if !self.text[end..].starts_with('=') {
                self.text = &self.text[end..];
                continue;
            }
            let after = &self.text[end + 1..];
            let key = known_key(key);
            if let Some(quoted) = after.strip_prefix('"') {
                let (value, len) = quoted_value(quoted)
                    .ok_or_else(|| bad(key, "a quoted value is not closed (a line cut short?)"))?;
                self.text = &quoted[len..];
                return Ok(Some((key, value)));
            }
            let stop = after.find(char::is_whitespace).unwrap_or(after.len());
            self.text = &after[stop..];
            return Ok(Some((key, Cow::Borrowed(&after[..stop]))));
        }
    }
}

/// The keys whose names an error may show (a key from the line itself is never echoed).
fn known_key(key: &str) -> Option<&'static str> {
    const KEYS: [&str; 14] = [
        "at",
        "code",
        "method",
        "path",
        "dyno",
        "connect",
        "service",
        "status",
        "bytes",
        "protocol",
        "host",
        "request_id",
        "fwd",
        "desc",
    ];
    KEYS.iter().find(|k| **k == key).copied()
}

/// The value after an opening quote up to its closing quote (`\"` and `\\` unescaped), and the
/// bytes consumed including the closing quote.
fn quoted_value(text: &str) -> Option<(Cow<'_, str>, usize)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut escaped = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                escaped = true;
                i += 2;
                continue;
            }
            b'"' => break,
            _ => i += 1,
        }
    }
    if i >= bytes.len() {
        return None;
    }
    let raw = &text[..i];
    let value = if escaped {
        Cow::Owned(raw.replace("\\\"", "\"").replace("\\\\", "\\"))
    } else {
        Cow::Borrowed(raw)
    };
    Some((value, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Whatever the bytes around and inside a router line, parsing never panics.
        #[test]
        fn parsing_never_panics(
            pre in "\\PC{0,12}",
            cut in 0usize..200,
            junk in "[\\\\\"= é\\x00-\\x7f]{0,40}",
        ) {
            let line = format!(
                "{pre}2026-11-02T14:00:00.5+00:00 heroku[router]: at=info method=GET path=\"/a{junk}\" dyno=web.1 connect=1ms service=5ms status=200"
            );
            let mut end = cut.min(line.len());
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            let _ = parse_line(&line[..end]);
            let _ = parse_line(&line);
            let _ = parse_line(&junk);
        }
    }

    #[test]
    fn papertrail_stamps() {
        let t = papertrail_timestamp("Oct 05 21:58:23 app-a");
        assert_eq!(t.map(|t| t.micros), Some(970_783_103_000_000));
    }
}
