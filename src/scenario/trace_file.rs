//! Reading trace files that a scenario names (an `empirical` column today; arrival traces and
//! router logs later): bounded, streamed, located, and never echoing what the file holds.
//!
//! A scenario may name any path, and the scenario may come from someone else, so the reader
//! assumes nothing about the file:
//! - **Only regular files.** The file is opened non-blocking (a FIFO does not hang the open) and
//!   refused unless `fstat` says it is a regular file, so FIFOs, devices (`/dev/zero`), sockets and
//!   directories are errors, checked on the opened file itself (no race between a check and the
//!   open). Files on kernel filesystems (`/proc`, `/sys`, cgroupfs, ...) look regular but are
//!   generated on read (`/proc/self/environ` is the environment), so they are refused too.
//! - **Bounded lines, streamed.** The file is read one line at a time into one reused buffer of at
//!   most [`MAX_LINE_BYTES`] (1 MiB); a longer line is an error naming it. Memory stays flat
//!   whatever the file's size, so multi-GB logs can be read through [`LineReader`].
//! - **Located errors.** Every error names the file, the line (1-based) and, for CSV, the column
//!   (1-based, with the name the scenario asked for), and says what was expected.
//! - **No echo.** A message shows a cell's content only when the cell looks like a number, and then
//!   at most [`EXCERPT_CHARS`] characters of it (see [`excerpt`]). Header names are never shown:
//!   pointing `file` at `/etc/shadow` or `/proc/self/environ` prints no secret.
//!
//! CSV is split here, one line per record, rather than with the `csv` crate: that crate buffers a
//! whole record, and one stray quote makes a record of the rest of the file, which no per-line
//! bound can stop. Quoted cells (`"1,5"`, `""` for a quote) are supported within a line; a quote
//! left open at the end of a line is an error. Empty lines are skipped; a UTF-8 byte-order mark
//! before the header is ignored; `\r\n` line ends are accepted.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::path::Path;

/// The longest line read, in bytes (without its line end): 1 MiB.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The most characters of a cell an error message shows.
pub const EXCERPT_CHARS: usize = 12;

/// A problem with a trace file, with its place in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceError {
    /// The file as the scenario named it (resolved).
    pub file: String,
    /// 1-based line, when the problem is on one line.
    pub line: Option<u64>,
    /// 1-based CSV column and the name it was asked for, when the problem is in one cell.
    pub column: Option<(usize, String)>,
    pub kind: TraceErrorKind,
    pub message: String,
}

/// What a [`TraceError`] is about, so the caller can point at the right key of its scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceErrorKind {
    /// The header has no column of the name asked for (the scenario's `column` key is wrong).
    NoSuchColumn,
    /// The file itself: it cannot be opened, is not a regular file, or its content is wrong.
    File,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.file)?;
        if let Some(l) = self.line {
            write!(f, " line {l}")?;
        }
        if let Some((c, name)) = &self.column {
            write!(f, ", column {c} (`{name}`)")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for TraceError {}

/// Open `path` for reading if it is a regular file.
pub fn open_regular(path: &Path) -> Result<File, TraceError> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |message: String| TraceError {
        file: path.display().to_string(),
        line: None,
        column: None,
        kind: TraceErrorKind::File,
        message,
    };
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one. It has
    // no effect on reading a regular file, the only kind read.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| fail(format!("cannot read it: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot read it: {e}")))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(fail(format!("is {what}; a trace must be a regular file")));
    }
    if let Some(fs) = pseudo_filesystem(&file) {
        return Err(fail(format!(
            "is on {fs}, whose files are made by the kernel, not traces; a trace must be a regular file on a disk"
        )));
    }
    Ok(file)
}

/// The name of the kernel filesystem `file` is on (procfs, sysfs and their kin), if it is on one.
/// Their files look regular but are generated on read: `/proc/self/environ` holds the
/// environment, `/proc/kmsg` blocks, and some never end.
fn pseudo_filesystem(file: &File) -> Option<&'static str> {
    use nix::sys::statfs as fs;
    let kind = fs::fstatfs(file).ok()?.filesystem_type();
    let kernel = [
        (fs::PROC_SUPER_MAGIC, "procfs (/proc)"),
        (fs::SYSFS_MAGIC, "sysfs (/sys)"),
        (fs::DEBUGFS_MAGIC, "debugfs"),
        (fs::TRACEFS_MAGIC, "tracefs"),
        (fs::SECURITYFS_MAGIC, "securityfs"),
        (fs::CGROUP_SUPER_MAGIC, "cgroupfs"),
        (fs::CGROUP2_SUPER_MAGIC, "cgroupfs"),
        (fs::BPF_FS_MAGIC, "bpffs"),
        (fs::DEVPTS_SUPER_MAGIC, "devpts"),
        (fs::NSFS_MAGIC, "nsfs"),
        (fs::SELINUX_MAGIC, "selinuxfs"),
    ];
    kernel
        .iter()
        .find(|(m, _)| *m == kind)
        .map(|(_, name)| *name)
}

/// Lines of a file, one at a time, each at most [`MAX_LINE_BYTES`].
pub struct LineReader<R> {
    inner: R,
    file: String,
    buf: Vec<u8>,
    /// Number of the line in `buf` (0 before the first).
    line: u64,
}

impl LineReader<BufReader<File>> {
    /// Open a regular file (see [`open_regular`]).
    pub fn open(path: &Path) -> Result<Self, TraceError> {
        let file = open_regular(path)?;
        Ok(LineReader::new(
            BufReader::with_capacity(64 * 1024, file),
            &path.display().to_string(),
        ))
    }
}

impl<R: BufRead> LineReader<R> {
    /// Read lines from `inner`; `file` names it in errors.
    pub fn new(inner: R, file: &str) -> Self {
        LineReader {
            inner,
            file: file.to_string(),
            buf: Vec::new(),
            line: 0,
        }
    }

    /// The file as named in errors.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// An error on the current line.
    pub fn error(&self, message: impl Into<String>) -> TraceError {
        TraceError {
            file: self.file.clone(),
            line: (self.line > 0).then_some(self.line),
            column: None,
            kind: TraceErrorKind::File,
            message: message.into(),
        }
    }

    /// The next line without its line end, with its 1-based number; `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, TraceError> {
        self.buf.clear();
        self.line += 1;
        let limit = MAX_LINE_BYTES as u64 + 2; // the line, "\r\n", and one byte to see past it
        let n = (&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| self.error(format!("cannot read it: {e}")))?;
        if n == 0 {
            self.line -= 1;
            return Ok(None);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        if self.buf.len() > MAX_LINE_BYTES {
            return Err(self.error(format!(
                "the line is longer than {} MiB, the most a trace line may hold",
                MAX_LINE_BYTES >> 20
            )));
        }
        Ok(Some((self.line, &self.buf)))
    }
}

/// A CSV file with a header row, read one record (line) at a time.
pub struct CsvReader<R> {
    lines: LineReader<R>,
    header: Vec<Vec<u8>>,
    cells: Vec<Range<usize>>,
    scratch: Vec<u8>,
}

/// One CSV record: its line and its cells.
pub struct Record<'r> {
    pub line: u64,
    file: &'r str,
    text: &'r [u8],
    cells: &'r [Range<usize>],
}

impl CsvReader<BufReader<File>> {
    /// Open a regular file and read its header.
    pub fn open(path: &Path) -> Result<Self, TraceError> {
        CsvReader::new(LineReader::open(path)?)
    }
}

impl<R: BufRead> CsvReader<R> {
    /// Read the header (the first non-empty line).
    pub fn new(mut lines: LineReader<R>) -> Result<Self, TraceError> {
        let mut cells = Vec::new();
        let mut scratch = Vec::new();
        let header = loop {
            let Some((_, text)) = lines.next_line()? else {
                return Err(lines.error("is empty; a trace needs a header row"));
            };
            if text.is_empty() {
                continue;
            }
            let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
            let unquoted = match split(text, &mut cells, &mut scratch) {
                Ok(u) => u,
                Err(m) => return Err(lines.error(m)),
            };
            let src: &[u8] = if unquoted { &scratch } else { text };
            break cells
                .iter()
                .map(|r| src[r.clone()].trim_ascii().to_vec())
                .collect::<Vec<_>>();
        };
        Ok(CsvReader {
            lines,
            header,
            cells,
            scratch,
        })
    }

    /// The 0-based index of the column named `name` (surrounding spaces ignored).
    pub fn column(&self, name: &str) -> Result<usize, TraceError> {
        self.header
            .iter()
            .position(|h| h == name.as_bytes())
            .ok_or_else(|| TraceError {
                file: self.lines.file.clone(),
                line: Some(1),
                column: None,
                kind: TraceErrorKind::NoSuchColumn,
                // The header is not shown: the file may not be a trace at all.
                message: format!(
                    "the header has no column `{name}` ({} column(s))",
                    self.header.len()
                ),
            })
    }

    /// The next record; `None` at the end of the file. Empty lines are skipped.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, TraceError> {
        loop {
            let Some((line, text)) = self.lines.next_line()? else {
                return Ok(None);
            };
            if text.is_empty() {
                continue;
            }
            let unquoted = match split(text, &mut self.cells, &mut self.scratch) {
                Ok(u) => u,
                Err(m) => return Err(self.lines.error(m)),
            };
            let text: &[u8] = if unquoted {
                &self.scratch
            } else {
                &self.lines.buf
            };
            return Ok(Some(Record {
                line,
                file: &self.lines.file,
                text,
                cells: &self.cells,
            }));
        }
    }
}

impl Record<'_> {
    /// The cell in 0-based column `col`, without surrounding spaces (`None` past the row's end).
    pub fn cell(&self, col: usize) -> Option<&[u8]> {
        self.cells
            .get(col)
            .map(|r| self.text[r.clone()].trim_ascii())
    }

    /// An error about the cell in 0-based column `col`, asked for as `name`.
    pub fn error(&self, col: usize, name: &str, message: impl Into<String>) -> TraceError {
        TraceError {
            file: self.file.to_string(),
            line: Some(self.line),
            column: Some((col + 1, name.to_string())),
            kind: TraceErrorKind::File,
            message: message.into(),
        }
    }

    /// The cell in column `col` as a finite number of at least zero.
    pub fn non_negative(&self, col: usize, name: &str) -> Result<f64, TraceError> {
        let Some(cell) = self.cell(col) else {
            return Err(self.error(
                col,
                name,
                format!(
                    "expected a number, but the line has only {} cell(s)",
                    self.cells.len()
                ),
            ));
        };
        let found = match excerpt(cell) {
            Some(e) => format!("`{e}`"),
            None if cell.is_empty() => "an empty cell".to_string(),
            None => "text".to_string(),
        };
        let x: f64 = match std::str::from_utf8(cell).ok().and_then(|s| s.parse().ok()) {
            Some(x) => x,
            None => {
                return Err(self.error(
                    col,
                    name,
                    format!("expected a number such as 12.5, found {found}"),
                ));
            }
        };
        if !x.is_finite() || x < 0.0 {
            // `inf` and `NaN` parse as numbers but are words: not shown.
            let found = if excerpt(cell).is_none() {
                "a value that is not finite".to_string()
            } else {
                found
            };
            return Err(self.error(
                col,
                name,
                format!("expected a finite number of at least 0, found {found}"),
            ));
        }
        Ok(x)
    }
}

/// Split one CSV line into cell ranges. Without quotes the ranges index `text` and the result is
/// `false`; with quotes the cells are unquoted into `scratch`, the ranges index it, and the result
/// is `true`.
fn split(
    text: &[u8],
    cells: &mut Vec<Range<usize>>,
    scratch: &mut Vec<u8>,
) -> Result<bool, String> {
    cells.clear();
    scratch.clear();
    if !text.contains(&b'"') {
        let mut start = 0;
        for (i, &b) in text.iter().enumerate() {
            if b == b',' {
                cells.push(start..i);
                start = i + 1;
            }
        }
        cells.push(start..text.len());
        return Ok(false);
    }
    let mut i = 0;
    loop {
        let start = scratch.len();
        // Spaces before an opening quote belong to no cell.
        let mut j = i;
        while j < text.len() && text[j] == b' ' {
            j += 1;
        }
        if j < text.len() && text[j] == b'"' {
            i = j + 1;
            loop {
                match text.get(i) {
                    None => return Err("a quote is left open at the end of the line".into()),
                    Some(b'"') if text.get(i + 1) == Some(&b'"') => {
                        scratch.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&b) => {
                        scratch.push(b);
                        i += 1;
                    }
                }
            }
            // Anything after the closing quote up to the comma is kept (as the csv crate does).
            while i < text.len() && text[i] != b',' {
                scratch.push(text[i]);
                i += 1;
            }
        } else {
            while i < text.len() && text[i] != b',' {
                scratch.push(text[i]);
                i += 1;
            }
        }
        cells.push(start..scratch.len());
        if i >= text.len() {
            break;
        }
        i += 1; // the comma
    }
    Ok(true)
}

/// What an error may show of a cell: the cell, cut to [`EXCERPT_CHARS`] characters, if it looks
/// like a number (an optional sign, digits with at most one `.`, an optional exponent); `None`
/// for anything else, which is never shown.
pub fn excerpt(cell: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(cell).ok()?;
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).count();
    let mantissa_ok = digits > 0
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && mantissa.bytes().filter(|&b| b == b'.').count() <= 1;
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    if !(mantissa_ok && exponent_ok) {
        return None;
    }
    if s.chars().count() <= EXCERPT_CHARS {
        Some(s.to_string())
    } else {
        Some(format!("{}...", &s[..EXCERPT_CHARS]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &[u8]) -> CsvReader<&[u8]> {
        CsvReader::new(LineReader::new(text, "t.csv")).expect("header")
    }

    fn column_values(text: &[u8], name: &str) -> Result<Vec<f64>, TraceError> {
        let mut r = CsvReader::new(LineReader::new(text, "t.csv"))?;
        let col = r.column(name)?;
        let mut out = Vec::new();
        while let Some(rec) = r.next_record()? {
            out.push(rec.non_negative(col, name)?);
        }
        Ok(out)
    }

    #[test]
    fn reads_a_column_with_quotes_crlf_bom_and_blank_lines() {
        let text = b"\xEF\xBB\xBFid, cpu_ms \r\n0,1.5\r\n\r\n1,\"2.25\"\n2 , 3 \n\"a,\"\"b\",4";
        assert_eq!(
            column_values(text, "cpu_ms").expect("values"),
            vec![1.5, 2.25, 3.0, 4.0]
        );
        let mut r = csv(b"a,b\n\"x,\"\"y\",2\n");
        let rec = r.next_record().expect("read").expect("a record");
        assert_eq!(rec.cell(0), Some(&b"x,\"y"[..]));
        assert_eq!(rec.cell(1), Some(&b"2"[..]));
        assert_eq!(rec.cell(2), None);
    }

    #[test]
    fn errors_name_line_and_column_and_echo_only_numbers() {
        let e = column_values(b"id,cpu_ms\n0,1\n1,hunter2\n", "cpu_ms").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.column, Some((2, "cpu_ms".into())));
        let shown = e.to_string();
        assert!(
            shown.starts_with("`t.csv` line 3, column 2 (`cpu_ms`): "),
            "{shown}"
        );
        assert!(
            shown.contains("found text") && !shown.contains("hunter2"),
            "{shown}"
        );

        let e = column_values(b"cpu_ms\n-2\n", "cpu_ms").unwrap_err();
        assert!(e.to_string().contains("at least 0, found `-2`"), "{e}");
        let e = column_values(b"cpu_ms\n1e999\n", "cpu_ms").unwrap_err();
        assert!(e.to_string().contains("found `1e999`"), "{e}");
        let e = column_values(b"cpu_ms\nNaN\n", "cpu_ms").unwrap_err();
        assert!(e.to_string().contains("not finite") && !e.to_string().contains("NaN"));
        let e = column_values(b"a,cpu_ms\n1\n", "cpu_ms").unwrap_err();
        assert!(e.to_string().contains("only 1 cell(s)"), "{e}");
        let e = column_values(b"cpu_ms\n\"1\n", "cpu_ms").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("quote is left open"), "{e}");
        // A long number is cut short.
        let e = column_values(b"cpu_ms\n-12345678901234567890\n", "cpu_ms").unwrap_err();
        assert!(e.to_string().contains("`-12345678901...`"), "{e}");
    }

    #[test]
    fn the_header_is_never_shown() {
        let shadow = b"root:$6$saltsalt$secrethash:19000:0:99999:7:::\ndaemon:*:19000\n";
        let e = column_values(shadow, "cpu_ms").unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("no column `cpu_ms`"), "{shown}");
        assert!(
            !shown.contains("secrethash") && !shown.contains("root"),
            "{shown}"
        );
        let environ = b"AWS_SECRET=abc123\0PATH=/bin\0";
        let e = column_values(environ, "cpu_ms").unwrap_err();
        assert!(!e.to_string().contains("abc123"), "{e}");
        for empty in [&b""[..], b"\n\n", b"\r\n"] {
            let e = column_values(empty, "cpu_ms").unwrap_err();
            assert!(e.message.contains("is empty"), "{e}");
        }
    }

    #[test]
    fn excerpts_are_numbers_only() {
        assert_eq!(excerpt(b"12.5").as_deref(), Some("12.5"));
        assert_eq!(excerpt(b"-1e-3").as_deref(), Some("-1e-3"));
        assert_eq!(excerpt(b"+.5").as_deref(), Some("+.5"));
        for not_a_number in [
            &b"abc"[..],
            b"1.2.3",
            b"e5",
            b"1e",
            b"0x1F",
            b"",
            b"-",
            b"1 2",
            b"\xff",
        ] {
            assert_eq!(excerpt(not_a_number), None, "{not_a_number:?}");
        }
        assert_eq!(
            excerpt(b"1234567890123456").as_deref(),
            Some("123456789012...")
        );
    }

    #[test]
    fn lines_are_bounded_and_memory_stays_flat() {
        // A line of exactly the limit is read; one byte more is an error naming the line.
        let mut text = b"a\n".to_vec();
        text.extend(std::iter::repeat_n(b'1', MAX_LINE_BYTES));
        text.extend(b"\r\nb\n");
        let mut r = LineReader::new(&text[..], "big.csv");
        assert_eq!(r.next_line().expect("line 1").map(|l| l.0), Some(1));
        let (n, line) = r.next_line().expect("line 2").expect("some");
        assert_eq!((n, line.len()), (2, MAX_LINE_BYTES));
        assert_eq!(
            r.next_line().expect("line 3").map(|l| l.1.to_vec()),
            Some(b"b".to_vec())
        );
        assert_eq!(r.next_line().expect("end"), None);

        let mut text = b"a\n".to_vec();
        text.extend(std::iter::repeat_n(b'1', MAX_LINE_BYTES + 1));
        let mut r = LineReader::new(&text[..], "big.csv");
        r.next_line().expect("line 1");
        let e = r.next_line().unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("longer than 1 MiB"), "{e}");

        // An endless line (a reader that never ends) stops at the bound.
        let endless = std::io::BufReader::new(std::io::repeat(b'7'));
        let mut r = LineReader::new(endless, "endless");
        let e = r.next_line().unwrap_err();
        assert!(e.message.contains("longer than"), "{e}");
        assert!(
            r.buf.capacity() <= 4 * MAX_LINE_BYTES,
            "{}",
            r.buf.capacity()
        );
    }

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = open_regular(dir.path()).unwrap_err();
        assert!(e.message.contains("a directory"), "{e}");
        let e = open_regular(Path::new("/dev/zero")).unwrap_err();
        assert!(e.message.contains("a device"), "{e}");
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        // Opening must not wait for a writer.
        let e = open_regular(&fifo).unwrap_err();
        assert!(e.message.contains("a FIFO"), "{e}");
        for kernel in [
            "/proc/self/environ",
            "/proc/self/status",
            "/sys/kernel/mm/transparent_hugepage/enabled",
        ] {
            if Path::new(kernel).exists() {
                let e = open_regular(Path::new(kernel)).unwrap_err();
                assert!(e.message.contains("made by the kernel"), "{kernel}: {e}");
            }
        }
        let e = open_regular(&dir.path().join("missing.csv")).unwrap_err();
        assert!(e.message.contains("cannot read it"), "{e}");
        let ok = dir.path().join("ok.csv");
        std::fs::write(&ok, "cpu_ms\n1\n").expect("write");
        let mut r = CsvReader::open(&ok).expect("a regular file opens");
        let col = r.column("cpu_ms").expect("column");
        let rec = r.next_record().expect("read").expect("a record");
        assert_eq!(rec.non_negative(col, "cpu_ms").expect("a number"), 1.0);
    }
}
