//! Subcommands: each file turns its arguments into a validated plan and calls the library.

mod diff;
mod generate;
mod progress;
mod query;
mod run;
mod trend;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit statuses, stated once.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_QUARANTINE: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "siths-sweep",
    version,
    about = "Nightly sweep of the SITHS card export against the issuer's upgrade rules"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Evaluate every card of an export and write the decisions and reports.
    Run(run::RunArgs),
    /// Write a synthetic national export (deterministic for a seed).
    Generate(generate::GenerateArgs),
    /// Compare two sweeps: new, persisting and resolved revocations; changed verdicts.
    Diff(diff::DiffArgs),
    /// Run SQL (Polars) over a sweep's output folder; each Parquet output is a table.
    Query(query::QueryArgs),
    /// Follow the campaign over the nights' sweeps: trend, forecast per organisation, trend.html.
    Trend(trend::TrendArgs),
}

/// A failure with its exit status.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure { code: EXIT_USAGE, message: message.into() }
    }
}

impl From<crate::error::Error> for Failure {
    fn from(e: crate::error::Error) -> Failure {
        Failure { code: EXIT_ERROR, message: e.to_string() }
    }
}

/// What the binary's allocator does on request (`src/main.rs`); the library itself
/// works with any allocator, and without these (tests) nothing is asked of it.
#[derive(Clone, Copy)]
pub struct AllocatorHooks {
    /// Returns the memory freed so far to the system ([`crate::memory::release_freed`]).
    pub release_freed: fn(),
    /// Called once before `query` runs its SQL: from then on, return freed memory at once.
    pub before_query: fn(),
}

/// Runs the command line.
pub fn main(allocator: AllocatorHooks) -> ExitCode {
    crate::memory::set_release_freed(allocator.release_freed);
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let result = match cli.command {
        Command::Run(a) => run::main(a),
        Command::Generate(a) => generate::main(a),
        Command::Diff(a) => diff::main(a),
        Command::Query(a) => {
            (allocator.before_query)();
            query::main(a)
        }
        Command::Trend(a) => trend::main(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("siths-sweep: error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Parses `--as-of`; the default is today in the policy's zone.
fn parse_as_of(text: Option<&str>, zone: &crate::time::Zone) -> Result<i32, Failure> {
    match text {
        None => Ok(zone.today()),
        Some(t) => crate::time::parse_date(t)
            .ok_or_else(|| Failure::usage(format!("--as-of {t:?} is not a date\nhint: write it as YYYY-MM-DD"))),
    }
}
