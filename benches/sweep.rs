//! Criterion benches of the sweep's stages on the project's own generated export
//! (`generate`, seed 1, as of 2021-11-15). Results read as elements per second.

use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use siths_sweep::evaluate::{self, classify_certs, count_certs};
use siths_sweep::generate::{GenSpec, OutFormat, generate};
use siths_sweep::ingest::{self, InputFile, discover, read_parts};
use siths_sweep::rules::{Policy, SweepDates};
use siths_sweep::schema;
use siths_sweep::time::parse_date;

const CARDS: u64 = 200_000;

fn export(dir: &Path) {
    let spec = GenSpec { cards: CARDS, seed: 1, as_of: parse_date("2021-11-15").unwrap(), format: OutFormat::Parquet };
    generate(dir, &spec).expect("generated");
}

fn files(dir: &Path, table: &schema::InputTable) -> Vec<InputFile> {
    discover::discover(dir, table, &mut Vec::new()).expect("found")
}

/// The hot loop alone: every card through the rules (findings, verdict, action) with
/// certificate counts and clearance already known. Memory-resident, all cores.
fn evaluate_kernel(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    export(dir.path());
    let policy = Policy::default();
    let as_of = parse_date("2021-11-15").unwrap();
    let data = ingest::ingest(dir.path(), &policy.zone, ingest::BATCH_ROWS, |_| {}).unwrap();
    let full = evaluate::evaluate(&data, &policy, as_of);
    let mut g = c.benchmark_group("evaluate_cards");
    g.throughput(Throughput::Elements(data.cards.len() as u64));
    g.bench_function(BenchmarkId::from_parameter(data.cards.len()), |b| {
        b.iter(|| evaluate::evaluate_cards(&data.cards, &full.card_org, &full.orgs, &full.counts, &full.dates, &policy))
    });
    g.finish();

    // Certificates per card: issuer classification (once per distinct issuer), the
    // active test against D, and the per-card sums.
    let dates = SweepDates::new(as_of, &policy);
    let mut g = c.benchmark_group("certificate_aggregation");
    g.throughput(Throughput::Elements(data.certificates.len() as u64));
    g.bench_function(BenchmarkId::from_parameter(data.certificates.len()), |b| {
        b.iter(|| {
            let states = classify_certs(&data.certificates, &policy, &dates);
            count_certs(data.certificates.indices("card_id"), &states, data.cards.len())
        })
    });
    g.finish();
}

/// Parquet ingest of the card table: decode, convert every value, quarantine checks.
/// Cold page cache is not simulated: this is the CPU cost of reading.
fn parquet_ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    export(dir.path());
    let zone = Policy::default().zone;
    let cards = files(dir.path(), &schema::CARDS);
    let mut g = c.benchmark_group("parquet_ingest_cards");
    g.throughput(Throughput::Elements(CARDS));
    g.sample_size(20);
    g.bench_function(BenchmarkId::from_parameter(CARDS), |b| {
        b.iter(|| {
            let (mut files, mut q) = (Vec::new(), Vec::new());
            read_parts(&schema::CARDS, &cards, &zone, ingest::BATCH_ROWS, None, &mut files, &mut q)
                .unwrap()
                .into_table(None)
        })
    });
    g.finish();
}

criterion_group!(benches, evaluate_kernel, parquet_ingest);
criterion_main!(benches);
