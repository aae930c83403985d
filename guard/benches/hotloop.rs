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
/// for the whole sample. The baseline must be a number, or the guard fails: a file that
/// silently switched the limit off would let CI pass unguarded. Only
/// `scripts/hotloop_baseline.sh`, while it measures a new baseline, runs without a
/// limit, through `HOTLOOP_MEASURE_ONLY=1`.
fn limit() -> Option<u64> {
    if std::env::var_os("HOTLOOP_MEASURE_ONLY").is_some_and(|v| v == "1") {
        return None;
    }
    Some(limit_from(include_str!("hotloop.baseline")).unwrap_or_else(|e| panic!("guard/benches/hotloop.baseline: {e}")))
}

/// The limit a baseline file's text sets: its one non-comment line, a positive number
/// of instructions per card.
fn limit_from(text: &str) -> Result<u64, String> {
    let mut values = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    let value = values.next().ok_or("no baseline value")?;
    if values.next().is_some() {
        return Err("more than one baseline value".to_string());
    }
    let per_card: f64 = value.parse().map_err(|_| format!("{value:?} is not instructions per card"))?;
    if !(per_card.is_finite() && per_card > 0.0) {
        return Err(format!("{value:?} is not a positive number"));
    }
    Ok((per_card * 1.10 * SAMPLE_CARDS as f64).round() as u64)
}

fn config() -> LibraryBenchmarkConfig {
    for (text, ok) in [("# c\n294.3\n", true), ("measure\n", false), ("", false), ("1\n2\n", false), ("-1", false)] {
        assert_eq!(limit_from(text).is_ok(), ok, "limit_from({text:?})");
    }
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
    let read = ingest::read_cards(&dir, &policy.zone, ingest::BATCH_ROWS, |_| {}).expect("the sample reads");
    let revoking = evaluate::revoking(&read.data, &policy, as_of);
    let classifier = evaluate::CertClassifier::new(&policy, as_of, &revoking);
    let data = ingest::read_certificates(read, &classifier, |_| {}).expect("the sample reads");
    assert_eq!(data.cards.len() as u64, SAMPLE_CARDS, "the baseline is per card of the shipped sample");
    let eval = evaluate::evaluate(&data, classifier.into_counts(), &policy, as_of);
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
