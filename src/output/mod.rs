//! Write: every output of SPEC "Output" into a staging folder, the manifest last, then
//! publish the folder atomically in place of `--out`.

pub mod files;
pub mod html;
pub mod names;
pub mod org_reports;
pub mod publish;
pub mod reports;
pub mod summary;

use std::path::Path;

use serde_json::{Value, json};

use crate::aggregate::OrgCounts;
use crate::error::Result;
use crate::evaluate::{Evaluation, RevokedCertificates};
use crate::ingest::Ingested;
use crate::rules::{Policy, Verdict};
use crate::schema;
use crate::time::format_date;
pub use files::Written;

/// Writes every table (not `summary.html`, not the manifest) into `dir`. The files are independent,
/// so they are written concurrently; the list comes back in a fixed order.
///
/// Of the certificates, the outputs need only those the CA must revoke (`revoked`): the
/// caller has let go of the others before.
pub fn write_outputs(
    dir: &Path,
    d: &Ingested,
    e: &Evaluation,
    revoked: &RevokedCertificates,
    counts: &[OrgCounts],
) -> Result<Vec<Written>> {
    use files::{write_table, write_table_from};
    use rayon::prelude::*;
    let (org_order, org_rank) = reports::org_order(e);
    let card_order = reports::card_order(d, e, &org_rank);
    let revocations = reports::Revocations::new(d, e, revoked, &card_order);
    // The two revocation lists are built a batch at a time as they are written, beside
    // card_decisions: built whole first, they held ~270 MB at 10M cards through it.
    type Job<'a> = &'a (dyn Fn() -> Result<Vec<Written>> + Sync);
    let jobs: [Job<'_>; 6] = [
        &|| write_card_decisions(dir, d, e, &card_order),
        &|| write_table_from(dir, &schema::REVOCATION_CANDIDATES, revocations.candidates()),
        &|| write_table_from(dir, &schema::REVOCATION_CERTIFICATES, revocations.certificates()),
        &|| write_table(dir, &schema::ORG_COMPLIANCE, &reports::org_compliance(e, counts, &org_order)),
        &|| write_table(dir, &schema::ADMIN_REVIEW, &reports::admin_review(d, e, &org_rank)),
        &|| write_table(dir, &schema::QUARANTINE, &reports::quarantine(&d.quarantine, &d.files)),
    ];
    let written: Vec<Result<Vec<Written>>> = jobs.par_iter().map(|job| job()).collect();
    let mut out = Vec::new();
    for w in written {
        out.extend(w?);
    }
    Ok(out)
}

/// `summary.html`: written after the diff, when there is one, so that it can say what
/// changed since the night before.
pub fn write_summary(
    dir: &Path,
    d: &Ingested,
    e: &Evaluation,
    counts: &[OrgCounts],
    policy: &Policy,
    change: Option<&crate::diff::DiffSummary>,
) -> Result<Written> {
    let page = summary::render(d, e, counts, policy, change);
    files::write_text(dir, "summary.html", &page, counts.len() as u64)
}

/// `card_decisions.parquet`, a window of decisions at a time, built (its batches in
/// parallel) and then encoded: the biggest table is never whole in memory, nor is a row
/// group of it.
fn write_card_decisions(dir: &Path, d: &Ingested, e: &Evaluation, card_order: &[u32]) -> Result<Vec<Written>> {
    let mut sink = card_decisions_sink(dir)?;
    let values = reports::DecisionValues::new(d, e);
    for window in card_order.chunks(CARD_WINDOW) {
        for b in reports::card_decisions(d, e, &values, window) {
            sink.write(&b)?;
        }
    }
    Ok(vec![sink.finish()?])
}

/// Cards of `card_decisions` built at a time: a quarter of a row group, four of
/// `reports`' batches (a multiple of them, so that the batches, and so the bytes, are
/// those of any window). A whole row group's window held ~240 MB more at 10M cards.
const CARD_WINDOW: usize = files::ROW_GROUP_ROWS / 4;

/// The sink `card_decisions.parquet` is written through (also by the encode floor,
/// `src/bin/encode-floor.rs`, which must encode it exactly as a sweep does).
pub fn card_decisions_sink(dir: &Path) -> Result<files::ParquetSink> {
    files::ParquetSink::for_output(dir, &schema::CARD_DECISIONS)
}

/// What the manifest says beyond the files.
pub struct RunFacts<'a> {
    pub as_of: i32,
    pub policy: &'a Policy,
    pub threads: usize,
    pub verdicts: [i64; Verdict::COUNT],
    pub timings_ms: &'a [(String, u128)],
    pub warnings: &'a [String],
    /// The memory check's estimate beside the measured peak (`memory::manifest_entry`).
    pub memory: Value,
}

pub fn manifest(d: &Ingested, outputs: &[Written], f: &RunFacts<'_>) -> Value {
    let inputs: Vec<Value> = d
        .files
        .iter()
        .map(|i| json!({"table": i.table, "path": i.rel, "sha256": i.sha256, "rows": i.rows, "quarantined": i.quarantined}))
        .collect();
    let outputs: Vec<Value> = outputs.iter().map(Written::manifest_entry).collect();
    let verdicts: serde_json::Map<String, Value> =
        Verdict::ALL.iter().zip(f.verdicts).map(|(v, n)| (v.code().to_string(), json!(n))).collect();
    let timings: serde_json::Map<String, Value> =
        f.timings_ms.iter().map(|(k, v)| (k.clone(), json!(*v as u64))).collect();
    json!({
        "tool": "siths-sweep",
        "version": env!("CARGO_PKG_VERSION"),
        "as_of": format_date(f.as_of),
        "policy": f.policy.to_json(),
        "inputs": inputs,
        "outputs": outputs,
        "verdicts": verdicts,
        "quarantined": d.quarantine.len(),
        "warnings": f.warnings,
        "threads": f.threads,
        "timings_ms": timings,
        "memory": f.memory,
    })
}

/// Writes the manifest: last, so its presence means the set is complete.
pub fn write_manifest(dir: &Path, manifest: &Value) -> Result<()> {
    use std::io::Write;
    let path = dir.join("manifest.json");
    let mut w = files::create_private(&path)?;
    let text = serde_json::to_string_pretty(manifest).expect("manifest serialises");
    w.write_all(text.as_bytes())
        .and_then(|_| w.write_all(b"\n"))
        .and_then(|_| w.flush())
        .map_err(|e| crate::error::Error::io(&path, e))?;
    Ok(())
}
