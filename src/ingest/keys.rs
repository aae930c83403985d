//! Key checks after the value checks: DUPLICATE_KEY (second and later occurrences in
//! file-then-row order), then UNKNOWN_CARD for certificates.
//!
//! Duplicates are found by hashing every key in parallel, scattering (hash, row) pairs
//! into partitions by hash and passing each partition through a hash set of its own:
//! no per-row allocation, and equal hashes are confirmed by comparing the keys.

use std::cmp::Ordering;

use rayon::prelude::*;

use super::table::NULL_ID;
use super::{InputFileInfo, Parts, QError, QuarantineRow, RowRef, Table};
use crate::hashing::hash_of;
use crate::schema::cols::certificates as certs;
use crate::schema::{Col, held};

/// A table's key: every row's key hashed, paired with its row, and how two rows' keys
/// order. Columns are looked up once per part, not once per row.
pub trait Key: Sync {
    /// The key hash of every row of one part, in order.
    fn hashes(&self, part: &Table) -> Vec<u64>;
    /// The order of rows `a` and `b` by key (any total order in which equal keys are
    /// `Equal`: rows sharing a hash are sorted by it, and duplicates are neighbours).
    fn order(&self, t: &Parts, a: usize, b: usize) -> Ordering;
    /// The identifier a quarantined duplicate is named by (its `key` column).
    fn identifier<'a>(&self, part: &'a Table, r: usize) -> Option<&'a str>;
}

/// The key is one plain (not interned) text column.
pub struct TextKey(pub Col<held::Text>);

impl Key for TextKey {
    fn hashes(&self, part: &Table) -> Vec<u64> {
        let a = part.text(self.0);
        (0..part.len()).map(|i| hash_of(a.is_valid(i).then(|| a.value(i)))).collect()
    }
    fn order(&self, t: &Parts, a: usize, b: usize) -> Ordering {
        let ((ta, a), (tb, b)) = (t.locate(a), t.locate(b));
        ta.str(self.0, a).cmp(&tb.str(self.0, b))
    }
    fn identifier<'a>(&self, part: &'a Table, r: usize) -> Option<&'a str> {
        part.str(self.0, r)
    }
}

/// A certificate's key: (issuer, cert_serial). The issuer is compared as text: every
/// part interns its own ids.
pub struct CertKey;

impl Key for CertKey {
    fn hashes(&self, part: &Table) -> Vec<u64> {
        let ((ids, dict), serial) = (part.interned(certs::ISSUER), part.text(certs::CERT_SERIAL));
        let issuer_hash: Vec<u64> = dict.iter().map(|d| hash_of(d.as_str())).collect();
        (0..part.len())
            .map(|i| {
                let issuer = issuer_hash.get(ids[i] as usize).copied();
                hash_of((issuer, serial.is_valid(i).then(|| serial.value(i))))
            })
            .collect()
    }
    fn order(&self, t: &Parts, a: usize, b: usize) -> Ordering {
        let ((ta, a), (tb, b)) = (t.locate(a), t.locate(b));
        (ta.str(certs::ISSUER, a), ta.str(certs::CERT_SERIAL, a))
            .cmp(&(tb.str(certs::ISSUER, b), tb.str(certs::CERT_SERIAL, b)))
    }
    fn identifier<'a>(&self, part: &'a Table, r: usize) -> Option<&'a str> {
        part.str(certs::CERT_SERIAL, r)
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

/// DUPLICATE_KEY, then UNKNOWN_CARD among the rows left. Rejected certificates are not
/// removed but detached: their card becomes [`NULL_ID`], so they belong to no card and
/// count for nothing. Removing them copied nearly every certificate, since a few
/// thousand rejected rows fall into almost every one of the ~700 parts at 10M cards.
pub fn dedup_certificates(mut certs: Parts, files: &[InputFileInfo], quarantine: &mut Vec<QuarantineRow>) -> Parts {
    let mut keep = duplicates(&certs, files, quarantine, &CertKey, "issuer,cert_serial");
    unknown_cards(&certs, &mut keep, quarantine);
    let starts: Vec<usize> = certs.with_starts().map(|(_, s)| s).collect();
    for (part, start) in certs.parts.iter_mut().zip(starts) {
        for (card, &k) in part.indices_mut(certs::CARD).iter_mut().zip(&keep[start..]) {
            if !k {
                *card = NULL_ID;
            }
        }
    }
    certs
}

/// Which rows to keep: the first of every key. Later ones are quarantined.
fn duplicates(
    table: &Parts,
    files: &[InputFileInfo],
    quarantine: &mut Vec<QuarantineRow>,
    key: &dyn Key,
    column: &'static str,
) -> Vec<bool> {
    let parts: Vec<(&Table, usize)> = table.with_starts().collect();
    // Rows with equal keys have equal hashes, so the hash space can be checked in
    // passes, each holding only its share of the rows' (hash, row) pairs. Every pass
    // hashes every row again, so a big table gets two, never more: the pairs (8 B a
    // row) are then an eighth of what a certificate row holds, and more passes would
    // save less than each costs (sixteen at 272M certificates by a rows-per-pass rule).
    let pass_bits = u32::from(table.len() > PASS_ROWS);
    let group_rows = |g: usize| {
        let (part, start) = parts[g];
        key.hashes(part).into_iter().enumerate().map(|(i, h)| (h, (start + i) as u32)).collect()
    };
    let mut pairs =
        duplicate_pairs_in_passes(pass_bits, parts.len(), group_rows, |a, b| key.order(table, a as usize, b as usize));
    // Partitions finish in any order; the quarantine is built in row order.
    pairs.sort_unstable();
    let mut keep = vec![true; table.len()];
    for (i, f) in pairs {
        keep[i as usize] = false;
        let (s, j) = (table.source(i as usize), table.source(f as usize));
        let (part, r) = table.locate(i as usize);
        quarantine.push(QuarantineRow {
            table: table.def.name,
            file: s.file(),
            row: s.row(),
            key: key.identifier(part, r).map(str::to_string),
            column: Some(column),
            error: QError::DuplicateKey,
            detail: duplicate_detail(files, s, j),
        });
    }
    keep
}

/// Tables with more rows than this have their keys checked in two passes by
/// [`duplicates`]: at 45M certificates each pass holds ~180 MB of (hash, row) pairs
/// instead of ~360 MB, at the key checks where the run's memory peaks, for the price of
/// hashing every certificate once more. Cards and the certificates of up to ~7M cards
/// stay in one pass.
const PASS_ROWS: usize = 32 << 20;

/// Bits of the hash that pick a partition: 1,024 partitions of ~44k rows for 45M
/// certificates, each checked within the cache instead of one pass over all of them.
const PARTITION_BITS: u32 = 10;

/// [`duplicate_pairs`] over the hash space in `2^pass_bits` passes, each over the rows
/// whose hash starts with its number (`group_rows` is called again in every pass).
fn duplicate_pairs_in_passes(
    pass_bits: u32,
    groups: usize,
    group_rows: impl Fn(usize) -> Vec<(u64, u32)> + Sync,
    order: impl Fn(u32, u32) -> Ordering + Sync,
) -> Vec<(u32, u32)> {
    if pass_bits == 0 {
        return duplicate_pairs(groups, group_rows, order);
    }
    let mut pairs = Vec::new();
    for pass in 0..1u64 << pass_bits {
        let mine = |g: usize| {
            let rows = group_rows(g).into_iter().filter(|&(h, _)| h >> (64 - pass_bits) == pass);
            // The pass's bits rotated away, so that the partitions spread over the rest.
            rows.map(|(h, row)| (h.rotate_left(pass_bits), row)).collect()
        };
        pairs.extend(duplicate_pairs(groups, mine, &order));
    }
    pairs
}

/// Every row whose key equals that of an earlier row, with the first such row:
/// (row, first). `group_rows(g)` gives group `g`'s rows with their key hashes (a
/// table's parts are the groups).
///
/// Groups are hashed in parallel, a few at a time, and their rows scattered into
/// partitions by the top bits of the hash, as one `u64` each: the next 32 bits of the
/// hash above the row number. Every partition then goes through a hash set on its own,
/// in parallel, which picks out the rows whose hash another row shares (rare: equal
/// keys, and chance); only those are sorted. Rows with equal keys have equal hashes, so
/// they meet in one partition and one run, in row order. A run is then sorted by key
/// (stably, so equal keys stay in row order) and neighbours compared: O(k log k)
/// comparisons for k rows sharing a hash, where comparing each row with every distinct
/// key before it was O(k²) for keys crafted to collide.
fn duplicate_pairs(
    groups: usize,
    group_rows: impl Fn(usize) -> Vec<(u64, u32)> + Sync,
    order: impl Fn(u32, u32) -> Ordering + Sync,
) -> Vec<(u32, u32)> {
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
            let mut found = Vec::new();
            let mut run_rows: Vec<u32> = Vec::new();
            for run in shared.chunk_by(|a, b| a >> 32 == b >> 32) {
                // Rows with one hash, in row order, sorted by key: each row is a
                // duplicate of the first row of its group of equal keys.
                run_rows.clear();
                run_rows.extend(run.iter().map(|&packed| packed as u32));
                run_rows.sort_by(|&a, &b| order(a, b));
                let mut first = run_rows[0];
                for pair in run_rows.windows(2) {
                    if order(pair[0], pair[1]) == Ordering::Equal {
                        found.push((pair[1], first));
                    } else {
                        first = pair[1];
                    }
                }
            }
            found
        })
        .flatten_iter()
        .collect()
}

/// An empty slot of [`duplicate_pairs`]' hash set: no row is numbered `u32::MAX`.
const EMPTY: u64 = u64::MAX;

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
        for (r, &card) in part.indices(certs::CARD).iter().enumerate() {
            if keep[start + r] && card == NULL_ID {
                keep[start + r] = false;
                let s = part.source.get(r);
                quarantine.push(QuarantineRow {
                    table: certs.def.name,
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
        let rows: Vec<(u64, u32)> = keys.iter().enumerate().map(|(i, k)| (hash(k), i as u32)).collect();
        // In groups of three, the last group first: the order in which groups come does
        // not matter, only row numbers.
        let groups: Vec<&[(u64, u32)]> = rows.chunks(3).rev().collect();
        let mut got =
            duplicate_pairs(groups.len(), |g| groups[g].to_vec(), |a, b| keys[a as usize].cmp(keys[b as usize]));
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
            let mut got = duplicate_pairs_in_passes(pass_bits, groups.len(), |g| groups[g].to_vec(), order);
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
            let mut got = duplicate_pairs_in_passes(pass_bits, groups.len(), |g| groups[g].to_vec(), order);
            got.sort_unstable();
            assert_eq!(got, want, "{pass_bits} pass bits");
            let counted = compares.load(Relaxed);
            let bound = N as u64 * (u64::from(N.ilog2()) + 2);
            assert!(counted <= bound, "{pass_bits} pass bits: {counted} comparisons, bound {bound}");
            eprintln!("duplicate check, one hash for {N} keys, {pass_bits} pass bits: {counted} comparisons");
        }
    }
}
