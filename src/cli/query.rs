//! `siths-sweep query`: SQL over a sweep's output folder (Polars).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{EXIT_ERROR, Failure};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Table,
    Csv,
    Json,
    Parquet,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// A sweep's output folder; each .parquet file in it is a table named after its stem.
    #[arg(long)]
    reports: PathBuf,
    /// The query, e.g. "SELECT verdict, COUNT(*) AS cards FROM card_decisions GROUP BY verdict".
    sql: String,
    /// How to print the result.
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,
    /// Write the result to this file instead of stdout (required for parquet).
    #[arg(long)]
    output: Option<PathBuf>,
}

#[cfg(feature = "query")]
pub fn main(a: QueryArgs) -> Result<u8, Failure> {
    use super::EXIT_OK;
    use crate::query::{self, Format};
    use std::io::Write as _;
    let format = match a.format {
        FormatArg::Table => Format::Table,
        FormatArg::Csv => Format::Csv,
        FormatArg::Json => Format::Json,
        FormatArg::Parquet => Format::Parquet,
    };
    if format == Format::Parquet && a.output.is_none() {
        return Err(Failure::usage("--format parquet needs --output FILE"));
    }
    let fail = |m: String| Failure { code: EXIT_ERROR, message: m };
    let mut df = query::run(&a.reports, &a.sql).map_err(|e| fail(e.0))?;
    match &a.output {
        None => {
            let text = query::render(&df, format).map_err(|e| fail(e.0))?;
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is the reader's choice, not an error.
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(fail(format!("stdout: {e}"))),
                _ => {}
            }
        }
        Some(path) => {
            // Written next to the target and renamed into place: a failed query leaves
            // no partial file.
            let name = path.file_name().ok_or_else(|| Failure::usage("--output must name a file"))?;
            let tmp = path.with_file_name(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
            let io = |e: std::io::Error| fail(format!("{}: {e}", path.display()));
            let result = (|| {
                let mut file = std::fs::File::create(&tmp).map_err(io)?;
                if format == Format::Parquet {
                    query::write_parquet(&mut df, file.try_clone().map_err(io)?).map_err(|e| fail(e.0))?;
                } else {
                    file.write_all(query::render(&df, format).map_err(|e| fail(e.0))?.as_bytes()).map_err(io)?;
                }
                file.sync_all().map_err(io)?;
                std::fs::rename(&tmp, path).map_err(io)
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
            eprintln!("siths-sweep: {} row(s) written to {}", df.height(), path.display());
        }
    }
    Ok(EXIT_OK)
}

#[cfg(not(feature = "query"))]
pub fn main(_: QueryArgs) -> Result<u8, Failure> {
    Err(Failure {
        code: EXIT_ERROR,
        message: "this build has no query engine\nhint: rebuild with the default features (cargo build --release)"
            .to_string(),
    })
}
