//! One sweep from a validated plan: ingest → evaluate → aggregate → write → publish.

use std::path::PathBuf;
use std::time::Instant;

use crate::aggregate;
use crate::error::{Error, Result};
use crate::evaluate;
use crate::ingest;
use crate::memory;
use crate::output::{self, publish::Staging};
use crate::rules::{Policy, Verdict};
use crate::schema;
use crate::stage::Stage;

/// A sweep's validated settings: nothing after this sees command-line types.
#[derive(Clone, Debug)]
pub struct Plan {
    pub input: PathBuf,
    pub out: PathBuf,
    pub as_of: i32,
    pub policy: Policy,
    pub threads: usize,
    pub force: bool,
    /// Rows per input batch (a tuning knob; results do not depend on it).
    pub batch_rows: usize,
    /// Last night's output folder: write the nightly diff against it too.
    pub previous: Option<PathBuf>,
    /// Also write `org_reports/<org>.html`, one page per organisation for the customer.
    pub org_reports: bool,
    /// Refuse an export whose estimated peak memory exceeds what is available.
    pub memory_check: bool,
}

/// What a sweep reports when it is done.
#[derive(Clone, Debug)]
pub struct Summary {
    pub as_of: i32,
    pub cards: usize,
    pub verdicts: [i64; Verdict::COUNT],
    pub revocation_candidates: u64,
    pub revocation_certificates: u64,
    pub quarantined: usize,
    pub input_rows: u64,
    pub warnings: Vec<String>,
    pub timings_ms: Vec<(String, u128)>,
    pub threads: usize,
    pub diff: Option<crate::diff::DiffSummary>,
}

impl Summary {
    pub fn verdict(&self, v: Verdict) -> i64 {
        self.verdicts[v as usize]
    }
}

/// Wall time per stage, for the manifest's `timings_ms`.
#[derive(Default)]
struct Clock {
    current: Option<(Stage, Instant)>,
    laps: Vec<(String, u128)>,
}

impl Clock {
    /// Ends the current stage and starts `next`, if any.
    fn lap(&mut self, next: Option<Stage>) {
        if let Some((stage, t)) = self.current.take() {
            self.laps.push((stage.code().to_string(), t.elapsed().as_millis()));
        }
        self.current = next.map(|s| (s, Instant::now()));
    }
}

/// Runs a sweep on a rayon pool of `plan.threads`, telling `stage` as each stage starts.
pub fn run(plan: &Plan, stage: &mut (dyn FnMut(Stage) + Send)) -> Result<Summary> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.threads)
        .build()
        .map_err(|e| Error::Config(format!("cannot start {} threads: {e}", plan.threads)))?;
    pool.install(|| run_in_pool(plan, stage))
}

fn run_in_pool(plan: &Plan, stage: &mut (dyn FnMut(Stage) + Send)) -> Result<Summary> {
    let mut clock = Clock::default();
    // Fail on a bad --out or --previous before reading gigabytes.
    if let Some(p) = plan.previous.as_ref().filter(|p| !p.join("manifest.json").is_file()) {
        return Err(Error::input(p, "--previous is not a complete sweep output (no manifest.json)"));
    }
    let staging = Staging::new(&plan.out, plan.force)?;
    let estimate = memory::estimate(&plan.input)?;
    let available = memory::available();
    if plan.memory_check {
        estimate.check(available).map_err(Error::Config)?;
    }
    let mut start = |s: Stage| {
        clock.lap(Some(s));
        stage(s);
    };
    let read = ingest::read_cards(&plan.input, &plan.policy.zone, plan.batch_rows, &mut start)?;
    // The certificates the revocation lists name are known as they are read.
    let revoking = evaluate::revoking(&read.data, &plan.policy, plan.as_of);
    let classifier = evaluate::CertClassifier::new(&plan.policy, plan.as_of, &revoking);
    let mut data = ingest::read_certificates(read, &classifier, &mut start)?;
    start(Stage::Evaluate);
    let eval = evaluate::evaluate(&data, classifier.into_counts(), &plan.policy, plan.as_of);
    let revoked = evaluate::revoked_certificates(data.take_certificate_texts(), &eval, &revoking);
    drop(revoking);
    let data = data; // read-only from here on
    start(Stage::Aggregate);
    let counts = aggregate::rollup(&eval);
    start(Stage::Write);
    let mut written = output::write_outputs(&staging.dir, &data, &eval, &revoked, &counts)?;
    if plan.org_reports {
        start(Stage::OrgReports);
        written.extend(output::org_reports::write(&staging.dir, plan.as_of, &plan.policy)?);
    }
    let mut diff_summary = None;
    if let Some(previous) = &plan.previous {
        start(Stage::Diff);
        let meta = crate::diff::SweepMeta {
            as_of: plan.as_of,
            version: env!("CARGO_PKG_VERSION").to_string(),
            policy: plan.policy.to_json(),
        };
        let d = crate::diff::diff(previous, &staging.dir, Some(&meta))?;
        written.extend(crate::diff::write(&staging.dir, &d)?);
        diff_summary = Some(d.summary);
    }
    written.push(output::write_summary(&staging.dir, &data, &eval, &counts, &plan.policy, diff_summary.as_ref())?);
    clock.lap(None);
    let timings = clock.laps;
    let verdicts = aggregate::verdict_totals(&counts);
    let facts = output::RunFacts {
        as_of: plan.as_of,
        policy: &plan.policy,
        threads: plan.threads,
        verdicts,
        timings_ms: &timings,
        warnings: &data.warnings,
        memory: memory::manifest_entry(Some(&estimate), available),
    };
    output::write_manifest(&staging.dir, &output::manifest(&data, &written, &facts))?;
    staging.publish()?;
    let rows_of = |name: &str| written.iter().find(|w| w.name == name).map_or(0, |w| w.rows);
    Ok(Summary {
        as_of: plan.as_of,
        cards: data.cards.len(),
        verdicts,
        revocation_candidates: rows_of(&schema::REVOCATION_CANDIDATES.parquet_file()),
        revocation_certificates: rows_of(&schema::REVOCATION_CERTIFICATES.parquet_file()),
        quarantined: data.quarantine.len(),
        input_rows: data.files.iter().map(|f| f.rows).sum(),
        warnings: data.warnings,
        timings_ms: timings,
        threads: plan.threads,
        diff: diff_summary,
    })
}
