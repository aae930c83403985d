//! Card ids to card indices, for resolving every certificate's card_id.
//!
//! A map of `&str` to `u32` over 10M cards held ~420 MB (24-byte entries at a load of
//! 7/8 rounded up to a power of two) and was built on one thread, one cache miss per
//! insert. This index holds only the card's row (4 bytes a slot, half full) and keeps
//! the id where it already is, in the cards table; it is split by hash into partitions
//! that are built in parallel, each small enough to stay in cache while it is built.

use std::cmp::Ordering;

use rayon::prelude::*;

use super::table::NULL_ID;
use super::table::TextColumn;
use crate::hashing::hash_of;

/// 2^8 partitions: ~40k cards and a 512 KB table each at 10M cards.
const PARTITION_BITS: u32 = 8;
const EMPTY: u32 = u32::MAX;
/// A slot with this bit set holds a [`Run`]'s number instead of a row.
const RUN: u32 = 1 << 31;

pub struct CardIndex<'a> {
    ids: &'a TextColumn,
    hash: fn(&str) -> u64,
    partitions: Vec<Partition>,
    compares: Compares,
}

/// An open-addressing table (linear probing) of row numbers; its length is a power of
/// two at least twice the partition's rows. Rows whose whole 64-bit hash is equal share
/// one slot, a [`Run`]: they are sorted by id and found by binary search, so ids made to
/// collide cost O(log n) comparisons each instead of a probe chain through all of them
/// (the seed of [`hash_of`] makes such ids hard to find; this makes them harmless).
struct Partition {
    table: Vec<u32>,
    runs: Vec<Run>,
    run_rows: Vec<u32>,
}

/// Rows sharing one hash: `run_rows[start..end]`, sorted by id.
struct Run {
    hash: u64,
    start: u32,
    end: u32,
}

/// The partition of a hash: its top bits.
fn partition(h: u64) -> usize {
    (h >> (64 - PARTITION_BITS)) as usize
}

/// The first slot tried in a table of `len` slots: hash bits below the partition's.
fn first_slot(h: u64, len: usize) -> usize {
    (h >> 16) as usize & (len - 1)
}

impl<'a> CardIndex<'a> {
    /// Indexes every non-null id of `ids`; ids must be unique (cards after their
    /// duplicate check).
    pub fn new(ids: &'a TextColumn) -> CardIndex<'a> {
        Self::with_hash(ids, |id| hash_of(id))
    }

    /// [`CardIndex::new`] with another hash function (tests force collisions with it).
    fn with_hash(ids: &'a TextColumn, hash: fn(&str) -> u64) -> CardIndex<'a> {
        assert!(ids.len() < RUN as usize, "at most 2^31 cards");
        let hashes: Vec<u64> =
            (0..ids.len()).into_par_iter().map(|i| if ids.is_valid(i) { hash(ids.value(i)) } else { 0 }).collect();
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); 1 << PARTITION_BITS];
        for (i, &h) in hashes.iter().enumerate() {
            if ids.is_valid(i) {
                rows[partition(h)].push(i as u32);
            }
        }
        let compares = Compares::default();
        let partitions = rows.into_par_iter().map(|rows| Partition::build(&rows, &hashes, ids, &compares)).collect();
        CardIndex { ids, hash, partitions, compares }
    }

    /// The row whose id is `id`, [`NULL_ID`] if none.
    pub fn get(&self, id: &str) -> u32 {
        let h = (self.hash)(id);
        let p = &self.partitions[partition(h)];
        let mask = p.table.len() - 1;
        let mut slot = first_slot(h, p.table.len());
        loop {
            let r = p.table[slot];
            if r == EMPTY {
                return NULL_ID;
            }
            if r & RUN == 0 {
                self.compares.add(1);
                if self.ids.value(r as usize) == id {
                    return r;
                }
            } else {
                let run = &p.runs[(r & !RUN) as usize];
                if run.hash == h {
                    // Every row with this hash is in the run.
                    let rows = &p.run_rows[run.start as usize..run.end as usize];
                    return match rows.binary_search_by(|&row| self.compare(self.ids.value(row as usize), id)) {
                        Ok(k) => rows[k],
                        Err(_) => NULL_ID,
                    };
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    fn compare(&self, a: &str, b: &str) -> Ordering {
        self.compares.add(1);
        a.cmp(b)
    }

    /// Id comparisons made so far (counted in tests only; 0 otherwise).
    #[cfg(test)]
    fn comparisons(&self) -> u64 {
        self.compares.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Partition {
    fn build(rows: &[u32], hashes: &[u64], ids: &TextColumn, compares: &Compares) -> Partition {
        let len = (rows.len() * 2).next_power_of_two().max(4);
        let mut table = vec![EMPTY; len];
        // The hash of each slot's row(s), while building only: telling a second row of
        // a hash from a neighbour's without reading the far-away `hashes`.
        let mut slot_hash = vec![0u64; len];
        let mut runs: Vec<Run> = Vec::new();
        let mut members: Vec<Vec<u32>> = Vec::new();
        for &r in rows {
            let h = hashes[r as usize];
            let mut slot = first_slot(h, len);
            loop {
                let held = table[slot];
                if held == EMPTY {
                    (table[slot], slot_hash[slot]) = (r, h);
                    break;
                }
                if slot_hash[slot] == h {
                    if held & RUN == 0 {
                        table[slot] = RUN | runs.len() as u32;
                        runs.push(Run { hash: h, start: 0, end: 0 });
                        members.push(vec![held, r]);
                    } else {
                        members[(held & !RUN) as usize].push(r);
                    }
                    break;
                }
                slot = (slot + 1) & (len - 1);
            }
        }
        let mut run_rows = Vec::with_capacity(members.iter().map(Vec::len).sum());
        for (run, mut rows) in runs.iter_mut().zip(members) {
            rows.sort_unstable_by(|&a, &b| {
                compares.add(1);
                ids.value(a as usize).cmp(ids.value(b as usize))
            });
            run.start = run_rows.len() as u32;
            run_rows.extend(rows);
            run.end = run_rows.len() as u32;
        }
        Partition { table, runs, run_rows }
    }
}

/// A count of id comparisons for the tests' bounds; nothing outside tests.
#[derive(Default)]
struct Compares(#[cfg(test)] std::sync::atomic::AtomicU64);

impl Compares {
    #[inline(always)]
    fn add(&self, _n: u64) {
        #[cfg(test)]
        self.0.fetch_add(_n, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every id is found at its row, null rows are not indexed, and ids that are not
    /// there (a prefix, a longer id, the empty string, a null row's would-be value) are
    /// not found, with enough ids that partitions and probe chains are exercised.
    #[test]
    fn ids_are_found_at_their_rows_and_others_are_not() {
        let mut values: Vec<Option<String>> = (0..20_000).map(|i| Some(format!("C{i:07X}"))).collect();
        values[7] = None;
        values.push(Some(String::new()));
        let ids =
            TextColumn::Small(arrow_array::StringArray::from(values.iter().map(|v| v.as_deref()).collect::<Vec<_>>()));
        let index = CardIndex::new(&ids);
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                assert_eq!(index.get(v), i as u32, "{v}");
            }
        }
        for missing in ["C0000007", "C000000", "C00000000", "C0004E20", "c0000001"] {
            assert_eq!(index.get(missing), NULL_ID, "{missing}");
        }
        let empty = TextColumn::Large(arrow_array::LargeStringArray::from(Vec::<Option<&str>>::new()));
        assert_eq!(CardIndex::new(&empty).get("C1"), NULL_ID);
    }

    /// 100,000 distinct ids that all share one hash (what an attacker who knew the hash
    /// function would send) cost O(log n) comparisons per lookup, not O(n): building
    /// sorts the run once (~n log2 n comparisons) and each lookup binary-searches it.
    /// With linear probing through a chain of all of them this was ~n²/2 = 5·10^9.
    #[test]
    fn ids_sharing_one_hash_stay_near_linear() {
        const N: usize = 100_000;
        let values: Vec<String> =
            (0..N).map(|i| format!("{:x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))).collect();
        let ids =
            TextColumn::Small(arrow_array::StringArray::from(values.iter().map(String::as_str).collect::<Vec<_>>()));
        // Two collision shapes: one hash for every id, and 16 hashes (by the id's last hex
        // digit) shared by ~6,250 ids each, whose runs sit side by side in one table.
        let forced: [fn(&str) -> u64; 2] = [|_| 0x0123_4567_89AB_CDEF, |id| hash_of(id.as_bytes().last())];
        for (shape, hash) in forced.into_iter().enumerate() {
            let index = CardIndex::with_hash(&ids, hash);
            let built = index.comparisons();
            let log2n = u64::from(N.ilog2()) + 1;
            assert!(built <= N as u64 * (log2n + 2), "shape {shape}: building took {built} comparisons");
            for (i, v) in values.iter().enumerate() {
                assert_eq!(index.get(v), i as u32, "shape {shape}: {v}");
            }
            for missing in ["", "zz", "g0", &format!("{}0", values[5])] {
                assert_eq!(index.get(missing), NULL_ID, "shape {shape}: {missing}");
            }
            let looked_up = index.comparisons() - built;
            assert!(
                looked_up <= (N as u64 + 4) * (log2n + 2),
                "shape {shape}: {N} lookups took {looked_up} comparisons"
            );
            eprintln!("card index, collision shape {shape}: {built} comparisons to build, {looked_up} for {N} lookups");
        }
    }
}
