//! Helpers shared by the integration tests: run the real binary, read its outputs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use siths_sweep::output::canonical::{parquet_to_text, rows};

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
    rows(&parquet_to_text(&out.join(name)).expect("readable output"))
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
