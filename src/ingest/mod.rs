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
use crate::hashing::KeyMap;
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
    /// Whether a certificate of valid card `card` whose derived byte is `byte` keeps
    /// its text (serial, issuer) past reading: the outputs name it. Every other
    /// certificate is only counted ([`Derive::count`]) and keeps, until the key checks,
    /// its source and key hash.
    fn keeps_text(&self, card: u32, byte: u8) -> bool;
    /// Counts a batch's certificates into their cards as it is read: row `i` is of card
    /// `cards[i]` ([`NULL_ID`]: of no valid card, counted for nothing) and has the
    /// derived byte `bytes[i]`. Called from several threads at once.
    fn count(&self, cards: &[u32], bytes: &[u8]);
    /// Takes back what [`Derive::count`] added for one row: a duplicate the key checks
    /// rejected after it was counted.
    fn discount(&self, card: u32, byte: u8);
}

/// What reading the certificates does besides converting them.
pub struct CertReading<'a> {
    pub resolve: Resolver<'a>,
    pub derive: &'a dyn Derive,
}

/// Everything ingest produces: valid rows per table, the certificates that kept their
/// text, and the quarantine. The other certificates were counted into their cards as
/// they were read ([`Derive::count`]) and are not kept.
pub struct Ingested {
    pub files: Vec<InputFileInfo>,
    pub organisations: Table,
    pub id_admins: Table,
    pub cards: Table,
    /// The certificates that kept their text ([`Derive::keeps_text`]), in the parts they
    /// were read in, every column but those the derivation let go, those the key checks
    /// rejected left out. The `card_id` column holds the index of the card in `cards`
    /// and each row's [`Derive`] byte is in its part's `derived`.
    /// [`Ingested::take_certificate_texts`] hands them on.
    pub certificate_texts: Parts,
    pub quarantine: Vec<QuarantineRow>,
    pub warnings: Vec<String>,
}

impl Ingested {
    /// The certificates that kept their text, leaving an empty table in their place:
    /// the caller keeps what it needs of them and lets the rest go.
    pub fn take_certificate_texts(&mut self) -> Parts {
        let def = self.certificate_texts.def;
        std::mem::replace(&mut self.certificate_texts, Parts::new(def, Vec::new()))
    }
}

/// The first three tables read and checked; the certificates are still to be read.
/// Their classification ([`Derive`]) depends on what the cards say, so the caller
/// makes it in between from `data` (everything but the certificates) and hands it to
/// [`read_certificates`].
pub struct CardsRead {
    pub data: Ingested,
    certificate_files: Vec<InputFile>,
    zone: Zone,
    batch_rows: usize,
}

/// Reads and checks organisations, id_admins and cards (with their key checks).
pub fn read_cards(input: &Path, zone: &Zone, batch_rows: usize, mut stage: impl FnMut(Stage)) -> Result<CardsRead> {
    let mut warnings = Vec::new();
    let [orgs, admins, cards, _] = schema::INPUT_TABLES;
    // Find every table's files first: a missing table fails before any reading.
    let mut found = Vec::new();
    for t in &schema::INPUT_TABLES {
        found.push(discover::discover(input, t, &mut warnings)?);
    }
    let (mut files, mut q) = (Vec::new(), Vec::new());
    let rows = batch_rows.max(1);
    stage(Stage::ReadOrganisations);
    let organisations = read_parts(&orgs, &found[0], zone, rows, &mut files, &mut q)?;
    let organisations =
        keys::dedup(organisations, &files, &mut q, &keys::TextKey(cols::organisations::ORG_ID), "org_id");
    stage(Stage::ReadIdAdmins);
    let id_admins = read_parts(&admins, &found[1], zone, rows, &mut files, &mut q)?.into_table(None);
    stage(Stage::ReadCards);
    let cards_read = read_parts(&cards, &found[2], zone, rows, &mut files, &mut q)?;
    let cards = keys::dedup(cards_read, &files, &mut q, &keys::TextKey(cols::cards::CARD_ID), "card_id");
    let none = |def| Parts::new(def, Vec::new());
    let data = Ingested {
        files,
        organisations,
        id_admins,
        cards,
        certificate_texts: none(schema::CERTIFICATES),
        quarantine: q,
        warnings,
    };
    let certificate_files = found.pop().expect("four tables");
    Ok(CardsRead { data, certificate_files, zone: zone.clone(), batch_rows: rows })
}

/// Reads the certificates, each batch classified and counted by `derive` as it is read,
/// and checks their keys: all four tables are then read, and `derive` holds the counts.
pub fn read_certificates(read: CardsRead, derive: &dyn Derive, mut stage: impl FnMut(Stage)) -> Result<Ingested> {
    let CardsRead { mut data, certificate_files, zone, batch_rows } = read;
    let ids = data.cards.text(cols::cards::CARD_ID);
    stage(Stage::ReadCertificates);
    let first_file = data.files.len() as u32;
    let (read, mut q, pieces) = with_card_index(ids, derive, |reading| {
        read_cert_parts(&certificate_files, &zone, batch_rows, reading, &mut data.files)
    })?;
    data.quarantine.append(&mut q);
    stage(Stage::Keys);
    let again = |rows: &[(RowRef, keys::KeptHash)]| {
        let list = |file: u32| {
            let k = (file - first_file) as usize;
            (&certificate_files[k], &pieces[k][..])
        };
        // The rows read again need their cards (a duplicate's count is taken back). The
        // index was let go with the reading; only a night with rows sharing a key hash
        // builds it again, after the key hashes are let go.
        with_card_index(ids, derive, |reading| reread_cert_keys(rows, list, &data.files, &zone, batch_rows, reading))
    };
    let confirm = |rows: &[RowRef]| {
        let mut read_from: Vec<u32> = rows.iter().map(|r| r.file()).collect();
        read_from.sort_unstable();
        read_from.dedup();
        read_from.into_iter().try_for_each(|file| confirm_unchanged(file, &data.files))
    };
    let discount = |card: u32, byte: u8| derive.discount(card, byte);
    data.certificate_texts =
        keys::dedup_certificates(read, &data.files, &mut data.quarantine, again, confirm, discount)?;
    for row in &data.quarantine {
        data.files[row.file as usize].quarantined += 1;
    }
    Ok(data)
}

/// Runs `f` with the certificates' reading over the cards whose ids are `ids`: each
/// certificate learns its card's index as it is read (so the card_id strings of tens of
/// millions of certificates are never kept) and is classified by `derive`. The index is
/// let go when `f` returns.
fn with_card_index<R>(ids: &TextColumn, derive: &dyn Derive, f: impl FnOnce(&CertReading<'_>) -> R) -> R {
    let index = index::CardIndex::new(ids);
    let lookup = |id: &str| index.get(id);
    let key_of = |i: u32| ((i as usize) < ids.len()).then(|| ids.value(i as usize));
    f(&CertReading { resolve: Resolver { column: "card_id", lookup: &lookup, key_of: &key_of }, derive })
}

/// The certificates as they are read (and counted): every row's source and key hash,
/// and the rows that keep their text.
pub struct CertsRead {
    /// Every row that passed the value checks, as its source only: every column let go.
    pub rows: Parts,
    /// Per part of `rows`, each row's key hash ([`keys::cert_key_hashes`]).
    pub key_hashes: Vec<Vec<keys::KeptHash>>,
    /// Rows of no valid card (the key checks name them by serial) and those the
    /// [`Derive`] keeps, every column.
    pub texts: Parts,
}

/// Reads the certificate files: each batch converted, its card_ids resolved, classified,
/// counted, hashed and split into its rows' sources and the rows that keep their text.
fn read_cert_parts(
    list: &[InputFile],
    zone: &Zone,
    batch_rows: usize,
    reading: &CertReading<'_>,
    files: &mut Vec<InputFileInfo>,
) -> Result<(CertsRead, Vec<QuarantineRow>, Vec<Vec<csv::PieceSpan>>)> {
    let table = &schema::CERTIFICATES;
    let (mut rows, mut key_hashes, mut texts, mut quarantine) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut pieces = Vec::new();
    let convert = |b: RawBatch| {
        let (mut t, q) = convert_batch(&b, table, zone, Some(&reading.resolve));
        t.derive(reading.derive);
        let hashes = keys::cert_key_hashes(&t);
        let card = t.indices(cols::certificates::CARD);
        reading.derive.count(card, &t.derived);
        let keep: Vec<bool> =
            card.iter().zip(&t.derived).map(|(&c, &byte)| c == NULL_ID || reading.derive.keeps_text(c, byte)).collect();
        let text = t.filter(&keep);
        // Counted: the key checks need only where each row came from.
        t.columns.fill(ColumnData::Gone);
        t.derived = Vec::new();
        (t, hashes, text, q)
    };
    for f in list {
        let file = next_file(files, f)?;
        let (converted, n, sha256, spans) = read_file(f, table, file, batch_rows, convert, &mut quarantine)?;
        pieces.push(spans);
        for (t, hashes, text, q) in converted {
            rows.push(t);
            key_hashes.push(hashes);
            texts.push(text);
            quarantine.extend(q);
        }
        files.push(InputFileInfo {
            table: table.name,
            rel: f.rel.clone(),
            path: f.path.clone(),
            sha256,
            rows: n,
            quarantined: 0,
        });
    }
    let read = CertsRead { rows: Parts::new(*table, rows), key_hashes, texts: Parts::new(*table, texts) };
    Ok((read, quarantine, pieces))
}

/// The file number the next file read gets: its index in `files`.
fn next_file(files: &[InputFileInfo], f: &InputFile) -> Result<u32> {
    let file = files.len() as u32;
    if file >= RowRef::MAX_FILES {
        return Err(Error::input(&f.path, format!("more than {} input files: merge some parts", RowRef::MAX_FILES)));
    }
    Ok(file)
}

/// The keys (issuer, cert_serial), cards and derived bytes of the certificate rows
/// `rows`, read again from their files (`list` gives a file number's file and, for CSV,
/// where the first read found its pieces) and resolved and classified as `reading`
/// does: the key checks keep only a hash per certificate and confirm rows whose hashes
/// are equal by their text. Only the Parquet row groups' pages and the CSV pieces that
/// hold the rows are read. Each row comes with the hash its key had on the first read:
/// a row whose key read again hashes otherwise, or that is not found, fails the run (the
/// file changed). The cards and bytes read again are vouched for by
/// [`confirm_unchanged`], which the key checks call only for rows found to be
/// duplicates: different keys sharing a kept hash by chance (~1.4 pairs a run at 450M
/// certificates) no longer cost hashing the whole file again (~10 s at 100M cards).
fn reread_cert_keys<'a>(
    rows: &[(RowRef, keys::KeptHash)],
    list: impl Fn(u32) -> (&'a InputFile, &'a [csv::PieceSpan]),
    files: &[InputFileInfo],
    zone: &Zone,
    batch_rows: usize,
    reading: &CertReading<'_>,
) -> Result<KeyMap<RowRef, keys::ReadAgain>> {
    let table = &schema::CERTIFICATES;
    let wanted: KeyMap<RowRef, keys::KeptHash> = rows.iter().copied().collect();
    let mut by_file: Vec<u32> = rows.iter().map(|(r, _)| r.file()).collect();
    by_file.sort_unstable();
    by_file.dedup();
    let mut found = KeyMap::default();
    for file in by_file {
        let (f, pieces) = list(file);
        let mut listed: Vec<u64> = rows.iter().filter(|(r, _)| r.file() == file).map(|(r, _)| r.row()).collect();
        listed.sort_unstable();
        let convert = |b: RawBatch| {
            if !(0..b.len).any(|i| wanted.contains_key(&RowRef::new(file, b.rows.get(i)))) {
                return Vec::new();
            }
            let (mut t, _) = convert_batch(&b, table, zone, Some(&reading.resolve));
            t.derive(reading.derive);
            let hashes = keys::cert_key_hashes(&t);
            let cards = t.indices(cols::certificates::CARD);
            (0..t.len())
                .filter_map(|r| {
                    let source = t.source.get(r);
                    let kept = *wanted.get(&source)?;
                    let text = |c| t.str(c, r).map(str::to_string);
                    let serial = t.str(cols::certificates::CERT_SERIAL, r).map(str::to_string);
                    let key = keys::CertKeyText { issuer: text(cols::certificates::ISSUER), serial };
                    let again = keys::ReadAgain { key, card: cards[r], byte: t.derived[r] };
                    Some((source, again, hashes[r] == kept))
                })
                .collect()
        };
        let batches = match f.format {
            Format::Parquet => parquet::read_parquet_rows(&f.path, table, file, &listed, batch_rows, convert),
            Format::Csv => csv::read_csv_rows(&f.path, table, file, pieces, &listed, batch_rows, convert),
        };
        // A file that no longer reads is named as changed if it did.
        let batches = batches.or_else(|e| confirm_unchanged(file, files).and(Err(e)))?;
        for (source, again, same) in batches.into_iter().flatten() {
            if !same {
                let why =
                    format!("changed while the sweep was reading it (row {} differs on a second read)", source.row());
                return Err(Error::input(&f.path, why));
            }
            found.insert(source, again);
        }
    }
    if let Some((missing, _)) = rows.iter().find(|(r, _)| !found.contains_key(r)) {
        let f = &files[missing.file() as usize];
        return Err(Error::input(&f.path, format!("row {} could not be read again", missing.row())));
    }
    Ok(found)
}

/// Hashes file number `file` again: if its SHA-256 is no longer the first read's, the
/// run fails by the file's name. The key checks ask this of every file a duplicate was
/// read again from ([`reread_cert_keys`]) before its count is taken back, since the
/// card and byte read again may not be those the first read counted.
fn confirm_unchanged(file: u32, files: &[InputFileInfo]) -> Result<()> {
    let info = &files[file as usize];
    if file_sha256(&info.path)? != info.sha256 {
        return Err(Error::input(
            &info.path,
            "changed while the sweep was reading it (its SHA-256 differs on a second read)",
        ));
    }
    Ok(())
}

/// Reads one table's files (not the certificates: [`read_certificates`]): their valid
/// rows as converted, batch by batch, and every row that failed a value check into
/// `quarantine`.
pub fn read_parts(
    table: &InputTable,
    list: &[InputFile],
    zone: &Zone,
    batch_rows: usize,
    files: &mut Vec<InputFileInfo>,
    quarantine: &mut Vec<QuarantineRow>,
) -> Result<Parts> {
    let mut parts = Vec::new();
    for f in list {
        let file = next_file(files, f)?;
        let convert = |b: RawBatch| convert_batch(&b, table, zone, None);
        let (converted, rows, sha256, _) = read_file(f, table, file, batch_rows, convert, quarantine)?;
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

/// One file's batches as `convert` made them, its data row count, its SHA-256 (hashed
/// as the file is read) and, for CSV, where its pieces lay. A CSV file's malformed records go to `quarantine` here.
fn read_file<T: Send>(
    f: &InputFile,
    table: &InputTable,
    file: u32,
    batch_rows: usize,
    convert: impl Fn(RawBatch) -> T + Sync,
    quarantine: &mut Vec<QuarantineRow>,
) -> Result<(Vec<T>, u64, String, Vec<csv::PieceSpan>)> {
    match f.format {
        Format::Csv => {
            let read = csv::read_csv_file(&f.path, table, file, csv::Cutting::new(batch_rows), convert)?;
            quarantine.extend(read.malformed);
            Ok((read.batches, read.rows, read.sha256, read.pieces))
        }
        Format::Parquet => {
            let (sha, read) = rayon::join(
                || file_sha256(&f.path),
                || parquet::read_parquet(&f.path, table, file, batch_rows, &convert),
            );
            let (converted, rows) = read?;
            Ok((converted, rows, sha?, Vec::new()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Policy;

    /// Runs `f` with the reading the sweep would do over cards C1..C5 (cards 0..4, none
    /// REVOKE), classified as of 2021-11-15, and the policy's zone.
    fn with_reading<R>(f: impl FnOnce(&CertReading<'_>, &Zone) -> R) -> R {
        let (policy, revoking) = (Policy::default(), [false; 5]);
        let as_of = crate::time::parse_date("2021-11-15").unwrap();
        let classifier = crate::evaluate::CertClassifier::new(&policy, as_of, &revoking);
        let ids = TextColumn::Small(arrow_array::StringArray::from(vec!["C1", "C2", "C3", "C4", "C5"]));
        with_card_index(&ids, &classifier, |reading| f(reading, &policy.zone))
    }

    /// The byte the sweep's classifier gives a certificate of `kind` and activity.
    fn state(kind: crate::rules::IssuerKind, active: bool) -> u8 {
        crate::rules::cert::CertState { kind, active }.to_byte()
    }

    /// A certificate file as discovery names it, and its provenance with `sha256`.
    fn certificate_file(path: &Path, format: Format) -> (InputFile, impl Fn(String) -> InputFileInfo) {
        let rel = path.file_name().unwrap().to_string_lossy().into_owned();
        let f = InputFile { path: path.to_path_buf(), rel: rel.clone(), format };
        let path = path.to_path_buf();
        let info = move |sha256| InputFileInfo {
            table: "certificates",
            rel: rel.clone(),
            path: path.clone(),
            sha256,
            rows: 5,
            quarantined: 0,
        };
        (f, info)
    }

    /// Writes certificate rows to a Parquet file in row groups of two rows.
    fn parquet_certificates(path: &Path, rows: &[[Option<&str>; 5]]) {
        use std::sync::Arc;

        use arrow_array::{ArrayRef, RecordBatch, StringArray};
        let names = ["cert_serial", "card_id", "issuer", "not_after", "revoked"];
        let columns: Vec<(&str, ArrayRef)> = (0..5)
            .map(|c| (names[c], Arc::new(rows.iter().map(|r| r[c]).collect::<StringArray>()) as ArrayRef))
            .collect();
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let props =
            ::parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(2)).build();
        let mut w =
            ::parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), Some(props))
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    /// Parquet has a row index, so only the rows asked for are read again: across row
    /// groups, past a row with a bad value, each checked against the hash its key had
    /// on the first read; the file is hashed again on request.
    #[test]
    fn parquet_certificate_keys_are_read_again_by_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certificates.parquet");
        let ca = Some("SITHS e-id CA");
        parquet_certificates(
            &path,
            &[
                [Some("S1"), Some("C1"), ca, None, None],
                [Some("S2"), Some("C2"), ca, Some("never"), None],
                [Some("S3"), Some("C3"), Some("Region CA"), None, Some("false")],
                [Some("S4"), Some("C4"), ca, None, None],
                [Some("S5"), Some("C5"), ca, None, None],
            ],
        );
        let (f, info) = certificate_file(&path, Format::Parquet);
        let files = [info(file_sha256(&path).unwrap())];
        with_reading(|reading, zone| {
            let key = |issuer: &str, serial: &str| keys::CertKeyText {
                issuer: Some(issuer.into()),
                serial: Some(serial.into()),
            };
            let kept = |row, issuer, serial| (RowRef::new(0, row), keys::cert_key_hash(Some(issuer), Some(serial)));
            for batch_rows in [1, 64] {
                let rows = [kept(5, "SITHS e-id CA", "S5"), kept(1, "SITHS e-id CA", "S1"), kept(3, "Region CA", "S3")];
                let rows = [&rows[..], &[kept(4, "SITHS e-id CA", "S4")]].concat();
                let got = reread_cert_keys(&rows, |_| (&f, &[]), &files, zone, batch_rows, reading).unwrap();
                assert_eq!(got.len(), 4);
                assert_eq!(got[&RowRef::new(0, 1)].key, key("SITHS e-id CA", "S1"));
                assert_eq!(got[&RowRef::new(0, 3)].key, key("Region CA", "S3"));
                assert_eq!(got[&RowRef::new(0, 4)].key, key("SITHS e-id CA", "S4"));
                assert_eq!(got[&RowRef::new(0, 5)].key, key("SITHS e-id CA", "S5"));
                // Each with its card and its state, as the first reading counted it.
                let (card, byte) = (got[&RowRef::new(0, 3)].card, got[&RowRef::new(0, 3)].byte);
                assert_eq!((card, byte), (2, state(crate::rules::IssuerKind::ThirdParty, true)));
                let (card, byte) = (got[&RowRef::new(0, 5)].card, got[&RowRef::new(0, 5)].byte);
                assert_eq!((card, byte), (4, state(crate::rules::IssuerKind::CardIssuer, true)));
            }
            let again =
                |rows: &[(RowRef, keys::KeptHash)]| reread_cert_keys(rows, |_| (&f, &[]), &files, zone, 64, reading);
            let e = again(&[kept(2, "SITHS e-id CA", "S2")]).unwrap_err().to_string();
            assert!(e.contains("row 2 could not be read again"), "{e}");
            // A row whose key is not the one the first read hashed: the file changed.
            let e = again(&[kept(4, "SITHS e-id CA", "S5")]).unwrap_err().to_string();
            assert!(e.contains("changed while the sweep was reading it (row 4 differs on a second read)"), "{e}");
            // The cards read again are vouched for by the file's hash, checked on request.
            confirm_unchanged(0, &files).unwrap();
            let e = confirm_unchanged(0, &[info("0".repeat(64))]).unwrap_err().to_string();
            assert!(e.contains("certificates.parquet") && e.contains("its SHA-256 differs on a second read"), "{e}");
            // A file that no longer reads at all is named as changed, not as unreadable.
            std::fs::write(&path, "not Parquet any more").unwrap();
            let e = again(&[kept(4, "SITHS e-id CA", "S4")]).unwrap_err().to_string();
            assert!(e.contains("certificates.parquet") && e.contains("its SHA-256 differs on a second read"), "{e}");
        })
    }

    /// The key checks keep a hash per certificate and read the keys of rows whose hashes
    /// are equal again, by row number, from the CSV pieces the first read found them in
    /// (the file starts with a byte order mark, so no piece starts at its offset 0):
    /// past malformed records and rows with bad values, whatever the pieces' sizes, and
    /// only with the keys the first read hashed.
    #[test]
    fn certificate_keys_are_read_again_by_row_and_a_changed_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certificates.csv");
        let body = "\u{feff}cert_serial,card_id,issuer,not_after,revoked\n\
                    S1,C1,SITHS e-id CA,,\nmalformed\nS3,C3,Region CA,never,\n\"S4,\"\"x\n\"\"\",C4,SITHS e-id CA,,\r\n\nS5,C5,Other,,";
        std::fs::write(&path, body).unwrap();
        let (f, info) = certificate_file(&path, Format::Csv);
        let files = [info(file_sha256(&path).unwrap())];
        with_reading(|reading, zone| {
            let table = &schema::CERTIFICATES;
            let key = |issuer: &str, serial: Option<&str>| keys::CertKeyText {
                issuer: Some(issuer.into()),
                serial: serial.map(str::to_string),
            };
            // Pieces of one record each, of a few, and the whole file in one.
            for (piece_bytes, batch_rows) in [(1, 1), (40, 2), (8 << 20, 64)] {
                let cutting = csv::Cutting { batch_rows, block: 7, piece_bytes };
                let pieces = csv::read_csv_file(&path, table, 0, cutting, |b| b).unwrap().pieces;
                assert!(piece_bytes > 1000 || pieces.len() > 1, "{pieces:?}");
                let again = |rows: &[(RowRef, keys::KeptHash)]| {
                    reread_cert_keys(rows, |_| (&f, &pieces[..]), &files, zone, batch_rows, reading)
                };
                let kept = |row, issuer, serial| (RowRef::new(0, row), keys::cert_key_hash(Some(issuer), Some(serial)));
                // Row 4's serial is quoted, with a comma, a line end and doubled quotes in it.
                let rows =
                    [kept(5, "Other", "S5"), kept(1, "SITHS e-id CA", "S1"), kept(4, "SITHS e-id CA", "S4,\"x\n\"")];
                let got = again(&rows).unwrap();
                assert_eq!(got.len(), 3);
                assert_eq!(got[&RowRef::new(0, 1)].key, key("SITHS e-id CA", Some("S1")));
                assert_eq!(got[&RowRef::new(0, 4)].key, key("SITHS e-id CA", Some("S4,\"x\n\"")));
                assert_eq!(got[&RowRef::new(0, 5)].key, key("Other", Some("S5")));
                let (card, byte) = (got[&RowRef::new(0, 5)].card, got[&RowRef::new(0, 5)].byte);
                assert_eq!((card, byte), (4, state(crate::rules::IssuerKind::ThirdParty, true)));
                // Row 2 is malformed and row 3 has a bad not_after: neither passed the first
                // read, so neither can be asked for; a file that changed fails by name.
                for row in [2, 3] {
                    let e = again(&[kept(row, "Region CA", "S3")]).unwrap_err().to_string();
                    assert!(
                        e.contains("certificates.csv") && e.contains(&format!("row {row} could not be read again")),
                        "{e}"
                    );
                }
                let e = again(&[kept(1, "SITHS e-id CA", "S5")]).unwrap_err().to_string();
                assert!(
                    e.contains("certificates.csv") && e.contains("changed while the sweep was reading it (row 1"),
                    "{e}"
                );
                let e = confirm_unchanged(0, &[info("0".repeat(64))]).unwrap_err().to_string();
                assert!(e.contains("certificates.csv") && e.contains("its SHA-256 differs on a second read"), "{e}");
                // Pieces that no longer hold their records are an error, not a panic.
                let shifted = format!("{}\n", body.replace("S1,C1", "S1,\"C\n1\""));
                let moved = dir.path().join("moved.csv");
                std::fs::write(&moved, &shifted).unwrap();
                let rows: Vec<u64> = (1..=5).collect();
                if let Err(e) = csv::read_csv_rows(&moved, table, 0, &pieces, &rows, batch_rows, |b| b) {
                    assert!(e.to_string().contains("changed while the sweep was reading it"), "{e}");
                }
            }
        })
    }
}
