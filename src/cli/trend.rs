//! `siths-sweep trend`: the campaign night by night, and the forecast per organisation.

use std::path::PathBuf;

use clap::Args;

use super::{EXIT_OK, Failure};
use crate::output::publish::Staging;
use crate::trend;

#[derive(Args, Debug)]
pub struct TrendArgs {
    /// The folder holding one sweep output folder per night (e.g. /reports).
    #[arg(long)]
    history: PathBuf,
    /// Write national_trend, org_trend, org_forecast, trend.html and manifest.json here.
    #[arg(long)]
    out: PathBuf,
    /// The pace is measured over the nights of the last this many days.
    #[arg(long, default_value_t = 7)]
    window_days: i32,
    /// Replace a non-empty --out.
    #[arg(long)]
    force: bool,
}

pub fn main(a: TrendArgs) -> Result<u8, Failure> {
    if a.window_days < 1 {
        return Err(Failure::usage("--window-days must be at least 1"));
    }
    let started = std::time::Instant::now();
    let mut warnings = Vec::new();
    let nights = trend::read_history(&a.history, &mut warnings);
    for w in &warnings {
        eprintln!("siths-sweep: warning: {w}");
    }
    let nights = nights?;
    let staging = Staging::new(&a.out, a.force)?;
    trend::write(&staging.dir, &a.history, &nights, a.window_days)?;
    staging.publish()?;
    let (first, last) = (nights[0].as_of, nights[nights.len() - 1].as_of);
    println!(
        "siths-sweep: trend of {} nights ({} to {}) in {:.2} s into {}",
        nights.len(),
        crate::time::format_date(first),
        crate::time::format_date(last),
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(EXIT_OK)
}
