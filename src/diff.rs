//! The nightly diff: what changed between two sweeps' outputs, for the operators who act
//! on it every morning. Reads the previous and current folders' card decisions,
//! revocation candidates and manifests; writes `revocation_changes` and
//! `verdict_changes`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Date32Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Date32Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;

use crate::error::{Error, Result};
use crate::output::files::{Written, read_output, write_table};
use crate::rules::Verdict;
use crate::schema;
use crate::time::{format_date, parse_date};

/// One sweep's output as the diff needs it.
struct Sweep {
    as_of: Option<i32>,
    version: String,
    policy: serde_json::Value,
    /// card_id → (org_id, verdict).
    verdicts: HashMap<String, (String, String)>,
    /// card_id → (org_id, rule).
    revocations: HashMap<String, (String, String)>,
    /// card_id → first night seen, from that sweep's own revocation_changes, if any.
    first_seen: HashMap<String, i32>,
}

/// Reads named string (or date) columns of a Parquet output into rows.
fn read_columns(path: &Path, names: &[&str]) -> Result<Vec<Vec<Option<String>>>> {
    let (_, batches) = read_output(path)?;
    let mut rows = Vec::new();
    for batch in batches {
        let batch = batch?;
        let cols: Vec<&ArrayRef> = names
            .iter()
            .map(|n| batch.column_by_name(n).ok_or_else(|| Error::input(path, format!("has no column {n:?}"))))
            .collect::<Result<_>>()?;
        for r in 0..batch.num_rows() {
            rows.push(
                cols.iter()
                    .map(|c| {
                        (!c.is_null(r)).then(|| match c.data_type() {
                            DataType::Date32 => format_date(c.as_primitive::<Date32Type>().value(r)),
                            _ => c.as_string::<i32>().value(r).to_string(),
                        })
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// What a sweep's manifest says of it (given directly for a sweep still being written).
#[derive(Clone, Debug)]
pub struct SweepMeta {
    pub as_of: i32,
    pub version: String,
    pub policy: serde_json::Value,
}

fn load(dir: &Path, meta: Option<&SweepMeta>) -> Result<Sweep> {
    let manifest = match meta {
        Some(m) => serde_json::json!({"as_of": format_date(m.as_of), "version": m.version, "policy": m.policy}),
        None => {
            let manifest_path = dir.join("manifest.json");
            let text = std::fs::read_to_string(&manifest_path)
                .map_err(|_| Error::input(dir, "not a complete sweep output (no manifest.json)"))?;
            serde_json::from_str(&text).map_err(|e| Error::input(&manifest_path, format!("not JSON: {e}")))?
        }
    };
    let pair = |r: &Vec<Option<String>>| {
        (r[0].clone().unwrap_or_default(), (r[1].clone().unwrap_or_default(), r[2].clone().unwrap_or_default()))
    };
    let verdicts = read_columns(&dir.join(schema::CARD_DECISIONS.parquet_file()), &["card_id", "org_id", "verdict"])?
        .iter()
        .map(pair)
        .collect();
    let revocations =
        read_columns(&dir.join(schema::REVOCATION_CANDIDATES.parquet_file()), &["card_id", "org_id", "rule"])?
            .iter()
            .map(pair)
            .collect();
    let changes = dir.join(schema::REVOCATION_CHANGES.parquet_file());
    let first_seen = if changes.exists() {
        read_columns(&changes, &["card_id", "first_seen", "change"])?
            .into_iter()
            .filter(|r| r[2].as_deref() != Some("resolved"))
            .filter_map(|r| Some((r[0].clone()?, parse_date(r[1].as_deref()?)?)))
            .collect()
    } else {
        HashMap::new()
    };
    Ok(Sweep {
        as_of: manifest["as_of"].as_str().and_then(parse_date),
        version: manifest["version"].as_str().unwrap_or("?").to_string(),
        policy: manifest["policy"].clone(),
        verdicts,
        revocations,
        first_seen,
    })
}

/// What the diff found, for the summary.
#[derive(Clone, Debug, Default)]
pub struct DiffSummary {
    pub new: u64,
    pub resolved: u64,
    pub persisting: u64,
    pub verdict_changes: u64,
    /// (before, after) → cards, "-" for a card present on one side only.
    pub transitions: BTreeMap<(String, String), u64>,
    /// Why the two sweeps are not strictly comparable, if they are not.
    pub caveats: Vec<String>,
    pub previous_as_of: Option<i32>,
    pub current_as_of: Option<i32>,
    /// Cards upgraded (upgraded + violation) in the previous and the current sweep.
    pub upgraded_total: (u64, u64),
}

/// The diff's two tables, sorted by (org_id, card_id).
pub struct Diff {
    pub revocation_changes: RecordBatch,
    pub verdict_changes: RecordBatch,
    pub summary: DiffSummary,
}

/// Compares two complete sweep outputs, or a previous one with a sweep being written
/// (`current_meta` standing in for its manifest).
pub fn diff(previous: &Path, current: &Path, current_meta: Option<&SweepMeta>) -> Result<Diff> {
    let (p, c) = (load(previous, None)?, load(current, current_meta)?);
    let upgraded = |s: &Sweep| {
        let upgraded = |code: &str| Verdict::from_code(code).is_some_and(crate::rules::org::counts_as_upgraded);
        s.verdicts.values().filter(|(_, v)| upgraded(v)).count() as u64
    };
    let mut summary = DiffSummary {
        previous_as_of: p.as_of,
        current_as_of: c.as_of,
        upgraded_total: (upgraded(&p), upgraded(&c)),
        ..Default::default()
    };
    if p.version != c.version {
        summary.caveats.push(format!("made by different versions ({} and {})", p.version, c.version));
    }
    if p.policy != c.policy {
        summary.caveats.push("made under different policies (see the manifests)".into());
    }
    let revocation_changes = revocation_changes(&p, &c, &mut summary);
    let verdict_changes = verdict_changes(&p, &c, &mut summary);
    Ok(Diff { revocation_changes, verdict_changes, summary })
}

/// Revocations: new, persisting (current's rule), resolved (previous's rule), with the
/// night each was first seen; counted into `summary`.
fn revocation_changes(p: &Sweep, c: &Sweep, summary: &mut DiffSummary) -> RecordBatch {
    let mut rev: Vec<(&str, &str, &str, &str, Option<i32>)> = Vec::new();
    for (card, (org, rule)) in &c.revocations {
        if p.revocations.contains_key(card) {
            // Seen last night at the latest; earlier if last night's diff knew.
            let first = p.first_seen.get(card).copied().or(p.as_of);
            rev.push((org, card, "persisting", rule, first));
            summary.persisting += 1;
        } else {
            rev.push((org, card, "new", rule, c.as_of));
            summary.new += 1;
        }
    }
    for (card, (org, rule)) in &p.revocations {
        if !c.revocations.contains_key(card) {
            rev.push((org, card, "resolved", rule, p.first_seen.get(card).copied().or(p.as_of)));
            summary.resolved += 1;
        }
    }
    rev.sort_unstable_by(|a, b| (a.0.as_bytes(), a.1.as_bytes()).cmp(&(b.0.as_bytes(), b.1.as_bytes())));
    let mut cols: Vec<StringBuilder> = (0..4).map(|_| StringBuilder::new()).collect();
    let mut first = Date32Builder::new();
    for (org, card, change, rule, seen) in &rev {
        cols[0].append_value(card);
        cols[1].append_value(org);
        cols[2].append_value(change);
        cols[3].append_value(rule);
        first.append_option(*seen);
    }
    let mut arrays: Vec<ArrayRef> = cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    arrays.push(Arc::new(first.finish()));
    RecordBatch::try_new(schema::revocation_changes(), arrays).expect("schema")
}

/// Every card whose verdict differs, or that is on one side only; counted into `summary`.
fn verdict_changes(p: &Sweep, c: &Sweep, summary: &mut DiffSummary) -> RecordBatch {
    let mut ver: Vec<(&str, &str, Option<&str>, Option<&str>)> = Vec::new();
    for (card, (org, after)) in &c.verdicts {
        match p.verdicts.get(card) {
            Some((_, before)) if before == after => {}
            Some((_, before)) => ver.push((org, card, Some(before), Some(after))),
            None => ver.push((org, card, None, Some(after))),
        }
    }
    for (card, (org, before)) in &p.verdicts {
        if !c.verdicts.contains_key(card) {
            ver.push((org, card, Some(before), None));
        }
    }
    ver.sort_unstable_by(|a, b| (a.0.as_bytes(), a.1.as_bytes()).cmp(&(b.0.as_bytes(), b.1.as_bytes())));
    let mut cols: Vec<StringBuilder> = (0..4).map(|_| StringBuilder::new()).collect();
    for (org, card, before, after) in &ver {
        cols[0].append_value(card);
        cols[1].append_value(org);
        cols[2].append_option(*before);
        cols[3].append_option(*after);
        let key = (before.unwrap_or("-").to_string(), after.unwrap_or("-").to_string());
        *summary.transitions.entry(key).or_default() += 1;
    }
    summary.verdict_changes = ver.len() as u64;
    let arrays: Vec<ArrayRef> = cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    RecordBatch::try_new(schema::verdict_changes(), arrays).expect("schema")
}

/// Writes the diff's files into `dir`.
pub fn write(dir: &Path, d: &Diff) -> Result<Vec<Written>> {
    let mut written = write_table(dir, &schema::REVOCATION_CHANGES, std::slice::from_ref(&d.revocation_changes))?;
    written.extend(write_table(dir, &schema::VERDICT_CHANGES, std::slice::from_ref(&d.verdict_changes))?);
    Ok(written)
}

impl DiffSummary {
    /// A few lines for the terminal.
    pub fn render(&self) -> String {
        let date = |d: Option<i32>| d.map(format_date).unwrap_or_else(|| "?".into());
        let mut s = format!(
            "changes from {} to {}:\n  revocation candidates: {} new, {} persisting, {} resolved\n  cards whose verdict changed: {}\n",
            date(self.previous_as_of),
            date(self.current_as_of),
            self.new,
            self.persisting,
            self.resolved,
            self.verdict_changes
        );
        let mut top: Vec<_> = self.transitions.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        for ((before, after), n) in top.into_iter().take(8) {
            s.push_str(&format!("    {before:>12} -> {after:<12} {n:>10}\n"));
        }
        for c in &self.caveats {
            s.push_str(&format!("  note: the two sweeps were {c}\n"));
        }
        s
    }
}
