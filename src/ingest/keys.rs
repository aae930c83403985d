//! Key checks after the value checks: DUPLICATE_KEY (second and later occurrences in
//! file-then-row order), then UNKNOWN_CARD for certificates.
//!
//! Duplicates are found by hashing every key in parallel, scattering (hash, row) pairs
//! into partitions by hash and sorting each partition on its own:
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
    let mut pairs = duplicate_pairs(key.hashes(table), |a, b| key.same(table, a as usize, b as usize));
    // Partitions finish in any order; the quarantine is built in row order.
    pairs.sort_unstable();
    let mut keep = vec![true; table.len()];
    let id_col = table.def.columns[0].name;
    for (i, f) in pairs {
        keep[i as usize] = false;
        let (s, j) = (table.source[i as usize], table.source[f as usize]);
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
    keep
}

/// Bits of the hash that pick a partition: 1,024 partitions of ~44k rows for 45M
/// certificates, each sorted within the cache instead of one sort over all of them.
const PARTITION_BITS: u32 = 10;

/// Every row whose key equals that of an earlier row, with the first such row:
/// (row, first). `rows` pairs each row's key hash with the row.
///
/// The rows are scattered into partitions by the top bits of their hash; every
/// partition is sorted by (hash, row) and scanned on its own, in parallel. Rows with
/// equal keys have equal hashes, so they meet in one partition, in input order.
fn duplicate_pairs(rows: Vec<(u64, u32)>, same: impl Fn(u32, u32) -> bool + Sync) -> Vec<(u32, u32)> {
    let part = |h: u64| (h >> (64 - PARTITION_BITS)) as usize;
    let mut starts = vec![0usize; (1 << PARTITION_BITS) + 1];
    for &(h, _) in &rows {
        starts[part(h) + 1] += 1;
    }
    for p in 1..starts.len() {
        starts[p] += starts[p - 1];
    }
    let mut next = starts.clone();
    let mut parted = vec![(0u64, 0u32); rows.len()];
    for r in rows {
        let p = part(r.0);
        parted[next[p]] = r;
        next[p] += 1;
    }
    let mut slices = Vec::with_capacity(1 << PARTITION_BITS);
    let mut rest = parted.as_mut_slice();
    for w in starts.windows(2) {
        let (head, tail) = rest.split_at_mut(w[1] - w[0]);
        slices.push(head);
        rest = tail;
    }
    slices
        .into_par_iter()
        .flat_map_iter(|rows| {
            rows.sort_unstable();
            let mut found = Vec::new();
            let mut first_of: Vec<u32> = Vec::new();
            for run in rows.chunk_by(|a, b| a.0 == b.0) {
                // Rows with one hash, in input order; each is a duplicate of the first
                // earlier row with an equal key (usually the run is one row long).
                if run.len() == 1 {
                    continue;
                }
                first_of.clear();
                for &(_, i) in run {
                    match first_of.iter().find(|&&f| same(f, i)) {
                        Some(&f) => found.push((i, f)),
                        None => first_of.push(i),
                    }
                }
            }
            found
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_across_hash_collisions_and_partitions() {
        let keys = ["a", "b", "c", "a", "x", "c", "a", "b"];
        // "a" and "c" collide; "b" and "x" land in other partitions (top bits differ).
        let hash = |k: &str| match k {
            "a" | "c" => 0x8000_0000_0000_0001,
            "b" => 0x0000_0000_0000_0002,
            _ => 0xFFC0_0000_0000_0003,
        };
        let mut rows: Vec<(u64, u32)> = keys.iter().enumerate().map(|(i, k)| (hash(k), i as u32)).collect();
        rows.reverse(); // the input order of `rows` does not matter, only row numbers
        let mut got = duplicate_pairs(rows, |a, b| keys[a as usize] == keys[b as usize]);
        got.sort_unstable();
        assert_eq!(got, [(3, 0), (5, 2), (6, 0), (7, 1)]);
    }
}
