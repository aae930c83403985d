//! Key checks after the value checks: DUPLICATE_KEY (second and later occurrences in
//! file-then-row order), then UNKNOWN_CARD for certificates.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

use super::{InputFileInfo, QError, QuarantineRow, RowRef, Table};

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Keeps the first row of every key; later ones go to quarantine naming `column`.
pub fn dedup(
    table: Table,
    files: &[InputFileInfo],
    quarantine: &mut Vec<QuarantineRow>,
    key: impl Fn(&Table, usize) -> Vec<Option<&str>>,
    column: &'static str,
) -> Table {
    let mut first: FxMap<Vec<Option<&str>>, usize> = FxMap::default();
    first.reserve(table.len());
    let mut keep = vec![true; table.len()];
    for (i, kept) in keep.iter_mut().enumerate() {
        let k = key(&table, i);
        if let Some(&j) = first.get(&k) {
            *kept = false;
            let s = table.source[i];
            let id_col = table.def.columns[0].name;
            quarantine.push(QuarantineRow {
                table: table.def.name,
                file: s.file,
                row: s.row,
                key: table.str(id_col, i).map(str::to_string),
                column: Some(column),
                error: QError::DuplicateKey,
                detail: duplicate_detail(files, s, table.source[j]),
            });
        } else {
            first.insert(k, i);
        }
    }
    drop(first);
    if keep.iter().all(|k| *k) { table } else { table.filter(&keep) }
}

fn duplicate_detail(files: &[InputFileInfo], this: RowRef, first: RowRef) -> String {
    if this.file == first.file {
        format!("same key as row {}", first.row)
    } else {
        format!("same key as row {} of {}", first.row, files[first.file as usize].rel)
    }
}

/// Finds each certificate's card; certificates whose card_id is not a valid card go to
/// quarantine as UNKNOWN_CARD.
pub fn resolve_cards(certs: Table, cards: &Table, quarantine: &mut Vec<QuarantineRow>) -> (Table, Vec<u32>) {
    let ids = cards.text("card_id");
    let mut index: FxMap<&str, u32> = FxMap::default();
    index.reserve(cards.len());
    for i in 0..cards.len() {
        index.insert(ids.value(i), i as u32);
    }
    let card_ids = certs.text("card_id");
    let mut card_of = Vec::with_capacity(certs.len());
    let mut keep = vec![true; certs.len()];
    for (i, kept) in keep.iter_mut().enumerate() {
        match index.get(card_ids.value(i)) {
            Some(&c) => card_of.push(c),
            None => {
                *kept = false;
                let s = certs.source[i];
                quarantine.push(QuarantineRow {
                    table: certs.def.name,
                    file: s.file,
                    row: s.row,
                    key: certs.str("cert_serial", i).map(str::to_string),
                    column: Some("card_id"),
                    error: QError::UnknownCard,
                    detail: "no valid card has this card_id".to_string(),
                });
            }
        }
    }
    let certs = if keep.iter().all(|k| *k) { certs } else { certs.filter(&keep) };
    (certs, card_of)
}
