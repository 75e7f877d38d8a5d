//! Finds an unterminated quoted field in a CSV file, which the csv crate
//! cannot report: a quoted field that never closes simply runs to the end of
//! the file, swallowing every row after it into one field.
//!
//! [`QuoteTracker`] wraps the reader the csv crate reads from and follows the
//! same quoting rules as `csv_core` with the crate's defaults (`,`
//! delimiter, `"` quote, doubled quotes as escapes, CR and LF as record
//! terminators, blank lines skipped, a quote inside an unquoted field is a
//! literal byte). Bytes pass through unchanged. When the input ends inside a
//! quoted field, the tracker knows the line where that field opened.
//!
//! It also gives the line each record starts on, in order, which
//! `csv::Position::line` gets wrong after a blank line (it does not count
//! the lines the reader skips).

use std::collections::VecDeque;
use std::io::{self, Read};

/// Where the scanner is in the CSV grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records: a terminator here is a blank line, skipped.
    RecordStart,
    /// At the start of a field after a delimiter.
    FieldStart,
    /// Inside a field that did not start with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: it closes the field unless
    /// another quote follows (an escaped `""`).
    QuoteInQuoted,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A pass-through reader that tracks CSV quoting (see the module doc).
#[derive(Debug)]
pub(super) struct QuoteTracker<R> {
    inner: R,
    state: State,
    /// 1-based line of the byte being scanned.
    line: u64,
    /// The line where the quoted field being scanned opened.
    open_line: u64,
    /// The first lines of the records scanned but not yet taken
    /// ([`Self::next_record_line`]): at most a read-ahead buffer's worth.
    starts: VecDeque<u64>,
    /// How many bytes of a leading BOM were matched; `None` once past it
    /// (the csv crate skips a BOM at the start of the input).
    bom: Option<usize>,
    eof: bool,
}

impl<R> QuoteTracker<R> {
    pub(super) fn new(inner: R) -> Self {
        QuoteTracker {
            inner,
            state: State::RecordStart,
            line: 1,
            open_line: 0,
            starts: VecDeque::new(),
            bom: Some(0),
            eof: false,
        }
    }

    /// The line where a quoted field opened that the end of the input left
    /// open; `None` while the input has not ended, or when it ended cleanly.
    pub(super) fn unterminated(&self) -> Option<u64> {
        (self.eof && self.state == State::Quoted).then_some(self.open_line)
    }

    /// The line of the next record the csv reader returns (the header is
    /// the first): call once for each record it returns.
    pub(super) fn next_record_line(&mut self) -> Option<u64> {
        self.starts.pop_front()
    }

    fn scan(&mut self, bytes: &[u8]) {
        let bytes = self.skip_bom(bytes);
        let mut at = 0;
        while at < bytes.len() {
            // Inside a field most bytes leave the state as it is (see
            // `next`): jump to the next one that may not, instead of
            // stepping through every byte of every row.
            let rest = &bytes[at..];
            let run = match self.state {
                State::Unquoted => memchr::memchr3(b',', b'\r', b'\n', rest),
                // A newline in a quoted field only counts a line.
                State::Quoted => memchr::memchr2(b'"', b'\n', rest),
                _ => Some(0),
            };
            let Some(run) = run else { break };
            at += run;
            self.step(bytes[at]);
            at += 1;
        }
    }

    /// Matches a leading BOM (possibly split across reads); the bytes after it.
    fn skip_bom<'b>(&mut self, mut bytes: &'b [u8]) -> &'b [u8] {
        while let Some(matched) = self.bom {
            let Some((&b, rest)) = bytes.split_first() else {
                break;
            };
            if BOM.get(matched) == Some(&b) {
                self.bom = (matched + 1 < BOM.len()).then_some(matched + 1);
                bytes = rest;
                continue;
            }
            self.bom = None;
            if matched > 0 {
                // A partial BOM is data: the first field is unquoted.
                self.starts.push_back(self.line);
                self.state = State::Unquoted;
            }
        }
        bytes
    }

    fn step(&mut self, b: u8) {
        if self.state == State::RecordStart && !matches!(b, b'\r' | b'\n') {
            self.starts.push_back(self.line);
            self.state = State::FieldStart;
        }
        self.state = self.next(b);
        if b == b'\n' {
            self.line += 1;
        }
    }

    fn next(&mut self, b: u8) -> State {
        let end_of_record = matches!(b, b'\r' | b'\n');
        match (self.state, b) {
            (State::RecordStart, _) => State::RecordStart,
            (State::FieldStart, b'"') => {
                self.open_line = self.line;
                State::Quoted
            }
            (State::FieldStart | State::Unquoted | State::QuoteInQuoted, _) if end_of_record => {
                State::RecordStart
            }
            (State::FieldStart | State::Unquoted | State::QuoteInQuoted, b',') => State::FieldStart,
            (State::FieldStart | State::Unquoted, _) => State::Unquoted,
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::QuoteInQuoted, _) => State::Unquoted,
        }
    }
}

impl<R: Read> Read for QuoteTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.scan(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads all of `text` through a tracker; the line of an open quote.
    fn open_quote(text: &[u8]) -> Option<u64> {
        let mut t = QuoteTracker::new(text);
        let mut sink = Vec::new();
        t.read_to_end(&mut sink).expect("read");
        assert_eq!(sink, text, "bytes pass through unchanged");
        t.unterminated()
    }

    #[test]
    fn closed_quotes_escapes_and_literal_quotes_are_fine() {
        for text in [
            &b"a,b\n1,2\n"[..],
            b"a,\"b,\r\nc\"\n1,\"x\"\"y\"\n",
            b"a,b\n1,x\"y\n",
            b"a,b\n1,\"x\"y\n",
            b"\xEF\xBB\xBF\"a\",b\n1,\"\"\n",
            b"a,b\n1,\"",
        ] {
            let end = open_quote(text);
            let expect = (text == b"a,b\n1,\"").then_some(2);
            assert_eq!(end, expect, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn an_unterminated_quote_names_its_line() {
        assert_eq!(
            open_quote(b"email,first\na@x.io,Ann\nb@x.io,\"Bob\nc@x.io,Cy\n"),
            Some(3)
        );
        // Quoted newlines before it count as lines, as csv::Position::line does.
        assert_eq!(open_quote(b"e,f\na,\"x\ny\"\nb,\"open\n"), Some(4));
        // A BOM that is only partly there is data: the quote is literal.
        assert_eq!(open_quote(b"\xEF\"a,b\n"), None);
    }

    #[test]
    fn record_lines_skip_blank_lines_and_span_quoted_newlines() {
        let text = b"\xEF\xBB\xBFe,f\r\n\r\na,\"x\ny\"\n\n\nb,c\n,\nlast";
        let mut t = QuoteTracker::new(&text[..]);
        std::io::copy(&mut t, &mut std::io::sink()).expect("read");
        let lines: Vec<u64> = std::iter::from_fn(|| t.next_record_line()).collect();
        assert_eq!(lines, [1, 3, 7, 8, 9]);
        assert_eq!(t.unterminated(), None);
    }

    #[test]
    fn nothing_is_reported_before_the_end() {
        let mut t = QuoteTracker::new(&b"a,\"b"[..]);
        let mut buf = [0u8; 4];
        assert_eq!(t.read(&mut buf).expect("read"), 4);
        assert_eq!(t.unterminated(), None);
    }

    /// Reads `text` through a tracker `chunk` bytes at a time: the record
    /// lines and the line of an open quote.
    fn track_in_chunks(text: &[u8], chunk: usize) -> (Vec<u64>, Option<u64>) {
        let mut t = QuoteTracker::new(text);
        let mut buf = vec![0u8; chunk];
        while t.read(&mut buf).expect("read") > 0 {}
        let lines = std::iter::from_fn(|| t.next_record_line()).collect();
        (lines, t.unterminated())
    }

    proptest::proptest! {
        /// The scan that skips through a field finds what stepping byte by
        /// byte (reads of one byte) finds, and one record start for each
        /// record the csv crate reads.
        #[test]
        fn skipping_through_fields_finds_what_stepping_finds(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    &b"a"[..], b"bc", b",", b"\"", b"\"\"", b"\r", b"\n", b"\r\n",
                    b"\xEF", b"\xEF\xBB\xBF", b"x@y.io",
                ]),
                0..40,
            )
        ) {
            // Ends in data: a file that is only part of a BOM has no record
            // start (its one record is all BOM bytes), a case of its own.
            let text = [parts.concat(), b"z".to_vec()].concat();
            let whole = track_in_chunks(&text, 4096);
            proptest::prop_assert_eq!(&whole, &track_in_chunks(&text, 1));
            proptest::prop_assert_eq!(&whole, &track_in_chunks(&text, 3));
            let records = ::csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&text[..])
                .byte_records()
                .count();
            proptest::prop_assert_eq!(whole.0.len(), records);
        }
    }
}
