//! The strict CSV reader and the row converter on arbitrary bytes: never a panic, every
//! record either converted, quarantined or malformed, row numbers strictly increasing.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use siths_sweep::ingest::csv::read_csv;
use siths_sweep::ingest::convert_batch;
use siths_sweep::schema::CARDS;
use siths_sweep::time::Zone;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static ZONE: Zone = Zone::new("Europe/Stockholm").unwrap();
    }
    let Ok(file) = read_csv(data, Path::new("cards.csv"), &CARDS, 0, 7) else { return };
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
