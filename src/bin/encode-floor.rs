//! The encode floor: writes a finished `card_decisions.parquet` again, through the
//! sweep's own Parquet sink (same properties, row groups, column-parallel encoding,
//! hashing and sync), from batches already in memory. A sweep must decode its input
//! (the decode floor) and then encode this table, which needs every card and every
//! certificate first, so the two floors added are a lower bound on a sweep's time with
//! this reader and writer; `scripts/bench.sh` reports both.
//!
//! usage: encode-floor SWEEP_OUTPUT_DIR [THREADS]

use std::path::PathBuf;
use std::time::Instant;

use siths_sweep::output::{card_decisions_sink, files::read_output};
use siths_sweep::schema::CARD_DECISIONS;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: encode-floor SWEEP_OUTPUT_DIR [THREADS]";
    let out = PathBuf::from(args.next().expect(usage));
    let threads = args.next().map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |t| t.parse().expect("THREADS is a number"),
    );
    let path = out.join(CARD_DECISIONS.parquet_file());
    let (_, batches) = read_output(&path).expect("a sweep's card_decisions.parquet");
    let batches: Vec<_> = batches.collect::<Result<_, _>>().expect("readable");
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    // Beside the sweep's folder: the same file system the sweep wrote to and synced.
    let scratch = out.with_file_name(format!(".encode-floor-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    let started = Instant::now();
    let written = pool.install(|| {
        let mut sink = card_decisions_sink(&scratch)?;
        for b in &batches {
            sink.write(b)?;
        }
        sink.finish()
    });
    let took = started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&scratch).expect("scratch folder removed");
    let written = written.expect("written");
    assert_eq!(written.rows, rows as u64);
    // The same bytes as the sweep wrote, or this is not the sweep's encoding work.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("the sweep's manifest.json"))
            .expect("a manifest");
    let swept = manifest["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .find(|o| o["name"] == CARD_DECISIONS.parquet_file().as_str());
    let same = swept.is_some_and(|o| o["sha256"] == written.sha256.as_str());
    println!(
        "encode-floor: {rows} card decisions in {took:.3} s ({threads} threads){}",
        if same { "" } else { "; NOT the bytes the sweep wrote" }
    );
}
