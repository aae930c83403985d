//! Crashes, write failures, file permissions and personal data: `--out` is never
//! partial, failures publish nothing, outputs are private, and no full personnummer
//! leaves the program.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::*;
use sha2::{Digest, Sha256};

/// `out` is a complete result: a manifest whose every output is there with its hash.
/// Returns the manifest without its stage timings and measured memory, the parts that
/// vary by run.
fn assert_whole(out: &Path) -> String {
    let manifest = fs::read_to_string(out.join("manifest.json")).expect("a published folder has its manifest");
    let mut m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let listed: BTreeSet<String> =
        m["outputs"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap().to_string()).collect();
    for o in m["outputs"].as_array().unwrap() {
        let bytes = fs::read(out.join(o["name"].as_str().unwrap())).expect("listed output exists");
        let hex: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, o["sha256"].as_str().unwrap(), "{} is not what the manifest says", o["name"]);
    }
    let present: BTreeSet<String> =
        fs::read_dir(out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let mut expected = listed;
    expected.insert("manifest.json".into());
    assert_eq!(present, expected, "stray or missing files in {}", out.display());
    m.as_object_mut().unwrap().remove("timings_ms");
    m.as_object_mut().unwrap().remove("memory");
    m.to_string()
}

#[test]
fn sigkill_during_a_run_never_leaves_a_partial_out() {
    let work = tmp();
    let input = work.path().join("export");
    sweep(&["generate", "--out", s(&input), "--cards", "300000", "--seed", "3"], 0);
    let out = work.path().join("out");
    let args = ["run", "--quiet", "--force", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"];
    let started = Instant::now();
    sweep(&args, 0);
    // The shortest run seen so far. Other tests share the cores, so a run's length
    // varies: every run that ends before its kill shortens the estimate and the same
    // point is tried again, instead of counting on one timing taken at the start.
    let mut shortest = started.elapsed();
    let mut manifests = BTreeSet::new();
    manifests.insert(assert_whole(&out));
    const KILLS: u32 = 20;
    let (mut killed, mut finished) = (0u32, 0u32);
    while killed < KILLS {
        assert!(finished < 40, "{finished} runs finished before their kill; only {killed} were killed");
        // Kill points spread over the whole run, write stage included.
        let delay = shortest.mul_f64(0.05 + 0.9 * f64::from(killed) / f64::from(KILLS - 1));
        let mut child = Command::new(env!("CARGO_BIN_EXE_siths-sweep"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let spawned = Instant::now();
        let ended = loop {
            if child.try_wait().unwrap().is_some() {
                break Some(spawned.elapsed());
            }
            if spawned.elapsed() >= delay {
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        match ended {
            None => {
                child.kill().unwrap(); // SIGKILL
                killed += 1;
            }
            Some(took) => {
                finished += 1;
                shortest = shortest.min(took);
            }
        }
        child.wait().unwrap();
        manifests.insert(assert_whole(&out));
    }
    // Apart from its stage timings the manifest is every output's hash: whatever was
    // killed, `out` always holds the same result.
    assert_eq!(manifests.len(), 1, "a killed run changed the published result: {manifests:#?}");
    // The next run cleans what the killed ones left beside `out`.
    sweep(&args, 0);
    assert_whole(&out);
    let leftovers: Vec<_> = fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("siths-sweep"))
        .collect();
    assert!(leftovers.is_empty(), "leftover staging folders: {leftovers:?}");
}

#[test]
fn write_failures_are_clear_and_publish_nothing() {
    let work = tmp();
    let input = testdata("fixtures/rules/input");
    // The output path is a file.
    let file = work.path().join("report.txt");
    fs::write(&file, "x").unwrap();
    let o = sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&file), "--as-of", "2021-11-15"], 1);
    assert!(stderr(&o).contains("report.txt") && stderr(&o).contains("not a folder"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&file).unwrap(), "x");
    // Its parent is a file.
    let under = file.join("out");
    let o = sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&under), "--as-of", "2021-11-15"], 1);
    assert!(stderr(&o).contains("report.txt"), "{}", stderr(&o));
    // A folder nobody may write in, not even root.
    let o =
        sweep(&["run", "--quiet", "--input", s(&input), "--out", "/proc/siths-sweep-out", "--as-of", "2021-11-15"], 1);
    assert!(stderr(&o).contains("/proc"), "{}", stderr(&o));
    assert_eq!(fs::read_dir(work.path()).unwrap().count(), 1);
}

#[test]
fn outputs_are_not_world_readable() {
    let work = tmp();
    let out = work.path().join("out");
    sweep(
        &["run", "--quiet", "--input", s(&testdata("fixtures/rules/input")), "--out", s(&out), "--as-of", "2021-11-15"],
        0,
    );
    for e in fs::read_dir(&out).unwrap() {
        let e = e.unwrap();
        let mode = e.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o007, 0, "{} has mode {mode:o}", e.path().display());
    }
    assert_eq!(fs::metadata(&out).unwrap().permissions().mode() & 0o007, 0);
}

/// Every way a personnummer can be written: as given, and in the 10- and 12-digit forms
/// with and without separators.
fn written_forms(pnr: &str) -> Vec<String> {
    let digits: String = pnr.chars().filter(char::is_ascii_digit).collect();
    let mut forms = vec![pnr.trim().to_string()];
    let ten = match digits.len() {
        12 => digits[2..].to_string(),
        10 => digits.clone(),
        _ => return forms,
    };
    forms.push(ten.clone());
    forms.push(format!("{}-{}", &ten[..6], &ten[6..]));
    forms.push(format!("{}+{}", &ten[..6], &ten[6..]));
    for century in ["18", "19", "20"] {
        forms.push(format!("{century}{ten}"));
        forms.push(format!("{century}{}-{}", &ten[..6], &ten[6..]));
    }
    forms
}

#[test]
fn no_full_personnummer_in_any_output_or_message() {
    for input in [testdata("fixtures/rules/input"), testdata("sample/csv")] {
        let work = tmp();
        let out = work.path().join("out");
        let o = sweep(&["run", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"], 0);
        let admins = fs::read_to_string(input.join("id_admins.csv")).unwrap();
        let recs = csv_records(&admins);
        let col = recs[0].iter().position(|c| c == "personnummer").unwrap();
        let pnrs: Vec<String> =
            recs[1..].iter().filter_map(|r| r.get(col).cloned()).filter(|p| p.trim().len() >= 10).collect();
        assert!(pnrs.len() >= 10, "too few personnummer to test with");
        let mut haystacks = vec![String::from_utf8_lossy(&o.stdout).into_owned(), stderr(&o)];
        for e in fs::read_dir(&out).unwrap() {
            let p = e.unwrap().path();
            haystacks.push(String::from_utf8_lossy(&fs::read(&p).unwrap()).into_owned());
            if p.extension().is_some_and(|x| x == "parquet") {
                haystacks.push(parquet_to_text(&p));
            }
        }
        for pnr in &pnrs {
            for form in written_forms(pnr) {
                for h in &haystacks {
                    assert!(!h.contains(&form), "personnummer {form:?} found in an output of {}", input.display());
                }
            }
        }
    }
}

/// SPEC "CSV companions": a cell that a spreadsheet would run as a formula gets a
/// leading `'`; a plain signed number (a card id `-42`, a serial `+46`) is written as
/// it is, so the CA's tools get the identifier that is on the card.
#[test]
fn csv_cells_cannot_start_a_formula_and_plain_numbers_stay() {
    let work = tmp();
    let input = work.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(
        input.join("organisations.csv"),
        "org_id,org_name\n=SE1,\"=HYPERLINK(\"\"http://x\"\")\"\n+SE2,@SUM(A1)\n-SE3,\"\tTab\"\n-7,-4.5\n",
    )
    .unwrap();
    fs::write(input.join("id_admins.csv"), "org_id\n").unwrap();
    fs::write(
        input.join("cards.csv"),
        "card_id,org_id,card_type,status,ordered_at\n=C1,=SE1,SITHS,ordered,2021-01-01\n@C2,+SE2,SITHS,ordered,2021-01-01\n\
-42,-7,SITHS,ordered,2021-01-01\n-2+3,-7,SITHS,ordered,2021-01-01\n",
    )
    .unwrap();
    fs::write(
        input.join("certificates.csv"),
        "cert_serial,card_id,issuer\n=1+1,=C1,SITHS CA\n+46,-42,SITHS CA\n-4.,-42,SITHS CA\n--1,-2+3,SITHS CA\n",
    )
    .unwrap();
    let out = work.path().join("out");
    sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"], 0);
    let plain = |cell: &str| {
        let digits = cell.strip_prefix(['+', '-']).unwrap_or("x");
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
        [whole, fraction].iter().all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut cells = 0;
    for name in ["org_compliance.csv", "revocation_candidates.csv", "revocation_certificates.csv"] {
        let text = fs::read_to_string(out.join(name)).unwrap();
        for rec in csv_records(&text) {
            for cell in rec {
                cells += 1;
                let formula =
                    cell.starts_with(['=', '@', '\t', '\r']) || (cell.starts_with(['+', '-']) && !plain(&cell));
                assert!(!formula, "{name}: cell {cell:?} could run in Excel");
            }
        }
    }
    assert!(cells > 20);
    let records = |name: &str| csv_records(&fs::read_to_string(out.join(name)).unwrap());
    // The CA gets the card id and the serials as they are on the card.
    let candidates = records("revocation_candidates.csv");
    let minus_42 = candidates.iter().find(|r| r[0] == "-42").expect("card -42 is a candidate, unchanged");
    assert_eq!(minus_42[1], "-7");
    assert!(candidates.iter().any(|r| r[0] == "'-2+3"), "-2+3 is neutralised: {candidates:?}");
    let certificates = records("revocation_certificates.csv");
    let pairs: BTreeSet<(String, String)> = certificates[1..].iter().map(|r| (r[1].clone(), r[3].clone())).collect();
    for (card, serial) in [("-42", "+46"), ("-42", "'-4."), ("'-2+3", "'--1"), ("'=C1", "'=1+1")] {
        assert!(pairs.contains(&(card.to_string(), serial.to_string())), "({card}, {serial}) in {pairs:?}");
    }
    let orgs = records("org_compliance.csv");
    assert!(orgs.iter().any(|r| r[0] == "-7" && r[1] == "-4.5"), "{orgs:?}");
    // The Parquet keeps the values as given.
    let parquet_orgs = table(&out, "org_compliance.parquet");
    assert_eq!(parquet_orgs[0]["org_id"].as_deref(), Some("+SE2"));
    let csv = fs::read_to_string(out.join("org_compliance.csv")).unwrap();
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
}

#[test]
fn a_killed_staging_folder_of_a_live_process_is_left_alone() {
    // Staging folders carry the writer's pid: only those of dead processes are removed.
    let work = tmp();
    let out = work.path().join("out");
    let live = work.path().join(format!(".out.siths-sweep-tmp-{}-1", std::process::id()));
    let dead = work.path().join(".out.siths-sweep-tmp-999999999-1");
    fs::create_dir(&live).unwrap();
    fs::create_dir(&dead).unwrap();
    sweep(
        &["run", "--quiet", "--input", s(&testdata("fixtures/rules/input")), "--out", s(&out), "--as-of", "2021-11-15"],
        0,
    );
    assert!(live.exists(), "a live process's staging folder was removed");
    assert!(!dead.exists(), "a dead process's staging folder was left");
}

/// summary.html is one self-contained page: nothing loaded from elsewhere, input text
/// escaped, the night's totals on it.
#[test]
fn summary_page_is_self_contained_and_escaped() {
    let work = tmp();
    let input = work.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("organisations.csv"), "org_id,org_name\n<b>SE1,<script>alert(1)</script> & Co\n").unwrap();
    fs::write(input.join("id_admins.csv"), "org_id\n").unwrap();
    fs::write(
        input.join("cards.csv"),
        "card_id,org_id,card_type,status,ordered_at\nC1,<b>SE1,SITHS,ordered,2021-01-01\nC2,<b>SE1,SITHS,received,2021-01-01\n",
    )
    .unwrap();
    fs::write(input.join("certificates.csv"), "cert_serial,card_id,issuer\n").unwrap();
    let out = work.path().join("out");
    sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"], 0);
    let page = fs::read_to_string(out.join("summary.html")).unwrap();
    assert!(!page.contains("<script") && !page.contains("<b>"), "input text not escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
    for external in ["src=", "href=", "@import", "url("] {
        assert!(!page.contains(external), "summary.html refers to something outside itself: {external}");
    }
    assert!(page.contains("as of 2021-11-15") && page.contains("2 cards of 1 organisation;"), "{page}");
    // One REVOKE (ordered more than three months ago), one BLOCKED (org not cleared).
    assert!(page.contains(">REVOKE</text>") && page.contains(">BLOCKED</text>"));
    let manifest = fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("summary.html"));
}

/// Runs the binary with extra environment variables; panics with its output if the exit
/// code differs.
fn sweep_env(args: &[&str], env: &[(&str, &str)], expect_code: i32) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_siths-sweep")).args(args).envs(env.iter().copied()).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(expect_code),
        "siths-sweep {}\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The as-of date of a complete result in `out` (its manifest hashes verified).
fn night_in(out: &Path) -> Option<String> {
    if !out.join("manifest.json").exists() {
        return None;
    }
    assert_whole(out);
    let m: serde_json::Value = serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    Some(m["as_of"].as_str().unwrap().to_string())
}

/// An export whose cards file is not Parquet: a run on it fails after it has started.
fn broken_export(dir: &Path) -> std::path::PathBuf {
    let bad = dir.join("badin");
    fs::create_dir_all(&bad).unwrap();
    for e in fs::read_dir(testdata("sample/parquet")).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, bad.join(p.file_name().unwrap())).unwrap();
    }
    fs::write(bad.join("cards.parquet"), "garbage\n").unwrap();
    bad
}

/// The names beside the results folder, other than the inputs.
fn beside(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "badin")
        .collect();
    names.sort();
    names
}

/// Issue 13's reproduction: a kill between the fallback's two renames left last night's
/// folder aside and `--out` missing; tonight's run fails on bad input. Last night's
/// output must be back in `night`, and the run says so.
#[test]
fn a_failing_run_puts_last_nights_output_back() {
    let work = tmp();
    let night = work.path().join("night");
    let input = testdata("sample/parquet");
    sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&night), "--as-of", "2021-11-14"], 0);
    let aside = work.path().join(".night.siths-sweep-old-999999999");
    fs::rename(&night, &aside).unwrap();
    let bad = broken_export(work.path());
    let o = sweep(&["run", "--quiet", "--input", s(&bad), "--out", s(&night), "--as-of", "2021-11-15", "--force"], 1);
    assert!(stderr(&o).contains("put back"), "the run says what it restored: {}", stderr(&o));
    assert_eq!(night_in(&night).as_deref(), Some("2021-11-14"), "last night's output is back");
    assert_eq!(beside(work.path()), ["night"]);
}

/// Stops a `--force` publish at each of its steps (a failpoint), SIGKILLs it there, then
/// runs a failing and a succeeding sweep. After each, `--out` holds a complete result
/// (hashes verified): the old night or the new one, and never nothing where the system
/// exchanges folders in one step. Prints the matrix.
#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs `--features failpoints` (the README's test command)")]
fn a_kill_at_any_step_of_publishing_loses_nothing() {
    use std::io::BufRead;
    let input = testdata("sample/parquet");
    // (failpoint, exchange off, a killed fallback first to leave something to recover).
    let steps: [(&str, bool, bool); 7] = [
        ("publish:staged", false, false),
        ("publish:exchanged", false, false),
        ("publish:discarding", false, false),
        ("publish:old-aside", true, false),
        ("publish:new-in", true, false),
        ("publish:discarding", true, false),
        ("recover:put-back", false, true),
    ];
    let mut matrix =
        vec!["| step | exchange | after the kill | after a failing run | after a succeeding run |".to_string()];
    matrix.push("| --- | --- | --- | --- | --- |".to_string());
    for (point, no_exchange, recover) in steps {
        let work = tmp();
        let night = work.path().join("night");
        let run = |as_of: &str, input: &Path, env: &[(&str, &str)], code: i32| {
            let args = ["run", "--quiet", "--force", "--input", s(input), "--out", s(&night), "--as-of", as_of];
            sweep_env(&args, env, code)
        };
        run("2021-11-14", &input, &[], 0);
        let kill_at = |point: &str, env: &[(&str, &str)]| {
            let args = ["run", "--quiet", "--force", "--input", s(&input), "--out", s(&night), "--as-of", "2021-11-15"];
            let mut child = Command::new(env!("CARGO_BIN_EXE_siths-sweep"))
                .args(args)
                .env("SITHS_SWEEP_FAILPOINT", point)
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let reached = std::io::BufReader::new(child.stderr.take().unwrap())
                .lines()
                .map_while(Result::ok)
                .any(|l| l == format!("failpoint {point} reached"));
            assert!(reached, "{point}: the run ended without reaching its failpoint");
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
        };
        if recover {
            // Leave last night's result aside with `--out` missing, then kill the next
            // run as it puts it back.
            kill_at("publish:old-aside", &[("SITHS_SWEEP_NO_EXCHANGE", "1")]);
            assert_eq!(night_in(&night), None);
        }
        let env: &[(&str, &str)] = if no_exchange { &[("SITHS_SWEEP_NO_EXCHANGE", "1")] } else { &[] };
        kill_at(point, env);
        let after_kill = night_in(&night);
        if !no_exchange && !recover {
            assert!(after_kill.is_some(), "{point}: --out is missing after the kill");
        }
        let bad = broken_export(work.path());
        run("2021-11-15", &bad, env, 1);
        let after_failing = night_in(&night);
        assert!(
            matches!(after_failing.as_deref(), Some("2021-11-14" | "2021-11-15")),
            "{point}: after a failing run --out holds {after_failing:?}"
        );
        if let Some(before) = &after_kill {
            assert_eq!(after_failing.as_ref(), Some(before), "{point}: the failing run changed --out");
        }
        run("2021-11-16", &input, env, 0);
        let after_success = night_in(&night);
        assert_eq!(after_success.as_deref(), Some("2021-11-16"), "{point}");
        assert_eq!(beside(work.path()), ["night"], "{point}: folders left beside --out");
        let show = |n: &Option<String>| n.as_deref().map_or("missing".to_string(), |d| format!("complete, {d}"));
        matrix.push(format!(
            "| {point}{} | {} | {} | {} | {} |",
            if recover { " (after a kill at old-aside)" } else { "" },
            if no_exchange { "off (fallback)" } else { "renameat2" },
            show(&after_kill),
            show(&after_failing),
            show(&after_success)
        ));
    }
    eprintln!("{}", matrix.join("\n"));
}

/// The hash seed decides where keys are looked for, never an output byte: one export
/// swept under two seeds gives the same files, byte for byte.
#[test]
fn no_output_byte_depends_on_the_hash_seed() {
    let work = tmp();
    for (i, input) in [testdata("fixtures/rules/input"), testdata("sample/csv")].iter().enumerate() {
        let mut results = Vec::new();
        for seed in ["1", "18446744073709551557"] {
            let out = work.path().join(format!("out-{i}-{seed}"));
            let args = ["run", "--quiet", "--input", s(input), "--out", s(&out), "--as-of", "2021-11-15"];
            sweep_env(&args, &[("SITHS_SWEEP_HASH_SEED", seed)], 0);
            let mut files = std::collections::BTreeMap::new();
            for e in fs::read_dir(&out).unwrap() {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if name != "manifest.json" {
                    files.insert(name, fs::read(&p).unwrap());
                }
            }
            files.insert("manifest.json".into(), assert_whole(&out).into_bytes());
            results.push(files);
        }
        assert!(results[0].len() >= 9);
        for (name, bytes) in &results[0] {
            assert!(&results[1][name] == bytes, "{name} differs between hash seeds for {}", input.display());
        }
    }
}

/// An export estimated not to fit is refused before anything is read or written, in
/// one line that gives the estimate, what is available and the way around it; the
/// manifest of a run records the estimate beside the measured peak.
#[test]
fn an_export_that_cannot_fit_fails_early_and_clearly() {
    let work = tmp();
    let out = work.path().join("night");
    let input = testdata("sample/parquet");
    let args = ["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"];
    let o = sweep_env(&args, &[("SITHS_SWEEP_MEMORY_AVAILABLE", "1000000")], 1);
    let message = stderr(&o);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    for part in ["estimated", "GiB", "5000 cards", "22719 certificates", "0.0 GiB is available", "--no-memory-check"] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    assert!(fs::read_dir(work.path()).unwrap().next().is_none(), "nothing written");
    let mut forced = args.to_vec();
    forced.push("--no-memory-check");
    sweep_env(&forced, &[("SITHS_SWEEP_MEMORY_AVAILABLE", "1000000")], 0);
    let m: serde_json::Value = serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let memory = &m["memory"];
    let estimate = memory["estimated_peak_bytes"].as_u64().unwrap();
    let peak = memory["peak_rss_bytes"].as_u64().unwrap();
    assert_eq!(memory["available_bytes"].as_u64(), Some(1_000_000));
    // The 5,000-card sample: the model's base and rows, against a real peak of tens of MB.
    assert!((384 << 20..430 << 20).contains(&estimate), "{estimate}");
    assert!(peak > 10 << 20 && peak < estimate, "peak {peak}, estimate {estimate}");
}
