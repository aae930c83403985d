//! `run --org-reports` (one Swedish page per organisation) and `siths-sweep query`.

use std::fs;
use std::path::Path;

use crate::common::*;
use siths_sweep::output::names::safe_stem;

/// The rules fixture swept as of 2021-11-15 into `dir/out`, with `extra` arguments.
fn fixture_sweep(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let out = dir.join("out");
    let input = testdata("fixtures/rules/input");
    let mut args = vec!["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"];
    args.extend(extra);
    sweep(&args, 0);
    out
}

fn cell<'a>(row: &'a Row, col: &str) -> &'a str {
    row[col].as_deref().unwrap_or("")
}

#[test]
fn every_organisation_gets_its_own_page() {
    let t = tmp();
    let out = fixture_sweep(t.path(), &["--org-reports"]);
    let orgs = table(&out, "org_compliance.parquet");
    let cards = table(&out, "card_decisions.parquet");
    let admins = table(&out, "admin_review.parquet");
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<&str> =
        manifest["outputs"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();

    let index = fs::read_to_string(out.join("org_reports/index.csv")).unwrap();
    assert_eq!(index.lines().count(), orgs.len() + 1, "one index line per organisation:\n{index}");
    assert!(listed.contains(&"org_reports/index.csv"));

    let (mut clearances_checked, mut next_day_clearances) = (0, 0);
    for org in &orgs {
        let id = cell(org, "org_id");
        let file = format!("{}.html", safe_stem(id));
        let page = fs::read_to_string(out.join("org_reports").join(&file)).unwrap();
        assert!(listed.contains(&format!("org_reports/{file}").as_str()), "{file} is in the manifest");
        assert!(index.contains(&file), "{file} is in the index");
        assert!(page.starts_with("<!DOCTYPE html><html lang=\"sv\">"));
        assert!(!page.contains("<script") && !page.contains("http"), "{file} is self-contained");

        // Clearance, in the customer's language.
        if cell(org, "cleared") == "true" {
            // cleared_at is UTC; the page gives its Stockholm date (22:00 UTC in
            // summer is the next day there), worked out here with jiff, not the crate.
            let utc: jiff::Timestamp = cell(org, "cleared_at").parse().expect("RFC 3339 cleared_at");
            let since = utc.in_tz("Europe/Stockholm").expect("zone").date().to_string();
            let claim = format!("Organisationen uppfyller kraven för uppgradering sedan {since}.");
            assert!(page.contains(&claim), "{file} should say {claim:?}");
            clearances_checked += 1;
            next_day_clearances += usize::from(since != cell(org, "cleared_at")[..10]);
        } else {
            assert!(page.contains("uppfyller ännu inte kraven"), "{file}");
        }

        // Every card that needs action is on its own organisation's page, and no other.
        for c in &cards {
            let mention = format!("<td>{}</td>", cell(c, "card_id"));
            let needs_action = cell(c, "action") != "none";
            let here = cell(c, "org_id") == id;
            assert_eq!(page.contains(&mention), needs_action && here, "{} on {file}", cell(c, "card_id"));
        }

        // Administrators: masked personnummer only.
        for a in admins.iter().filter(|a| cell(a, "org_id") == id) {
            if let Some(masked) = a["personnummer_masked"].as_deref() {
                assert!(page.contains(masked), "{masked} on {file}");
            }
        }
    }

    // The raw personnummer of the fixture's administrators appear nowhere.
    let raw = fs::read_to_string(testdata("fixtures/rules/input/id_admins.csv")).unwrap();
    let pnrs: Vec<String> = raw.lines().skip(1).filter_map(|l| l.split(',').nth(2).map(str::to_string)).collect();
    for entry in fs::read_dir(out.join("org_reports")).unwrap() {
        let page = fs::read_to_string(entry.unwrap().path()).unwrap();
        for p in pnrs.iter().filter(|p| p.len() >= 10) {
            assert!(!page.contains(p.as_str()), "raw personnummer {p} in an org report");
        }
    }

    assert!(clearances_checked >= 2, "the fixture has cleared organisations");
    assert!(next_day_clearances >= 1, "the fixture has a clearance at 22:00 UTC or later, a day later in Stockholm");

    // One page read closely: Region Klar, cleared, with cards under several actions.
    let a001 =
        fs::read_to_string(out.join("org_reports").join(format!("{}.html", safe_stem("SE2321000016-A001")))).unwrap();
    let revoke = a001.find("Kortet spärras av utfärdaren").expect("a revoke group");
    let upgrade = a001.find("<h3>Uppgradera kortet").expect("an upgrade group");
    assert!(revoke < upgrade, "most urgent action first");
    let c03 = a001.find("<td>C03-one-day-more</td>").unwrap();
    assert!(revoke < c03 && c03 < upgrade, "C03 (REVOKE) is in the revoke group");
    assert!(a001.contains("beställt men inte utlämnat inom tre månader"));
    assert!(a001.contains("samma person finns redan som ID-administratör"), "Anna's duplicate row is explained");
    // The not-cleared organisation is told what it lacks; the quoted name is escaped.
    let c003 =
        fs::read_to_string(out.join("org_reports").join(format!("{}.html", safe_stem("SE2321000016-C003")))).unwrap();
    assert!(c003.contains("Tandvård &quot;Sent&quot; Klar, AB"));
}

#[test]
fn org_reports_only_when_asked() {
    let t = tmp();
    let out = fixture_sweep(t.path(), &[]);
    assert!(!out.join("org_reports").exists());
}

#[test]
fn hostile_org_ids_stay_inside_org_reports() {
    let t = tmp();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    let src = testdata("fixtures/rules/input");
    for f in ["cards.csv", "certificates.csv", "id_admins.csv"] {
        fs::copy(src.join(f), input.join(f)).unwrap();
    }
    let ids = ["../../escape", "SE/1", "SE_1", "CON", ".hidden", "<b>x</b>"];
    let mut orgs = fs::read_to_string(src.join("organisations.csv")).unwrap();
    for id in ids {
        orgs.push_str(&format!("\"{id}\",Org {id}\n"));
    }
    fs::write(input.join("organisations.csv"), orgs).unwrap();
    let out = t.path().join("out");
    sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15", "--org-reports"], 0);
    let names: Vec<String> = fs::read_dir(out.join("org_reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for id in ids {
        let file = format!("{}.html", safe_stem(id));
        assert!(names.contains(&file), "{id} -> {file} in {names:?}");
        let page = fs::read_to_string(out.join("org_reports").join(&file)).unwrap();
        assert!(!page.contains("<b>x</b>"), "org ids are escaped");
    }
    // Nothing was written outside the output folder.
    assert!(!t.path().join("escape").exists() && !t.path().parent().unwrap().join("escape").exists());
}

#[cfg(feature = "query")]
mod query {
    use super::*;
    use std::collections::BTreeMap;

    fn query(out: &Path, sql: &str, extra: &[&str], code: i32) -> std::process::Output {
        let mut args = vec!["query", "--reports", s(out)];
        args.extend(extra);
        args.push(sql);
        sweep(&args, code)
    }

    fn stdout(o: &std::process::Output) -> String {
        String::from_utf8(o.stdout.clone()).unwrap()
    }

    #[test]
    fn counts_agree_with_the_parquet_written() {
        let t = tmp();
        let out = fixture_sweep(t.path(), &[]);
        let mut expect: BTreeMap<String, usize> = BTreeMap::new();
        for c in table(&out, "card_decisions.parquet") {
            *expect.entry(cell(&c, "verdict").to_string()).or_default() += 1;
        }
        let sql = "SELECT verdict, COUNT(*) AS cards FROM card_decisions GROUP BY verdict ORDER BY verdict";
        let csv = stdout(&query(&out, sql, &["--format", "csv"], 0));
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("verdict,cards"));
        let got: BTreeMap<String, usize> = lines
            .map(|l| {
                let (v, n) = l.split_once(',').unwrap();
                (v.to_string(), n.parse().unwrap())
            })
            .collect();
        assert_eq!(got, expect);

        // The same as an aligned table: header, rule, one line per row, a count.
        let text = stdout(&query(&out, sql, &[], 0));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("verdict") && lines[0].ends_with("cards"), "{text}");
        assert!(lines[1].chars().all(|c| c == '-' || c == ' '), "{text}");
        assert_eq!(lines.len(), expect.len() + 3, "{text}");
        assert_eq!(*lines.last().unwrap(), format!("({} rows)", expect.len()));
        // Numbers are right-aligned: every count ends in the header's last column.
        let width = lines[0].len();
        for l in &lines[2..lines.len() - 1] {
            assert_eq!(l.len(), width, "{l:?} aligned in\n{text}");
        }

        // And as JSON: numbers stay numbers.
        let json: serde_json::Value =
            serde_json::from_str(&stdout(&query(&out, sql, &["--format", "json"], 0))).unwrap();
        let rows = json.as_array().unwrap();
        assert_eq!(rows.len(), expect.len());
        for r in rows {
            assert_eq!(r["cards"].as_u64().unwrap() as usize, expect[r["verdict"].as_str().unwrap()]);
        }
    }

    #[test]
    fn every_output_is_a_table_and_values_print_as_in_the_csv_outputs() {
        let t = tmp();
        let out = fixture_sweep(t.path(), &[]);
        for name in ["card_decisions", "org_compliance", "revocation_candidates", "admin_review", "quarantine"] {
            let n = table(&out, &format!("{name}.parquet")).len();
            let csv = stdout(&query(&out, &format!("SELECT COUNT(*) AS n FROM {name}"), &["--format", "csv"], 0));
            assert_eq!(csv, format!("n\n{n}\n"), "{name}");
        }
        // Timestamps as RFC 3339 UTC with microseconds, lists `;`-joined, as in revocation_candidates.csv.
        let sql = "SELECT card_id, ordered_at FROM revocation_candidates WHERE card_id = 'C03-one-day-more'";
        let csv = stdout(&query(&out, sql, &["--format", "csv"], 0));
        let published = fs::read_to_string(out.join("revocation_candidates.csv")).unwrap();
        let line = csv.lines().nth(1).unwrap();
        let (id, at) = line.split_once(',').unwrap();
        assert!(published.lines().any(|l| l.starts_with(id) && l.contains(at)), "{line} in\n{published}");
        assert!(at.ends_with('Z') && at.len() == 27, "{at}");
        let sql = "SELECT findings FROM card_decisions WHERE card_id = 'C13-seven-certs'";
        assert_eq!(
            stdout(&query(&out, sql, &["--format", "csv"], 0)),
            "findings\nTOO_MANY_CERTS;THIRD_PARTY_REORDER\n"
        );
        // Text that a spreadsheet would run as a formula is neutralised, as in the CSV outputs.
        let sql = "SELECT '=HYPERLINK(1)' AS x FROM org_compliance LIMIT 1";
        assert_eq!(stdout(&query(&out, sql, &["--format", "csv"], 0)), "x\n'=HYPERLINK(1)\n");
    }

    #[test]
    fn parquet_output_goes_to_a_file() {
        let t = tmp();
        let out = fixture_sweep(t.path(), &[]);
        let file = t.path().join("result.parquet");
        let sql = "SELECT org_id, COUNT(*) AS cards FROM card_decisions GROUP BY org_id ORDER BY org_id";
        let o = query(&out, sql, &["--format", "parquet"], 2);
        assert!(stderr(&o).contains("--output"), "{}", stderr(&o));
        query(&out, sql, &["--format", "parquet", "--output", s(&file)], 0);
        let rows = table(t.path(), "result.parquet");
        let orgs: std::collections::BTreeSet<String> =
            table(&out, "card_decisions.parquet").iter().map(|c| cell(c, "org_id").to_string()).collect();
        assert_eq!(rows.len(), orgs.len());
        // A failed query leaves no file behind.
        let bad = t.path().join("bad.csv");
        query(&out, "SELECT nope FROM card_decisions", &["--format", "csv", "--output", s(&bad)], 1);
        assert!(!bad.exists());
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 2, "no temporary file left");
    }

    #[test]
    fn sql_errors_are_one_line_with_the_tables_and_columns() {
        let t = tmp();
        let out = fixture_sweep(t.path(), &[]);
        for sql in [
            "SELECT no_such_column FROM card_decisions",
            "SELECT * FROM no_such_table",
            "SELEC * FROM card_decisions",
            "SELECT verdict FROM card_decisions WHERE",
        ] {
            let o = query(&out, sql, &[], 1);
            let err = stderr(&o);
            assert_eq!(err.trim_end().lines().count(), 1, "{sql}: {err}");
            assert!(err.starts_with("siths-sweep: error: "), "{sql}: {err}");
            assert!(err.contains("card_decisions(card_id, org_id, "), "{sql}: {err}");
            assert!(err.contains("org_compliance(org_id, org_name, "), "{sql}: {err}");
            assert!(!err.contains("panicked"), "{sql}: {err}");
            assert!(o.stdout.is_empty());
        }
        let empty = t.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let o = query(&empty, "SELECT 1", &[], 1);
        assert!(stderr(&o).contains("no .parquet outputs"), "{}", stderr(&o));
    }
}
