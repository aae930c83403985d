//! Key checks after the value checks: DUPLICATE_KEY (second and later occurrences in
//! file-then-row order), then UNKNOWN_CARD for certificates.
//!
//! Duplicates are found by hashing every key in parallel, scattering (hash, row) pairs
//! into partitions by hash and passing each partition through a hash set of its own:
//! no per-row allocation, and equal hashes are confirmed by comparing the keys.

use std::cmp::Ordering;

use rayon::prelude::*;

use super::table::NULL_ID;
use super::{CertsRead, InputFileInfo, Parts, QError, QuarantineRow, RowRef, Table};
use crate::error::Result;
use crate::hashing::{KeyMap, hash_of};
use crate::schema::cols::certificates as certs;
use crate::schema::{Col, held};

/// A key that is one plain (not interned) text column, as organisations and cards have.
pub struct TextKey(pub Col<held::Text>);

impl TextKey {
    fn hash(&self, part: &Table, r: usize) -> u64 {
        let a = part.text(self.0);
        hash_of(a.is_valid(r).then(|| a.value(r)))
    }
}

/// Keeps the first row of every key; later ones go to quarantine naming `column`.
pub fn dedup(
    table: Parts,
    files: &[InputFileInfo],
    quarantine: &mut Vec<QuarantineRow>,
    key: &TextKey,
    column: &'static str,
) -> Table {
    let part_hashes = |p: usize| {
        let part = &table.parts[p];
        (0..part.len()).map(|r| key.hash(part, r)).collect()
    };
    let row_hash = |row: u32| {
        let (part, r) = table.locate(row as usize);
        key.hash(part, r)
    };
    // Every pass hashes every id again: two passes at most.
    let shared = shared_hashes(&table, part_hashes, row_hash, 1);
    let order = |a: u32, b: u32| table.str(key.0, a as usize).cmp(&table.str(key.0, b as usize));
    let name = |row: u32| table.str(key.0, row as usize).map(str::to_string);
    let keep = reject_duplicates(&table, files, quarantine, &shared, order, name, column);
    table.into_table(Some(&keep))
}

/// A certificate's key (issuer, cert_serial) as text, read again to tell rows whose key
/// hashes are equal apart. Ordered as the key is compared: issuer, then serial.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CertKeyText {
    pub issuer: Option<String>,
    pub serial: Option<String>,
}

/// A certificate's key hash as kept from its reading to the key checks: the top 56 bits
/// of the 64-bit hash, in 7 bytes. That is 45 MB fewer at 45M certificates, and the
/// peaks of the stages that hold them (read_certificates, keys) fell by 80-150 MB in
/// whole runs (BENCHMARKS.md; a batch's hashes take 448 KiB instead of 512, which the
/// allocator seems to hold more tightly: not pinned down). Keys that differ share 56
/// bits by chance in ~n²/2⁵⁷ pairs of n certificates (~0.01 at 45M, ~1.4 at 450M).
/// Like any rows sharing a hash, such rows are read again and told apart by their text,
/// so the width costs only time: the row groups or CSV pieces that hold them are read
/// again. 6 bytes would give 3–4 pairs a run at 45M and ~360 at 450M, most of the
/// certificates file read again there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeptHash([u8; 7]);

impl KeptHash {
    pub fn new(hash: u64) -> KeptHash {
        let b = hash.to_le_bytes();
        KeptHash([b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// The kept bits where they were in the hash, the low 8 bits 0: the key checks
    /// partition on the top bits ([`candidates`] uses the top 42).
    pub fn get(self) -> u64 {
        let b = self.0;
        u64::from_le_bytes([0, b[0], b[1], b[2], b[3], b[4], b[5], b[6]])
    }
}

/// The key hash of every certificate of `part` (read with its text): (issuer,
/// cert_serial), the issuer hashed as text, since every part interns its own ids.
pub fn cert_key_hashes(part: &Table) -> Vec<KeptHash> {
    let ((ids, dict), serial) = (part.interned(certs::ISSUER), part.text(certs::CERT_SERIAL));
    let issuer_hash: Vec<u64> = dict.iter().map(|d| hash_of(d.as_str())).collect();
    (0..part.len())
        .map(|i| {
            let issuer = issuer_hash.get(ids[i] as usize).copied();
            key_hash(issuer, serial.is_valid(i).then(|| serial.value(i)))
        })
        .collect()
}

/// The key hash of one certificate, its issuer's text already hashed.
fn key_hash(issuer: Option<u64>, serial: Option<&str>) -> KeptHash {
    KeptHash::new(hash_of((issuer, serial)))
}

/// The key hash [`cert_key_hashes`] gives a certificate of this issuer and serial.
#[cfg(test)]
pub fn cert_key_hash(issuer: Option<&str>, serial: Option<&str>) -> KeptHash {
    key_hash(issuer.map(hash_of), serial)
}

/// A certificate row read again for the key checks: its key, and its card and derived
/// byte as the first reading counted it.
#[derive(Clone, Debug)]
pub struct ReadAgain {
    pub key: CertKeyText,
    pub card: u32,
    pub byte: u8,
}

/// DUPLICATE_KEY, then UNKNOWN_CARD among the rows left, on certificates that were
/// counted as they were read and kept only a key hash: rows whose hashes are equal have
/// their keys read again (`again`, by their sources, each with the hash its key had on
/// the first read, which the key read again must still have) and compared, so a
/// duplicate is only ever a row whose key text equals an earlier row's. Each
/// duplicate's count is taken back (`discount`, with its card and byte as read again),
/// once `confirm` has vouched for the files the duplicates were read again from (their
/// cards and bytes, unlike their keys, have nothing from the first read to be checked
/// against). Returns the texts kept, without the rejected rows.
pub fn dedup_certificates(
    read: CertsRead,
    files: &[InputFileInfo],
    quarantine: &mut Vec<QuarantineRow>,
    again: impl FnOnce(&[(RowRef, KeptHash)]) -> Result<KeyMap<RowRef, ReadAgain>>,
    confirm: impl FnOnce(&[RowRef]) -> Result<()>,
    discount: impl Fn(u32, u8),
) -> Result<Parts> {
    let CertsRead { rows, key_hashes, mut texts } = read;
    let row_hash = |row: u32| {
        let (p, r) = rows.locate_part(row as usize);
        key_hashes[p][r].get()
    };
    // The hashes were kept, so a pass costs only a look at each: four passes.
    let part_hashes = |p: usize| key_hashes[p].iter().map(|h| h.get()).collect();
    let shared = shared_hashes(&rows, part_hashes, row_hash, 2);
    let sources: Vec<(RowRef, KeptHash)> = shared
        .iter()
        .flatten()
        .map(|&row| {
            let (p, r) = rows.locate_part(row as usize);
            (rows.source(row as usize), key_hashes[p][r])
        })
        .collect();
    drop(key_hashes);
    let read_again = if sources.is_empty() { KeyMap::default() } else { again(&sources)? };
    let key = |row: u32| &read_again[&rows.source(row as usize)].key;
    let order = |a: u32, b: u32| key(a).cmp(key(b));
    let keep =
        reject_duplicates(&rows, files, quarantine, &shared, order, |r| key(r).serial.clone(), "issuer,cert_serial");
    let duplicates: KeyMap<RowRef, ()> =
        keep.iter().enumerate().filter(|(_, k)| !**k).map(|(row, _)| (rows.source(row), ())).collect();
    drop((keep, rows));
    if !duplicates.is_empty() {
        let mut sources: Vec<RowRef> = duplicates.keys().copied().collect();
        sources.sort_unstable();
        confirm(&sources)?;
    }
    for source in duplicates.keys() {
        let row = &read_again[source];
        discount(row.card, row.byte);
    }
    unknown_cards(&texts, &duplicates, quarantine);
    // The texts of rejected rows: those of no card, and the duplicates.
    texts.retain(|part| {
        let cards = part.indices(certs::CARD);
        (0..part.len()).map(|r| cards[r] != NULL_ID && !duplicates.contains_key(&part.source.get(r))).collect()
    });
    Ok(texts)
}

/// Groups of rows whose whole 64-bit key hashes are equal, each group in row order:
/// the only rows whose keys may be equal. `part_hashes(p)` gives part `p`'s rows' key
/// hashes, `row_hash` one row's; a table of more than [`PASS_ROWS`] rows is checked in
/// `2^big_pass_bits` passes.
fn shared_hashes(
    table: &Parts,
    part_hashes: impl Fn(usize) -> Vec<u64> + Sync,
    row_hash: impl Fn(u32) -> u64 + Sync,
    big_pass_bits: u32,
) -> Vec<Vec<u32>> {
    let starts: Vec<usize> = table.with_starts().map(|(_, s)| s).collect();
    // Rows with equal keys have equal hashes, so the hash space can be checked in
    // passes, each holding only its share of the rows' (hash, row) pairs. Every pass
    // asks every part for its hashes again, so the caller says how many a big table
    // gets: a fixed few, since the pairs (8 B a row) shrink by less with every pass
    // added than the pass costs.
    let pass_bits = if table.len() > PASS_ROWS { big_pass_bits } else { 0 };
    let group_rows = |g: usize| {
        let start = starts[g];
        part_hashes(g).into_iter().enumerate().map(|(i, h)| (h, (start + i) as u32)).collect()
    };
    let candidates = candidates_in_passes(pass_bits, starts.len(), group_rows);
    split_by_hash(candidates, row_hash)
}

/// The groups of rows that share part of their hash, split into groups that share all
/// of it (rows of a 42-bit match whose 64-bit hashes differ cannot have equal keys).
fn split_by_hash(candidates: Vec<Vec<u32>>, row_hash: impl Fn(u32) -> u64 + Sync) -> Vec<Vec<u32>> {
    candidates
        .into_par_iter()
        .flat_map_iter(|run| {
            let mut by_hash: Vec<(u64, u32)> = run.into_iter().map(|row| (row_hash(row), row)).collect();
            by_hash.sort_unstable();
            let groups: Vec<Vec<u32>> = by_hash
                .chunk_by(|a, b| a.0 == b.0)
                .filter(|g| g.len() > 1)
                .map(|g| g.iter().map(|&(_, row)| row).collect())
                .collect();
            groups
        })
        .collect()
}

/// Which rows to keep: the first of every key. Later ones are quarantined. `shared` are
/// the groups of rows that may share a key ([`shared_hashes`]), `order` compares two
/// rows' keys and `name` gives the identifier a quarantined duplicate is named by.
fn reject_duplicates(
    table: &Parts,
    files: &[InputFileInfo],
    quarantine: &mut Vec<QuarantineRow>,
    shared: &[Vec<u32>],
    order: impl Fn(u32, u32) -> Ordering + Sync,
    name: impl Fn(u32) -> Option<String>,
    column: &'static str,
) -> Vec<bool> {
    let mut pairs = duplicates_in_groups(shared, order);
    // Groups finish in any order; the quarantine is built in row order.
    pairs.sort_unstable();
    let mut keep = vec![true; table.len()];
    for (i, f) in pairs {
        keep[i as usize] = false;
        let (s, j) = (table.source(i as usize), table.source(f as usize));
        quarantine.push(QuarantineRow {
            table: table.def.name,
            file: s.file(),
            row: s.row(),
            key: name(i),
            column: Some(column),
            error: QError::DuplicateKey,
            detail: duplicate_detail(files, s, j),
        });
    }
    keep
}

/// Every row whose key equals that of an earlier row of its group, with the first such
/// row: (row, first). A group is sorted by key (stably, so equal keys stay in row order)
/// and neighbours compared: O(k log k) comparisons for k rows sharing a hash, where
/// comparing each row with every distinct key before it was O(k²) for keys crafted to
/// collide.
fn duplicates_in_groups(groups: &[Vec<u32>], order: impl Fn(u32, u32) -> Ordering + Sync) -> Vec<(u32, u32)> {
    groups
        .par_iter()
        .flat_map_iter(|group| {
            let mut rows = group.clone();
            rows.sort_by(|&a, &b| order(a, b));
            let mut found = Vec::new();
            let mut first = rows[0];
            for pair in rows.windows(2) {
                if order(pair[0], pair[1]) == Ordering::Equal {
                    found.push((pair[1], first));
                } else {
                    first = pair[1];
                }
            }
            found
        })
        .collect()
}

/// Tables with more rows than this have their keys checked in passes by
/// [`shared_hashes`]: certificates in four (at 45M each pass holds ~100 MB of (hash,
/// row) pairs, where two passes held ~200 MB and one ~400 MB, at the key checks where
/// the run's memory peaks, for the price of reading the kept hashes three more times),
/// cards in two (each pass hashes every card_id). Cards and the certificates of up to
/// ~7M cards stay in one pass.
const PASS_ROWS: usize = 32 << 20;

/// Bits of the hash that pick a partition: 1,024 partitions of ~44k rows for 45M
/// certificates, each checked within the cache instead of one pass over all of them.
const PARTITION_BITS: u32 = 10;

/// [`candidates`] over the hash space in `2^pass_bits` passes, each over the rows whose
/// hash starts with its number (`group_rows` is called again in every pass).
fn candidates_in_passes(
    pass_bits: u32,
    groups: usize,
    group_rows: impl Fn(usize) -> Vec<(u64, u32)> + Sync,
) -> Vec<Vec<u32>> {
    if pass_bits == 0 {
        return candidates(groups, group_rows);
    }
    let mut runs = Vec::new();
    for pass in 0..1u64 << pass_bits {
        let mine = |g: usize| {
            let rows = group_rows(g).into_iter().filter(|&(h, _)| h >> (64 - pass_bits) == pass);
            // The pass's bits rotated away, so that the partitions spread over the rest.
            rows.map(|(h, row)| (h.rotate_left(pass_bits), row)).collect()
        };
        runs.extend(candidates(groups, mine));
    }
    runs
}

/// Runs of rows that share the top 42 bits of their key hash (the partition's 10 and
/// the next 32), each in row order: every set of rows with equal keys lies within one
/// run. `group_rows(g)` gives group `g`'s rows with their key hashes (a table's parts
/// are the groups).
///
/// Groups are hashed in parallel, a few at a time, and their rows scattered into
/// partitions by the top bits of the hash, as one `u64` each: the next 32 bits of the
/// hash above the row number. Every partition then goes through a hash set on its own,
/// in parallel, which picks out the rows whose hash another row shares (rare: equal
/// keys, and chance); only those are sorted. Rows with equal keys have equal hashes, so
/// they meet in one partition and one run, in row order.
fn candidates(groups: usize, group_rows: impl Fn(usize) -> Vec<(u64, u32)> + Sync) -> Vec<Vec<u32>> {
    let partitions = 1usize << PARTITION_BITS;
    let threads = rayon::current_num_threads().max(1);
    let per_task = groups.div_ceil(threads * 4).max(1);
    // Each task's rows by partition.
    let pieces: Vec<Vec<Vec<u64>>> = (0..groups.div_ceil(per_task))
        .into_par_iter()
        .map(|task| {
            let mut buckets: Vec<Vec<u64>> = Vec::new();
            let mine = task * per_task..((task + 1) * per_task).min(groups);
            let n_groups = mine.len();
            for g in mine {
                let rows = group_rows(g);
                if buckets.is_empty() {
                    // Sized from the first group for all of the task's groups (they are
                    // batches of one size), with room for chance: growing 1,024 vectors
                    // by doubling would hold up to twice the rows and copy them.
                    let expect = rows.len() * n_groups / partitions;
                    let room = expect + expect / 8 + 16;
                    buckets = (0..partitions).map(|_| Vec::with_capacity(room)).collect();
                }
                for (h, row) in rows {
                    let packed = (((h >> (32 - PARTITION_BITS)) as u32 as u64) << 32) | u64::from(row);
                    buckets[(h >> (64 - PARTITION_BITS)) as usize].push(packed);
                }
            }
            buckets
        })
        .collect();
    let mut by_partition: Vec<Vec<Vec<u64>>> = (0..partitions).map(|_| Vec::with_capacity(pieces.len())).collect();
    for piece in pieces {
        for (p, rows) in piece.into_iter().enumerate() {
            by_partition[p].push(rows);
        }
    }
    by_partition
        .into_par_iter()
        .map_init(Vec::new, |slots: &mut Vec<u64>, pieces| {
            // An open-addressing set of the partition's hashes (at most half full), to
            // find the rare hashes that occur more than once without sorting the rows:
            // each slot holds the first row seen with its hash.
            let n: usize = pieces.iter().map(Vec::len).sum();
            let cap = (2 * n).next_power_of_two().max(16);
            slots.clear();
            slots.resize(cap, EMPTY);
            let mask = cap - 1;
            let mut shared = Vec::new();
            for &packed in pieces.iter().flatten() {
                debug_assert_ne!(packed, EMPTY, "row numbers stay below u32::MAX");
                let hash = packed >> 32;
                let mut s = hash as usize & mask;
                loop {
                    let held = slots[s];
                    if held == EMPTY {
                        slots[s] = packed;
                        break;
                    }
                    if held >> 32 == hash {
                        shared.push(held);
                        shared.push(packed);
                        break;
                    }
                    s = (s + 1) & mask;
                }
            }
            drop(pieces);
            // Rows whose hash another row shares, once each, in (hash, row) order.
            shared.sort_unstable();
            shared.dedup();
            let runs: Vec<Vec<u32>> =
                shared.chunk_by(|a, b| a >> 32 == b >> 32).map(|run| run.iter().map(|&p| p as u32).collect()).collect();
            runs
        })
        .flatten_iter()
        .collect()
}

/// An empty slot of [`candidates`]' hash set: no row is numbered `u32::MAX`.
const EMPTY: u64 = u64::MAX;

fn duplicate_detail(files: &[InputFileInfo], this: RowRef, first: RowRef) -> String {
    if this.file() == first.file() {
        format!("same key as row {}", first.row())
    } else {
        format!("same key as row {} of {}", first.row(), files[first.file() as usize].rel)
    }
}

/// Quarantines the certificates whose card_id is not a valid card (resolved to
/// [`NULL_ID`] while reading; their text was kept, in `texts`), but not those already
/// rejected as `duplicates`.
fn unknown_cards(texts: &Parts, duplicates: &KeyMap<RowRef, ()>, quarantine: &mut Vec<QuarantineRow>) {
    for part in &texts.parts {
        let cards = part.indices(certs::CARD);
        for r in (0..part.len()).filter(|&r| cards[r] == NULL_ID) {
            let s = part.source.get(r);
            if duplicates.contains_key(&s) {
                continue;
            }
            quarantine.push(QuarantineRow {
                table: texts.def.name,
                file: s.file(),
                row: s.row(),
                key: part.str(certs::CERT_SERIAL, r).map(str::to_string),
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

    /// The whole check on (hash, row) pairs: candidates, split by whole hash, keys
    /// compared.
    fn duplicate_pairs_in_passes(
        pass_bits: u32,
        groups: usize,
        group_rows: impl Fn(usize) -> Vec<(u64, u32)> + Sync,
        row_hash: impl Fn(u32) -> u64 + Sync,
        order: impl Fn(u32, u32) -> Ordering + Sync,
    ) -> Vec<(u32, u32)> {
        let shared = split_by_hash(candidates_in_passes(pass_bits, groups, group_rows), row_hash);
        duplicates_in_groups(&shared, order)
    }

    #[test]
    fn duplicates_are_found_across_hash_collisions_and_partitions() {
        let keys = ["a", "b", "c", "a", "x", "c", "a", "b"];
        // "a" and "c" collide; "b" and "x" land in other partitions (top bits differ).
        let hash = |k: &str| match k {
            "a" | "c" => 0x8000_0000_0000_0001,
            "b" => 0x0000_0000_0000_0002,
            _ => 0xFFC0_0000_0000_0003,
        };
        let rows: Vec<(u64, u32)> = keys.iter().enumerate().map(|(i, k)| (hash(k), i as u32)).collect();
        // In groups of three, the last group first: the order in which groups come does
        // not matter, only row numbers.
        let groups: Vec<&[(u64, u32)]> = rows.chunks(3).rev().collect();
        let order = |a: u32, b: u32| keys[a as usize].cmp(keys[b as usize]);
        let mut got = duplicate_pairs_in_passes(0, groups.len(), |g| groups[g].to_vec(), |r| rows[r as usize].0, order);
        got.sort_unstable();
        assert_eq!(got, [(3, 0), (5, 2), (6, 0), (7, 1)]);
    }

    #[test]
    fn duplicates_match_a_plain_search_over_random_keys_and_colliding_hashes() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..40 {
            let n = 1 + (next() % 3_000) as usize;
            // Few distinct keys, and hashes that throw distinct keys together: the
            // hash keeps only a few bits of the key in a round that says so.
            let keys: Vec<u64> = (0..n).map(|_| next() % (1 + n as u64 / 3)).collect();
            let bits = if round % 2 == 0 { 4 } else { 64 };
            let hash = |k: u64| {
                let h = hash_of(k & (u64::MAX >> (64 - bits)));
                if round % 4 == 1 { h & 0xFFC0_0000_0000_0000 } else { h }
            };
            let rows: Vec<(u64, u32)> = keys.iter().enumerate().map(|(i, &k)| (hash(k), i as u32)).collect();
            let size = 1 + (next() % 500) as usize;
            let groups: Vec<&[(u64, u32)]> = rows.chunks(size).rev().collect();
            let pass_bits = (round % 3) as u32;
            let order = |a: u32, b: u32| keys[a as usize].cmp(&keys[b as usize]);
            let row_hash = |r: u32| rows[r as usize].0;
            let mut got = duplicate_pairs_in_passes(pass_bits, groups.len(), |g| groups[g].to_vec(), row_hash, order);
            got.sort_unstable();
            let want: Vec<(u32, u32)> = (0..n)
                .filter_map(|i| {
                    let first = keys.iter().position(|&k| k == keys[i]).expect("itself");
                    (first < i).then_some((i as u32, first as u32))
                })
                .collect();
            assert_eq!(got, want, "round {round}, {n} rows, {pass_bits} pass bits");
        }
    }

    #[test]
    fn kept_hashes_are_the_top_56_bits_and_the_keys_they_merge_stay_apart() {
        for h in [0, u64::MAX, 0x0123_4567_89AB_CDEF, 0x8000_0000_0000_00FF, 0x0000_0000_0000_0100] {
            assert_eq!(KeptHash::new(h).get(), h & !0xFF, "{h:#x}");
        }
        // Distinct keys whose hashes differ only in the 8 bits not kept: one kept hash,
        // so only their text tells them apart, in each number of passes.
        let keys = [1u64, 2, 1, 3, 2, 3, 4];
        let kept: Vec<u64> = keys.iter().map(|&k| KeptHash::new(0xABCD_EF01_2345_6700 | k).get()).collect();
        assert!(kept.iter().all(|&h| h == kept[0]));
        let rows: Vec<(u64, u32)> = kept.iter().enumerate().map(|(i, &h)| (h, i as u32)).collect();
        let groups: Vec<&[(u64, u32)]> = rows.chunks(2).collect();
        let order = |a: u32, b: u32| keys[a as usize].cmp(&keys[b as usize]);
        for pass_bits in [0, 2] {
            let row_hash = |r: u32| rows[r as usize].0;
            let mut got = duplicate_pairs_in_passes(pass_bits, groups.len(), |g| groups[g].to_vec(), row_hash, order);
            got.sort_unstable();
            assert_eq!(got, [(2, 0), (4, 1), (5, 3)], "{pass_bits} pass bits");
        }
    }

    /// Only rows that share a kept hash are read again, each with that hash; different
    /// keys sharing one by chance cost nothing more, and the files are vouched for
    /// ([`dedup_certificates`]' `confirm`) only when a duplicate's count is to be taken
    /// back, before it is.
    #[test]
    fn certificates_read_again_are_confirmed_only_for_duplicates() {
        use std::cell::RefCell;
        let def = crate::schema::CERTIFICATES;
        let part = |first: u64| {
            let mut t = Table::empty(def);
            t.columns.fill(super::super::table::ColumnData::Gone);
            t.source = super::super::table::Sources::run(0, first, 3);
            t
        };
        let files = [InputFileInfo {
            table: "certificates",
            rel: "certificates.parquet".into(),
            path: "certificates.parquet".into(),
            sha256: String::new(),
            rows: 6,
            quarantined: 0,
        }];
        // Rows 1 and 3 share a hash by chance; rows 4 and 5 have one key.
        let serials = ["a", "b", "z", "c", "c", "d"];
        let hashes = [1u64, 2, 1, 3, 3, 4].map(|h| KeptHash::new(h << 40));
        for (real, confirmed) in [(true, Ok(())), (false, Ok(())), (true, Err(()))] {
            let serial = |row: u64| if !real && row == 5 { "e" } else { serials[row as usize - 1] };
            let read = CertsRead {
                rows: Parts::new(def, vec![part(1), part(4)]),
                key_hashes: vec![hashes[..3].to_vec(), hashes[3..].to_vec()],
                texts: Parts::new(def, Vec::new()),
            };
            let (asked, confirms, discounted) =
                (RefCell::new(Vec::new()), RefCell::new(Vec::new()), RefCell::new(Vec::new()));
            let again = |rows: &[(RowRef, KeptHash)]| {
                asked.borrow_mut().extend(rows.iter().map(|&(r, h)| (r.row(), h)));
                let key = |r: RowRef| CertKeyText { issuer: Some("CA".into()), serial: Some(serial(r.row()).into()) };
                Ok(rows.iter().map(|&(r, _)| (r, ReadAgain { key: key(r), card: r.row() as u32, byte: 7 })).collect())
            };
            let confirm = |rows: &[RowRef]| {
                confirms.borrow_mut().extend(rows.iter().map(|r| r.row()));
                confirmed
                    .map_err(|()| crate::error::Error::input(std::path::Path::new("certificates.parquet"), "changed"))
            };
            let mut quarantine = Vec::new();
            let result = dedup_certificates(read, &files, &mut quarantine, again, confirm, |c, b| {
                discounted.borrow_mut().push((c, b))
            });
            let mut asked = asked.into_inner();
            asked.sort_unstable_by_key(|&(row, _)| row);
            let want: Vec<(u64, KeptHash)> = [1u64, 3, 4, 5].iter().map(|&r| (r, hashes[r as usize - 1])).collect();
            assert_eq!(asked, want, "real {real}");
            let dups: Vec<u64> = quarantine.iter().map(|q| q.row).collect();
            match (real, confirmed) {
                (true, Ok(())) => {
                    result.unwrap();
                    assert_eq!(dups, [5]);
                    assert_eq!(confirms.into_inner(), [5]);
                    assert_eq!(discounted.into_inner(), [(5, 7)]);
                }
                (false, _) => {
                    result.unwrap();
                    assert!(dups.is_empty() && confirms.into_inner().is_empty() && discounted.into_inner().is_empty());
                }
                (true, Err(())) => {
                    assert!(result.is_err());
                    assert!(discounted.into_inner().is_empty(), "nothing taken back from a file that changed");
                }
            }
        }
    }

    /// 100,000 distinct keys that all share one hash, with duplicates among them, cost
    /// O(n log n) key comparisons (the run is sorted, neighbours compared), where
    /// comparing each row with every distinct key before it took ~n²/2 = 5·10^9. Both the
    /// one-pass and the two-pass check are bounded, and they find exactly the duplicates.
    #[test]
    fn keys_sharing_one_hash_stay_near_linear() {
        use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
        const N: usize = 100_000;
        // Every 10th row repeats the key of the row 7 before it.
        let keys: Vec<u64> = (0..N as u64).map(|i| if i % 10 == 9 { i - 7 } else { i }).collect();
        let rows: Vec<(u64, u32)> = (0..N).map(|i| (0xDEAD_BEEF_0000_0001, i as u32)).collect();
        let groups: Vec<&[(u64, u32)]> = rows.chunks(4_096).collect();
        let want: Vec<(u32, u32)> = (0..N as u32).filter(|i| i % 10 == 9).map(|i| (i, i - 7)).collect();
        for pass_bits in [0, 1] {
            let compares = AtomicU64::new(0);
            let order = |a: u32, b: u32| {
                compares.fetch_add(1, Relaxed);
                keys[a as usize].cmp(&keys[b as usize])
            };
            let row_hash = |r: u32| rows[r as usize].0;
            let mut got = duplicate_pairs_in_passes(pass_bits, groups.len(), |g| groups[g].to_vec(), row_hash, order);
            got.sort_unstable();
            assert_eq!(got, want, "{pass_bits} pass bits");
            let counted = compares.load(Relaxed);
            let bound = N as u64 * (u64::from(N.ilog2()) + 2);
            assert!(counted <= bound, "{pass_bits} pass bits: {counted} comparisons, bound {bound}");
            eprintln!("duplicate check, one hash for {N} keys, {pass_bits} pass bits: {counted} comparisons");
        }
    }
}
