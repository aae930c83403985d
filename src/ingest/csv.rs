//! A strict RFC 4180 reader (SPEC "Input", CSV). The `csv` crate and arrow-csv accept a
//! quote inside an unquoted field, text after a closing quote and an unterminated quote
//! silently (an unterminated quote swallows the rest of the file), and arrow-csv aborts
//! on the first bad row; the sweep must instead quarantine exactly the bad records, so
//! records are split here and only the columns the sweep needs are copied out.

use std::io::{Read, Seek};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, StringArray};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::{QError, QuarantineRow, RawBatch, RowNumbers, hex};
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
        if memchr::memchr(b'"', &b[start..end]).is_some() {
            self.malformed.get_or_insert("quote inside an unquoted field");
        }
        self.fields.push(Span { start, end, escaped: false });
    }

    fn skip_unquoted(&mut self) -> usize {
        let b = self.text.as_bytes();
        let n = memchr::memchr3(b',', b'\r', b'\n', &b[self.pos..]).unwrap_or(b.len() - self.pos);
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

/// How a CSV file is cut for parsing in parallel. Outputs never depend on it: tests and
/// the fuzz target vary all three.
#[derive(Clone, Copy, Debug)]
pub struct Cutting {
    /// Valid rows per batch at most.
    pub batch_rows: usize,
    /// Bytes read at a time.
    pub block: usize,
    /// A piece ends at the first record end this many bytes or more after its start:
    /// one hand-over to the pool per few MiB, whatever the batch size.
    pub piece_bytes: usize,
}

impl Cutting {
    pub fn new(batch_rows: usize) -> Cutting {
        Cutting { batch_rows: batch_rows.max(1), block: 1 << 20, piece_bytes: 8 << 20 }
    }
}

/// Where records end, found without splitting fields. The quoting is [`Records`']: a
/// quote opens a quoted field only where a field starts (at a record's start or after a
/// comma); inside one, `""` is a quote and any other quote closes it; after the closing
/// quote, text runs unquoted to the next delimiter. So a cut made here never falls
/// inside a record, and the records counted are the records [`Records`] finds.
#[derive(Default)]
struct Ends {
    /// The next byte to look at.
    pos: usize,
    quoted: bool,
    /// Just after the last line end: where the current record starts.
    record_start: usize,
    /// Records ended since the last cut.
    records: u64,
}

impl Ends {
    /// Looks on from `pos` for the first line end at or past `end_from` that ends a
    /// record: returns the position just after it, or None when `b` runs out first.
    /// `eof` says that nothing follows `b` (a quote at its very end then closes a field).
    fn scan(&mut self, b: &[u8], end_from: usize, eof: bool) -> Option<usize> {
        while self.pos < b.len() {
            if self.quoted {
                let Some(q) = memchr::memchr(b'"', &b[self.pos..]) else {
                    self.pos = b.len();
                    return None;
                };
                let q = self.pos + q;
                match b.get(q + 1) {
                    Some(b'"') => self.pos = q + 2,
                    None if !eof => {
                        self.pos = q;
                        return None;
                    }
                    _ => {
                        self.quoted = false;
                        self.pos = q + 1;
                    }
                }
                continue;
            }
            let Some(i) = memchr::memchr3(b'"', b'\n', b'\r', &b[self.pos..]) else {
                self.pos = b.len();
                return None;
            };
            let i = self.pos + i;
            self.pos = i + 1;
            if b[i] == b'"' {
                self.quoted = i == self.record_start || b[i - 1] == b',';
                continue;
            }
            // An empty line is no record.
            if i > self.record_start {
                self.records += 1;
            }
            self.record_start = i + 1;
            if self.records > 0 && i + 1 >= end_from {
                return Some(i + 1);
            }
        }
        None
    }
}

/// Whole records of a file, cut where a record ends: `bytes[begin..]`.
struct Piece {
    bytes: Vec<u8>,
    begin: usize,
    /// Where `bytes[begin..]` starts in the file.
    offset: u64,
    /// Data records before this piece: its first record is row `rows_before + 1`.
    rows_before: u64,
    records: u64,
}

/// Reads a CSV file block by block into pieces of whole records, hashing every byte as
/// it passes.
struct Pieces<'p, R> {
    source: R,
    path: &'p Path,
    cutting: Cutting,
    hash: Sha256,
    buf: Vec<u8>,
    /// Where the next piece starts in `buf` (what is before it was copied out).
    begin: usize,
    /// Where `buf` starts in the file.
    offset: u64,
    ends: Ends,
    eof: bool,
    /// Records handed out so far (the header's included).
    rows: u64,
}

impl<'p, R: Read> Pieces<'p, R> {
    fn new(source: R, path: &'p Path, cutting: Cutting) -> Self {
        let buf = Vec::with_capacity(cutting.block);
        Pieces {
            source,
            path,
            cutting,
            hash: Sha256::new(),
            buf,
            begin: 0,
            offset: 0,
            ends: Ends::default(),
            eof: false,
            rows: 0,
        }
    }

    /// Reads one block more; at the end of the file, sets `eof`.
    fn fill(&mut self) -> Result<()> {
        if self.begin > 0 {
            // What was copied out goes; the piece being read moves to the front, once.
            self.buf.drain(..self.begin);
            self.offset += self.begin as u64;
            self.ends.pos -= self.begin;
            self.ends.record_start -= self.begin;
            self.begin = 0;
        }
        let len = self.buf.len();
        let n = (&mut self.source)
            .take(self.cutting.block as u64)
            .read_to_end(&mut self.buf)
            .map_err(|e| Error::io(self.path, e))?;
        self.hash.update(&self.buf[len..]);
        self.eof = n == 0;
        Ok(())
    }

    /// The header's fields: the file's first record, after a byte order mark. Every
    /// problem with it is fatal.
    fn header(&mut self) -> Result<Vec<String>> {
        while self.buf.len() < 3 && !self.eof {
            self.fill()?;
        }
        if self.buf.is_empty() {
            return Err(Error::input(self.path, "empty file: a CSV file needs at least a header row"));
        }
        if self.buf.starts_with("\u{feff}".as_bytes()) {
            self.buf.drain(..3);
            self.offset = 3;
        }
        let Some(piece) = self.next(true)? else {
            return Err(Error::input(self.path, "no header row"));
        };
        self.rows = 0;
        let text = piece.text().map_err(|at| not_utf8(self.path, at, &piece.live()[..(at - piece.offset) as usize]))?;
        let mut records = Records::new(text);
        records.next();
        if let Some(why) = records.malformed {
            return Err(Error::input(self.path, format!("malformed header row: {why}")));
        }
        Ok(records.fields.iter().map(|s| field_text(text, *s).into_owned()).collect())
    }

    /// The next piece: the header (`header`: its first record), or the records up to
    /// the first record end `piece_bytes` after its start. None when no record is left.
    fn next(&mut self, header: bool) -> Result<Option<Piece>> {
        loop {
            let end_from = if header { 0 } else { self.begin.saturating_add(self.cutting.piece_bytes) };
            if let Some(cut) = self.ends.scan(&self.buf, end_from, self.eof) {
                return Ok(Some(self.take(cut)));
            }
            if self.eof {
                // The last record needs no line end.
                if self.ends.record_start < self.buf.len() {
                    self.ends.records += 1;
                }
                if self.ends.records == 0 {
                    return Ok(None);
                }
                return Ok(Some(self.take(self.buf.len())));
            }
            self.fill()?;
        }
    }

    /// Hands out `buf[begin..cut]`, copying whichever is smaller: the piece, or what
    /// was read after it (which then starts a new buffer, and the piece takes the old
    /// one). Either way each byte is copied at most once, whatever the sizes of pieces
    /// and blocks.
    fn take(&mut self, cut: usize) -> Piece {
        let (begin, tail) = (self.begin, self.buf.len() - cut);
        let offset = self.offset + begin as u64;
        let (bytes, begin) = if tail <= cut - begin {
            let mut rest = Vec::with_capacity(cut - begin + self.cutting.block);
            rest.extend_from_slice(&self.buf[cut..]);
            self.buf.truncate(cut);
            self.offset += cut as u64;
            self.ends.pos -= cut;
            self.ends.record_start = self.ends.record_start.saturating_sub(cut);
            self.begin = 0;
            (std::mem::replace(&mut self.buf, rest), begin)
        } else {
            self.begin = cut;
            (self.buf[begin..cut].to_vec(), 0)
        };
        let piece = Piece { bytes, begin, offset, rows_before: self.rows, records: self.ends.records };
        self.rows += self.ends.records;
        self.ends.records = 0;
        piece
    }

    /// The data records and the file's SHA-256, once every piece is out.
    fn finish(mut self) -> Result<(u64, String)> {
        // Whatever follows the last record (line ends) is hashed too.
        while !self.eof {
            self.buf.clear();
            (self.begin, self.ends) = (0, Ends::default());
            self.fill()?;
        }
        Ok((self.rows, hex(&self.hash.finalize())))
    }
}

impl Piece {
    /// The piece as text, or the file offset of its first byte that is not UTF-8. A cut
    /// falls after a line end, so never inside a character.
    fn text(&self) -> std::result::Result<&str, u64> {
        std::str::from_utf8(self.live()).map_err(|e| self.offset + e.valid_up_to() as u64)
    }

    fn live(&self) -> &[u8] {
        &self.bytes[self.begin..]
    }
}

/// The error for a byte that is not UTF-8 at file offset `at`; `before` is the file's
/// text before it (to number its line).
fn not_utf8(path: &Path, at: u64, before: &[u8]) -> Error {
    let line = 1 + memchr::memchr_iter(b'\n', before).count();
    Error::input(path, format!("not UTF-8: invalid byte at offset {at} (line {line})"))
}

/// The table's columns out of one piece's records; malformed records are quarantined.
struct Parse<'a> {
    table: &'a InputTable,
    batch_rows: usize,
    file: u32,
    header_len: usize,
    positions: &'a [Option<usize>],
}

impl Parse<'_> {
    /// The piece's valid rows in batches of at most `batch_rows`, and its malformed
    /// records; or the file offset of a byte that is not UTF-8.
    fn piece(&self, piece: &Piece) -> std::result::Result<(Vec<RawBatch>, Vec<QuarantineRow>), u64> {
        let text = piece.text()?;
        let mut records = Records::new(text);
        let (mut batches, mut malformed) = (Vec::new(), Vec::new());
        // Sized for the piece's first batch at ~16 bytes a value; later batches are
        // sized by the one before ([`Parse::batch`]): grown by doubling from arrow's
        // default, every column of every batch was copied several times over.
        let first_rows = self.batch_rows.min(piece.records as usize);
        let mut builders: Vec<Option<StringBuilder>> = self
            .positions
            .iter()
            .map(|p| p.map(|_| StringBuilder::with_capacity(first_rows, first_rows * 16)))
            .collect();
        let mut rows = Vec::new();
        let mut scratch = String::new();
        let mut n = piece.rows_before;
        while records.next() {
            n += 1;
            if let Some(detail) = self.malformed(&records) {
                malformed.push(QuarantineRow::new(self.table.name, self.file, n, QError::MalformedRow, detail));
                continue;
            }
            for (b, p) in builders.iter_mut().zip(self.positions) {
                if let (Some(b), Some(p)) = (b, p) {
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
            if rows.len() == self.batch_rows {
                batches.push(self.batch(&mut builders, std::mem::take(&mut rows)));
            }
        }
        assert_eq!(n - piece.rows_before, piece.records, "the cut and the parse count the same records");
        if !rows.is_empty() {
            batches.push(self.batch(&mut builders, rows));
        }
        Ok((batches, malformed))
    }

    /// The rows built so far as a batch; each builder starts again with room for a
    /// batch like it (an eighth more text).
    fn batch(&self, builders: &mut [Option<StringBuilder>], rows: Vec<u64>) -> RawBatch {
        let columns = builders
            .iter_mut()
            .map(|b| {
                b.as_mut().map(|b| {
                    let done = b.finish();
                    let text = done.value_data().len();
                    *b = StringBuilder::with_capacity(self.batch_rows, text + text / 8);
                    Arc::new(done) as ArrayRef
                })
            })
            .collect();
        RawBatch {
            file: self.file,
            len: rows.len(),
            rows: RowNumbers::Listed(rows),
            columns,
            int96: vec![false; self.positions.len()],
        }
    }

    /// Why the current record cannot be used, if it cannot.
    fn malformed(&self, records: &Records<'_>) -> Option<String> {
        if let Some(why) = records.malformed {
            return Some(why.to_string());
        }
        (records.fields.len() != self.header_len)
            .then(|| format!("{} fields, the header has {}", records.fields.len(), self.header_len))
    }
}

/// What one CSV file gave: each piece's batch as `convert` made it, in file order, the
/// quarantined malformed records, the number of data records and the file's SHA-256.
pub struct CsvRead<T> {
    pub batches: Vec<T>,
    pub malformed: Vec<QuarantineRow>,
    pub rows: u64,
    pub sha256: String,
    /// Where each piece of data records lay in the file, in order: a few rows can be
    /// read again from their piece alone ([`read_csv_rows`]).
    pub pieces: Vec<PieceSpan>,
}

/// Where a piece of whole data records lies in a CSV file and which rows it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceSpan {
    /// Its first byte's offset in the file.
    pub offset: u64,
    pub len: u64,
    /// Data records before it: its records are rows `rows_before + 1 ..= rows_before + records`.
    pub rows_before: u64,
    pub records: u64,
}

impl Piece {
    fn span(&self) -> PieceSpan {
        let len = (self.bytes.len() - self.begin) as u64;
        PieceSpan { offset: self.offset, len, rows_before: self.rows_before, records: self.records }
    }
}

impl CsvRead<RawBatch> {
    /// Every valid row as read: its row number and its cells' text, `None` for an empty
    /// cell (tests and the fuzz target compare reads cut in different places with it).
    pub fn text_rows(&self) -> Vec<(u64, Vec<Option<String>>)> {
        let mut rows = Vec::new();
        for b in &self.batches {
            let columns: Vec<&StringArray> = b.columns.iter().flatten().map(|c| c.as_string::<i32>()).collect();
            for i in 0..b.len {
                let cells = columns.iter().map(|c| c.is_valid(i).then(|| c.value(i).to_string())).collect();
                rows.push((b.rows.get(i), cells));
            }
        }
        rows
    }
}

/// Reads a CSV file as it streams: one thread reads, hashes and cuts it into pieces of
/// whole records, the pool parses and converts them, and only what `convert` makes of
/// each piece is kept. Header problems are fatal, record problems are quarantined, and
/// every row number and message is what reading the file whole would give.
pub fn read_csv_file<T: Send>(
    path: &Path,
    table: &InputTable,
    file: u32,
    cutting: Cutting,
    convert: impl Fn(RawBatch) -> T + Sync,
) -> Result<CsvRead<T>> {
    let source = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_csv_from(source, path, table, file, cutting, convert).map_err(|e| match e {
        Failed::Error(e) => e,
        Failed::NotUtf8(at) => {
            let before = std::fs::File::open(path).and_then(|f| {
                let mut v = Vec::new();
                f.take(at).read_to_end(&mut v)?;
                Ok(v)
            });
            match before {
                Ok(before) => not_utf8(path, at, &before),
                Err(e) => Error::io(path, e),
            }
        }
    })
}

/// Reads the data rows `rows` (ascending) of a CSV file again from the pieces a first
/// read found them in (`pieces`, that read's [`CsvRead::pieces`]): only those pieces
/// are read and parsed, each into batches of at most `batch_rows` rows of which
/// `convert` picks what it needs. The caller checks that the file did not change.
pub fn read_csv_rows<T: Send>(
    path: &Path,
    table: &InputTable,
    file: u32,
    pieces: &[PieceSpan],
    rows: &[u64],
    batch_rows: usize,
    convert: impl Fn(RawBatch) -> T + Sync,
) -> Result<Vec<T>> {
    let source = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let header = Pieces::new(source, path, Cutting::new(batch_rows)).header()?;
    let positions = super::map_columns(table, path, &header)?;
    let parse = Parse { table, batch_rows: batch_rows.max(1), file, header_len: header.len(), positions: &positions };
    let wanted: Vec<&PieceSpan> = pieces
        .iter()
        .filter(|p| {
            let first = rows.partition_point(|&r| r <= p.rows_before);
            rows.get(first).is_some_and(|&r| r <= p.rows_before + p.records)
        })
        .collect();
    let read: Vec<Result<Vec<T>>> = wanted
        .into_par_iter()
        .map(|span| {
            let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            let mut bytes = vec![0; span.len as usize];
            f.seek(std::io::SeekFrom::Start(span.offset))
                .and_then(|_| f.read_exact(&mut bytes))
                .map_err(|e| Error::io(path, e))?;
            let changed = || Error::input(path, "changed while the sweep was reading it (a piece read again differs)");
            // The piece must hold the records it held (a changed file is an error here,
            // where the first read's parse asserts it).
            let text = std::str::from_utf8(&bytes).map_err(|_| changed())?;
            let mut records = Records::new(text);
            let mut n = 0;
            while records.next() {
                n += 1;
            }
            if n != span.records {
                return Err(changed());
            }
            let piece = Piece { bytes, begin: 0, offset: span.offset, rows_before: span.rows_before, records: n };
            let (batches, _) = parse.piece(&piece).map_err(|_| changed())?;
            Ok(batches.into_iter().map(&convert).collect())
        })
        .collect();
    let mut out = Vec::new();
    for r in read {
        out.extend(r?);
    }
    Ok(out)
}

/// [`read_csv_file`] over bytes in memory, keeping the batches as read (tests and the
/// fuzz target).
pub fn read_csv(
    bytes: &[u8],
    path: &Path,
    table: &InputTable,
    file: u32,
    cutting: Cutting,
) -> Result<CsvRead<RawBatch>> {
    read_csv_from(bytes, path, table, file, cutting, |b| b).map_err(|e| match e {
        Failed::Error(e) => e,
        Failed::NotUtf8(at) => not_utf8(path, at, &bytes[..at as usize]),
    })
}

/// Why [`read_csv_from`] stopped: the offset of a byte that is not UTF-8 is all a piece
/// knows, its line is found by the caller, who can read the file again.
enum Failed {
    Error(Error),
    NotUtf8(u64),
}

fn read_csv_from<R: Read + Send, T: Send>(
    source: R,
    path: &Path,
    table: &InputTable,
    file: u32,
    cutting: Cutting,
    convert: impl Fn(RawBatch) -> T + Sync,
) -> std::result::Result<CsvRead<T>, Failed> {
    let mut pieces = Pieces::new(source, path, cutting);
    let header = pieces.header().map_err(Failed::Error)?;
    let positions = super::map_columns(table, path, &header).map_err(Failed::Error)?;
    let parse =
        Parse { table, batch_rows: cutting.batch_rows.max(1), file, header_len: header.len(), positions: &positions };
    // Two pieces wait while the pool works on others: memory stays a few pieces deep
    // whatever the size of the file.
    let (send, receive) = std::sync::mpsc::sync_channel::<Result<Piece>>(2);
    let (done, end) = std::thread::scope(|s| {
        let reader = s.spawn(move || {
            loop {
                let next = pieces.next(false).transpose();
                let stop = !matches!(next, Some(Ok(_)));
                if let Some(next) = next
                    && send.send(next).is_err()
                {
                    break;
                }
                if stop {
                    break;
                }
            }
            drop(send);
            pieces.finish()
        });
        let mut done: Vec<_> = receive
            .into_iter()
            .enumerate()
            .par_bridge()
            .map(|(k, piece)| {
                let parsed = piece.map_err(Failed::Error).and_then(|p| {
                    let (batches, malformed) = parse.piece(&p).map_err(Failed::NotUtf8)?;
                    Ok((batches, malformed, p.span()))
                });
                let converted = parsed.map(|(batches, malformed, span)| {
                    (batches.into_iter().map(&convert).collect::<Vec<T>>(), malformed, span)
                });
                (k, converted)
            })
            .collect();
        done.sort_unstable_by_key(|(k, _)| *k);
        (done, reader.join().expect("the CSV reader thread does not panic"))
    });
    let mut read =
        CsvRead { batches: Vec::new(), malformed: Vec::new(), rows: 0, sha256: String::new(), pieces: Vec::new() };
    for (_, piece) in done {
        let (batches, malformed, span) = piece?;
        read.batches.extend(batches);
        read.malformed.extend(malformed);
        read.pieces.push(span);
    }
    (read.rows, read.sha256) = end.map_err(Failed::Error)?;
    Ok(read)
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

    use crate::schema::{ColumnKind, InputColumn};

    /// Three text columns, all required: the reader's work without the converter's.
    const CARDS: InputTable = InputTable {
        name: "cards",
        columns: &[
            InputColumn { name: "card_id", kind: ColumnKind::Text, required: true, interned: false },
            InputColumn { name: "org_id", kind: ColumnKind::Text, required: true, interned: false },
            InputColumn { name: "status", kind: ColumnKind::Text, required: true, interned: false },
        ],
        named_by: Some(0),
    };

    /// Everything a read gives, in a form that does not depend on where it was cut.
    #[derive(Debug, PartialEq)]
    struct Flat {
        rows: Vec<(u64, Vec<Option<String>>)>,
        malformed: Vec<QuarantineRow>,
        records: u64,
        sha256: String,
    }

    fn flat(text: &[u8], cutting: Cutting) -> Result<Flat> {
        let read = read_csv(text, Path::new("cards.csv"), &CARDS, 3, cutting)?;
        let rows = read.text_rows();
        Ok(Flat { rows, malformed: read.malformed, records: read.rows, sha256: read.sha256 })
    }

    /// Tricky files: quoted line ends, doubled quotes, CRLF, empty lines, malformed
    /// records of each kind, a last record without a line end, an unterminated quote.
    const FILES: &[&str] = &[
        "card_id,org_id,status\r\nC1,O1,received\r\n\r\nC2,\"O,\"\"2\"\"\r\nx\",sent\rC3,O3,ordered",
        "\u{feff}card_id,status,org_id\nC1,received,O1\nC2,\"re\"ceived\",O2\nC3,rec\"eived,O3\n\n\n\"C4\",sent,\"\"\nC5,sent\n",
        "card_id,org_id,status\nC1,O1,\"\"\"\"\nC2,O2,\"x\"\n\"\"\",\"\nC3,O3,\"open\nC4,O4,sent\nC5,O5,sent",
        "card_id,org_id,status\n\"\"\",\"\",\"\"\"\"\n\r\n,,\r\n\"a\"\"\nb\",\"\",\"\"\r",
        "card_id,org_id,status",
        "card_id,org_id,status\n\n\r\n",
    ];

    #[test]
    fn every_cut_reads_as_the_whole_file() {
        for text in FILES {
            let whole =
                flat(text.as_bytes(), Cutting { batch_rows: usize::MAX, block: 1 << 20, piece_bytes: usize::MAX })
                    .unwrap();
            assert_eq!(whole.sha256, crate::ingest::provenance::bytes_sha256(text.as_bytes()));
            for batch_rows in 1..=4 {
                for block in [1, 2, 3, 5, 8, 64] {
                    for piece_bytes in [1, 5, 17, 64] {
                        let cut = flat(text.as_bytes(), Cutting { batch_rows, block, piece_bytes }).unwrap();
                        assert_eq!(
                            cut, whole,
                            "{text:?} in pieces of {piece_bytes}+ bytes, batches of {batch_rows}, read {block} bytes at a time"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_whole_file_as_records_gives_it() {
        let f = flat(FILES[0].as_bytes(), Cutting::new(2)).unwrap();
        let rows: Vec<_> = f.rows.iter().map(|(n, cells)| (*n, cells.clone())).collect();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            rows,
            [
                (1, vec![s("C1"), s("O1"), s("received")]),
                (2, vec![s("C2"), s("O,\"2\"\r\nx"), s("sent")]),
                (3, vec![s("C3"), s("O3"), s("ordered")]),
            ]
        );
        assert_eq!(f.records, 3);
        let f = flat(FILES[2].as_bytes(), Cutting::new(1)).unwrap();
        let bad: Vec<_> = f.malformed.iter().map(|q| (q.row, q.detail.as_str())).collect();
        assert_eq!(bad, [(3, "1 fields, the header has 3"), (4, "unterminated quote")]);
        assert_eq!(f.records, 4, "the unterminated quote swallows the rest");
        let f = flat(FILES[1].as_bytes(), Cutting::new(1)).unwrap();
        let bad: Vec<_> = f.malformed.iter().map(|q| (q.row, q.detail.as_str())).collect();
        assert_eq!(
            bad,
            [
                (2, "text after a closing quote"),
                (3, "quote inside an unquoted field"),
                (5, "2 fields, the header has 3")
            ]
        );
    }

    #[test]
    fn header_problems_are_fatal() {
        let err =
            |text: &[u8]| flat(text, Cutting { batch_rows: 1, block: 1, piece_bytes: 1 }).unwrap_err().to_string();
        assert!(err(b"").contains("empty file"));
        assert!(err(b"\n\r\n").contains("no header row"));
        assert!(err("\u{feff}".as_bytes()).contains("no header row"));
        assert!(err(b"card_id,\"org_id\"x,status\n").contains("malformed header row: text after a closing quote"));
    }

    #[test]
    fn not_utf8_names_the_offset_and_line_wherever_the_cut() {
        let mut text = b"card_id,org_id,status\nC1,O1,sent\n\"C2\nC2\",O2,sent\nC3,O3,s".to_vec();
        let at = text.len();
        text.extend_from_slice(b"\xffnt\nC4,O4,sent\n");
        for batch_rows in [1, 2, 100] {
            for block in [1, 7, 1 << 20] {
                let e =
                    flat(&text, Cutting { batch_rows, block, piece_bytes: batch_rows * 10 }).unwrap_err().to_string();
                assert!(e.contains(&format!("not UTF-8: invalid byte at offset {at} (line 5)")), "{e}");
            }
        }
        let e = flat(b"card\xc3_id,org_id,status\n", Cutting::new(1)).unwrap_err().to_string();
        assert!(e.contains("offset 4 (line 1)"), "{e}");
    }

    /// A source that gives its bytes, then fails: an error while the file streams.
    struct Failing(&'static [u8]);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("the disk went away"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_read_error_midway_fails_the_file_by_name() {
        let text = "card_id,org_id,status\nC1,O1,sent\nC2,O2,sent\nC3,O3,sent\n".as_bytes();
        for block in [1, 7, 1 << 20] {
            let read = read_csv_from(
                Failing(text),
                Path::new("cards.csv"),
                &CARDS,
                0,
                Cutting { batch_rows: 1, block, piece_bytes: 1 },
                |b| b,
            );
            let Err(Failed::Error(e)) = read else { panic!("a read error fails the file") };
            let e = e.to_string();
            assert!(e.contains("cards.csv") && e.contains("the disk went away"), "{e}");
        }
    }

    #[test]
    fn a_file_is_read_as_it_streams() {
        let dir = std::env::temp_dir().join(format!("siths-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cards.csv");
        std::fs::write(&path, FILES[1]).unwrap();
        let read =
            read_csv_file(&path, &CARDS, 0, Cutting { batch_rows: 2, block: 3, piece_bytes: 1 }, |b| b.len).unwrap();
        assert_eq!(read.batches, [1, 1], "a piece per record, each valid one a batch");
        let read =
            read_csv_file(&path, &CARDS, 0, Cutting { batch_rows: 2, block: 3, piece_bytes: 1 << 20 }, |b| b.len)
                .unwrap();
        assert_eq!(read.batches, [2], "one piece, its two valid rows one batch");
        assert_eq!(read.rows, 5);
        assert_eq!(read.sha256, crate::ingest::file_sha256(&path).unwrap());
        let mut bad = FILES[1].as_bytes().to_vec();
        bad.extend_from_slice(b"\nC6,\xfe,x\n");
        std::fs::write(&path, &bad).unwrap();
        let e = read_csv_file(&path, &CARDS, 0, Cutting { batch_rows: 1, block: 4, piece_bytes: 8 }, |b| b.len)
            .err()
            .unwrap();
        assert!(e.to_string().contains(&format!("offset {} (line 10)", bad.len() - 4)), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
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
