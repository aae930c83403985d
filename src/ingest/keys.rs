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
use super::{InputFileInfo, Parts, QError, QuarantineRow, RowRef, Table};

fn hash_of(parts: impl std::hash::Hash) -> u64 {
    BuildHasherDefault::<FxHasher>::default().hash_one(parts)
}

/// A table's key: every row's key hashed, paired with its row, and whether two rows'
/// keys are equal. Columns are looked up once per part, not once per row.
pub trait Key: Sync {
    fn hashes(&self, t: &Parts) -> Vec<(u64, u32)>;
    fn same(&self, t: &Parts, a: usize, b: usize) -> bool;
}

/// Every part's rows through `hash`, which is given the part and returns the hashes of
/// its rows in order.
fn hash_parts<'t, I>(t: &'t Parts, hash: impl Fn(&'t Table) -> I + Sync) -> Vec<(u64, u32)>
where
    I: Iterator<Item = u64>,
{
    let parts: Vec<(&Table, usize)> = t.with_starts().collect();
    parts
        .into_par_iter()
        .flat_map_iter(|(p, start)| hash(p).enumerate().map(move |(i, h)| (h, (start + i) as u32)))
        .collect()
}

/// The key is one plain (not interned) text column.
pub struct TextKey(pub &'static str);

impl Key for TextKey {
    fn hashes(&self, t: &Parts) -> Vec<(u64, u32)> {
        hash_parts(t, |p| {
            let a = p.text(self.0);
            (0..p.len()).map(move |i| hash_of(a.is_valid(i).then(|| a.value(i))))
        })
    }
    fn same(&self, t: &Parts, a: usize, b: usize) -> bool {
        let ((ta, a), (tb, b)) = (t.locate(a), t.locate(b));
        ta.str(self.0, a) == tb.str(self.0, b)
    }
}

/// A certificate's key: (issuer, cert_serial). The issuer is compared as text: every
/// part interns its own ids.
pub struct CertKey;

impl Key for CertKey {
    fn hashes(&self, t: &Parts) -> Vec<(u64, u32)> {
        hash_parts(t, |p| {
            let ((ids, dict), serial) = (p.interned("issuer"), p.text("cert_serial"));
            let issuer_hash: Vec<u64> = dict.iter().map(|d| hash_of(d.as_str())).collect();
            (0..p.len()).map(move |i| {
                let issuer = issuer_hash.get(ids[i] as usize).copied();
                hash_of((issuer, serial.is_valid(i).then(|| serial.value(i))))
            })
        })
    }
    fn same(&self, t: &Parts, a: usize, b: usize) -> bool {
        let ((ta, a), (tb, b)) = (t.locate(a), t.locate(b));
        ta.str("issuer", a) == tb.str("issuer", b) && ta.str("cert_serial", a) == tb.str("cert_serial", b)
    }
}

/// Keeps the first row of every key; later ones go to quarantine naming `column`.
pub fn dedup(
    table: Parts,
    files: &[InputFileInfo],
    quarantine: &mut Vec<QuarantineRow>,
    key: &dyn Key,
    column: &'static str,
) -> Table {
    let keep = duplicates(&table, files, quarantine, key, column);
    table.into_table(Some(&keep))
}

/// DUPLICATE_KEY, then UNKNOWN_CARD among the rows left, and one copy of the table for
/// both: tens of millions of certificates are copied once.
pub fn dedup_certificates(certs: Parts, files: &[InputFileInfo], quarantine: &mut Vec<QuarantineRow>) -> Table {
    let mut keep = duplicates(&certs, files, quarantine, &CertKey, "issuer,cert_serial");
    unknown_cards(&certs, &mut keep, quarantine);
    certs.into_table(Some(&keep))
}

/// Which rows to keep: the first of every key. Later ones are quarantined.
fn duplicates(
    table: &Parts,
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
        let (s, j) = (table.source(i as usize), table.source(f as usize));
        let (part, r) = table.locate(i as usize);
        quarantine.push(QuarantineRow {
            table: table.def.name,
            file: s.file(),
            row: s.row(),
            key: part.str(id_col, r).map(str::to_string),
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
fn unknown_cards(certs: &Parts, keep: &mut [bool], quarantine: &mut Vec<QuarantineRow>) {
    for (part, start) in certs.with_starts() {
        for (r, &card) in part.indices("card_id").iter().enumerate() {
            if keep[start + r] && card == NULL_ID {
                keep[start + r] = false;
                let s = part.source[r];
                quarantine.push(QuarantineRow {
                    table: certs.def.name,
                    file: s.file(),
                    row: s.row(),
                    key: part.str("cert_serial", r).map(str::to_string),
                    column: Some("card_id"),
                    error: QError::UnknownCard,
                    detail: "no valid card has this card_id".to_string(),
                });
            }
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
