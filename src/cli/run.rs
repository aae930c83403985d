//! `siths-sweep run`: arguments → plan → sweep → summary and exit status.

use std::path::PathBuf;

use clap::Args;

use super::{EXIT_ERROR, EXIT_OK, EXIT_QUARANTINE, Failure, parse_as_of, progress::Stages};
use crate::rules::{Policy, Verdict};
use crate::stage::Stage;
use crate::sweep::{self, Plan, Summary};
use crate::time::format_date;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Folder with organisations, id_admins, cards and certificates (.parquet, .csv or folders of parts).
    #[arg(long)]
    input: PathBuf,
    /// Output folder; written atomically.
    #[arg(long)]
    out: PathBuf,
    /// Reference date YYYY-MM-DD (a local date in the policy's time zone); default today.
    #[arg(long)]
    as_of: Option<String>,
    /// TOML file overriding the policy defaults.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Worker threads; default all cores. Outputs do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Replace a non-empty --out.
    #[arg(long)]
    force: bool,
    /// Exit with status 3 if any input row was quarantined (results are still written).
    #[arg(long)]
    strict: bool,
    /// No progress display.
    #[arg(long)]
    quiet: bool,
    /// Last night's output folder: also write revocation_changes and verdict_changes.
    #[arg(long)]
    previous: Option<PathBuf>,
    /// Also write org_reports/<org>.html: one page per organisation, in Swedish, for the customer.
    #[arg(long)]
    org_reports: bool,
    /// Skip the check that the export fits the memory available (see the README).
    #[arg(long)]
    no_memory_check: bool,
    /// Rows per input batch (tuning and tests; results do not depend on it).
    #[arg(long, hide = true, default_value_t = crate::ingest::BATCH_ROWS)]
    batch_rows: usize,
}

impl RunArgs {
    fn plan(self) -> Result<Plan, Failure> {
        let policy = match &self.policy {
            None => Policy::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| Failure { code: EXIT_ERROR, message: format!("{}: {e}", p.display()) })?;
                Policy::from_toml(&text)
                    .map_err(|e| Failure { code: EXIT_ERROR, message: format!("{}: bad policy: {e}", p.display()) })?
            }
        };
        let as_of = parse_as_of(self.as_of.as_deref(), &policy.zone)?;
        let threads = match self.threads {
            Some(0) => return Err(Failure::usage("--threads must be at least 1")),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        Ok(Plan {
            input: self.input,
            out: self.out,
            as_of,
            policy,
            threads,
            force: self.force,
            batch_rows: self.batch_rows,
            previous: self.previous,
            org_reports: self.org_reports,
            memory_check: !self.no_memory_check,
        })
    }
}

pub fn main(args: RunArgs) -> Result<u8, Failure> {
    let (quiet, strict) = (args.quiet, args.strict);
    let plan = args.plan()?;
    let mut stages = Stages::new(quiet);
    let started = std::time::Instant::now();
    let summary = {
        let mut on_stage = |s: Stage| {
            // What the last stage let go, returned before the next allocates afresh.
            crate::memory::release_freed();
            stages.stage(s.facts())
        };
        sweep::run(&plan, &mut on_stage)?
    };
    stages.finish();
    for w in &summary.warnings {
        eprintln!("siths-sweep: warning: {w}");
    }
    print_summary(&plan, &summary, started.elapsed().as_secs_f64());
    Ok(if strict && summary.quarantined > 0 { EXIT_QUARANTINE } else { EXIT_OK })
}

fn print_summary(plan: &Plan, s: &Summary, seconds: f64) {
    println!(
        "siths-sweep: {} cards swept as of {} in {seconds:.2} s ({} threads)",
        s.cards,
        format_date(s.as_of),
        s.threads
    );
    for v in Verdict::ALL {
        println!("  {:<13} {:>12}", v.code(), s.verdict(v));
    }
    println!(
        "  revocation candidates: {} cards, {} certificates for the CA",
        s.revocation_candidates, s.revocation_certificates
    );
    println!("  quarantined input rows: {} of {} (see quarantine.parquet)", s.quarantined, s.input_rows);
    println!("  outputs: {}", plan.out.display());
    if let Some(d) = &s.diff {
        print!("{}", d.render());
    }
}
