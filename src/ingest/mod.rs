//! Ingest: the four input tables from Parquet or CSV into typed columns, with every row
//! that cannot be used sent to quarantine (SPEC "Input", "Bad rows never stop a sweep").
//!
//! Order of checks per row, as SPEC fixes it: MALFORMED_ROW (CSV reader), then column by
//! column MISSING_REQUIRED or BAD_VALUE (`convert`), then DUPLICATE_KEY and UNKNOWN_CARD
//! (`keys`), each judged only among rows that passed the earlier checks.

pub mod csv;
pub mod discover;
pub mod index;
pub mod keys;
pub mod parquet;
pub mod table;
pub mod values;

use std::path::{Path, PathBuf};

use arrow_array::ArrayRef;
use arrow_schema::TimeUnit;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use arrow_array::Array;
use arrow_array::builder::LargeStringBuilder;
pub use discover::{Format, InputFile};
use schema::ColumnKind;
pub use table::{ColumnData, NULL_ID, NULL_TIME, Parts, RowRef, Sources, Table, TextColumn, Times};

use crate::error::{Error, Result};
use crate::schema::{self, InputTable, cols};
use crate::stage::Stage;
use crate::time::Zone;
use crate::vocabulary::vocabulary;
use values::{CellError, ColumnReader, Value};

/// Rows per input batch by default: arrow-rs's default of 1024 is several times slower
/// to decode. Outputs do not depend on it (tests vary it).
pub const BATCH_ROWS: usize = 65_536;

/// Data row numbers of a batch: consecutive for Parquet, listed for CSV (malformed
/// records are not in the batch).
#[derive(Debug, Clone)]
pub enum RowNumbers {
    From(u64),
    Listed(Vec<u64>),
}

impl RowNumbers {
    pub fn get(&self, i: usize) -> u64 {
        match self {
            RowNumbers::From(first) => first + i as u64,
            RowNumbers::Listed(v) => v[i],
        }
    }
}

/// A batch as read: one optional Arrow column per table column, in table order.
#[derive(Debug, Clone)]
pub struct RawBatch {
    pub file: u32,
    pub len: usize,
    pub rows: RowNumbers,
    pub columns: Vec<Option<ArrayRef>>,
    /// Per column: a Parquet INT96 timestamp (a UTC instant).
    pub int96: Vec<bool>,
}

vocabulary! {
    /// SPEC's quarantine error codes.
    pub enum QError {
        MalformedRow = "MALFORMED_ROW",
        MissingRequired = "MISSING_REQUIRED",
        BadValue = "BAD_VALUE",
        DuplicateKey = "DUPLICATE_KEY",
        UnknownCard = "UNKNOWN_CARD",
    }
}

/// A row left out of the evaluation, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantineRow {
    pub table: &'static str,
    pub file: u32,
    pub row: u64,
    pub key: Option<String>,
    pub column: Option<&'static str>,
    pub error: QError,
    /// Short and human; never echoes personal data.
    pub detail: String,
}

impl QuarantineRow {
    pub fn new(table: &'static str, file: u32, row: u64, error: QError, detail: impl Into<String>) -> Self {
        QuarantineRow { table, file, row, key: None, column: None, error, detail: detail.into() }
    }
}

/// Maps a file's column names onto the table's columns. A duplicate name or a missing
/// required column is fatal.
pub fn map_columns(table: &InputTable, path: &Path, names: &[String]) -> Result<Vec<Option<usize>>> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(Error::input(path, format!("duplicate column name {n:?}")));
        }
    }
    table
        .columns
        .iter()
        .map(|c| {
            let p = names.iter().position(|n| n == c.name);
            if p.is_none() && c.required {
                return Err(Error::MissingColumn {
                    table: table.name,
                    file: path.display().to_string(),
                    column: c.name,
                });
            }
            Ok(p)
        })
        .collect()
}

/// Turns a key column into row indices of another table while converting, so the key
/// strings are never stored (a certificate's card_id becomes its card's index).
pub struct Resolver<'a> {
    pub column: &'static str,
    pub lookup: &'a (dyn Fn(&str) -> u32 + Sync),
    /// The key of row `i` of the other table, if it has one: `key_of(i + 1)` is tried
    /// before `lookup` when the previous row resolved to `i`.
    pub key_of: &'a (dyn Fn(u32) -> Option<&'a str> + Sync),
}

/// A byte per row that the caller decides as each batch of a table is read, after which
/// the columns only that decision needed are let go. For certificates it is the rules'
/// issuer kind and activity as of D (`evaluate::CertClassifier`): `not_after` and
/// `revoked` are ten bytes a row, 450 MB at 45M certificates, that would otherwise be
/// held to the end of the run.
pub trait Derive: Sync {
    /// One byte per row of `part`, in order.
    fn bytes(&self, part: &Table) -> Vec<u8>;
    /// Columns (their indices in the table) nothing reads after `bytes`: they become
    /// [`ColumnData::Gone`].
    fn lets_go(&self) -> &'static [usize];
}

/// What reading the certificates does besides converting them.
pub struct CertReading<'a> {
    pub resolve: Resolver<'a>,
    pub derive: &'a dyn Derive,
}

/// What ingest records of one input file for the manifest.
#[derive(Clone, Debug)]
pub struct InputFileInfo {
    pub table: &'static str,
    /// Relative to `--input`, with `/` separators.
    pub rel: String,
    pub path: PathBuf,
    pub sha256: String,
    pub rows: u64,
    pub quarantined: u64,
}

/// Everything ingest produces: valid rows per table, the certificates' card indices and
/// derived bytes, and the quarantine.
pub struct Ingested {
    pub files: Vec<InputFileInfo>,
    pub organisations: Table,
    pub id_admins: Table,
    pub cards: Table,
    /// Its `card_id` column holds the index of the card in `cards`, or [`NULL_ID`] for
    /// a certificate the key checks rejected (it is in the quarantine and belongs to
    /// no card). Kept in the parts it was read in: copying tens of millions of rows into
    /// one piece would hold them twice at the peak, and nothing needs them in one piece.
    /// Each row's [`Derive`] byte is in its part's `derived`; the columns the derivation
    /// let go are [`ColumnData::Gone`]. [`Ingested::take_certificates`] hands them on.
    pub certificates: Parts,
    pub quarantine: Vec<QuarantineRow>,
    pub warnings: Vec<String>,
}

impl Ingested {
    /// The certificates, leaving an empty table in their place: the caller keeps what it
    /// needs of them and lets the rest go, while the other tables live on.
    pub fn take_certificates(&mut self) -> Parts {
        let def = self.certificates.def;
        std::mem::replace(&mut self.certificates, Parts::new(def, Vec::new()))
    }
}

/// Reads and checks all four tables; `derive` classifies each certificate as it is read.
pub fn ingest(
    input: &Path,
    zone: &Zone,
    batch_rows: usize,
    derive: &dyn Derive,
    mut stage: impl FnMut(Stage),
) -> Result<Ingested> {
    let mut warnings = Vec::new();
    let [orgs, admins, cards, certs] = schema::INPUT_TABLES;
    // Find every table's files first: a missing table fails before any reading.
    let mut found = Vec::new();
    for t in &schema::INPUT_TABLES {
        found.push(discover::discover(input, t, &mut warnings)?);
    }
    let (mut files, mut q) = (Vec::new(), Vec::new());
    let rows = batch_rows.max(1);
    stage(Stage::ReadOrganisations);
    let organisations = read_parts(&orgs, &found[0], zone, rows, None, &mut files, &mut q)?;
    stage(Stage::ReadIdAdmins);
    let id_admins = read_parts(&admins, &found[1], zone, rows, None, &mut files, &mut q)?.into_table(None);
    stage(Stage::ReadCards);
    let cards_read = read_parts(&cards, &found[2], zone, rows, None, &mut files, &mut q)?;
    let cards = keys::dedup(cards_read, &files, &mut q, &keys::TextKey(cols::cards::CARD_ID), "card_id");
    // Certificates learn their card's index as they are read, so the card_id strings
    // of tens of millions of certificates are never kept.
    let ids = cards.text(cols::cards::CARD_ID);
    let index = index::CardIndex::new(ids);
    let lookup = |id: &str| index.get(id);
    let key_of = |i: u32| ((i as usize) < ids.len()).then(|| ids.value(i as usize));
    let reading = CertReading { resolve: Resolver { column: "card_id", lookup: &lookup, key_of: &key_of }, derive };
    stage(Stage::ReadCertificates);
    let certificates = read_parts(&certs, &found[3], zone, rows, Some(&reading), &mut files, &mut q)?;
    drop(index);
    stage(Stage::Keys);
    let organisations =
        keys::dedup(organisations, &files, &mut q, &keys::TextKey(cols::organisations::ORG_ID), "org_id");
    // Every batch resolved its card_ids as it was read.
    let certificates = keys::dedup_certificates(certificates, &files, &mut q);
    for row in &q {
        files[row.file as usize].quarantined += 1;
    }
    Ok(Ingested { files, organisations, id_admins, cards, certificates, quarantine: q, warnings })
}

/// Reads one table's files: their valid rows as converted, batch by batch, and every
/// row that failed a value check into `quarantine`. `certs` is for the certificates.
pub fn read_parts(
    table: &InputTable,
    list: &[InputFile],
    zone: &Zone,
    batch_rows: usize,
    certs: Option<&CertReading<'_>>,
    files: &mut Vec<InputFileInfo>,
    quarantine: &mut Vec<QuarantineRow>,
) -> Result<Parts> {
    let mut parts = Vec::new();
    for f in list {
        let file = files.len() as u32;
        if file >= RowRef::MAX_FILES {
            return Err(Error::input(
                &f.path,
                format!("more than {} input files: merge some parts", RowRef::MAX_FILES),
            ));
        }
        let convert = |b: RawBatch| {
            let (mut t, q) = convert_batch(&b, table, zone, certs.map(|c| &c.resolve));
            if let Some(c) = certs {
                t.derive(c.derive);
            }
            (t, q)
        };
        let (converted, rows, sha256) = match f.format {
            Format::Csv => {
                let bytes = std::fs::read(&f.path).map_err(|e| Error::io(&f.path, e))?;
                let (sha, parsed) =
                    rayon::join(|| hex_sha256(&bytes), || csv::read_csv(&bytes, &f.path, table, file, batch_rows));
                let parsed = parsed?;
                quarantine.extend(parsed.malformed);
                let converted: Vec<_> = parsed.batches.into_par_iter().map(convert).collect();
                (converted, parsed.rows, sha)
            }
            Format::Parquet => {
                let (sha, read) = rayon::join(
                    || file_sha256(&f.path),
                    || parquet::read_parquet(&f.path, table, file, batch_rows, convert),
                );
                let (converted, rows) = read?;
                (converted, rows, sha?)
            }
        };
        for (t, q) in converted {
            parts.push(t);
            quarantine.extend(q);
        }
        files.push(InputFileInfo {
            table: table.name,
            rel: f.rel.clone(),
            path: f.path.clone(),
            sha256,
            rows,
            quarantined: 0,
        });
    }
    Ok(Parts::new(*table, parts))
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Converts one raw batch column by column (each column's type is dispatched once, its
/// values converted in a tight loop). A row's first error, in column order, sends it to
/// quarantine: columns are processed in table order and only the first error of a row
/// is kept.
pub fn convert_batch(
    batch: &RawBatch,
    table: &InputTable,
    zone: &Zone,
    resolve: Option<&Resolver<'_>>,
) -> (Table, Vec<QuarantineRow>) {
    let n = batch.len;
    let personal = table.name == "id_admins";
    const OK: u32 = u32::MAX;
    let mut first_error = vec![OK; n];
    let mut errors: Vec<(&'static str, QError, String)> = Vec::new();
    let mut fail = |i: usize, column: &'static str, e: QError, detail: String| {
        if first_error[i] == OK {
            first_error[i] = errors.len() as u32;
            errors.push((column, e, detail));
        }
    };
    let mut columns = Vec::with_capacity(table.columns.len());
    for ((c, a), int96) in table.columns.iter().zip(&batch.columns).zip(&batch.int96) {
        let r = ColumnReader::new(c.kind, c.name, a.as_ref(), *int96, zone);
        let mut cell = |i: usize| -> Option<Value<'_>> {
            match r.read(i, zone) {
                Ok(Value::Null) if c.required => {
                    fail(i, c.name, QError::MissingRequired, "required value is missing".into());
                    None
                }
                // A blank identifier is as good as none.
                Ok(Value::Text(s)) if c.required && s.trim().is_empty() => {
                    fail(i, c.name, QError::MissingRequired, "required value is blank".into());
                    None
                }
                Ok(v) => Some(v),
                Err(CellError::Missing) => {
                    fail(i, c.name, QError::MissingRequired, "required value is missing".into());
                    None
                }
                Err(CellError::Bad { what, value }) => {
                    let detail = if personal { what.to_string() } else { format!("{what}: {}", quote_short(&value)) };
                    fail(i, c.name, QError::BadValue, detail);
                    None
                }
            }
        };
        let data = match c.kind {
            ColumnKind::Text if resolve.is_some_and(|r| r.column == c.name) => {
                let Resolver { lookup, key_of, .. } = resolve.expect("checked");
                // Exports list a card's certificates together, and often in the order of
                // the cards: most rows name the card of the row before, many of the rest
                // the card after it. A string compare with a neighbour in memory is much
                // cheaper than a probe into a map of every card; the map decides
                // whenever neither matches.
                let mut last: Option<(Value<'_>, u32)> = None;
                let ids = (0..n)
                    .map(|i| match cell(i) {
                        Some(v @ Value::Text(_)) => match &last {
                            Some((prev, id)) if *prev == v => *id,
                            _ => {
                                let Value::Text(s) = &v else { unreachable!("matched as text") };
                                let next = last
                                    .as_ref()
                                    .map(|(_, id)| *id)
                                    .filter(|&id| id != table::NULL_ID)
                                    .map(|id| id + 1)
                                    .filter(|&next| key_of(next) == Some(s.as_ref()));
                                let id = next.unwrap_or_else(|| lookup(s));
                                last = Some((v, id));
                                id
                            }
                        },
                        _ => table::NULL_ID,
                    })
                    .collect();
                ColumnData::Index(ids)
            }
            ColumnKind::Text if c.interned => {
                let mut b = table::Interner::default();
                let ids = by_dictionary_key(&r, n, table::NULL_ID, |i| match cell(i) {
                    Some(Value::Text(s)) => b.id(&s),
                    _ => table::NULL_ID,
                });
                ColumnData::Interned { ids, dict: b.into_dict() }
            }
            ColumnKind::Text if let Some(text) = a.as_ref().and_then(|a| clean_text(a, c.required)) => {
                ColumnData::Text(text)
            }
            ColumnKind::Text => {
                let bytes = a.as_ref().map_or(0, |a| a.get_buffer_memory_size());
                let mut b = LargeStringBuilder::with_capacity(n, bytes);
                for i in 0..n {
                    match cell(i) {
                        Some(Value::Text(s)) => b.append_value(s),
                        _ => b.append_null(),
                    }
                }
                ColumnData::Text(TextColumn::Large(b.finish()))
            }
            ColumnKind::Label => ColumnData::Label(by_dictionary_key(&r, n, u8::MAX, |i| match cell(i) {
                Some(Value::Label(l)) => l,
                _ => u8::MAX,
            })),
            ColumnKind::Time => {
                // The common case, a UTC-anchored microsecond timestamp in range, is
                // taken as it is; anything else (null, another unit, out of range) goes
                // through the reading, which also finds the rows to reject.
                let direct = match &r {
                    ColumnReader::Timestamp { values, nulls, unit: TimeUnit::Microsecond, instant: true } => {
                        Some((*values, *nulls))
                    }
                    _ => None,
                };
                ColumnData::Time(
                    (0..n)
                        .map(|i| {
                            if let Some((values, nulls)) = direct
                                && nulls.is_none_or(|n| n.is_valid(i))
                                && (values::MIN_MICROS..=values::MAX_MICROS).contains(&values[i])
                            {
                                return values[i];
                            }
                            match cell(i) {
                                Some(Value::Time(t)) => t,
                                _ => NULL_TIME,
                            }
                        })
                        .collect(),
                )
            }
            ColumnKind::Bool => {
                let direct = match &r {
                    ColumnReader::Bool(a) => Some(*a),
                    _ => None,
                };
                ColumnData::Bool(
                    (0..n)
                        .map(|i| {
                            if let Some(a) = direct.filter(|a| a.is_valid(i)) {
                                return Some(a.value(i));
                            }
                            match cell(i) {
                                Some(Value::Bool(b)) => Some(b),
                                _ => None,
                            }
                        })
                        .collect(),
                )
            }
        };
        columns.push(data);
    }
    let source = match &batch.rows {
        RowNumbers::From(first) => table::Sources::run(batch.file, *first, n),
        RowNumbers::Listed(rows) => rows.iter().map(|&r| RowRef::new(batch.file, r)).collect(),
    };
    let all = Table { def: *table, columns, source, derived: Vec::new() };
    if errors.is_empty() {
        return (all, Vec::new());
    }
    let key = table.named_by.map(|k| values::TextAccess::new(batch.columns[k].as_ref().expect("keys are required")));
    let mut quarantine = Vec::with_capacity(errors.len());
    let mut errors = errors.into_iter().map(Some).collect::<Vec<_>>();
    for (i, &e) in first_error.iter().enumerate().filter(|(_, e)| **e != OK) {
        let (column, error, detail) = errors[e as usize].take().expect("each error belongs to one row");
        quarantine.push(QuarantineRow {
            table: table.name,
            file: batch.file,
            row: batch.rows.get(i),
            key: key.as_ref().and_then(|k| k.get(i)).filter(|k| !k.trim().is_empty()).map(|k| k.into_owned()),
            column: Some(column),
            error,
            detail,
        });
    }
    let keep: Vec<bool> = first_error.iter().map(|&e| e == OK).collect();
    (all.filter(&keep), quarantine)
}

/// Every row's `read(i)`, except that a row whose dictionary key was read before with a
/// good result (not `failed`) takes that result again: the reader converted each key's
/// value once (its memo), so the row would read the same. Interning and label parsing
/// then happen once per dictionary value, not once per row. Rows that fail are read
/// every time, so each is rejected on its own.
fn by_dictionary_key<T: Copy + PartialEq>(
    r: &ColumnReader<'_>,
    n: usize,
    failed: T,
    mut read: impl FnMut(usize) -> T,
) -> Vec<T> {
    let mut by_key = vec![failed; r.dictionary_len().unwrap_or(0)];
    (0..n)
        .map(|i| {
            let key = r.dictionary_key(i);
            if let Some(k) = key.filter(|&k| by_key[k] != failed) {
                return by_key[k];
            }
            let v = read(i);
            if let Some(k) = key {
                by_key[k] = v;
            }
            v
        })
        .collect()
}

/// A plain text column whose every value the row-by-row reading would take as it is,
/// without copying its text: no empty strings (those read as null) and, if the column is
/// required, no nulls and no blank values (those are quarantined). `None` sends the
/// column through the row-by-row reading, which finds the rows to reject.
fn clean_text(a: &ArrayRef, required: bool) -> Option<TextColumn> {
    use arrow_array::cast::AsArray;
    fn clean<O: arrow_array::OffsetSizeTrait>(s: &arrow_array::GenericStringArray<O>, required: bool) -> bool {
        if required && s.null_count() > 0 {
            return false;
        }
        (0..s.len()).all(|i| {
            if s.is_null(i) {
                return true;
            }
            let v = s.value(i);
            if v.is_empty() {
                return false;
            }
            // A blank value is white space only; one that starts with a visible ASCII
            // character is not.
            let blank = required && !v.as_bytes()[0].is_ascii_graphic() && v.trim().is_empty();
            !blank
        })
    }
    match a.data_type() {
        arrow_schema::DataType::Utf8 => {
            let s = a.as_string::<i32>();
            clean(s, required).then(|| TextColumn::Small(fitted(s)))
        }
        arrow_schema::DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            clean(s, required).then(|| TextColumn::Large(fitted(s)))
        }
        _ => None,
    }
}

/// The decoded array itself, or, when its text buffer has much more room than text (the
/// Parquet decoder grows it as it goes: 1.66 GB held for 1.08 GB of text at 10M cards),
/// a copy of the text into a buffer of its size. The column is kept for the whole run.
fn fitted<O: arrow_array::OffsetSizeTrait>(
    s: &arrow_array::GenericStringArray<O>,
) -> arrow_array::GenericStringArray<O> {
    let values = s.values();
    if values.capacity() <= values.len() + values.len() / 8 + 4096 {
        return s.clone();
    }
    let exact = arrow_buffer::Buffer::from_slice_ref(values.as_slice());
    arrow_array::GenericStringArray::new(s.offsets().clone(), exact, s.nulls().cloned())
}

/// A value for an error message: quoted, at most 40 characters.
pub fn quote_short(v: &str) -> String {
    let mut s: String = v.chars().take(40).collect();
    if s.len() < v.len() {
        s.push('…');
    }
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::{Int32Type, TimestampMicrosecondType};
    use arrow_array::{ArrayRef, BooleanArray, DictionaryArray, Int32Array, PrimitiveArray, StringArray};

    use super::*;

    /// A dictionary array of `values` whose dictionary also holds `unused` values no
    /// row refers to (a dictionary shared by a column chunk bigger than the batch).
    fn dictionary(values: &[Option<&str>], unused: usize) -> ArrayRef {
        let mut dict: Vec<String> = (0..unused).map(|i| format!("unused {i}")).collect();
        let keys: Vec<Option<i32>> = values
            .iter()
            .map(|v| {
                v.map(|v| match dict.iter().position(|d| d == v) {
                    Some(p) => p as i32,
                    None => {
                        dict.push(v.to_string());
                        (dict.len() - 1) as i32
                    }
                })
            })
            .collect();
        let values: ArrayRef = Arc::new(StringArray::from(dict));
        Arc::new(DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), values).unwrap())
    }

    fn times_as_dictionary(t: &[Option<i64>]) -> ArrayRef {
        let distinct: Vec<i64> = {
            let mut d: Vec<i64> = t.iter().flatten().copied().collect();
            d.sort_unstable();
            d.dedup();
            d
        };
        let keys: Vec<Option<i32>> =
            t.iter().map(|v| v.map(|v| distinct.iter().position(|d| *d == v).unwrap() as i32)).collect();
        let values: ArrayRef =
            Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(distinct).with_timezone("UTC"));
        Arc::new(DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), values).unwrap())
    }

    /// Dictionary columns are read value by value exactly like plain ones: same values,
    /// same interned ids, same quarantine rows with the same details, whether each
    /// dictionary value is converted once or every row is read through its key.
    #[test]
    fn dictionary_columns_convert_like_plain_ones() {
        let zone = Zone::new("Europe/Stockholm").unwrap();
        let card_id = [Some("C1"), Some("C2"), Some("C3"), Some("C4"), Some("C5"), Some("C6"), Some("C7"), Some("C8")];
        let org_id = [Some("O1"), Some("O2"), Some("O1"), Some("  "), None, Some("O2"), Some("O1"), Some("O3")];
        let care_unit = [None, Some("U1"), Some("U1"), Some("U2"), Some("U1"), None, Some(""), Some("U2")];
        let card_type = [
            Some("siths"),
            Some("SITHS e-id"),
            Some("siths"),
            Some("siths"),
            Some("x"),
            None,
            Some("siths"),
            Some(" siths "),
        ];
        let status = [
            Some("received"),
            Some(" Mottaget "),
            Some("bogus"),
            Some("ordered"),
            Some("sent"),
            Some("received"),
            Some(""),
            Some("Spärrad"),
        ];
        let ordered_at = [
            Some(1_600_000_000_000_000),
            Some(1_600_000_000_000_000),
            None,
            Some(1),
            Some(2),
            Some(3),
            Some(1),
            Some(i64::MAX),
        ];
        let plain_times: ArrayRef =
            Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(ordered_at.to_vec()).with_timezone("UTC"));
        let bools: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true); 8]));
        let text = |v: &[Option<&str>]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        let batch = |columns: Vec<Option<ArrayRef>>| RawBatch {
            file: 0,
            len: 8,
            rows: RowNumbers::From(1),
            int96: vec![false; columns.len()],
            columns,
        };
        // The card columns with the text columns made by `strings`.
        let cards = |strings: &dyn Fn(&[Option<&str>]) -> ArrayRef, times: ArrayRef| {
            let mut columns: Vec<Option<ArrayRef>> =
                [&card_id[..], &org_id, &care_unit, &card_type, &status].iter().map(|v| Some(strings(v))).collect();
            columns.extend([Some(times), None, None, None, Some(bools.clone()), Some(bools.clone())]);
            batch(columns)
        };
        let plain = cards(&|v| text(v), plain_times.clone());
        let (want, want_q) = convert_batch(&plain, &schema::CARDS, &zone, None);
        assert_eq!(want_q.len(), 6, "{want_q:?}");
        for unused in [0, 20] {
            let dict = cards(&|v| dictionary(v, unused), times_as_dictionary(&ordered_at));
            let (got, got_q) = convert_batch(&dict, &schema::CARDS, &zone, None);
            assert_eq!(got_q, want_q, "unused {unused}");
            assert_eq!(format!("{:?}", got.columns), format!("{:?}", want.columns), "unused {unused}");
            assert_eq!(got.source, want.source);
        }
    }

    /// Microsecond UTC timestamps and booleans, taken without the row-by-row reading
    /// when in range and present, read exactly as the reading would: the kept values
    /// are the input's, a missing required time and an out-of-range one are rejected
    /// with the reading's codes, a missing optional value is null.
    #[test]
    fn plain_times_and_booleans_read_like_the_reading() {
        let zone = Zone::new("Europe/Stockholm").unwrap();
        let max = 253_402_300_799_999_999;
        let ordered = [Some(1_600_000_000_000_000), None, Some(max + 1), Some(max), Some(-1)];
        let sent = [None, Some(5), Some(i64::MIN), Some(7), Some(8)];
        let auth = [Some(true), Some(false), None, Some(true), None];
        let n = ordered.len();
        let times = |v: &[Option<i64>]| {
            Some(Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(v.to_vec()).with_timezone("UTC")) as ArrayRef)
        };
        let text = |v: &str| Some(Arc::new(StringArray::from(vec![Some(v); n])) as ArrayRef);
        let columns = vec![
            Some(Arc::new(StringArray::from((0..n).map(|i| format!("C{i}")).collect::<Vec<_>>())) as ArrayRef),
            text("O1"),
            None,
            text("siths"),
            text("received"),
            times(&ordered),
            times(&sent),
            None,
            None,
            Some(Arc::new(BooleanArray::from(auth.to_vec())) as ArrayRef),
            None,
        ];
        let batch = RawBatch { file: 0, len: n, rows: RowNumbers::From(1), int96: vec![false; columns.len()], columns };
        let (t, q) = convert_batch(&batch, &schema::CARDS, &zone, None);
        let got: Vec<_> = q.iter().map(|r| (r.row, r.column.unwrap(), r.error)).collect();
        assert_eq!(got, [(2, "ordered_at", QError::MissingRequired), (3, "ordered_at", QError::BadValue),]);
        assert_eq!(t.times(cols::cards::ORDERED_AT).0, [1_600_000_000_000_000, max, -1]);
        assert_eq!(t.times(cols::cards::SENT_AT).0, [NULL_TIME, 7, 8]);
        assert_eq!(t.bools(cols::cards::HAS_AUTH_CODE), [Some(true), Some(true), None]);
    }

    /// Text decoded into a buffer with far more room than text is copied to a buffer of
    /// its size, and reads the same, a slice (offsets not from zero) and nulls included.
    #[test]
    fn roomy_text_buffers_are_fitted() {
        use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
        let mut bytes: Vec<u8> = Vec::with_capacity(1 << 20);
        bytes.extend_from_slice(b"XS1S22S333");
        let offsets = OffsetBuffer::new(ScalarBuffer::from(vec![0i32, 1, 3, 3, 6, 10]));
        let nulls = NullBuffer::from(vec![true, true, false, true, true]);
        let roomy = StringArray::new(offsets, Buffer::from_vec(bytes), Some(nulls));
        for a in [roomy.clone(), roomy.slice(1, 4)] {
            let f = fitted(&a);
            assert!(f.values().capacity() < 4096, "{}", f.values().capacity());
            let read = |x: &StringArray| {
                (0..x.len()).map(|i| x.is_valid(i).then(|| x.value(i).to_string())).collect::<Vec<_>>()
            };
            assert_eq!(read(&f), read(&a));
        }
        assert_eq!(fitted(&roomy.slice(1, 4)).value(2), "S22");
    }

    /// Plain text taken without copying reads exactly as the row-by-row reading (a
    /// `Utf8View` column always goes row by row): clean columns, and columns with
    /// empty, blank (ASCII and non-ASCII white space) and null values.
    #[test]
    fn text_taken_whole_reads_like_text_read_row_by_row() {
        use arrow_array::{LargeStringArray, StringViewArray};
        let zone = Zone::new("UTC").unwrap();
        let cases: [&[Option<&str>]; 4] = [
            &[Some("S1"), Some(" S2 "), Some("Ö3")],
            &[Some("S1"), Some(""), Some("S3")],
            &[Some("S1"), Some(" \t"), Some("\u{a0}"), Some("S4")],
            &[Some("S1"), None, Some("S3")],
        ];
        for serials in cases {
            let n = serials.len();
            let card: Vec<Option<&str>> = (0..n).map(|i| if i == 0 { None } else { Some("C1") }).collect();
            let issuer = vec![Some("CA"); n];
            let batch = |serial: ArrayRef| RawBatch {
                file: 0,
                len: n,
                rows: RowNumbers::From(1),
                int96: vec![false; 5],
                columns: vec![
                    Some(serial),
                    Some(Arc::new(StringArray::from(card.clone())) as ArrayRef),
                    Some(Arc::new(StringArray::from(issuer.clone())) as ArrayRef),
                    None,
                    None,
                ],
            };
            let view: ArrayRef = Arc::new(serials.iter().copied().collect::<StringViewArray>());
            let (want, want_q) = convert_batch(&batch(view), &schema::CERTIFICATES, &zone, None);
            for whole in [
                Arc::new(StringArray::from(serials.to_vec())) as ArrayRef,
                Arc::new(serials.iter().copied().collect::<LargeStringArray>()) as ArrayRef,
                // A slice: its offsets do not start at zero.
                Arc::new(StringArray::from([&[Some("X")], serials].concat()).slice(1, n)) as ArrayRef,
            ] {
                let (got, got_q) = convert_batch(&batch(whole), &schema::CERTIFICATES, &zone, None);
                assert_eq!(got_q, want_q, "{serials:?}");
                assert_eq!(format!("{:?}", got.columns), format!("{:?}", want.columns), "{serials:?}");
            }
        }
    }

    /// Certificates find their card whatever order they come in: the same card again,
    /// the next card, a jump back, an unknown card, the card after the last one.
    #[test]
    fn card_ids_resolve_in_any_order() {
        let zone = Zone::new("UTC").unwrap();
        let cards = ["K0", "K1", "K2", "K3"];
        let lookup = |id: &str| cards.iter().position(|c| *c == id).map_or(NULL_ID, |p| p as u32);
        let key_of = |i: u32| cards.get(i as usize).copied();
        let resolve = Resolver { column: "card_id", lookup: &lookup, key_of: &key_of };
        let order = ["K1", "K1", "K2", "K3", "K0", "K2", "nope", "K0", "K1", "K3", "K3", "K2"];
        let n = order.len();
        let text = |v: Vec<Option<&str>>| Some(Arc::new(StringArray::from(v)) as ArrayRef);
        let serials: Vec<String> = (0..n).map(|i| format!("S{i}")).collect();
        let batch = RawBatch {
            file: 0,
            len: n,
            rows: RowNumbers::From(1),
            int96: vec![false; 5],
            columns: vec![
                text(serials.iter().map(|s| Some(s.as_str())).collect()),
                text(order.iter().map(|c| Some(*c)).collect()),
                text(vec![Some("CA"); n]),
                None,
                None,
            ],
        };
        let (t, q) = convert_batch(&batch, &schema::CERTIFICATES, &zone, Some(&resolve));
        assert!(q.is_empty());
        let want: Vec<u32> = order.iter().map(|c| lookup(c)).collect();
        assert_eq!(t.indices(cols::certificates::CARD), want.as_slice());
        assert_eq!(want[6], NULL_ID);
    }
}
