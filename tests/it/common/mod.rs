//! Helpers shared by the integration tests: run the real binary, read its outputs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub type Row = BTreeMap<String, Option<String>>;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn testdata(p: &str) -> PathBuf {
    root().join("testdata").join(p)
}

/// Runs the binary; panics with everything it printed if the exit code differs.
pub fn sweep(args: &[&str], expect_code: i32) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_siths-sweep")).args(args).output().expect("binary runs");
    let code = out.status.code().unwrap_or(-1);
    if code != expect_code {
        panic!(
            "siths-sweep {}\nexit {code}, expected {expect_code}\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub fn table(out: &Path, name: &str) -> Vec<Row> {
    rows(&parquet_to_text(&out.join(name)))
}

// An independent reader of the outputs: the tests must not check the crate's writers
// with the crate's own formatting. Parquet is read with arrow-rs's reader and every cell
// formatted here (dates and instants through jiff); CSV is read with the `csv` crate.

/// A Parquet output as text: `# column: type` lines, a tab-separated header, then one
/// line per row; null is `\N`, lists are `;`-joined, dates `YYYY-MM-DD`, instants RFC
/// 3339 UTC with microseconds. The golden files in `testdata/` are in this form.
pub fn parquet_to_text(path: &Path) -> String {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .unwrap_or_else(|e| panic!("{}: not readable Parquet: {e}", path.display()));
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    let mut out = String::new();
    for f in schema.fields() {
        out.push_str(&format!("# {}: {}\n", f.name(), type_name(f.data_type())));
    }
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    out.push_str(&names.join("\t"));
    out.push('\n');
    for batch in reader {
        let batch: RecordBatch = batch.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for r in 0..batch.num_rows() {
            let cells: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| if c.is_null(r) { "\\N".to_string() } else { escape(&cell(c.as_ref(), r)) })
                .collect();
            out.push_str(&cells.join("\t"));
            out.push('\n');
        }
    }
    out
}

/// The sweep's output types by name (the golden files pin them); others, as `query`
/// writes through Polars, by arrow-rs's own name.
fn type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 => "Utf8".into(),
        DataType::Boolean => "Boolean".into(),
        DataType::Int32 => "Int32".into(),
        DataType::Int64 => "Int64".into(),
        DataType::Float64 => "Float64".into(),
        DataType::Date32 => "Date32".into(),
        DataType::Timestamp(TimeUnit::Microsecond, Some(z)) if z.as_ref() == "UTC" => "Timestamp(µs, \"UTC\")".into(),
        DataType::List(item) if item.data_type() == &DataType::Utf8 => "List(Utf8)".into(),
        other => format!("{other:?}"),
    }
}

fn cell(a: &dyn Array, r: usize) -> String {
    match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(r).to_string(),
        DataType::LargeUtf8 => a.as_string::<i64>().value(r).to_string(),
        DataType::Utf8View => a.as_string_view().value(r).to_string(),
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(r).to_string(),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(r).to_string(),
        DataType::Boolean => a.as_boolean().value(r).to_string(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(r).to_string(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(r).to_string(),
        DataType::Float64 => a.as_primitive::<Float64Type>().value(r).to_string(),
        DataType::Date32 => {
            let days = a.as_primitive::<Date32Type>().value(r);
            let epoch = jiff::civil::date(1970, 1, 1);
            epoch.checked_add(jiff::Span::new().days(days)).expect("a date in range").to_string()
        }
        DataType::Timestamp(..) => {
            let micros = a.as_primitive::<TimestampMicrosecondType>().value(r);
            let utc = jiff::Timestamp::from_microsecond(micros)
                .expect("an instant in range")
                .to_zoned(jiff::tz::TimeZone::UTC);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                utc.year(),
                utc.month(),
                utc.day(),
                utc.hour(),
                utc.minute(),
                utc.second(),
                utc.subsec_nanosecond() / 1_000
            )
        }
        DataType::List(_) => {
            let items = a.as_list::<i32>().value(r);
            let items = items.as_string::<i32>();
            (0..items.len()).map(|i| items.value(i)).collect::<Vec<_>>().join(";")
        }
        other => panic!("an output column of unexpected type {other:?}"),
    }
}

/// Escapes what would break the line format, nothing else.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r")
}

/// [`parquet_to_text`]'s rows as maps of column → value (`None` = null).
pub fn rows(text: &str) -> Vec<Row> {
    let mut lines = text.lines().filter(|l| !l.starts_with("# "));
    let Some(header) = lines.next() else { return Vec::new() };
    let names: Vec<&str> = header.split('\t').collect();
    lines
        .map(|l| {
            names.iter().zip(l.split('\t')).map(|(n, v)| (n.to_string(), (v != "\\N").then(|| v.to_string()))).collect()
        })
        .collect()
}

/// CSV text as records, with the `csv` crate (RFC 4180; every record, the header too).
pub fn csv_records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("well-formed CSV").iter().map(str::to_string).collect())
        .collect()
}

/// Every input row is either decided or quarantined: nothing is lost.
pub fn assert_rows_accounted(out: &Path) {
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let mut input_rows: BTreeMap<String, u64> = BTreeMap::new();
    for i in manifest["inputs"].as_array().unwrap() {
        *input_rows.entry(i["table"].as_str().unwrap().to_string()).or_default() += i["rows"].as_u64().unwrap();
    }
    let quarantine = table(out, "quarantine.parquet");
    let q = |t: &str| quarantine.iter().filter(|r| r["table"].as_deref() == Some(t)).count() as u64;
    let cards = table(out, "card_decisions.parquet");
    let certs: u64 = cards.iter().map(|r| r["cert_count"].as_ref().unwrap().parse::<u64>().unwrap()).sum();
    let orgs = table(out, "org_compliance.parquet");
    let admin_rows = table(out, "admin_review.parquet");
    // An organisation not in `organisations` shows itself through UNKNOWN_ORG on its
    // cards or its administrators.
    let unknown = |org: &Row| {
        org["unknown_org"].as_deref() != Some("0")
            || admin_rows
                .iter()
                .any(|a| a["org_id"] == org["org_id"] && a["problems"].as_deref().unwrap_or("").contains("UNKNOWN_ORG"))
    };
    let known_orgs = orgs.iter().filter(|o| !unknown(o)).count() as u64;
    let admins = admin_rows.len() as u64;
    assert_eq!(input_rows.get("cards").copied().unwrap_or(0), cards.len() as u64 + q("cards"), "cards");
    assert_eq!(input_rows.get("certificates").copied().unwrap_or(0), certs + q("certificates"), "certificates");
    assert_eq!(input_rows.get("id_admins").copied().unwrap_or(0), admins + q("id_admins"), "id_admins");
    assert_eq!(input_rows.get("organisations").copied().unwrap_or(0), known_orgs + q("organisations"), "organisations");
    assert_eq!(manifest["quarantined"].as_u64().unwrap(), quarantine.len() as u64);
}
