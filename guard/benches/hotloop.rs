//! The hot-loop guard: Valgrind/Callgrind instruction counts (gungraun) for evaluating
//! every card of the shipped 5,000-card sample (`testdata/sample/parquet`, generated with
//! seed 1) as of 2021-11-15, on one thread: the per-card step of
//! `evaluate::evaluate_cards`, facts gathered from the columns and every rule applied.
//!
//! Instruction counts do not depend on the machine's load, so this can gate CI where
//! wall-clock benchmarks cannot: `.ci/run` fails when the count exceeds
//! `guard/benches/hotloop.baseline` (instructions per card) by more than 10%. Updating the
//! baseline is a deliberate step: `scripts/hotloop_baseline.sh`, reviewed and committed
//! with the change that justifies it (see BENCHMARKS.md).

use std::hint::black_box;

use gungraun::{Callgrind, EventKind, LibraryBenchmarkConfig, library_benchmark, library_benchmark_group, main};
use siths_sweep::evaluate::{self, card_evaluator};
use siths_sweep::ingest::{self, Ingested};
use siths_sweep::rules::{CardOutcome, Policy};
use siths_sweep::time::parse_date;

/// Cards in the sample; the baseline is per card.
const SAMPLE_CARDS: u64 = 5_000;

/// Instructions allowed before the guard fails: the committed baseline per card + 10%,
/// for the whole sample. `measure` instead of a number (what
/// `scripts/hotloop_baseline.sh` writes while it measures) sets no limit.
fn limit() -> Option<u64> {
    let text = include_str!("hotloop.baseline");
    let value = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    if value == Some("measure") {
        return None;
    }
    let per_card: f64 =
        value.and_then(|l| l.parse().ok()).expect("guard/benches/hotloop.baseline holds instructions per card");
    Some((per_card * 1.10 * SAMPLE_CARDS as f64).round() as u64)
}

fn config() -> LibraryBenchmarkConfig {
    let mut callgrind = Callgrind::default();
    if let Some(limit) = limit() {
        callgrind.hard_limits([(EventKind::Ir, limit)]);
    }
    let mut config = LibraryBenchmarkConfig::default();
    config.tool(callgrind);
    config
}

struct Prepared {
    data: Ingested,
    eval: evaluate::Evaluation,
    policy: Policy,
}

fn prepare() -> Prepared {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample/parquet");
    let policy = Policy::default();
    let as_of = parse_date("2021-11-15").unwrap();
    let classifier = evaluate::CertClassifier::new(&policy, as_of);
    let data = ingest::ingest(&dir, &policy.zone, ingest::BATCH_ROWS, &classifier, |_| {}).expect("the sample reads");
    assert_eq!(data.cards.len() as u64, SAMPLE_CARDS, "the baseline is per card of the shipped sample");
    let eval = evaluate::evaluate(&data, &policy, as_of);
    Prepared { data, eval, policy }
}

#[library_benchmark]
#[bench::sample(setup = prepare)]
fn evaluate_sample(p: Prepared) -> Vec<CardOutcome> {
    let e = &p.eval;
    let step = card_evaluator(&p.data.cards, &e.card_org, &e.orgs, &e.counts, &e.dates, &p.policy);
    black_box((0..p.data.cards.len()).map(step).collect())
}

library_benchmark_group!(name = hotloop; benchmarks = evaluate_sample);

main!(config = config(); library_benchmark_groups = hotloop);
