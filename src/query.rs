//! `siths-sweep query`: SQL over a sweep's output folder, with Polars.
//!
//! Every `*.parquet` file directly in the folder is a table named after its stem
//! (`card_decisions`, `org_compliance`, ...), scanned lazily so that a query reads only
//! the columns and row groups it needs. Results are rendered here rather than with
//! Polars' own formatters: an aligned table that is never truncated, CSV with the same
//! cell text and formula neutralisation as the sweep's CSV outputs, and JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::time::{format_date, format_instant};

/// A query's failure, as one line for the terminal.
#[derive(Debug)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tables of an output folder: name and Parquet path, sorted by name.
pub fn tables(dir: &Path) -> Result<Vec<(String, PathBuf)>, QueryError> {
    let entries = std::fs::read_dir(dir).map_err(|e| QueryError(format!("{}: {e}", dir.display())))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| QueryError(format!("{}: {e}", dir.display())))?.path();
        if path.extension().is_some_and(|x| x == "parquet")
            && path.is_file()
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            found.push((stem.to_string(), path));
        }
    }
    if found.is_empty() {
        return Err(QueryError(format!("{}: no .parquet outputs here; is it a sweep's --out folder?", dir.display())));
    }
    found.sort();
    Ok(found)
}

/// Runs `sql` over the tables of `dir` and returns the whole result.
pub fn run(dir: &Path, sql: &str) -> Result<DataFrame, QueryError> {
    let tables = tables(dir)?;
    let mut ctx = SQLContext::new();
    let mut described = Vec::new();
    for (name, path) in &tables {
        let pl_path = PlRefPath::try_from_path(path).map_err(|e| QueryError(format!("{}: {e}", path.display())))?;
        let mut lf = LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default())
            .map_err(|e| QueryError(format!("{}: {}", path.display(), first_line(&e.to_string()))))?;
        let schema = lf
            .collect_schema()
            .map_err(|e| QueryError(format!("{}: {}", path.display(), first_line(&e.to_string()))))?;
        let columns: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
        described.push(format!("{name}({})", columns.join(", ")));
        ctx.register(name, lf);
    }
    let explain = |e: String| QueryError(format!("{}; tables: {}", first_line(&e), described.join("; ")));
    // Polars answers bad SQL with errors, but a panic deep in a library must still end
    // as a message, not a backtrace: the operator wants to fix the query.
    let plan = quietly(|| ctx.execute(sql)).map_err(explain)?.map_err(|e| explain(e.to_string()))?;
    // The streaming engine reads the scans in morsels, so a filter or a grouping over
    // 10M cards holds a fraction of them (scripts/query_bench.py measures it). Polars
    // says some plans cannot stream yet and may answer them with a panic: those run
    // again on the in-memory engine.
    let result = match quietly(|| plan.clone().collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single())) {
        Ok(streamed) => streamed,
        Err(_) => quietly(|| plan.collect()).map_err(explain)?,
    };
    result.map_err(|e| explain(e.to_string()))
}

/// Runs `f`, turning a panic into its message, with nothing printed for it.
fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    outcome.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the query engine failed".to_string())
    })
}

/// The first non-empty line of a (possibly multi-line) library message.
fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("query failed").to_string()
}

/// How a result is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Parquet,
}

/// One cell as text, the way the sweep's CSV outputs write it; `None` for null.
fn cell(v: &AnyValue) -> Option<String> {
    Some(match v {
        AnyValue::Null => return None,
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        AnyValue::Date(d) => format_date(*d),
        AnyValue::Datetime(t, unit, _) => format_instant(micros(*t, *unit)),
        AnyValue::DatetimeOwned(t, unit, _) => format_instant(micros(*t, *unit)),
        AnyValue::List(s) => {
            let items: Vec<String> = s.iter().map(|v| cell(&v).unwrap_or_default()).collect();
            items.join(";")
        }
        other => other.to_string(),
    })
}

fn micros(t: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Nanoseconds => t.div_euclid(1000),
        TimeUnit::Microseconds => t,
        TimeUnit::Milliseconds => t * 1000,
    }
}

/// A cell as a JSON value: numbers and booleans as themselves, lists as arrays, the
/// rest (text, dates, instants) as strings.
fn json(v: &AnyValue) -> String {
    match v {
        AnyValue::Null => "null".to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        AnyValue::Float32(x) if x.is_finite() => x.to_string(),
        AnyValue::Float64(x) if x.is_finite() => x.to_string(),
        AnyValue::Float32(_) | AnyValue::Float64(_) => "null".to_string(),
        AnyValue::List(s) => {
            let items: Vec<String> = s.iter().map(|v| json(&v)).collect();
            format!("[{}]", items.join(","))
        }
        v if v.dtype().is_primitive_numeric() => v.to_string(),
        v => serde_json::to_string(&cell(v).unwrap_or_default()).expect("a string serialises"),
    }
}

fn get(c: &Column, r: usize) -> Result<AnyValue<'_>, QueryError> {
    c.get(r).map_err(|e| QueryError(first_line(&e.to_string())))
}

/// Renders `df` as text in `format` (not Parquet).
pub fn render(df: &DataFrame, format: Format) -> Result<String, QueryError> {
    let columns = df.columns();
    let names: Vec<String> = columns.iter().map(|c| c.name().to_string()).collect();
    let mut out = String::new();
    match format {
        Format::Table => {
            let mut cells: Vec<Vec<String>> = Vec::with_capacity(columns.len());
            let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
            for (i, c) in columns.iter().enumerate() {
                let mut col = Vec::with_capacity(df.height());
                for r in 0..df.height() {
                    let text = cell(&get(c, r)?).unwrap_or_else(|| "NULL".to_string());
                    widths[i] = widths[i].max(text.chars().count());
                    col.push(text);
                }
                cells.push(col);
            }
            let right: Vec<bool> = columns.iter().map(|c| c.dtype().is_primitive_numeric()).collect();
            let line = |out: &mut String, texts: &mut dyn Iterator<Item = (usize, &str)>| {
                let mut l = String::new();
                for (i, t) in texts {
                    if i > 0 {
                        l.push_str("  ");
                    }
                    let pad = widths[i] - t.chars().count();
                    if right[i] {
                        l.extend(std::iter::repeat_n(' ', pad));
                        l.push_str(t);
                    } else {
                        l.push_str(t);
                        l.extend(std::iter::repeat_n(' ', pad));
                    }
                }
                out.push_str(l.trim_end());
                out.push('\n');
            };
            line(&mut out, &mut names.iter().map(String::as_str).enumerate());
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            line(&mut out, &mut rule.iter().map(String::as_str).enumerate());
            for r in 0..df.height() {
                line(&mut out, &mut cells.iter().map(|col| col[r].as_str()).enumerate());
            }
            let _ = writeln!(out, "({} row{})", df.height(), if df.height() == 1 { "" } else { "s" });
        }
        Format::Csv => {
            let header: Vec<String> = names.iter().map(|n| crate::output::files::csv_field(n, false)).collect();
            out.push_str(&header.join(","));
            out.push('\n');
            for r in 0..df.height() {
                for (i, c) in columns.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let text = cell(&get(c, r)?).unwrap_or_default();
                    let textual = matches!(c.dtype(), DataType::String | DataType::List(_));
                    out.push_str(&crate::output::files::csv_field(&text, textual));
                }
                out.push('\n');
            }
        }
        Format::Json => {
            let keys: Vec<String> =
                names.iter().map(|n| serde_json::to_string(n).expect("a string serialises")).collect();
            out.push('[');
            for r in 0..df.height() {
                out.push_str(if r == 0 { "\n{" } else { ",\n{" });
                for (i, c) in columns.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}:{}", keys[i], json(&get(c, r)?));
                }
                out.push('}');
            }
            out.push_str("\n]\n");
        }
        Format::Parquet => unreachable!("Parquet is written with write_parquet"),
    }
    Ok(out)
}

/// Writes `df` as Parquet (zstd, like the sweep's outputs) to `path`.
pub fn write_parquet(df: &mut DataFrame, file: std::fs::File) -> Result<(), QueryError> {
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(df)
        .map(|_| ())
        .map_err(|e| QueryError(first_line(&e.to_string())))
}
