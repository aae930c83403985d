//! A strict RFC 4180 reader (SPEC "Input", CSV). The `csv` crate and arrow-csv accept a
//! quote inside an unquoted field, text after a closing quote and an unterminated quote
//! silently (an unterminated quote swallows the rest of the file), and arrow-csv aborts
//! on the first bad row; the sweep must instead quarantine exactly the bad records, so
//! records are split here and only the columns the sweep needs are copied out.

use std::path::Path;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::StringBuilder;

use super::{QError, QuarantineRow, RawBatch, RowNumbers};
use crate::error::{Error, Result};
use crate::schema::InputTable;

/// A field's place in the text; `escaped` when it holds doubled quotes to undo.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    escaped: bool,
}

/// Splits text into records. Knows nothing of headers or tables.
struct Records<'a> {
    text: &'a str,
    pos: usize,
    fields: Vec<Span>,
    /// Why the current record is malformed, if it is.
    malformed: Option<&'static str>,
}

impl<'a> Records<'a> {
    fn new(text: &'a str) -> Records<'a> {
        Records { text, pos: 0, fields: Vec::new(), malformed: None }
    }

    /// Reads the next non-empty record into `fields`; false at the end of the text.
    fn next(&mut self) -> bool {
        let b = self.text.as_bytes();
        // CR, LF and CRLF end records; an empty line is no record.
        while self.pos < b.len() && matches!(b[self.pos], b'\r' | b'\n') {
            self.pos += 1;
        }
        if self.pos >= b.len() {
            return false;
        }
        self.fields.clear();
        self.malformed = None;
        loop {
            self.field();
            match b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'\r') => {
                    self.pos += 1;
                    if b.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                    return true;
                }
                Some(b'\n') => {
                    self.pos += 1;
                    return true;
                }
                None => return true,
                Some(_) => unreachable!("a field ends at a delimiter"),
            }
        }
    }

    fn field(&mut self) {
        let b = self.text.as_bytes();
        let start = self.pos;
        if b.get(start) == Some(&b'"') {
            let mut i = start + 1;
            let mut escaped = false;
            loop {
                match b[i..].iter().position(|&c| c == b'"') {
                    None => {
                        self.malformed.get_or_insert("unterminated quote");
                        self.fields.push(Span { start: start + 1, end: b.len(), escaped });
                        self.pos = b.len();
                        return;
                    }
                    Some(q) if b.get(i + q + 1) == Some(&b'"') => {
                        escaped = true;
                        i += q + 2;
                    }
                    Some(q) => {
                        self.fields.push(Span { start: start + 1, end: i + q, escaped });
                        self.pos = i + q + 1;
                        if !matches!(b.get(self.pos), None | Some(b',' | b'\r' | b'\n')) {
                            self.malformed.get_or_insert("text after a closing quote");
                            self.skip_unquoted();
                        }
                        return;
                    }
                }
            }
        }
        let end = self.skip_unquoted();
        if b[start..end].contains(&b'"') {
            self.malformed.get_or_insert("quote inside an unquoted field");
        }
        self.fields.push(Span { start, end, escaped: false });
    }

    fn skip_unquoted(&mut self) -> usize {
        let b = self.text.as_bytes();
        let n = b[self.pos..].iter().position(|&c| matches!(c, b',' | b'\r' | b'\n')).unwrap_or(b.len() - self.pos);
        self.pos += n;
        self.pos
    }
}

/// Splits CSV text into records of fields (for tools and tests; no header handling).
/// Malformed records are returned as they were split.
pub fn parse_records(text: &str) -> Vec<Vec<String>> {
    let mut r = Records::new(text.strip_prefix('\u{feff}').unwrap_or(text));
    let mut out = Vec::new();
    while r.next() {
        out.push(r.fields.iter().map(|s| field_text(r.text, *s).into_owned()).collect());
    }
    out
}

fn field_text(text: &str, span: Span) -> std::borrow::Cow<'_, str> {
    let raw = &text[span.start..span.end];
    if span.escaped { std::borrow::Cow::Owned(raw.replace("\"\"", "\"")) } else { std::borrow::Cow::Borrowed(raw) }
}

/// What one CSV file gave: batches of the columns the table needs, the quarantined
/// malformed records, and the number of records.
pub struct CsvFile {
    pub batches: Vec<RawBatch>,
    pub malformed: Vec<QuarantineRow>,
    pub rows: u64,
}

/// Reads a whole CSV file: header checks are fatal, record problems are quarantined.
pub fn read_csv(bytes: &[u8], path: &Path, table: &InputTable, file: u32, batch_rows: usize) -> Result<CsvFile> {
    if bytes.is_empty() {
        return Err(Error::input(path, "empty file: a CSV file needs at least a header row"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = 1 + bytes[..at].iter().filter(|&&c| c == b'\n').count();
        Error::input(path, format!("not UTF-8: invalid byte at offset {at} (line {line})"))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Records::new(text);
    if !records.next() {
        return Err(Error::input(path, "no header row"));
    }
    if let Some(why) = records.malformed {
        return Err(Error::input(path, format!("malformed header row: {why}")));
    }
    let mut scratch = String::new();
    let header: Vec<String> = records.fields.iter().map(|s| field_text(text, *s).into_owned()).collect();
    let positions = super::map_columns(table, path, &header)?;

    let mut batches = Vec::new();
    let mut malformed = Vec::new();
    let mut builders: Vec<StringBuilder> = Vec::new();
    let mut rows = Vec::new();
    let mut n = 0u64;
    let flush = |builders: &mut Vec<StringBuilder>, rows: &mut Vec<u64>, batches: &mut Vec<RawBatch>| {
        if rows.is_empty() {
            return;
        }
        let columns =
            builders.iter_mut().zip(&positions).map(|(b, p)| p.map(|_| Arc::new(b.finish()) as ArrayRef)).collect();
        batches.push(RawBatch {
            file,
            len: rows.len(),
            rows: RowNumbers::Listed(std::mem::take(rows)),
            columns,
            int96: vec![false; positions.len()],
        });
    };
    builders.resize_with(positions.len(), StringBuilder::new);
    while records.next() {
        n += 1;
        let why =
            records.malformed.or_else(|| (records.fields.len() != header.len()).then_some("wrong number of fields"));
        if let Some(why) = why {
            let detail = if why == "wrong number of fields" {
                format!("{} fields, the header has {}", records.fields.len(), header.len())
            } else {
                why.to_string()
            };
            malformed.push(QuarantineRow::new(table.name, file, n, QError::MalformedRow, detail));
            continue;
        }
        for (b, p) in builders.iter_mut().zip(&positions) {
            if let Some(p) = p {
                let span = records.fields[*p];
                if span.start == span.end {
                    b.append_null();
                } else if span.escaped {
                    scratch.clear();
                    scratch.push_str(&text[span.start..span.end].replace("\"\"", "\""));
                    b.append_value(&scratch);
                } else {
                    b.append_value(&text[span.start..span.end]);
                }
            }
        }
        rows.push(n);
        if rows.len() == batch_rows {
            flush(&mut builders, &mut rows, &mut batches);
        }
    }
    flush(&mut builders, &mut rows, &mut batches);
    Ok(CsvFile { batches, malformed, rows: n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<(Vec<String>, Option<&'static str>)> {
        let mut r = Records::new(text);
        let mut out = Vec::new();
        while r.next() {
            let fields = r
                .fields
                .iter()
                .map(|s| {
                    let raw = &text[s.start..s.end];
                    if s.escaped { raw.replace("\"\"", "\"") } else { raw.to_string() }
                })
                .collect();
            out.push((fields, r.malformed));
        }
        out
    }

    fn ok(fields: &[&str]) -> (Vec<String>, Option<&'static str>) {
        (fields.iter().map(|s| s.to_string()).collect(), None)
    }

    #[test]
    fn rfc4180_records() {
        assert_eq!(
            split("a,b\r\n1,2\n\n3,\"x,\"\"y\"\"\nz\"\r4,5"),
            [ok(&["a", "b"]), ok(&["1", "2"]), ok(&["3", "x,\"y\"\nz"]), ok(&["4", "5"]),]
        );
        assert_eq!(split("a,\n,"), [ok(&["a", ""]), ok(&["", ""])]);
        assert_eq!(split("\"\""), [ok(&[""])]);
        assert!(split("\n\r\n\r").is_empty());
    }

    #[test]
    fn strict_quoting() {
        let r = split("a,b\"c,d\nx,y");
        assert_eq!(r[0].1, Some("quote inside an unquoted field"));
        assert_eq!(r[1], ok(&["x", "y"]));
        let r = split("\"a\"b,c\nx,y");
        assert_eq!(r[0].1, Some("text after a closing quote"));
        assert_eq!(r[0].0.len(), 2);
        assert_eq!(r[1], ok(&["x", "y"]));
        let r = split("1,\"open\n2,3\n4,5");
        assert_eq!(r.len(), 1, "an unterminated quote swallows the rest of the file");
        assert_eq!(r[0].1, Some("unterminated quote"));
    }
}
