//! Crashes, write failures, file permissions and personal data: `--out` is never
//! partial, failures publish nothing, outputs are private, and no full personnummer
//! leaves the program.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::*;
use sha2::{Digest, Sha256};
use siths_sweep::ingest::csv::parse_records;
use siths_sweep::output::canonical::parquet_to_text;

/// `out` is a complete result: a manifest whose every output is there with its hash.
/// Returns the manifest without its stage timings, the one part that varies by run.
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
        let recs = parse_records(&admins);
        let col = recs[0].iter().position(|c| c == "personnummer").unwrap();
        let pnrs: Vec<String> =
            recs[1..].iter().filter_map(|r| r.get(col).cloned()).filter(|p| p.trim().len() >= 10).collect();
        assert!(pnrs.len() >= 10, "too few personnummer to test with");
        let mut haystacks = vec![String::from_utf8_lossy(&o.stdout).into_owned(), stderr(&o)];
        for e in fs::read_dir(&out).unwrap() {
            let p = e.unwrap().path();
            haystacks.push(String::from_utf8_lossy(&fs::read(&p).unwrap()).into_owned());
            if p.extension().is_some_and(|x| x == "parquet") {
                haystacks.push(parquet_to_text(&p).unwrap());
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

#[test]
fn csv_cells_cannot_start_a_formula() {
    let work = tmp();
    let input = work.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(
        input.join("organisations.csv"),
        "org_id,org_name\n=SE1,\"=HYPERLINK(\"\"http://x\"\")\"\n+SE2,@SUM(A1)\n-SE3,\"\tTab\"\n",
    )
    .unwrap();
    fs::write(input.join("id_admins.csv"), "org_id\n").unwrap();
    fs::write(
        input.join("cards.csv"),
        "card_id,org_id,card_type,status,ordered_at\n=C1,=SE1,SITHS,ordered,2021-01-01\n@C2,+SE2,SITHS,ordered,2021-01-01\n",
    )
    .unwrap();
    fs::write(input.join("certificates.csv"), "cert_serial,card_id,issuer\n=1+1,=C1,SITHS CA\n").unwrap();
    let out = work.path().join("out");
    sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"], 0);
    let mut cells = 0;
    for name in ["org_compliance.csv", "revocation_candidates.csv", "revocation_certificates.csv"] {
        let text = fs::read_to_string(out.join(name)).unwrap();
        for rec in parse_records(&text) {
            for cell in rec {
                cells += 1;
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{name}: cell {cell:?} could run in Excel"
                );
            }
        }
    }
    assert!(cells > 20);
    // The Parquet keeps the values as given.
    let orgs = table(&out, "org_compliance.parquet");
    assert_eq!(orgs[0]["org_id"].as_deref(), Some("+SE2"));
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
    assert!(page.contains("as of 2021-11-15") && page.contains("2 cards of 1 organisations"));
    // One REVOKE (ordered more than three months ago), one BLOCKED (org not cleared).
    assert!(page.contains(">REVOKE</text>") && page.contains(">BLOCKED</text>"));
    let manifest = fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("summary.html"));
}
