//! The strict CSV reader and the row converter on arbitrary bytes: never a panic, every
//! record either converted, quarantined or malformed, row numbers strictly increasing,
//! and the same rows wherever the file is cut into pieces and however much is read at a
//! time (the first byte picks the cut, the rest is the file: the seeds in
//! `fuzz/corpus/csv_rows` start with 0x11: batches of 2, read 5 bytes at a time, a piece
//! per record).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use siths_sweep::ingest::convert_batch;
use siths_sweep::ingest::csv::{Cutting, CsvRead, read_csv};
use siths_sweep::ingest::{QuarantineRow, RawBatch};
use siths_sweep::schema::CARDS;
use siths_sweep::time::Zone;

/// Every row's number and raw cells, the malformed records, the record count, the hash.
type Flat = (Vec<(u64, Vec<Option<String>>)>, Vec<QuarantineRow>, u64, String);

fn flat(read: &CsvRead<RawBatch>) -> Flat {
    (read.text_rows(), read.malformed.clone(), read.rows, read.sha256.clone())
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static ZONE: Zone = Zone::new("Europe/Stockholm").unwrap();
    }
    let Some((&pick, data)) = data.split_first() else { return };
    let path = Path::new("cards.csv");
    let whole = read_csv(data, path, &CARDS, 0, Cutting { batch_rows: usize::MAX, block: 1 << 20, piece_bytes: usize::MAX });
    let cutting = Cutting {
        batch_rows: 1 + (pick & 3) as usize,
        block: 1 + ((pick >> 2) & 15) as usize,
        piece_bytes: 1 << (3 * (pick >> 6)),
    };
    let cut = read_csv(data, path, &CARDS, 0, cutting);
    let (whole, file) = match (whole, cut) {
        (Ok(whole), Ok(cut)) => (whole, cut),
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "the same error wherever the cut");
            return;
        }
        (a, b) => panic!("one cut failed, the other did not: {:?} vs {:?}", a.err(), b.err()),
    };
    assert_eq!(flat(&whole), flat(&file), "the same rows wherever the cut ({cutting:?})");
    let mut seen = file.malformed.len() as u64;
    let mut last = 0;
    for b in &file.batches {
        for i in 0..b.len {
            let row = b.rows.get(i);
            assert!(row > last, "row numbers increase");
            last = row;
        }
        let (table, quarantine) = ZONE.with(|z| convert_batch(b, &CARDS, z, None));
        assert_eq!(table.len() + quarantine.len(), b.len, "every row converted or quarantined");
        seen += b.len as u64;
    }
    assert_eq!(seen, file.rows, "every record accounted for");
});
