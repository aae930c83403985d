//! End to end: the real binary on `testdata/`. Every failure prints the command, its
//! stdout and stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::common::*;

/// A hand-written expectation file: header then rows; empty means null.
fn expected(path: &Path) -> Vec<Row> {
    let text = fs::read_to_string(path).expect("expectation file");
    let mut recs = csv_records(&text).into_iter();
    let header = recs.next().expect("header");
    recs.map(|r| header.iter().cloned().zip(r.into_iter().map(|v| (!v.is_empty()).then_some(v))).collect()).collect()
}

/// Checks the columns an expectation names, on the rows it names by `key` (or all rows
/// in order when `key` is None).
fn check(actual: &[Row], expect: &[Row], key: Option<&str>, what: &str) {
    if key.is_none() {
        assert_eq!(actual.len(), expect.len(), "{what}: row count\nactual: {actual:#?}");
    }
    for (i, e) in expect.iter().enumerate() {
        let a = match key {
            Some(k) => actual
                .iter()
                .find(|a| a.get(k) == e.get(k))
                .unwrap_or_else(|| panic!("{what}: no row with {k} = {:?}", e[k])),
            None => &actual[i],
        };
        for (col, want) in e {
            let got = a.get(col).unwrap_or_else(|| panic!("{what}: no column {col}"));
            // An empty list and null both read as empty in an expectation.
            let got = got.clone().filter(|g| !g.is_empty());
            assert_eq!(&got, want, "{what}: row {i} ({:?}) column {col}", key.map(|k| &e[k]));
        }
    }
}

/// The rules fixture under every case: hand-written expectations, and golden outputs
/// where a case has them (`UPDATE_GOLDEN=1` rewrites those; review the diff).
#[test]
fn rules_fixture_cases() {
    let fixture = testdata("fixtures/rules");
    let mut cases: Vec<_> = fs::read_dir(fixture.join("cases")).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(cases.len() >= 4);
    for case in cases {
        let out = tmp();
        let args_text = fs::read_to_string(case.join("args")).unwrap().replace("{case}", s(&case));
        let mut args = vec!["run", "--quiet", "--input", s(&fixture.join("input")).to_string().leak(), "--out"];
        let out_dir = out.path().join("out");
        args.push(s(&out_dir));
        let extra: Vec<&str> = args_text.lines().filter(|l| !l.is_empty()).collect();
        args.extend(extra);
        sweep(&args, 0);
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let files = [
            ("expect_cards.csv", "card_decisions.parquet", Some("card_id")),
            ("expect_quarantine.csv", "quarantine.parquet", None),
            ("expect_orgs.csv", "org_compliance.parquet", None),
            ("expect_admins.csv", "admin_review.parquet", None),
            ("expect_revocations.csv", "revocation_certificates.parquet", None),
        ];
        for (exp, output, key) in files {
            if case.join(exp).exists() {
                // Lists are `;`-joined in expectations as in the canonical text.
                let exp_rows = expected(&case.join(exp));
                check(&table(&out_dir, output), &exp_rows, key, &format!("{name}/{exp}"));
            }
        }
        golden(&case.join("golden"), &out_dir);
    }
}

fn golden(dir: &Path, out: &Path) {
    if !dir.exists() {
        return;
    }
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut names: Vec<String> =
        fs::read_dir(out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in names {
        let actual = if name.ends_with(".parquet") {
            parquet_to_text(&out.join(&name))
        } else if name.ends_with(".csv") {
            fs::read_to_string(out.join(&name)).unwrap()
        } else {
            continue;
        };
        let file = dir.join(format!("{name}.txt"));
        if update {
            fs::create_dir_all(dir).unwrap();
            fs::write(&file, &actual).unwrap();
        } else {
            let want = fs::read_to_string(&file).unwrap_or_else(|_| panic!("missing golden {}", file.display()));
            if want != actual {
                let kept = root().join("target").join("golden-actual").join(&name);
                fs::create_dir_all(kept.parent().unwrap()).unwrap();
                fs::write(&kept, &actual).unwrap();
                panic!("{name} differs from {}; actual output kept in {}", file.display(), kept.display());
            }
        }
    }
}

#[test]
fn rows_are_decided_or_quarantined() {
    for input in [testdata("fixtures/rules/input"), testdata("sample/csv"), testdata("sample/parquet")] {
        let out = tmp();
        let o = out.path().join("o");
        sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&o), "--as-of", "2021-11-15"], 0);
        assert_rows_accounted(&o);
    }
}

/// All files of an output folder, with the manifest's run-specific keys removed.
fn snapshot(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    let mut paths: Vec<std::path::PathBuf> = fs::read_dir(out).unwrap().map(|e| e.unwrap().path()).collect();
    while let Some(p) = paths.pop() {
        if p.is_dir() {
            paths.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let name = p.strip_prefix(out).unwrap().to_string_lossy().into_owned();
        let mut bytes = fs::read(&p).unwrap();
        if name == "manifest.json" {
            let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            v.as_object_mut().unwrap().remove("timings_ms");
            v.as_object_mut().unwrap().remove("threads");
            // What the run measured; the estimate, a function of the input, stays.
            let memory = v["memory"].as_object_mut().unwrap();
            memory.remove("available_bytes");
            memory.remove("peak_rss_bytes");
            bytes = serde_json::to_vec(&v).unwrap();
        }
        m.insert(name, bytes);
    }
    m
}

#[test]
fn threads_and_batch_sizes_do_not_change_a_byte() {
    for input in [testdata("sample/parquet"), testdata("sample/csv"), testdata("fixtures/rules/input")] {
        let mut seen: Option<BTreeMap<String, Vec<u8>>> = None;
        for (threads, batch) in [("1", "65536"), ("2", "65536"), ("2", "7"), ("3", "1000")] {
            let out = tmp();
            let o = out.path().join("o");
            let args = [
                "run",
                "--quiet",
                "--input",
                s(&input),
                "--out",
                s(&o),
                "--as-of",
                "2021-11-15",
                "--threads",
                threads,
                "--batch-rows",
                batch,
                "--org-reports",
            ];
            sweep(&args, 0);
            let snap = snapshot(&o);
            if let Some(first) = &seen {
                for (name, bytes) in first {
                    assert!(
                        snap[name] == *bytes,
                        "{name} differs with --threads {threads} --batch-rows {batch} on {}",
                        input.display()
                    );
                }
            } else {
                seen = Some(snap);
            }
        }
    }
}

#[test]
fn csv_and_parquet_inputs_give_the_same_decisions() {
    let (a, b) = (tmp(), tmp());
    let (oa, ob) = (a.path().join("o"), b.path().join("o"));
    sweep(&["run", "--quiet", "--input", s(&testdata("sample/csv")), "--out", s(&oa), "--as-of", "2021-11-15"], 0);
    sweep(&["run", "--quiet", "--input", s(&testdata("sample/parquet")), "--out", s(&ob), "--as-of", "2021-11-15"], 0);
    for name in [
        "card_decisions.parquet",
        "org_compliance.parquet",
        "admin_review.parquet",
        "revocation_certificates.parquet",
        "revocation_candidates.parquet",
    ] {
        assert_eq!(parquet_to_text(&oa.join(name)), parquet_to_text(&ob.join(name)), "{name}");
    }
    for name in ["org_compliance.csv", "revocation_candidates.csv", "revocation_certificates.csv"] {
        assert_eq!(fs::read(oa.join(name)).unwrap(), fs::read(ob.join(name)).unwrap(), "{name}");
    }
}

#[test]
fn a_failed_run_leaves_out_untouched() {
    let work = tmp();
    let input = work.path().join("in");
    fs::create_dir(&input).unwrap();
    for t in ["organisations", "id_admins", "cards"] {
        fs::copy(testdata(&format!("fixtures/rules/input/{t}.csv")), input.join(format!("{t}.csv"))).unwrap();
    }
    // A truncated Parquet file: fatal, names the file.
    let good = fs::read(testdata("sample/parquet/certificates.parquet")).unwrap();
    fs::write(input.join("certificates.parquet"), &good[..good.len() / 2]).unwrap();
    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("previous.txt"), "last night").unwrap();
    let o = sweep(&["run", "--quiet", "--force", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"], 1);
    assert!(stderr(&o).contains("certificates.parquet"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(out.join("previous.txt")).unwrap(), "last night");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 1);
    let leftovers: Vec<_> = fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "staging folder left behind: {leftovers:?}");
}

#[test]
fn existing_out_needs_force_and_force_replaces() {
    let work = tmp();
    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("previous.txt"), "x").unwrap();
    let input = testdata("fixtures/rules/input");
    let o = sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"], 1);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    sweep(&["run", "--quiet", "--force", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"], 0);
    assert!(!out.join("previous.txt").exists());
    assert!(out.join("manifest.json").exists());
    // An empty existing folder is fine without --force.
    let empty = work.path().join("empty");
    fs::create_dir(&empty).unwrap();
    sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&empty), "--as-of", "2021-11-15"], 0);
}

#[test]
fn strict_exits_3_with_results_written() {
    let work = tmp();
    let out = work.path().join("out");
    sweep(
        &[
            "run",
            "--quiet",
            "--strict",
            "--input",
            s(&testdata("fixtures/rules/input")),
            "--out",
            s(&out),
            "--as-of",
            "2021-11-15",
        ],
        3,
    );
    assert!(out.join("manifest.json").exists());
}

#[test]
fn usage_errors_exit_2() {
    let work = tmp();
    let out = work.path().join("out");
    let input = testdata("fixtures/rules/input");
    sweep(&["run", "--input", s(&input), "--out", s(&out), "--as-of", "15/11/2021"], 2);
    sweep(&["run", "--input", s(&input), "--out", s(&out), "--threads", "0"], 2);
    sweep(&["run", "--input", s(&input)], 2);
    sweep(&["frobnicate"], 2);
    assert!(!out.exists());
}

#[test]
fn missing_required_column_names_table_file_and_column() {
    let work = tmp();
    let input = work.path().join("in");
    fs::create_dir(&input).unwrap();
    for t in ["organisations", "id_admins", "certificates"] {
        fs::copy(testdata(&format!("fixtures/rules/input/{t}.csv")), input.join(format!("{t}.csv"))).unwrap();
    }
    fs::write(input.join("cards.csv"), "card_id,org_id,card_type,status\nC1,O1,SITHS,received\n").unwrap();
    let o = sweep(
        &["run", "--quiet", "--input", s(&input), "--out", s(&work.path().join("o")), "--as-of", "2021-11-15"],
        1,
    );
    let e = stderr(&o);
    assert!(e.contains("cards.csv") && e.contains("ordered_at") && e.contains("cards"), "{e}");
    // Two forms of one table.
    fs::write(input.join("cards.parquet"), "x").unwrap();
    let o = sweep(
        &["run", "--quiet", "--input", s(&input), "--out", s(&work.path().join("o")), "--as-of", "2021-11-15"],
        1,
    );
    assert!(stderr(&o).contains("more than once"), "{}", stderr(&o));
}

#[test]
fn generate_is_deterministic_whatever_the_threads() {
    let (a, b) = (tmp(), tmp());
    for fmt in ["parquet", "csv"] {
        let (ga, gb) = (a.path().join(fmt), b.path().join(fmt));
        sweep(&["generate", "--out", s(&ga), "--cards", "20000", "--seed", "7", "--threads", "1", "--format", fmt], 0);
        sweep(&["generate", "--out", s(&gb), "--cards", "20000", "--seed", "7", "--threads", "2", "--format", fmt], 0);
        for t in ["organisations", "id_admins", "cards", "certificates"] {
            let f = format!("{t}.{fmt}");
            assert!(fs::read(ga.join(&f)).unwrap() == fs::read(gb.join(&f)).unwrap(), "{f} differs across threads");
        }
    }
}

/// The promise for generated data: as of 2021-11-15 every finding but
/// DEADLINE_PASSED fires and every verdict but REPLACE occurs; after the deadline,
/// DEADLINE_PASSED and REPLACE occur.
#[test]
fn generated_export_exercises_every_rule() {
    let work = tmp();
    let g = work.path().join("g");
    sweep(&["generate", "--out", s(&g), "--cards", "100000"], 0);
    let totals = |as_of: &str| -> BTreeMap<String, i64> {
        let o = work.path().join(format!("o{as_of}"));
        sweep(&["run", "--quiet", "--input", s(&g), "--out", s(&o), "--as-of", as_of], 0);
        let mut t = BTreeMap::new();
        for r in table(&o, "org_compliance.parquet") {
            for (k, v) in r {
                if let Some(n) = v.and_then(|v| v.parse::<i64>().ok()) {
                    *t.entry(k).or_default() += n;
                }
            }
        }
        t
    };
    let before = totals("2021-11-15");
    for (k, v) in &before {
        let expected_zero = matches!(k.as_str(), "deadline_passed" | "replace");
        assert_eq!(*v == 0, expected_zero, "{k} = {v} as of 2021-11-15");
    }
    let after = totals("2021-12-20");
    assert!(after["deadline_passed"] > 0 && after["replace"] > 0, "{after:?}");
}

/// The nightly diff: new, persisting and resolved revocations with the night each was
/// first seen, changed verdicts, and a note when policies differ.
#[test]
fn nightly_diff_through_three_nights() {
    let work = tmp();
    let input = testdata("fixtures/rules/input");
    let night = |as_of: &str, previous: Option<&Path>, extra: &[&str]| {
        let out = work.path().join(as_of);
        let mut args = vec!["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", as_of];
        if let Some(p) = previous {
            args.extend(["--previous", s(p)]);
        }
        args.extend(extra);
        let o = sweep(&args, 0);
        (out, String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (n1, _) = night("2021-11-15", None, &[]);
    let (n2, summary) = night("2021-12-08", Some(&n1), &[]);
    assert!(summary.contains("3 new, 4 persisting, 0 resolved"), "{summary}");
    let changes = |dir: &Path| -> Vec<(String, String, String)> {
        table(dir, "revocation_changes.parquet")
            .into_iter()
            .map(|r| (r["card_id"].clone().unwrap(), r["change"].clone().unwrap(), r["first_seen"].clone().unwrap()))
            .collect()
    };
    let t = |c: &str, ch: &str, d: &str| (c.to_string(), ch.to_string(), d.to_string());
    assert_eq!(
        changes(&n2),
        [
            t("C02-exactly-3-months", "new", "2021-12-08"),
            t("C03-one-day-more", "persisting", "2021-11-15"),
            t("C04-eid-month-end", "new", "2021-12-08"),
            t("C05-ordered-utc-evening", "new", "2021-12-08"),
            t("C06-upgraded-before-received", "persisting", "2021-11-15"),
            t("C07-upgraded-while-sent", "persisting", "2021-11-15"),
            t("C18-dst-gap", "persisting", "2021-11-15"),
        ]
    );
    let verdicts: Vec<_> = table(&n2, "verdict_changes.parquet")
        .into_iter()
        .map(|r| {
            (r["card_id"].clone().unwrap(), r["verdict_before"].clone().unwrap(), r["verdict_after"].clone().unwrap())
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            t("C02-exactly-3-months", "BLOCKED", "REVOKE"),
            t("C04-eid-month-end", "OUT_OF_SCOPE", "REVOKE"),
            t("C05-ordered-utc-evening", "BLOCKED", "REVOKE"),
        ]
    );
    // The third night carries the first night seen through the second night's diff.
    let (n3, _) = night("2021-12-09", Some(&n2), &[]);
    assert!(changes(&n3).contains(&t("C03-one-day-more", "persisting", "2021-11-15")));
    assert!(changes(&n3).contains(&t("C02-exactly-3-months", "persisting", "2021-12-08")));
    // The folder holds exactly the declared tables (Parquet, and CSV where declared), the
    // summary page and the manifest, which lists every one of them.
    let mut want: BTreeSet<String> = ["manifest.json", "summary.html"].map(String::from).into();
    for t in siths_sweep::schema::OUTPUT_TABLES {
        want.insert(t.parquet_file());
        if t.csv {
            want.insert(t.csv_file());
        }
    }
    let have: BTreeSet<String> =
        fs::read_dir(&n3).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(have, want);
    let manifest: serde_json::Value = serde_json::from_slice(&fs::read(n3.join("manifest.json")).unwrap()).unwrap();
    let listed: BTreeSet<String> =
        manifest["outputs"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap().to_string()).collect();
    want.remove("manifest.json");
    assert_eq!(listed, want);
    // Backwards, as its own subcommand: what was revoked is now resolved.
    let out = work.path().join("back");
    let o = sweep(&["diff", "--previous", s(&n2), "--current", s(&n1), "--out", s(&out)], 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 new, 4 persisting, 3 resolved"));
    let csv = fs::read_to_string(out.join("revocation_changes.csv")).unwrap();
    assert!(csv.contains("C02-exactly-3-months,SE2321000016-A001,resolved,UNISSUED_OVER_3_MONTHS,2021-12-08"), "{csv}");
    // Another policy: compared, and said so.
    let policy = testdata("fixtures/rules/cases/policy_override/policy.toml");
    let (_, summary) = night("2021-11-16", Some(&n1), &["--policy", s(&policy)]);
    assert!(summary.contains("different policies"), "{summary}");
    // A previous folder that is not a sweep output is an error before any work.
    let o = sweep(
        &["run", "--quiet", "--input", s(&input), "--out", s(&work.path().join("x")), "--previous", s(&input)],
        1,
    );
    assert!(stderr(&o).contains("--previous"), "{}", stderr(&o));
}

/// The encode floor (`scripts/bench.sh`) must do exactly the sweep's encoding work: it
/// writes a sweep's card_decisions.parquet again and says when the bytes differ.
#[test]
fn encode_floor_writes_the_bytes_the_sweep_wrote() {
    let out = tmp();
    let o = out.path().join("o");
    sweep(&["run", "--quiet", "--input", s(&testdata("sample/parquet")), "--out", s(&o), "--as-of", "2021-11-15"], 0);
    let floor = |threads: &str| {
        let f = std::process::Command::new(env!("CARGO_BIN_EXE_encode-floor"))
            .args([s(&o), threads])
            .output()
            .expect("encode-floor runs");
        let text = String::from_utf8_lossy(&f.stdout).into_owned();
        assert!(f.status.success(), "{text}{}", String::from_utf8_lossy(&f.stderr));
        text
    };
    for threads in ["1", "3"] {
        let text = floor(threads);
        assert!(text.starts_with("encode-floor: ") && !text.contains("NOT the bytes"), "{text}");
    }
    // It notices when they differ: the manifest now names other bytes.
    let path = o.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    for f in manifest["outputs"].as_array_mut().unwrap() {
        if f["name"] == "card_decisions.parquet" {
            f["sha256"] = serde_json::json!("0".repeat(64));
        }
    }
    fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    assert!(floor("2").contains("NOT the bytes the sweep wrote"));
}
