//! Key checks after the value checks: DUPLICATE_KEY (second and later occurrences in
//! file-then-row order), then UNKNOWN_CARD for certificates.
//!
//! Duplicates are found by hashing every key in parallel and sorting (hash, row) pairs:
//! no per-row allocation, and equal hashes are confirmed by comparing the keys.

use std::hash::{BuildHasher, BuildHasherDefault};

use rayon::prelude::*;
use rustc_hash::FxHasher;

use super::table::NULL_ID;
use super::{InputFileInfo, QError, QuarantineRow, RowRef, Table};

fn hash_of(parts: impl std::hash::Hash) -> u64 {
    BuildHasherDefault::<FxHasher>::default().hash_one(parts)
}

/// A table's key: how to hash a row's key and whether two rows' keys are equal.
pub trait Key: Sync {
    fn hash(&self, t: &Table, i: usize) -> u64;
    fn same(&self, t: &Table, a: usize, b: usize) -> bool;
}

/// The key is one text column.
pub struct TextKey(pub &'static str);

impl Key for TextKey {
    fn hash(&self, t: &Table, i: usize) -> u64 {
        hash_of(t.str(self.0, i))
    }
    fn same(&self, t: &Table, a: usize, b: usize) -> bool {
        t.str(self.0, a) == t.str(self.0, b)
    }
}

/// A certificate's key: (issuer, cert_serial), the issuer interned.
pub struct CertKey;

impl Key for CertKey {
    fn hash(&self, t: &Table, i: usize) -> u64 {
        hash_of((t.interned("issuer").0[i], t.str("cert_serial", i)))
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
    let mut order: Vec<(u64, u32)> =
        (0..table.len()).into_par_iter().map(|i| (key.hash(&table, i), i as u32)).collect();
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
            match first_of.iter().find(|&&f| key.same(&table, f as usize, i as usize)) {
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
    if keep.iter().all(|k| *k) { table } else { table.filter(&keep) }
}

fn duplicate_detail(files: &[InputFileInfo], this: RowRef, first: RowRef) -> String {
    if this.file() == first.file() {
        format!("same key as row {}", first.row())
    } else {
        format!("same key as row {} of {}", first.row(), files[first.file() as usize].rel)
    }
}

/// Quarantines certificates whose card_id is not a valid card (resolved to [`NULL_ID`]
/// while reading).
pub fn drop_unknown_cards(certs: Table, quarantine: &mut Vec<QuarantineRow>) -> Table {
    let cards = certs.indices("card_id");
    let keep: Vec<bool> = cards.iter().map(|&c| c != NULL_ID).collect();
    if keep.iter().all(|k| *k) {
        return certs;
    }
    for (i, _) in keep.iter().enumerate().filter(|(_, k)| !**k) {
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
    certs.filter(&keep)
}
