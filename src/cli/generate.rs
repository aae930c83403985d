//! `siths-sweep generate`: a synthetic national export, published atomically.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{EXIT_OK, Failure};
use crate::generate::{GenSpec, OutFormat, generate, generate_nights};
use crate::output::publish::Staging;

#[derive(Copy, Clone, Debug, ValueEnum)]
enum Format {
    Parquet,
    Csv,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Folder to write organisations, id_admins, cards and certificates into.
    #[arg(long)]
    out: PathBuf,
    /// Number of cards (about 250 per organisation, 4.5 certificates per card).
    #[arg(long, default_value_t = 100_000)]
    cards: u64,
    /// Random seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The export's date (YYYY-MM-DD); generated dates are spread around it.
    #[arg(long, default_value = "2021-11-15")]
    as_of: String,
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,
    /// Replace a non-empty --out.
    #[arg(long)]
    force: bool,
    /// Write a campaign instead: this many nightly exports, OUT/YYYY-MM-DD/, of one
    /// evolving population, the last on --as-of.
    #[arg(long)]
    nights: Option<u32>,
    /// Worker threads; default all cores. The output does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
}

pub fn main(a: GenerateArgs) -> Result<u8, Failure> {
    let as_of = crate::time::parse_date(&a.as_of)
        .ok_or_else(|| Failure::usage(format!("--as-of {:?} is not a date\nhint: write it as YYYY-MM-DD", a.as_of)))?;
    if a.cards == 0 {
        return Err(Failure::usage("--cards must be at least 1"));
    }
    let format = match a.format {
        Format::Parquet => OutFormat::Parquet,
        Format::Csv => OutFormat::Csv,
    };
    if a.nights == Some(0) {
        return Err(Failure::usage("--nights must be at least 1"));
    }
    let spec = GenSpec { cards: a.cards, seed: a.seed, as_of, format, campaign: None };
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Failure::usage(format!("cannot start threads: {e}")))?;
    let started = std::time::Instant::now();
    let staging = Staging::new(&a.out, a.force)?;
    if let Some(n) = a.nights {
        let nights = pool.install(|| generate_nights(&staging.dir, &spec, n))?;
        staging.publish()?;
        let (first, last) = (nights[0].0, nights[nights.len() - 1].0);
        println!(
            "siths-sweep: generated {n} nightly exports ({} to {}, {} cards on the last night) in {:.2} s into {}",
            crate::time::format_date(first),
            crate::time::format_date(last),
            nights[nights.len() - 1].1.cards,
            started.elapsed().as_secs_f64(),
            a.out.display()
        );
        return Ok(EXIT_OK);
    }
    let (_, counts) = pool.install(|| generate(&staging.dir, &spec))?;
    staging.publish()?;
    println!(
        "siths-sweep: generated {} organisations, {} id_admins, {} cards, {} certificates in {:.2} s into {}",
        counts.organisations,
        counts.id_admins,
        counts.cards,
        counts.certificates,
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(EXIT_OK)
}
