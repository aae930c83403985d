//! Following the campaign: `generate --nights` and `trend`, through the real binary.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::common::*;

fn run_night(input: &Path, out: &Path, as_of: &str, extra: &[&str]) {
    let mut args = vec!["run", "--quiet", "--input", s(input), "--out", s(out), "--as-of", as_of, "--force"];
    args.extend(extra);
    sweep(&args, 0);
}

fn int(r: &Row, k: &str) -> i64 {
    r[k].as_deref().unwrap_or_else(|| panic!("{k} is null")).parse().unwrap()
}

/// A campaign of `nights` nights of `cards` cards ending 2021-11-15, every night swept
/// into `reports/<night>`.
fn swept_campaign(work: &Path, nights: u32, cards: u32) -> Vec<String> {
    let exports = work.join("exports");
    let (n, c) = (nights.to_string(), cards.to_string());
    sweep(&["generate", "--out", s(&exports), "--nights", &n, "--cards", &c, "--seed", "5"], 0);
    let mut names: Vec<String> =
        fs::read_dir(&exports).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    for night in &names {
        run_night(&exports.join(night), &work.join("reports").join(night), night, &[]);
    }
    names
}

/// The instants a night's export holds, as UTC dates: none may be after the night.
fn latest_event(export: &Path) -> String {
    let mut latest = String::new();
    for (file, cols) in [
        ("cards.parquet", &["ordered_at", "sent_at", "received_at", "upgraded_at"][..]),
        ("id_admins.parquet", &["registered_at", "trained_at"][..]),
    ] {
        for r in table(export, file) {
            for c in cols {
                if let Some(t) = r[*c].as_deref() {
                    latest = latest.max(t[..10].to_string());
                }
            }
        }
    }
    latest
}

#[test]
fn a_generated_campaign_is_one_world_seen_night_by_night() {
    let (a, b) = (tmp(), tmp());
    for (dir, threads) in [(a.path(), "1"), (b.path(), "2")] {
        let out = dir.join("c");
        sweep(
            &["generate", "--out", s(&out), "--nights", "4", "--cards", "6000", "--seed", "3", "--threads", threads],
            0,
        );
    }
    let nights = ["2021-11-12", "2021-11-13", "2021-11-14", "2021-11-15"];
    let mut cards_before: BTreeSet<String> = BTreeSet::new();
    for night in nights {
        let (na, nb) = (a.path().join("c").join(night), b.path().join("c").join(night));
        for t in ["organisations", "id_admins", "cards", "certificates"] {
            let f = format!("{t}.parquet");
            assert!(
                fs::read(na.join(&f)).unwrap() == fs::read(nb.join(&f)).unwrap(),
                "{night}/{f} differs across threads"
            );
        }
        assert!(latest_event(&na).as_str() <= night, "{night}: an event dated after the night");
        // Cards are never taken out of the export: each night holds the night before's.
        let cards: BTreeSet<String> =
            table(&na, "cards.parquet").into_iter().map(|r| r["card_id"].clone().unwrap()).collect();
        assert!(cards.is_superset(&cards_before), "{night}: a card of the night before is gone");
        cards_before = cards;
    }
    let count = fs::read_dir(a.path().join("c")).unwrap().count();
    assert_eq!(count, 4, "one folder per night and nothing else");
}

#[test]
fn trend_follows_the_campaign_and_forecasts_each_organisation() {
    let work = tmp();
    let nights = swept_campaign(work.path(), 6, 8000);
    let reports = work.path().join("reports");
    // A folder that is not a night is skipped with a warning, a hidden one silently.
    fs::create_dir(reports.join("notes")).unwrap();
    fs::create_dir(reports.join(".cache")).unwrap();
    let out = work.path().join("trend");
    let o = sweep(&["trend", "--history", s(&reports), "--out", s(&out)], 0);
    let warnings = stderr(&o);
    assert!(warnings.contains("notes") && !warnings.contains(".cache"), "{warnings}");

    let national = table(&out, "national_trend.parquet");
    assert_eq!(national.iter().map(|r| r["as_of"].clone().unwrap()).collect::<Vec<_>>(), nights);
    for (r, night) in national.iter().zip(&nights) {
        // Every count is the sum of that night's org_compliance.
        let orgs = table(&reports.join(night), "org_compliance.parquet");
        for k in ["cards_total", "ready", "blocked", "upgraded", "violation", "revoke", "replace", "out_of_scope"] {
            assert_eq!(int(r, k), orgs.iter().map(|o| int(o, k)).sum::<i64>(), "{night} {k}");
        }
        assert_eq!(int(r, "upgraded_total"), int(r, "upgraded") + int(r, "violation"));
        assert_eq!(int(r, "remaining"), int(r, "ready") + int(r, "blocked"));
        assert_eq!(int(r, "orgs_total"), orgs.len() as i64);
        let compliance = |c: &str| orgs.iter().filter(|o| o["compliance"].as_deref() == Some(c)).count() as i64;
        assert_eq!(int(r, "orgs_compliant"), compliance("compliant"));
        assert_eq!(int(r, "orgs_at_risk"), compliance("at_risk"));
        assert_eq!(int(r, "orgs_non_compliant"), compliance("non_compliant"));
    }
    // The campaign moves: upgrades accumulate and organisations get cleared.
    let (first, last) = (&national[0], &national[national.len() - 1]);
    assert!(int(last, "upgraded_total") > int(first, "upgraded_total"), "{first:?} → {last:?}");
    assert!(int(last, "orgs_cleared") > int(first, "orgs_cleared"), "{first:?} → {last:?}");

    let org_trend = table(&out, "org_trend.parquet");
    let per_night: usize = nights.iter().map(|n| table(&reports.join(n), "org_compliance.parquet").len()).sum();
    assert_eq!(org_trend.len(), per_night);
    let keys: Vec<(String, String)> =
        org_trend.iter().map(|r| (r["org_id"].clone().unwrap(), r["as_of"].clone().unwrap())).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "org_trend is sorted by org_id, then as_of");

    let forecast = table(&out, "org_forecast.parquet");
    let last_orgs = table(&reports.join(nights.last().unwrap()), "org_compliance.parquet");
    assert_eq!(forecast.len(), last_orgs.len() + 1, "every organisation of the last night, and the country");
    let country: Vec<&Row> = forecast.iter().filter(|r| r["org_id"].is_none()).collect();
    assert_eq!(country.len(), 1);
    assert_eq!(int(country[0], "remaining"), int(last, "remaining"));
    assert_eq!(int(country[0], "upgraded_total"), int(last, "upgraded_total"));
    let order: Vec<(i64, Option<String>)> =
        forecast.iter().map(|r| (-int(r, "shortfall"), r["org_id"].clone())).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "sorted by shortfall descending, then org_id");
    for r in &forecast {
        assert_eq!(r["as_of"].as_deref(), nights.last().map(String::as_str));
        assert_eq!(int(r, "window_days"), 7);
        assert_eq!(r["on_track"].as_deref() == Some("true"), int(r, "shortfall") == 0);
        assert!(int(r, "shortfall") <= int(r, "remaining") && int(r, "shortfall") >= 0);
    }
    let csv = fs::read_to_string(out.join("org_forecast.csv")).unwrap();
    assert_eq!(csv_records(&csv).len(), forecast.len() + 1);

    let page = fs::read_to_string(out.join("trend.html")).unwrap();
    for external in ["<script", "http://", "https://", "src=", "@import"] {
        assert!(!page.contains(external), "trend.html refers outside itself: {external}");
    }
    assert!(page.contains("deadline 2021-12-09") && page.contains("<svg"));

    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<&str> =
        manifest["nights"].as_array().unwrap().iter().map(|n| n["as_of"].as_str().unwrap()).collect();
    assert_eq!(listed, nights);
    let files: BTreeMap<&str, i64> = manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["rows"].as_i64().unwrap()))
        .collect();
    assert_eq!(files["national_trend.parquet"], nights.len() as i64);
    assert_eq!(files["org_forecast.parquet"], forecast.len() as i64);
    assert!(files.contains_key("trend.html") && files.contains_key("org_trend.parquet"));

    // A night swept with --previous states in summary.html what changed since.
    let (prev, cur) = (&nights[nights.len() - 2], &nights[nights.len() - 1]);
    let again = work.path().join("again");
    run_night(&work.path().join("exports").join(cur), &again, cur, &["--previous", s(&reports.join(prev))]);
    let summary = fs::read_to_string(again.join("summary.html")).unwrap();
    let new =
        table(&again, "revocation_changes.parquet").iter().filter(|r| r["change"].as_deref() == Some("new")).count();
    let upgraded = int(last, "upgraded_total") - int(&national[national.len() - 2], "upgraded_total");
    assert!(summary.contains(&format!("<h2>Since {prev}</h2>")), "{summary}");
    assert!(summary.contains(&format!("<td>cards upgraded since then</td><td class=\"n\">{upgraded}</td>")));
    assert!(summary.contains(&format!("<td>new revocation candidates</td><td class=\"n\">{new}</td>")));
    assert!(!summary.contains("http") && !summary.contains("<script"));
    let plain = fs::read_to_string(reports.join(cur).join("summary.html")).unwrap();
    assert!(!plain.contains("<h2>Since"), "without --previous there is no change to state");

    // The trend folder itself under the history is passed over, not read as a night.
    let inside = reports.join("trend");
    sweep(&["trend", "--history", s(&reports), "--out", s(&inside)], 0);
    let again = sweep(&["trend", "--history", s(&reports), "--out", s(&inside), "--force"], 0);
    assert!(stderr(&again).contains("the output of trend"), "{}", stderr(&again));
    assert_eq!(
        fs::read(inside.join("org_forecast.parquet")).unwrap(),
        fs::read(out.join("org_forecast.parquet")).unwrap()
    );
}

/// Each error: exit 1, one line naming the folder, nothing written.
#[test]
fn trend_refuses_histories_it_cannot_trust() {
    let work = tmp();
    let input = testdata("fixtures/rules/input");
    let reports = work.path().join("reports");
    let out = work.path().join("trend");
    let refused = |needle: &str| {
        let o = sweep(&["trend", "--history", s(&reports), "--out", s(&out)], 1);
        let e = stderr(&o);
        assert!(e.contains(needle), "expected {needle:?} in: {e}");
        assert_eq!(e.lines().filter(|l| l.contains("error")).count(), 1, "{e}");
        assert!(!out.exists(), "nothing is written");
    };
    fs::create_dir(&reports).unwrap();
    refused("holds no night");

    for night in ["2021-11-13", "2021-11-15"] {
        run_night(&input, &reports.join(night), night, &[]);
    }
    // Two folders of one night.
    run_night(&input, &reports.join("again"), "2021-11-15", &[]);
    refused("again");
    fs::remove_dir_all(reports.join("again")).unwrap();

    // A night under another policy: the differing keys are named.
    let policy = work.path().join("policy.toml");
    fs::write(&policy, "deadline = \"2022-01-31\"\nmax_certs_on_card = 7\n").unwrap();
    run_night(&input, &reports.join("2021-11-14"), "2021-11-14", &["--policy", s(&policy)]);
    refused("deadline, max_certs_on_card differ");
    fs::remove_dir_all(reports.join("2021-11-14")).unwrap();

    // org_compliance changed after the sweep, or gone.
    let file = reports.join("2021-11-13").join("org_compliance.parquet");
    let good = fs::read(&file).unwrap();
    let mut bad = good.clone();
    bad.push(0);
    fs::write(&file, &bad).unwrap();
    refused("does not match its manifest");
    fs::remove_file(&file).unwrap();
    refused("org_compliance.parquet is missing");
    fs::write(&file, &good).unwrap();
    sweep(&["trend", "--history", s(&reports), "--out", s(&out)], 0);
    assert_eq!(table(&out, "national_trend.parquet").len(), 2);
}
