//! A canonical text view of a Parquet output: its schema, then one tab-separated line
//! per row. Golden tests compare this instead of raw bytes, so a writer upgrade that
//! re-encodes the same data does not churn every fixture.

use std::fmt::Write as _;
use std::path::Path;

use arrow_array::Array;

use super::files::{cell_text, read_output};
use crate::error::Result;

pub fn parquet_to_text(path: &Path) -> Result<String> {
    let (schema, batches) = read_output(path)?;
    let mut out = String::new();
    for f in schema.fields() {
        writeln!(out, "# {}: {}", f.name(), f.data_type()).expect("write to string");
    }
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    writeln!(out, "{}", names.join("\t")).expect("write to string");
    for batch in batches {
        let batch = batch?;
        for r in 0..batch.num_rows() {
            let cells: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| if c.is_null(r) { "\\N".to_string() } else { escape(&cell_text(c.as_ref(), r)) })
                .collect();
            writeln!(out, "{}", cells.join("\t")).expect("write to string");
        }
    }
    Ok(out)
}

/// Escapes what would break the line format, nothing else (names stay readable).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r")
}

/// Parses [`parquet_to_text`]'s rows back into maps of column → value (`None` = null).
pub fn rows(text: &str) -> Vec<std::collections::BTreeMap<String, Option<String>>> {
    let mut lines = text.lines().filter(|l| !l.starts_with("# "));
    let Some(header) = lines.next() else { return Vec::new() };
    let names: Vec<&str> = header.split('\t').collect();
    lines
        .map(|l| {
            names.iter().zip(l.split('\t')).map(|(n, v)| (n.to_string(), (v != "\\N").then(|| v.to_string()))).collect()
        })
        .collect()
}
