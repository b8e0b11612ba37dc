//! Scenario errors that point at the file, line, column and key the user has to fix.

use std::fmt;
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path to a value in a scenario file, printed as `app[0].process[1].concurrency`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    /// This path extended by a key.
    pub fn key(&self, k: &str) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_string()));
        KeyPath(v)
    }

    /// This path extended by an array index.
    pub fn index(&self, i: usize) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        KeyPath(v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k)
                    if k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                {
                    write!(f, ".{k}")?
                }
                Seg::Key(k) => write!(f, ".\"{k}\"")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A scenario that cannot be used, and where the problem is.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line and column, when the problem has a place in the file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Key path of the offending value (empty for syntax errors).
    pub key: KeyPath,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": key `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Maps byte offsets and key paths of one file to lines and columns.
pub struct Locator<'a> {
    file: String,
    text: &'a str,
    doc: Option<toml::Spanned<DeTable<'a>>>,
}

impl<'a> Locator<'a> {
    pub fn new(file: &str, text: &'a str) -> Locator<'a> {
        Locator {
            file: file.to_string(),
            text,
            doc: DeTable::parse(text).ok(),
        }
    }

    /// 1-based (line, column) of a byte offset; columns count characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// Span of the value at `path`, or of the nearest ancestor that exists.
    pub fn span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        let doc = self.doc.as_ref()?;
        let mut best = doc.span();
        let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
        let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
        for seg in &path.0 {
            let next = match (seg, table, value) {
                (Seg::Key(k), Some(t), _) => t.get(k.as_str()),
                (Seg::Index(i), _, Some(v)) => match v.get_ref() {
                    DeValue::Array(a) => a.get(*i),
                    _ => None,
                },
                _ => None,
            };
            let Some(v) = next else { break };
            best = v.span();
            value = Some(v);
            table = match v.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        Some(best)
    }

    /// An error at the value found at `path`.
    pub fn error_at(&self, path: &KeyPath, message: impl Into<String>) -> ScenarioError {
        let span = self.span_of(path);
        self.error_span(path.clone(), span, message)
    }

    /// An error at an explicit byte span.
    pub fn error_span(
        &self,
        key: KeyPath,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = self.line_col(s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ScenarioError {
            file: self.file.clone(),
            line,
            column,
            key,
            message: message.into(),
        }
    }

    /// An error about the whole file, placed where the file begins (line 1, column 1): every
    /// error about a file's content has a place, so tools and people can jump to it.
    pub fn error_file(&self, message: impl Into<String>) -> ScenarioError {
        self.error_span(KeyPath::root(), Some(0..0), message)
    }
}

/// The closest candidate by edit distance (Levenshtein, in characters), if it is close enough to
/// be a likely typo: at most a third of the longer name's length, and at least one edit.
pub fn did_you_mean<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let mut best: Option<(&str, usize)> = None;
    for c in candidates {
        let d = strsim::levenshtein(input, c);
        if best.is_none_or(|(_, bd)| d < bd) {
            best = Some((c, d));
        }
    }
    best.filter(|(c, d)| *d <= (c.len().max(input.len()) / 3).max(1))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_close_names_only() {
        let kinds = ["poisson", "interval"];
        assert_eq!(did_you_mean("poison", kinds), Some("poisson"));
        assert_eq!(did_you_mean("intervall", kinds), Some("interval"));
        assert_eq!(did_you_mean("gamma", kinds), None);
        // The first of equally close candidates wins (file order is stable).
        assert_eq!(did_you_mean("ab", ["aa", "bb"]), Some("aa"));
        // One edit is always close enough, even for short names.
        assert_eq!(did_you_mean("m", ["s", "ms"]), Some("s"));
        assert_eq!(did_you_mean("x", std::iter::empty()), None);
    }
}
