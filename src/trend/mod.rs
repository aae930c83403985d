//! `siths-sweep trend`: the campaign over many nights (SPEC "Following the campaign").
//! Reads, of each night a sweep published under ROOT, only its manifest and
//! `org_compliance.parquet` (a few thousand rows, never the card decisions), and writes
//! the country's and each organisation's counts night by night, the forecast per
//! organisation, and `trend.html`.

pub mod page;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;

use crate::error::{Error, Result};
use crate::ingest::file_sha256;
use crate::output::files::{Written, read_output, write_table};
use crate::rules::forecast::{Forecast, Night as Point, forecast};
use crate::rules::{Compliance, Verdict, org};
use crate::schema::{self, OutputTable};
use crate::time::{format_date, parse_date};

/// One organisation on one night, as that night's `org_compliance` gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct OrgNight {
    pub org_name: Option<String>,
    pub cards_total: i64,
    pub verdicts: [i64; Verdict::COUNT],
    pub upgrade_progress: Option<f64>,
    pub compliance: Option<String>,
    pub cleared: Option<bool>,
    pub admins_listed: Option<i32>,
    pub admins_qualified: Option<i32>,
}

impl OrgNight {
    pub fn upgraded_total(&self) -> i64 {
        org::upgraded_total(&self.verdicts)
    }

    pub fn remaining(&self) -> i64 {
        org::remaining(&self.verdicts)
    }
}

/// One night's sweep.
#[derive(Clone, Debug)]
pub struct NightSweep {
    pub as_of: i32,
    pub dir: PathBuf,
    pub manifest_sha256: String,
    pub policy: serde_json::Value,
    /// By org_id.
    pub orgs: BTreeMap<String, OrgNight>,
    /// Every organisation's counts summed.
    pub country: OrgNight,
}

/// The nights under `root`, oldest first: its immediate subfolders holding a
/// `manifest.json` that a sweep (`run`) wrote. Hidden folders are passed over in
/// silence, other folders with a warning. Errors as SPEC lists them.
pub fn read_history(root: &Path, warnings: &mut Vec<String>) -> Result<Vec<NightSweep>> {
    let entries = std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.path().is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    let mut nights: Vec<NightSweep> = Vec::new();
    for dir in dirs {
        let Some(night) = read_night(&dir, warnings)? else { continue };
        if let Some(same) = nights.iter().find(|n| n.as_of == night.as_of) {
            return Err(Error::input(
                &dir,
                format!("as_of {} is also the night of {}", format_date(night.as_of), same.dir.display()),
            ));
        }
        if let Some(first) = nights.first() {
            let differ = policy_differences(&first.policy, &night.policy);
            if !differ.is_empty() {
                return Err(Error::input(
                    &dir,
                    format!("swept under another policy than {}: {} differ", first.dir.display(), differ.join(", ")),
                ));
            }
        }
        nights.push(night);
    }
    if nights.is_empty() {
        return Err(Error::input(root, "holds no night: no subfolder with a sweep's manifest.json"));
    }
    nights.sort_by_key(|n| n.as_of);
    Ok(nights)
}

/// The policy keys whose values differ between two manifests' policies.
fn policy_differences(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (a, b) = (a.as_object().unwrap_or(&empty), b.as_object().unwrap_or(&empty));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned().collect()
}

/// One night folder, or `None` (with a warning) if it is not a sweep's output.
fn read_night(dir: &Path, warnings: &mut Vec<String>) -> Result<Option<NightSweep>> {
    let path = dir.join("manifest.json");
    if !path.is_file() {
        warnings.push(format!("{}: no manifest.json, not a night; skipped", dir.display()));
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::input(&path, format!("not JSON: {e}")))?;
    if manifest.get("command").and_then(|c| c.as_str()) == Some("trend") {
        warnings.push(format!("{}: the output of trend, not a night; skipped", dir.display()));
        return Ok(None);
    }
    // A run's manifest has an as_of; diff's and trend's outputs are not nights.
    let Some(as_of) = manifest["as_of"].as_str().and_then(parse_date) else {
        warnings.push(format!("{}: its manifest.json is not a sweep's (no as_of); skipped", dir.display()));
        return Ok(None);
    };
    let file = schema::ORG_COMPLIANCE.parquet_file();
    let listed = manifest["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["name"].as_str() == Some(file.as_str()))
        .and_then(|o| o["sha256"].as_str().map(str::to_string))
        .ok_or_else(|| Error::input(dir, format!("{file} is not in its manifest")))?;
    let org_path = dir.join(&file);
    if !org_path.is_file() {
        return Err(Error::input(dir, format!("{file} is missing")));
    }
    let actual = file_sha256(&org_path)?;
    if actual != listed {
        return Err(Error::input(
            &org_path,
            format!("does not match its manifest (SHA-256 {actual}, manifest.json says {listed})"),
        ));
    }
    let orgs = read_org_compliance(&org_path)?;
    Ok(Some(NightSweep {
        as_of,
        dir: dir.to_path_buf(),
        manifest_sha256: crate::ingest::provenance::bytes_sha256(&bytes),
        policy: manifest["policy"].clone(),
        country: country(&orgs),
        orgs,
    }))
}

/// A night's `org_compliance.parquet`, by org_id.
fn read_org_compliance(path: &Path) -> Result<BTreeMap<String, OrgNight>> {
    let (_, batches) = read_output(path)?;
    let mut orgs = BTreeMap::new();
    for batch in batches {
        let b = batch?;
        let column = |name: &str, kind: &DataType| -> Result<&ArrayRef> {
            b.column_by_name(name)
                .filter(|c| c.data_type() == kind)
                .ok_or_else(|| Error::input(path, format!("has no column {name:?} of type {kind}")))
        };
        let ids = column("org_id", &DataType::Utf8)?.as_string::<i32>();
        let names = column("org_name", &DataType::Utf8)?.as_string::<i32>();
        let cards = column("cards_total", &DataType::Int64)?.as_primitive::<Int64Type>();
        let verdicts = Verdict::ALL
            .iter()
            .map(|v| Ok(column(&v.code().to_lowercase(), &DataType::Int64)?.as_primitive::<Int64Type>()))
            .collect::<Result<Vec<_>>>()?;
        let progress = column("upgrade_progress", &DataType::Float64)?.as_primitive::<Float64Type>();
        let compliance = column("compliance", &DataType::Utf8)?.as_string::<i32>();
        let cleared = column("cleared", &DataType::Boolean)?.as_boolean();
        let listed = column("admins_listed", &DataType::Int32)?.as_primitive::<Int32Type>();
        let qualified = column("admins_qualified", &DataType::Int32)?.as_primitive::<Int32Type>();
        for r in 0..b.num_rows() {
            let text = |a: &arrow_array::StringArray| a.is_valid(r).then(|| a.value(r).to_string());
            let org = OrgNight {
                org_name: text(names),
                cards_total: cards.value(r),
                verdicts: std::array::from_fn(|v| verdicts[v].value(r)),
                upgrade_progress: progress.is_valid(r).then(|| progress.value(r)),
                compliance: text(compliance),
                cleared: cleared.is_valid(r).then(|| cleared.value(r)),
                admins_listed: listed.is_valid(r).then(|| listed.value(r)),
                admins_qualified: qualified.is_valid(r).then(|| qualified.value(r)),
            };
            orgs.insert(ids.value(r).to_string(), org);
        }
    }
    Ok(orgs)
}

/// The country on one night: every organisation's counts summed.
fn country(orgs: &BTreeMap<String, OrgNight>) -> OrgNight {
    let mut all = OrgNight {
        org_name: None,
        cards_total: 0,
        verdicts: [0; Verdict::COUNT],
        upgrade_progress: None,
        compliance: None,
        cleared: None,
        admins_listed: None,
        admins_qualified: None,
    };
    for o in orgs.values() {
        all.cards_total += o.cards_total;
        for (sum, n) in all.verdicts.iter_mut().zip(o.verdicts) {
            *sum += n;
        }
    }
    all
}

/// The deadline every night was swept under (the policies are equal).
pub fn deadline(nights: &[NightSweep]) -> Result<i32> {
    let first = &nights[0];
    first.policy["deadline"]
        .as_str()
        .and_then(parse_date)
        .ok_or_else(|| Error::input(&first.dir.join("manifest.json"), "its policy has no deadline"))
}

/// One forecast row: the organisation (none for the country) and its forecast.
pub struct ForecastRow {
    pub org_id: Option<String>,
    pub remaining: i64,
    pub upgraded_total: i64,
    pub forecast: Forecast,
}

/// The forecast of every organisation on the last night, and of the country, sorted by
/// shortfall descending, then org_id (the country, with none, first).
pub fn forecasts(nights: &[NightSweep], window: i32, deadline: i32) -> Vec<ForecastRow> {
    let last = nights.last().expect("at least one night");
    let row = |org_id: Option<String>, of: &dyn Fn(&NightSweep) -> Option<&OrgNight>| {
        let history: Vec<Point> = nights
            .iter()
            .filter_map(|n| of(n).map(|o| Point { day: n.as_of, upgraded_total: o.upgraded_total() }))
            .collect();
        let today = of(last).expect("present on the last night");
        let point = Point { day: last.as_of, upgraded_total: today.upgraded_total() };
        ForecastRow {
            org_id,
            remaining: today.remaining(),
            upgraded_total: today.upgraded_total(),
            forecast: forecast(point, today.remaining(), &history, window, deadline),
        }
    };
    let mut rows = vec![row(None, &|n| Some(&n.country))];
    for id in last.orgs.keys() {
        rows.push(row(Some(id.clone()), &|n| n.orgs.get(id)));
    }
    rows.sort_by(|a, b| b.forecast.shortfall.cmp(&a.forecast.shortfall).then_with(|| a.org_id.cmp(&b.org_id)));
    rows
}

fn counts_columns(rows: &[&OrgNight]) -> Vec<ArrayRef> {
    let col = |f: &dyn Fn(&OrgNight) -> i64| -> ArrayRef {
        Arc::new(rows.iter().map(|o| Some(f(o))).collect::<arrow_array::Int64Array>())
    };
    let mut cols = vec![col(&|o| o.cards_total)];
    cols.extend((0..Verdict::COUNT).map(|v| col(&|o: &OrgNight| o.verdicts[v])));
    cols.push(col(&OrgNight::upgraded_total));
    cols.push(col(&OrgNight::remaining));
    cols
}

fn dates(days: impl Iterator<Item = Option<i32>>) -> ArrayRef {
    let mut b = Date32Builder::new();
    b.extend(days);
    Arc::new(b.finish())
}

fn batch(t: &OutputTable, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new((t.schema)(), columns).expect("columns follow the declared schema")
}

/// `national_trend`: one row per night.
pub fn national_trend(nights: &[NightSweep]) -> RecordBatch {
    let mut cols = vec![dates(nights.iter().map(|n| Some(n.as_of)))];
    cols.extend(counts_columns(&nights.iter().map(|n| &n.country).collect::<Vec<_>>()));
    let orgs = |f: &dyn Fn(&OrgNight) -> bool| -> ArrayRef {
        Arc::new(
            nights
                .iter()
                .map(|n| Some(n.orgs.values().filter(|o| f(o)).count() as i64))
                .collect::<arrow_array::Int64Array>(),
        )
    };
    let is = |c: Compliance| move |o: &OrgNight| o.compliance.as_deref() == Some(c.code());
    cols.push(orgs(&|_| true));
    cols.push(orgs(&|o| o.cleared == Some(true)));
    cols.push(orgs(&is(Compliance::Compliant)));
    cols.push(orgs(&is(Compliance::AtRisk)));
    cols.push(orgs(&is(Compliance::NonCompliant)));
    batch(&schema::NATIONAL_TREND, cols)
}

/// `org_trend`: one row per organisation and night it appears on, by org_id, then night.
pub fn org_trend(nights: &[NightSweep]) -> RecordBatch {
    let mut rows: Vec<(&str, i32, &OrgNight)> =
        nights.iter().flat_map(|n| n.orgs.iter().map(|(id, o)| (id.as_str(), n.as_of, o))).collect();
    rows.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    let mut ids = StringBuilder::new();
    let (mut progress, mut compliance, mut cleared) =
        (Float64Builder::new(), StringBuilder::new(), BooleanBuilder::new());
    let (mut listed, mut qualified) = (Int32Builder::new(), Int32Builder::new());
    for (id, _, o) in &rows {
        ids.append_value(id);
        progress.append_option(o.upgrade_progress);
        compliance.append_option(o.compliance.as_deref());
        cleared.append_option(o.cleared);
        listed.append_option(o.admins_listed);
        qualified.append_option(o.admins_qualified);
    }
    let mut cols: Vec<ArrayRef> = vec![Arc::new(ids.finish()), dates(rows.iter().map(|r| Some(r.1)))];
    cols.extend(counts_columns(&rows.iter().map(|r| r.2).collect::<Vec<_>>()));
    cols.push(Arc::new(progress.finish()));
    cols.push(Arc::new(compliance.finish()));
    cols.push(Arc::new(cleared.finish()));
    cols.push(Arc::new(listed.finish()));
    cols.push(Arc::new(qualified.finish()));
    batch(&schema::ORG_TREND, cols)
}

/// `org_forecast`, from [`forecasts`].
pub fn org_forecast(rows: &[ForecastRow], as_of: i32, window: i32) -> RecordBatch {
    let mut ids = StringBuilder::new();
    let (mut remaining, mut upgraded, mut days_left, mut shortfall) =
        (Int64Builder::new(), Int64Builder::new(), Int64Builder::new(), Int64Builder::new());
    let (mut windows, mut rate, mut on_track) = (Int32Builder::new(), Float64Builder::new(), BooleanBuilder::new());
    for r in rows {
        ids.append_option(r.org_id.as_deref());
        remaining.append_value(r.remaining);
        upgraded.append_value(r.upgraded_total);
        windows.append_value(window);
        rate.append_option(r.forecast.rate_per_day);
        days_left.append_value(r.forecast.days_left);
        shortfall.append_value(r.forecast.shortfall);
        on_track.append_value(r.forecast.on_track());
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(ids.finish()),
        dates(rows.iter().map(|_| Some(as_of))),
        Arc::new(remaining.finish()),
        Arc::new(upgraded.finish()),
        Arc::new(windows.finish()),
        Arc::new(rate.finish()),
        dates(rows.iter().map(|r| r.forecast.projected_done)),
        Arc::new(days_left.finish()),
        Arc::new(shortfall.finish()),
        Arc::new(on_track.finish()),
    ];
    batch(&schema::ORG_FORECAST, cols)
}

/// Writes every output of `trend` into `dir` (the manifest last) and returns the
/// manifest.
pub fn write(dir: &Path, root: &Path, nights: &[NightSweep], window: i32) -> Result<serde_json::Value> {
    let deadline = deadline(nights)?;
    let last = nights.last().expect("at least one night").as_of;
    let rows = forecasts(nights, window, deadline);
    let mut written: Vec<Written> = Vec::new();
    written.extend(write_table(dir, &schema::NATIONAL_TREND, &[national_trend(nights)])?);
    written.extend(write_table(dir, &schema::ORG_TREND, &[org_trend(nights)])?);
    written.extend(write_table(dir, &schema::ORG_FORECAST, &[org_forecast(&rows, last, window)])?);
    let html = page::render(nights, &rows, window, deadline);
    written.push(crate::output::files::write_text(dir, "trend.html", &html, nights.len() as u64)?);
    let manifest = serde_json::json!({
        "tool": "siths-sweep",
        "version": env!("CARGO_PKG_VERSION"),
        "command": "trend",
        "history": root.display().to_string(),
        "as_of": format_date(last),
        "window_days": window,
        "deadline": format_date(deadline),
        "nights": nights.iter().map(|n| serde_json::json!({
            "as_of": format_date(n.as_of),
            "path": n.dir.display().to_string(),
            "manifest_sha256": n.manifest_sha256,
        })).collect::<Vec<_>>(),
        "outputs": written.iter().map(Written::manifest_entry).collect::<Vec<_>>(),
    });
    crate::output::write_manifest(dir, &manifest)?;
    Ok(manifest)
}
