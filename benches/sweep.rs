//! Criterion benches of the sweep's stages on the project's own generated export
//! (`generate`, seed 1, as of 2021-11-15). Results read as elements per second.

use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use siths_sweep::evaluate::{self, CertClassifier};
use siths_sweep::generate::{GenSpec, OutFormat, generate};
use siths_sweep::ingest::{self, Derive, InputFile, Table, discover, read_parts};
use siths_sweep::rules::Policy;
use siths_sweep::schema;
use siths_sweep::time::parse_date;

const CARDS: u64 = 200_000;

fn export(dir: &Path) {
    export_as(dir, OutFormat::Parquet);
}

fn export_as(dir: &Path, format: OutFormat) {
    let spec = GenSpec { cards: CARDS, seed: 1, as_of: parse_date("2021-11-15").unwrap(), format, campaign: None };
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
    let read = ingest::read_cards(dir.path(), &policy.zone, ingest::BATCH_ROWS, |_| {}).unwrap();
    let revoking = evaluate::revoking(&read.data, &policy, as_of);
    let classifier = CertClassifier::new(&policy, as_of, &revoking);
    // Every certificate keeps its text and the columns the classification reads, so
    // that it can be run again here.
    let data = ingest::read_certificates(read, &Keep(&classifier), |_| {}).unwrap();
    let full = evaluate::evaluate(&data, classifier.into_counts(), &policy, as_of);
    let mut g = c.benchmark_group("evaluate_cards");
    g.throughput(Throughput::Elements(data.cards.len() as u64));
    g.bench_function(BenchmarkId::from_parameter(data.cards.len()), |b| {
        b.iter(|| evaluate::evaluate_cards(&data.cards, &full.card_org, &full.orgs, &full.counts, &full.dates, &policy))
    });
    g.finish();

    // Certificates classified as they are read: issuer kind (once per distinct issuer of
    // a batch) and the active test against D, each part on its own as the readers do,
    // all cores.
    let classifier = CertClassifier::new(&policy, as_of, &revoking);
    let texts = &data.certificate_texts;
    let mut g = c.benchmark_group("certificate_classification");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function(BenchmarkId::from_parameter(texts.len()), |b| {
        b.iter(|| texts.parts.par_iter().map(|p| classifier.bytes(p)).collect::<Vec<_>>())
    });
    g.finish();

    // The classified certificates counted into their cards, each part on its own as the
    // readers do, all cores (the counts only grow from one iteration to the next).
    let mut g = c.benchmark_group("certificate_aggregation");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function(BenchmarkId::from_parameter(texts.len()), |b| {
        b.iter(|| {
            texts
                .parts
                .par_iter()
                .for_each(|p| classifier.count(p.indices(schema::cols::certificates::CARD), &p.derived))
        })
    });
    g.finish();
}

/// The sweep's classification, letting no column go.
struct Keep<'a>(&'a CertClassifier<'a>);

impl Derive for Keep<'_> {
    fn bytes(&self, part: &Table) -> Vec<u8> {
        self.0.bytes(part)
    }

    fn lets_go(&self) -> &'static [usize] {
        &[]
    }

    fn keeps_text(&self, _card: u32, _byte: u8) -> bool {
        true
    }

    fn count(&self, cards: &[u32], bytes: &[u8]) {
        self.0.count(cards, bytes);
    }

    fn discount(&self, card: u32, byte: u8) {
        self.0.discount(card, byte);
    }
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
            read_parts(&schema::CARDS, &cards, &zone, ingest::BATCH_ROWS, &mut files, &mut q).unwrap().into_table(None)
        })
    });
    g.finish();
}

/// CSV parsing of the certificate table (the biggest file), from memory: records split,
/// fields unquoted and built into text columns, nothing converted. Reads as bytes per
/// second; the sweep's CSV ingest runs it on every piece.
fn csv_parse(c: &mut Criterion) {
    use siths_sweep::ingest::csv::{Cutting, read_csv};
    let dir = tempfile::tempdir().unwrap();
    export_as(dir.path(), OutFormat::Csv);
    let path = dir.path().join("certificates.csv");
    let bytes = std::fs::read(&path).unwrap();
    let mut g = c.benchmark_group("csv_parse_certificates");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(20);
    g.bench_function(BenchmarkId::from_parameter(CARDS), |b| {
        b.iter(|| read_csv(&bytes, &path, &schema::CERTIFICATES, 0, Cutting::new(ingest::BATCH_ROWS)).unwrap().rows)
    });
    g.finish();
}

criterion_group!(benches, evaluate_kernel, parquet_ingest, csv_parse);
criterion_main!(benches);
