//! The decode floor: reads exactly the input columns a sweep needs, with the sweep's own
//! Parquet reader, batch size and thread count, and does nothing with them. A sweep can
//! not be faster than this; `scripts/bench.sh` reports the sweep's time as a multiple.
//!
//! usage: decode-floor INPUT_DIR [THREADS]

use std::path::PathBuf;
use std::time::Instant;

use siths_sweep::ingest::{BATCH_ROWS, Format, discover, parquet::read_parquet};
use siths_sweep::schema::INPUT_TABLES;

fn main() {
    let mut args = std::env::args().skip(1);
    let input = PathBuf::from(args.next().expect("usage: decode-floor INPUT_DIR [THREADS]"));
    let threads = args.next().map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |t| t.parse().expect("THREADS is a number"),
    );
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    let started = Instant::now();
    let rows: u64 = pool.install(|| {
        let mut rows = 0;
        for table in &INPUT_TABLES {
            for (i, f) in discover::discover(&input, table, &mut Vec::new()).expect("input").iter().enumerate() {
                assert_eq!(f.format, Format::Parquet, "the decode floor reads Parquet only");
                // Touch every value's validity so nothing is optimised away.
                let (counts, _) = read_parquet(&f.path, table, i as u32, BATCH_ROWS, |b| {
                    b.columns.iter().flatten().map(|c| c.len() - c.null_count()).sum::<usize>()
                })
                .expect("readable");
                rows += counts.iter().sum::<usize>() as u64;
            }
        }
        rows
    });
    println!("decode-floor: {rows} values in {:.3} s ({threads} threads)", started.elapsed().as_secs_f64());
}
