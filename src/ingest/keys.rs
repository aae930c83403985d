//! Key checks after the value checks: DUPLICATE_KEY (second and later occurrences in
//! file-then-row order), then UNKNOWN_CARD for certificates.
//!
//! Duplicates are found by hashing every key in parallel and sorting (hash, row) pairs:
//! no per-row allocation, and equal hashes are confirmed by comparing the keys.

use std::hash::{BuildHasher, BuildHasherDefault};

use arrow_array::Array;
use rayon::prelude::*;
use rustc_hash::FxHasher;

use super::table::NULL_ID;
use super::{InputFileInfo, QError, QuarantineRow, RowRef, Table};

fn hash_of(parts: impl std::hash::Hash) -> u64 {
    BuildHasherDefault::<FxHasher>::default().hash_one(parts)
}

/// A table's key: every row's key hashed, paired with its row, and whether two rows'
/// keys are equal. Columns are looked up once per table, not once per row.
pub trait Key: Sync {
    fn hashes(&self, t: &Table) -> Vec<(u64, u32)>;
    fn same(&self, t: &Table, a: usize, b: usize) -> bool;
}

/// The key is one plain (not interned) text column.
pub struct TextKey(pub &'static str);

impl Key for TextKey {
    fn hashes(&self, t: &Table) -> Vec<(u64, u32)> {
        let a = t.text(self.0);
        (0..t.len()).into_par_iter().map(|i| (hash_of(a.is_valid(i).then(|| a.value(i))), i as u32)).collect()
    }
    fn same(&self, t: &Table, a: usize, b: usize) -> bool {
        t.str(self.0, a) == t.str(self.0, b)
    }
}

/// A certificate's key: (issuer, cert_serial), the issuer interned.
pub struct CertKey;

impl Key for CertKey {
    fn hashes(&self, t: &Table) -> Vec<(u64, u32)> {
        let (issuer, serial) = (t.interned("issuer").0, t.text("cert_serial"));
        (0..t.len())
            .into_par_iter()
            .map(|i| (hash_of((issuer[i], serial.is_valid(i).then(|| serial.value(i)))), i as u32))
            .collect()
    }
    fn same(&self, t: &Table, a: usize, b: usize) -> bool {
        let issuer = t.interned("issuer").0;
        issuer[a] == issuer[b] && t.str("cert_serial", a) == t.str("cert_serial", b)
    }
}

/// Keeps the first row of every key; later ones go to quarantine naming `column`.
pub fn dedup(
    table: Table,
    files: &[InputFileInfo],
    quarantine: &mut Vec<QuarantineRow>,
    key: &dyn Key,
    column: &'static str,
) -> Table {
    let keep = duplicates(&table, files, quarantine, key, column);
    if keep.iter().all(|k| *k) { table } else { table.filter(&keep) }
}

/// DUPLICATE_KEY, then UNKNOWN_CARD among the rows left, and one copy of the table for
/// both: tens of millions of certificates are filtered once.
pub fn dedup_certificates(certs: Table, files: &[InputFileInfo], quarantine: &mut Vec<QuarantineRow>) -> Table {
    let mut keep = duplicates(&certs, files, quarantine, &CertKey, "issuer,cert_serial");
    unknown_cards(&certs, &mut keep, quarantine);
    if keep.iter().all(|k| *k) { certs } else { certs.filter(&keep) }
}

/// Which rows to keep: the first of every key. Later ones are quarantined.
fn duplicates(
    table: &Table,
    files: &[InputFileInfo],
    quarantine: &mut Vec<QuarantineRow>,
    key: &dyn Key,
    column: &'static str,
) -> Vec<bool> {
    let mut order = key.hashes(table);
    order.par_sort_unstable();
    let mut keep = vec![true; table.len()];
    let mut first_of = vec![0u32; 0];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && order[end].0 == order[start].0 {
            end += 1;
        }
        // Rows with one hash, in input order; each is a duplicate of the first earlier
        // row with an equal key (usually the run is one row long).
        first_of.clear();
        for &(_, i) in &order[start..end] {
            match first_of.iter().find(|&&f| key.same(table, f as usize, i as usize)) {
                Some(&f) => {
                    keep[i as usize] = false;
                    let (s, j) = (table.source[i as usize], table.source[f as usize]);
                    let id_col = table.def.columns[0].name;
                    quarantine.push(QuarantineRow {
                        table: table.def.name,
                        file: s.file(),
                        row: s.row(),
                        key: table.str(id_col, i as usize).map(str::to_string),
                        column: Some(column),
                        error: QError::DuplicateKey,
                        detail: duplicate_detail(files, s, j),
                    });
                }
                None => first_of.push(i),
            }
        }
        start = end;
    }
    keep
}

fn duplicate_detail(files: &[InputFileInfo], this: RowRef, first: RowRef) -> String {
    if this.file() == first.file() {
        format!("same key as row {}", first.row())
    } else {
        format!("same key as row {} of {}", first.row(), files[first.file() as usize].rel)
    }
}

/// Quarantines kept certificates whose card_id is not a valid card (resolved to
/// [`NULL_ID`] while reading) and stops keeping them.
fn unknown_cards(certs: &Table, keep: &mut [bool], quarantine: &mut Vec<QuarantineRow>) {
    let cards = certs.indices("card_id");
    for (i, k) in keep.iter_mut().enumerate() {
        if *k && cards[i] == NULL_ID {
            *k = false;
            let s = certs.source[i];
            quarantine.push(QuarantineRow {
                table: certs.def.name,
                file: s.file(),
                row: s.row(),
                key: certs.str("cert_serial", i).map(str::to_string),
                column: Some("card_id"),
                error: QError::UnknownCard,
                detail: "no valid card has this card_id".to_string(),
            });
        }
    }
}
