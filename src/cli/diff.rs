//! `siths-sweep diff`: what changed between two sweeps, for the morning's work.

use std::path::PathBuf;

use clap::Args;

use super::{EXIT_OK, Failure};
use crate::diff;
use crate::output::publish::Staging;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The earlier sweep's output folder.
    #[arg(long)]
    previous: PathBuf,
    /// The later sweep's output folder.
    #[arg(long)]
    current: PathBuf,
    /// Write revocation_changes.parquet/.csv and verdict_changes.parquet here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace a non-empty --out.
    #[arg(long)]
    force: bool,
}

pub fn main(a: DiffArgs) -> Result<u8, Failure> {
    let d = diff::diff(&a.previous, &a.current, None)?;
    if let Some(out) = &a.out {
        let staging = Staging::new(out, a.force)?;
        let written = diff::write(&staging.dir, &d)?;
        let outputs: Vec<serde_json::Value> = written.iter().map(crate::output::Written::manifest_entry).collect();
        let manifest = serde_json::json!({
            "tool": "siths-sweep diff",
            "version": env!("CARGO_PKG_VERSION"),
            "previous": a.previous.display().to_string(),
            "current": a.current.display().to_string(),
            "outputs": outputs,
        });
        crate::output::write_manifest(&staging.dir, &manifest)?;
        staging.publish()?;
    }
    print!("{}", d.summary.render());
    Ok(EXIT_OK)
}
