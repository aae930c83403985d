//! Card ids to card indices, for resolving every certificate's card_id.
//!
//! A map of `&str` to `u32` over 10M cards held ~420 MB (24-byte entries at a load of
//! 7/8 rounded up to a power of two) and was built on one thread, one cache miss per
//! insert. This index holds only the card's row (4 bytes a slot, half full) and keeps
//! the id where it already is, in the cards table; it is split by hash into partitions
//! that are built in parallel, each small enough to stay in cache while it is built.

use rayon::prelude::*;

use super::keys::hash_of;
use super::table::NULL_ID;
use super::table::TextColumn;

/// 2^8 partitions: ~40k cards and a 512 KB table each at 10M cards.
const PARTITION_BITS: u32 = 8;
const EMPTY: u32 = u32::MAX;

pub struct CardIndex<'a> {
    ids: &'a TextColumn,
    /// Per partition, an open-addressing table (linear probing) of row numbers; its
    /// length is a power of two at least twice the partition's rows.
    tables: Vec<Vec<u32>>,
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
        let hashes: Vec<u64> =
            (0..ids.len()).into_par_iter().map(|i| if ids.is_valid(i) { hash_of(ids.value(i)) } else { 0 }).collect();
        let partitions = 1usize << PARTITION_BITS;
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); partitions];
        for (i, &h) in hashes.iter().enumerate() {
            if ids.is_valid(i) {
                rows[partition(h)].push(i as u32);
            }
        }
        let tables = rows
            .into_par_iter()
            .map(|rows| {
                let len = (rows.len() * 2).next_power_of_two().max(4);
                let mut table = vec![EMPTY; len];
                for r in rows {
                    let mut slot = first_slot(hashes[r as usize], len);
                    while table[slot] != EMPTY {
                        slot = (slot + 1) & (len - 1);
                    }
                    table[slot] = r;
                }
                table
            })
            .collect();
        CardIndex { ids, tables }
    }

    /// The row whose id is `id`, [`NULL_ID`] if none.
    pub fn get(&self, id: &str) -> u32 {
        let h = hash_of(id);
        let table = &self.tables[partition(h)];
        let mut slot = first_slot(h, table.len());
        loop {
            let r = table[slot];
            if r == EMPTY {
                return NULL_ID;
            }
            if self.ids.value(r as usize) == id {
                return r;
            }
            slot = (slot + 1) & (table.len() - 1);
        }
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
}
