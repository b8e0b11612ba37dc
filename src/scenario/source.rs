//! Reading a scenario file and placing the problems the TOML parser reports without a place.
//!
//! - **Bounded.** At most [`MAX_SCENARIO_BYTES`] are read, so `dynosim check /dev/zero` is an
//!   error, not a read until the OOM killer. Directories, devices and sockets are refused before
//!   reading; regular files and pipes (`check <(generate)`) are read.
//! - **UTF-8, located.** Invalid UTF-8 is reported at the line and column of its first bad byte
//!   (the text before it is valid), without showing the bytes.
//! - **Deep keys, located.** toml refuses a dotted key of more than [`TOML_MAX_KEY_PARTS`] parts
//!   (`[a.a.a....]`) with a bare "recursion limit"; [`deep_key`] finds that key's place.

use std::io::Read;
use std::ops::Range;
use std::path::Path;
use toml_parser::parser::{EventReceiver, RecursionGuard, parse_document};
use toml_parser::{ErrorSink, Source, Span};

/// The largest scenario file read, in bytes: 16 MiB. A sweep at the job limit (100,000 values of
/// one key) takes under 2 MiB.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// The most dotted parts toml takes in one key (its `LIMIT` of 80, toml 1.2: a key of 81 parts
/// is refused).
pub const TOML_MAX_KEY_PARTS: usize = 80;

/// Why a scenario file could not be read as text.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadProblem {
    /// No place in the file: it cannot be opened, is not a file, or is too large.
    File(String),
    /// Invalid UTF-8 at this 1-based line and column.
    NotUtf8 { line: usize, column: usize },
}

/// The text of the scenario at `path`.
pub fn read_scenario(path: &Path) -> Result<String, ReadProblem> {
    use std::os::unix::fs::FileTypeExt;
    let file = std::fs::File::open(path)
        .map_err(|e| ReadProblem::File(format!("cannot read the scenario: {e}")))?;
    let kind = file
        .metadata()
        .map_err(|e| ReadProblem::File(format!("cannot read the scenario: {e}")))?
        .file_type();
    let what = if kind.is_dir() {
        Some("a directory")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    };
    if let Some(what) = what {
        return Err(ReadProblem::File(format!(
            "cannot read the scenario: it is {what}, not a file"
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SCENARIO_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadProblem::File(format!("cannot read the scenario: {e}")))?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(ReadProblem::File(format!(
            "the scenario is larger than {} MiB, the most a scenario file may hold",
            MAX_SCENARIO_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // The prefix is valid UTF-8 by construction.
        let before = std::str::from_utf8(valid).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ReadProblem::NotUtf8 {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    })
}

/// The span of the first dotted key of `text` with more than [`TOML_MAX_KEY_PARTS`] parts, in a
/// table header or before a `=`, inline tables included.
pub fn deep_key(text: &str) -> Option<Range<usize>> {
    let source = Source::new(text);
    let tokens: Vec<_> = source.lex().collect();
    let mut finder = DeepKey::default();
    let mut guard = RecursionGuard::new(&mut finder, 128);
    parse_document(&tokens, &mut guard, &mut ());
    finder.found
}

/// Counts the parts of each key as the parser's events go by.
#[derive(Default)]
struct DeepKey {
    parts: usize,
    start: usize,
    found: Option<Range<usize>>,
}

impl DeepKey {
    fn other(&mut self) {
        self.parts = 0;
    }
}

impl EventReceiver for DeepKey {
    fn simple_key(
        &mut self,
        span: Span,
        _: Option<toml_parser::decoder::Encoding>,
        _: &mut dyn ErrorSink,
    ) {
        if self.parts == 0 {
            self.start = span.start();
        }
        self.parts += 1;
        if self.parts > TOML_MAX_KEY_PARTS && self.found.is_none() {
            self.found = Some(self.start..span.end());
        }
    }
    fn std_table_open(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
    fn std_table_close(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
    fn array_table_open(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
    fn array_table_close(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
    fn inline_table_open(&mut self, _: Span, _: &mut dyn ErrorSink) -> bool {
        self.other();
        true
    }
    fn inline_table_close(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
    fn array_open(&mut self, _: Span, _: &mut dyn ErrorSink) -> bool {
        self.other();
        true
    }
    fn array_close(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
    fn key_val_sep(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
    fn scalar(
        &mut self,
        _: Span,
        _: Option<toml_parser::decoder::Encoding>,
        _: &mut dyn ErrorSink,
    ) {
        self.other();
    }
    fn value_sep(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
    fn comment(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
    fn newline(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
    fn error(&mut self, _: Span, _: &mut dyn ErrorSink) {
        self.other();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dotted(n: usize) -> String {
        vec!["a"; n].join(".")
    }

    #[test]
    fn deep_keys_are_found_where_they_are() {
        let text = format!("x = 1\n[{}]\ny = 2\n", dotted(100));
        let span = deep_key(&text).expect("found");
        assert_eq!(span.start, text.find("[a").expect("header") + 1);
        let text = format!("[t]\n{} = 1\n", dotted(TOML_MAX_KEY_PARTS + 1));
        assert_eq!(deep_key(&text).map(|s| s.start), Some(4));
        let text = format!("t = {{ \"q\".{} = 1 }}\n", dotted(90));
        assert_eq!(deep_key(&text).map(|s| s.start), Some(6));
        // Below the depth, and dots in values or strings, are not keys of that depth.
        let text = format!(
            "[{}]\nv = \"{}\"\nw = 1.5\n# {}\n",
            dotted(TOML_MAX_KEY_PARTS),
            dotted(200),
            dotted(200)
        );
        assert_eq!(deep_key(&text), None);
        // And toml does refuse the depth this finds (keep the constant in step with toml).
        let text = format!("[{}]\n", dotted(TOML_MAX_KEY_PARTS + 1));
        assert!(toml::from_str::<toml::Table>(&text).is_err());
        let text = format!("[{}]\n", dotted(TOML_MAX_KEY_PARTS));
        assert!(toml::from_str::<toml::Table>(&text).is_ok());
    }

    #[test]
    fn scenario_files_are_read_bounded_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = dir.path().join("ok.toml");
        std::fs::write(&ok, "name = \"x\"\n").expect("write");
        assert_eq!(read_scenario(&ok).as_deref(), Ok("name = \"x\"\n"));

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, b"a = 1\nb = \"x\xffy\"\n").expect("write");
        assert_eq!(
            read_scenario(&bad),
            Err(ReadProblem::NotUtf8 { line: 2, column: 7 })
        );
        for (path, what) in [
            (dir.path(), "a directory"),
            (Path::new("/dev/zero"), "a device"),
        ] {
            match read_scenario(path) {
                Err(ReadProblem::File(m)) => assert!(m.contains(what), "{m}"),
                other => panic!("{path:?}: {other:?}"),
            }
        }
        let big = dir.path().join("big.toml");
        let f = std::fs::File::create(&big).expect("create");
        f.set_len(MAX_SCENARIO_BYTES + 1).expect("sparse file");
        match read_scenario(&big) {
            Err(ReadProblem::File(m)) => assert!(m.contains("larger than 16 MiB"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
