//! Ingest: the four input tables from Parquet or CSV into typed columns, with every row
//! that cannot be used sent to quarantine (SPEC "Input", "Bad rows never stop a sweep").
//!
//! Order of checks per row, as SPEC fixes it: MALFORMED_ROW (CSV reader), then column by
//! column MISSING_REQUIRED or BAD_VALUE (`convert`), then DUPLICATE_KEY and UNKNOWN_CARD
//! (`keys`), each judged only among rows that passed the earlier checks.
//!
//! This file holds the order of the work and what the caller hands in; the parts live
//! in: `discover` (which files), `csv` and `parquet` (reading into [`RawBatch`]es),
//! `values` and `convert` (cells into typed columns), `quarantine` (error codes and first
//! errors), `keys` and `index` (duplicate and unknown keys), `table` (the typed tables)
//! and `provenance` (the input files and their hashes).

pub mod batch;
pub mod convert;
pub mod csv;
pub mod discover;
pub mod index;
pub mod keys;
pub mod parquet;
pub mod provenance;
pub mod quarantine;
pub mod table;
pub mod values;

use std::path::Path;

pub use batch::{RawBatch, RowNumbers, map_columns};
pub use convert::convert_batch;
pub use discover::{Format, InputFile};
pub use provenance::{InputFileInfo, file_sha256, hex};
pub use quarantine::{QError, QuarantineRow, quote_short};
pub use table::{ColumnData, NULL_ID, NULL_TIME, Parts, RowRef, Sources, Table, TextColumn, Times};

use crate::error::{Error, Result};
use crate::schema::{self, InputTable, cols};
use crate::stage::Stage;
use crate::time::Zone;

/// Rows per input batch by default: arrow-rs's default of 1024 is several times slower
/// to decode. Outputs do not depend on it (tests vary it).
pub const BATCH_ROWS: usize = 65_536;

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
        let (converted, rows, sha256) = read_file(f, table, file, batch_rows, convert, quarantine)?;
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

/// One file's batches as `convert` made them, its data row count and its SHA-256
/// (hashed as the file is read). A CSV file's malformed records go to `quarantine` here.
fn read_file<T: Send>(
    f: &InputFile,
    table: &InputTable,
    file: u32,
    batch_rows: usize,
    convert: impl Fn(RawBatch) -> T + Sync,
    quarantine: &mut Vec<QuarantineRow>,
) -> Result<(Vec<T>, u64, String)> {
    match f.format {
        Format::Csv => {
            let read = csv::read_csv_file(&f.path, table, file, csv::Cutting::new(batch_rows), convert)?;
            quarantine.extend(read.malformed);
            Ok((read.batches, read.rows, read.sha256))
        }
        Format::Parquet => {
            let (sha, read) = rayon::join(
                || file_sha256(&f.path),
                || parquet::read_parquet(&f.path, table, file, batch_rows, &convert),
            );
            let (converted, rows) = read?;
            Ok((converted, rows, sha?))
        }
    }
}
