//! The encode floor: writes a finished `card_decisions.parquet` again, through the
//! sweep's own Parquet sink (same properties, row groups, column-parallel encoding,
//! hashing and sync), from batches already in memory. A sweep must decode its input
//! (the decode floor) and then encode this table, which needs every card and every
//! certificate first, so the two floors added are a lower bound on a sweep's time with
//! this reader and writer; `scripts/bench.sh` reports both.
//!
//! usage: encode-floor SWEEP_OUTPUT_DIR [THREADS]
//!        encode-floor --by-column SWEEP_OUTPUT_DIR
//!
//! `--by-column` writes each column alone, as the sink writes it (one-column files, same
//! properties), on one thread, and prints the seconds and bytes of each: where the
//! encoding work goes (BENCHMARKS.md, the dictionary columns' share).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use siths_sweep::output::card_decisions_sink;
use siths_sweep::output::files::{ParquetSink, Written, read_output};
use siths_sweep::schema::CARD_DECISIONS;

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let usage = "usage: encode-floor [--by-column] SWEEP_OUTPUT_DIR [THREADS]";
    if args.next_if_eq("--by-column").is_some() {
        by_column(&PathBuf::from(args.next().expect(usage)));
        return;
    }
    let out = PathBuf::from(args.next().expect(usage));
    let threads = args.next().map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |t| t.parse().expect("THREADS is a number"),
    );
    let (_, batches) = card_decisions(&out);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let scratch = scratch(&out);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    let (written, took) = timed_write(&pool, || card_decisions_sink(&scratch), &batches);
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

/// The batches of a sweep's `card_decisions.parquet`, and its schema.
fn card_decisions(out: &Path) -> (SchemaRef, Vec<RecordBatch>) {
    let path = out.join(CARD_DECISIONS.parquet_file());
    let (schema, batches) = read_output(&path).expect("a sweep's card_decisions.parquet");
    (schema, batches.collect::<Result<_, _>>().expect("readable"))
}

/// A scratch folder beside the sweep's: the same file system the sweep wrote to and
/// synced.
fn scratch(out: &Path) -> PathBuf {
    let scratch = out.with_file_name(format!(".encode-floor-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    scratch
}

/// `batches` written through the sink `create` makes, on `pool`, and the seconds it took.
fn timed_write(
    pool: &rayon::ThreadPool,
    create: impl FnOnce() -> siths_sweep::error::Result<ParquetSink> + Send,
    batches: &[RecordBatch],
) -> (siths_sweep::error::Result<Written>, f64) {
    let started = Instant::now();
    let written = pool.install(|| {
        let mut sink = create()?;
        for b in batches {
            sink.write(b)?;
        }
        sink.finish()
    });
    (written, started.elapsed().as_secs_f64())
}

/// Each column of `card_decisions.parquet` encoded alone on one thread: its seconds and
/// its file's bytes.
fn by_column(out: &Path) {
    let (schema, batches) = card_decisions(out);
    let scratch = scratch(out);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("thread pool");
    let mut total = 0.0;
    for (c, field) in schema.fields().iter().enumerate() {
        let one = Arc::new(arrow_schema::Schema::new(vec![field.clone()]));
        let columns: Vec<_> = batches
            .iter()
            .map(|b| RecordBatch::try_new(one.clone(), vec![b.column(c).clone()]).expect("one column"))
            .collect();
        let unique: Vec<&str> = CARD_DECISIONS.unique.iter().copied().filter(|u| u == field.name()).collect();
        let create = || ParquetSink::create(&scratch, field.name(), &one, &unique, &[]);
        let (written, took) = timed_write(&pool, create, &columns);
        written.expect("written");
        total += took;
        let bytes = std::fs::metadata(scratch.join(field.name())).expect("written").len();
        println!("encode-floor: column {:<18} {took:.3} s {bytes:>12} bytes", field.name());
    }
    std::fs::remove_dir_all(&scratch).expect("scratch folder removed");
    println!("encode-floor: all columns, one at a time on one thread: {total:.3} s");
}
