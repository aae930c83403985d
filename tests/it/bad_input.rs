//! The bad-input matrix: each case breaks a clean export in one way and states what the
//! operator must see — the exit code and a message naming file and column, or exactly
//! which rows went to quarantine — and that every input row is still accounted for.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use crate::common::*;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;

const ORGS: &str = "org_id,org_name\nSE1-A,Org A\nSE1-B,Org B\n";
const ADMINS: &str = "org_id,name,personnummer,email,care_provider,care_unit,registered_at,trained_at\n\
SE1-A,Anna,195704289999,anna@a.se,Org A,Unit,2021-02-01,2021-03-01\n\
SE1-A,Bo,190905271474,bo@a.se,Org A,Unit,2021-02-01,2021-03-02\n";
const CARD_HEADER: &str =
    "card_id,org_id,care_unit,card_type,status,ordered_at,sent_at,received_at,upgraded_at,has_auth_code,has_sign_code";
const CARD_1: &str = "C1,SE1-A,Unit,SITHS,received,2021-01-10,2021-01-12,2021-01-20,,true,true";
const CARD_2: &str = "C2,SE1-B,Unit,SITHS,received,2021-01-10,2021-01-12,2021-01-20,,true,true";
const CERTS: &str =
    "cert_serial,card_id,issuer,not_after,revoked\n01,C1,SITHS CA,2024-01-01,false\n02,C2,SITHS CA,2024-01-01,false\n";

/// What a case must produce.
enum Expect {
    /// Exit 1, nothing written, stderr mentions every string.
    Fatal(&'static [&'static str]),
    /// Exit 0 with exactly these quarantine rows: (table, row, column, error).
    Quarantine(&'static [(&'static str, u64, &'static str, &'static str)]),
}

fn base(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("organisations.csv"), ORGS).unwrap();
    fs::write(dir.join("id_admins.csv"), ADMINS).unwrap();
    fs::write(dir.join("cards.csv"), format!("{CARD_HEADER}\n{CARD_1}\n{CARD_2}\n")).unwrap();
    fs::write(dir.join("certificates.csv"), CERTS).unwrap();
}

fn cards(dir: &Path, rows: &[&str]) {
    fs::write(dir.join("cards.csv"), format!("{CARD_HEADER}\n{}\n", rows.join("\n"))).unwrap();
}

fn write_parquet(path: &Path, cols: Vec<(&str, ArrayRef)>) {
    let schema = Arc::new(Schema::new(
        cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    let mut w = ArrowWriter::try_new(fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn strs(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

/// A valid cards.parquet with the two base cards, `ordered_at` of the given array.
fn cards_parquet(dir: &Path, ordered_at: ArrayRef) {
    fs::remove_file(dir.join("cards.csv")).ok();
    write_parquet(
        &dir.join("cards.parquet"),
        vec![
            ("card_id", strs(&[Some("C1"), Some("C2")])),
            ("org_id", strs(&[Some("SE1-A"), Some("SE1-B")])),
            ("card_type", strs(&[Some("SITHS"), Some("SITHS")])),
            ("status", strs(&[Some("received"), Some("received")])),
            ("ordered_at", ordered_at),
            ("received_at", strs(&[Some("2021-01-20"), Some("2021-01-20")])),
        ],
    );
}

fn run_case(name: &str, setup: impl Fn(&Path), expect: Expect) {
    let work = tmp();
    let input = work.path().join("in");
    base(&input);
    setup(&input);
    let out = work.path().join("out");
    let args = ["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"];
    match expect {
        Expect::Fatal(needles) => {
            let o = sweep(&args, 1);
            let e = stderr(&o);
            for n in needles {
                assert!(e.contains(n), "case {name}: stderr lacks {n:?}:\n{e}");
            }
            assert_eq!(e.lines().count(), 1, "case {name}: one line of error expected:\n{e}");
            assert!(!out.exists(), "case {name}: output written after a fatal error");
        }
        Expect::Quarantine(rows) => {
            let o = sweep(&args, 0);
            let q = table(&out, "quarantine.parquet");
            let got: Vec<(String, u64, String, String)> = q
                .iter()
                .map(|r| {
                    (
                        r["table"].clone().unwrap(),
                        r["row"].as_ref().unwrap().parse().unwrap(),
                        r["column"].clone().unwrap_or_default(),
                        r["error"].clone().unwrap(),
                    )
                })
                .collect();
            let want: Vec<(String, u64, String, String)> =
                rows.iter().map(|(t, r, c, e)| (t.to_string(), *r, c.to_string(), e.to_string())).collect();
            assert_eq!(got, want, "case {name}: quarantine\n{}", stderr(&o));
            assert_rows_accounted(&out);
        }
    }
}

use Expect::{Fatal, Quarantine};

#[test]
fn empty_and_header_only_files() {
    run_case("empty file", |d| fs::write(d.join("cards.csv"), "").unwrap(), Fatal(&["cards.csv", "empty"]));
    run_case("BOM only", |d| fs::write(d.join("cards.csv"), "\u{feff}").unwrap(), Fatal(&["cards.csv", "header"]));
    run_case(
        "header only",
        |d| fs::write(d.join("cards.csv"), format!("{CARD_HEADER}\n")).unwrap(),
        Quarantine(&[("certificates", 1, "card_id", "UNKNOWN_CARD"), ("certificates", 2, "card_id", "UNKNOWN_CARD")]),
    );
    // Found by the property tests: an export without certificates made the sweep panic.
    run_case(
        "every table header only",
        |d| {
            for t in ["organisations", "id_admins", "cards", "certificates"] {
                let text = fs::read_to_string(d.join(format!("{t}.csv"))).unwrap();
                fs::write(d.join(format!("{t}.csv")), text.lines().next().unwrap()).unwrap();
            }
        },
        Quarantine(&[]),
    );
    run_case(
        "no certificates",
        |d| fs::write(d.join("certificates.csv"), "cert_serial,card_id,issuer\n").unwrap(),
        Quarantine(&[]),
    );
    run_case(
        "empty folder",
        |d| {
            fs::remove_file(d.join("id_admins.csv")).unwrap();
            fs::create_dir(d.join("id_admins")).unwrap();
        },
        Quarantine(&[]),
    );
}

#[test]
fn columns_missing_extra_reordered_duplicated() {
    run_case(
        "missing required column",
        |d| fs::write(d.join("cards.csv"), "card_id,org_id,card_type,ordered_at\nC1,SE1-A,SITHS,2021-01-01\n").unwrap(),
        Fatal(&["cards.csv", "\"status\"", "cards"]),
    );
    run_case(
        "extra columns",
        |d| {
            let t = fs::read_to_string(d.join("certificates.csv")).unwrap();
            let t = t.replace("revoked\n", "revoked,extra\n").replace("false\n", "false,x\n");
            fs::write(d.join("certificates.csv"), t).unwrap()
        },
        Quarantine(&[]),
    );
    run_case(
        "columns in another order",
        |d| fs::write(d.join("organisations.csv"), "org_name,org_id\nOrg A,SE1-A\nOrg B,SE1-B\n").unwrap(),
        Quarantine(&[]),
    );
    run_case(
        "duplicate column name",
        |d| fs::write(d.join("organisations.csv"), "org_id,org_id\nA,B\n").unwrap(),
        Fatal(&["organisations.csv", "duplicate column"]),
    );
    run_case(
        "malformed header",
        |d| fs::write(d.join("organisations.csv"), "org_id,\"org_name\n").unwrap(),
        Fatal(&["organisations.csv", "header"]),
    );
}

#[test]
fn unreadable_files() {
    run_case(
        "wrong Parquet column type",
        |d| cards_parquet(d, Arc::new(Int64Array::from(vec![1, 2]))),
        Fatal(&["cards.parquet", "ordered_at", "Int64"]),
    );
    run_case(
        "truncated Parquet",
        |d| {
            cards_parquet(d, strs(&[Some("2021-01-10"), Some("2021-01-10")]));
            let b = fs::read(d.join("cards.parquet")).unwrap();
            fs::write(d.join("cards.parquet"), &b[..b.len() - 10]).unwrap();
        },
        Fatal(&["cards.parquet", "Parquet"]),
    );
    run_case(
        "text file named .parquet",
        |d| {
            fs::remove_file(d.join("cards.csv")).unwrap();
            fs::write(d.join("cards.parquet"), CARD_HEADER).unwrap();
        },
        Fatal(&["cards.parquet", "not a readable Parquet file"]),
    );
    run_case(
        "non-UTF-8 CSV",
        |d| fs::write(d.join("organisations.csv"), b"org_id,org_name\nSE1-A,Org \xe5\n".as_slice()).unwrap(),
        Fatal(&["organisations.csv", "not UTF-8", "line 2"]),
    );
    run_case(
        "a folder named like a file",
        |d| {
            fs::remove_file(d.join("cards.csv")).unwrap();
            fs::create_dir(d.join("cards.csv")).unwrap();
        },
        Fatal(&["cards.csv", "folder"]),
    );
    run_case(
        "table in two forms",
        |d| fs::write(d.join("cards.parquet"), "x").unwrap(),
        Fatal(&["cards", "more than once"]),
    );
    run_case(
        "table missing",
        |d| fs::remove_file(d.join("certificates.csv")).unwrap(),
        Fatal(&["certificates", "missing"]),
    );
    // Root reads anything, so only an unprivileged run can test permissions.
    let root = fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false);
    if !root {
        run_case(
            "unreadable file",
            |d| {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(d.join("cards.csv"), fs::Permissions::from_mode(0o000)).unwrap();
            },
            Fatal(&["cards.csv", "ermission"]),
        );
    }
}

#[test]
fn csv_encodings_and_quoting() {
    run_case(
        "UTF-8 BOM",
        |d| fs::write(d.join("organisations.csv"), format!("\u{feff}{ORGS}")).unwrap(),
        Quarantine(&[]),
    );
    run_case(
        "CRLF and CR line ends, blank lines",
        |d| fs::write(d.join("cards.csv"), format!("{CARD_HEADER}\r\n\r\n{CARD_1}\r{CARD_2}\r\n\n")).unwrap(),
        Quarantine(&[]),
    );
    run_case(
        "quoted commas, quotes and newlines",
        |d| {
            fs::write(d.join("organisations.csv"), "org_id,org_name\nSE1-A,\"Org, \"\"A\"\"\nline two\"\nSE1-B,B\n")
                .unwrap()
        },
        Quarantine(&[]),
    );
    run_case(
        "unterminated quote swallows the rest",
        |d| {
            cards(
                d,
                &[
                    CARD_1,
                    "C2,\"SE1-B,Unit,SITHS,received,2021-01-10,,,,true,true",
                    "C3,SE1-B,Unit,SITHS,received,2021-01-10,,,,,",
                ],
            )
        },
        Quarantine(&[("cards", 2, "", "MALFORMED_ROW"), ("certificates", 2, "card_id", "UNKNOWN_CARD")]),
    );
    run_case(
        "too many and too few fields",
        |d| cards(d, &[&format!("{CARD_1},extra"), "C2,SE1-B,Unit"]),
        Quarantine(&[
            ("cards", 1, "", "MALFORMED_ROW"),
            ("cards", 2, "", "MALFORMED_ROW"),
            ("certificates", 1, "card_id", "UNKNOWN_CARD"),
            ("certificates", 2, "card_id", "UNKNOWN_CARD"),
        ]),
    );
    run_case(
        "quote inside an unquoted field",
        |d| cards(d, &[CARD_1, "C2,SE1-B,Un\"it,SITHS,received,2021-01-10,,,,true,true"]),
        Quarantine(&[("cards", 2, "", "MALFORMED_ROW"), ("certificates", 2, "card_id", "UNKNOWN_CARD")]),
    );
    run_case(
        "a 10 MB field",
        |d| {
            let big = "x".repeat(10 << 20);
            cards(d, &[CARD_1, &format!("C2,SE1-B,{big},SITHS,received,2021-01-10,2021-01-12,2021-01-20,,true,true")])
        },
        Quarantine(&[]),
    );
}

#[test]
fn missing_required_values() {
    run_case(
        "null in every required card column",
        |d| {
            cards(
                d,
                &[
                    CARD_1,
                    ",SE1-B,Unit,SITHS,received,2021-01-10,,,,true,true",
                    "C3,,Unit,SITHS,received,2021-01-10,,,,true,true",
                    "C4,SE1-B,Unit,,received,2021-01-10,,,,true,true",
                    "C5,SE1-B,Unit,SITHS,,2021-01-10,,,,true,true",
                    "C6,SE1-B,Unit,SITHS,received,,,,,true,true",
                    "   ,SE1-B,Unit,SITHS,received,2021-01-10,,,,true,true",
                ],
            )
        },
        Quarantine(&[
            ("cards", 2, "card_id", "MISSING_REQUIRED"),
            ("cards", 3, "org_id", "MISSING_REQUIRED"),
            ("cards", 4, "card_type", "MISSING_REQUIRED"),
            ("cards", 5, "status", "MISSING_REQUIRED"),
            ("cards", 6, "ordered_at", "MISSING_REQUIRED"),
            ("cards", 7, "card_id", "MISSING_REQUIRED"),
            ("certificates", 2, "card_id", "UNKNOWN_CARD"),
        ]),
    );
    run_case(
        "null in every required certificate and organisation column",
        |d| {
            fs::write(
                d.join("certificates.csv"),
                "cert_serial,card_id,issuer,not_after,revoked\n,C1,X,,\n01,,X,,\n02,C1,,,\n03,C1,X,,\n",
            )
            .unwrap();
            fs::write(d.join("organisations.csv"), format!("{ORGS},no id\n")).unwrap();
            fs::write(d.join("id_admins.csv"), format!("{ADMINS},Nobody,,,,,,\n")).unwrap();
        },
        Quarantine(&[
            ("certificates", 1, "cert_serial", "MISSING_REQUIRED"),
            ("certificates", 2, "card_id", "MISSING_REQUIRED"),
            ("certificates", 3, "issuer", "MISSING_REQUIRED"),
            ("id_admins", 3, "org_id", "MISSING_REQUIRED"),
            ("organisations", 3, "org_id", "MISSING_REQUIRED"),
        ]),
    );
}

#[test]
fn odd_and_impossible_dates() {
    run_case(
        "dates in odd forms",
        |d| {
            cards(
                d,
                &[
                    CARD_1,
                    "C2,SE1-B,Unit,SITHS,received,2021/01/10,,2021-01-20,,true,true",
                    "C3,SE1-B,Unit,SITHS,received,10-01-2021,,2021-01-20,,true,true",
                    "C4,SE1-B,Unit,SITHS,received,2021-02-30,,2021-03-01,,true,true",
                    "C5,SE1-B,Unit,SITHS,received,2021-01-10T24:00,,2021-01-20,,true,true",
                    "C6,SE1-B,Unit,SITHS,received,2021-01-10T23:59:60,,2021-01-20,,true,true",
                    "C7,SE1-B,Unit,SITHS,received, 2021-01-10 ,,2021-01-20,,true,true",
                    "C8,SE1-B,Unit,SITHS,received,2021-01-10t10:00:00.123456789+0530,,2021-01-20,,true,true",
                ],
            )
        },
        Quarantine(&[
            ("cards", 2, "ordered_at", "BAD_VALUE"),
            ("cards", 3, "ordered_at", "BAD_VALUE"),
            ("cards", 4, "ordered_at", "BAD_VALUE"),
            ("cards", 5, "ordered_at", "BAD_VALUE"),
            ("cards", 6, "ordered_at", "BAD_VALUE"),
            ("certificates", 2, "card_id", "UNKNOWN_CARD"),
        ]),
    );
    run_case(
        "timestamps far in the past and future",
        |d| {
            cards(
                d,
                &[
                    "C1,SE1-A,Unit,SITHS,received,0001-01-01,,0001-01-02,,true,true",
                    "C2,SE1-B,Unit,SITHS,received,9999-12-31T23:59:59Z,,9999-12-31T23:59:59.999999Z,,true,true",
                ],
            )
        },
        Quarantine(&[]),
    );
    run_case(
        "Parquet timestamps beyond year 9999",
        |d| {
            let t =
                TimestampMicrosecondArray::from(vec![Some(1_610_236_800_000_000), Some(i64::MAX)]).with_timezone("UTC");
            cards_parquet(d, Arc::new(t))
        },
        Quarantine(&[("cards", 2, "ordered_at", "BAD_VALUE"), ("certificates", 2, "card_id", "UNKNOWN_CARD")]),
    );
}

#[test]
fn labels_and_booleans_in_every_spelling() {
    let statuses = [
        "ordered",
        "ORDERED",
        "beställt",
        "Beställd",
        "sent",
        "Skickat",
        "skickad",
        "received",
        "Mottaget",
        "MOTTAGEN",
        "revoked",
        "spärrat",
        "Spärrad",
        " received ",
    ];
    run_case(
        "every status spelling and an unknown one",
        |d| {
            let mut rows: Vec<String> = statuses
                .iter()
                .enumerate()
                .map(|(i, st)| format!("S{i},SE1-A,Unit,SITHS,{st},2021-11-01,,,,true,true"))
                .collect();
            rows.push("C1,SE1-A,Unit,SITHS,levererad,2021-11-01,,,,true,true".into());
            rows.push(CARD_2.into());
            cards(d, &rows.iter().map(String::as_str).collect::<Vec<_>>())
        },
        Quarantine(&[("cards", 15, "status", "BAD_VALUE"), ("certificates", 1, "card_id", "UNKNOWN_CARD")]),
    );
    run_case(
        "every boolean spelling and a bad one",
        |d| {
            let b = ["true", "false", "1", "0", "yes", "no", "ja", "nej", "TRUE", "Nej", " ja ", ""];
            let mut rows: Vec<String> = b
                .iter()
                .enumerate()
                .map(|(i, v)| format!("B{i},SE1-A,Unit,SITHS,received,2021-01-10,,2021-01-20,,{v},{v}"))
                .collect();
            rows.push(CARD_1.into());
            rows.push("C2,SE1-B,Unit,SITHS,received,2021-01-10,,2021-01-20,,sant,true".into());
            cards(d, &rows.iter().map(String::as_str).collect::<Vec<_>>())
        },
        Quarantine(&[("cards", 14, "has_auth_code", "BAD_VALUE"), ("certificates", 2, "card_id", "UNKNOWN_CARD")]),
    );
}

#[test]
fn keys_across_parts_and_orphans() {
    run_case(
        "duplicate keys across part files",
        |d| {
            fs::remove_file(d.join("cards.csv")).unwrap();
            fs::create_dir(d.join("cards")).unwrap();
            fs::write(d.join("cards/part-1.csv"), format!("{CARD_HEADER}\n{CARD_1}\n")).unwrap();
            fs::write(d.join("cards/part-2.csv"), format!("{CARD_HEADER}\n{CARD_2}\n{CARD_1}\n")).unwrap();
            fs::write(d.join("cards/notes.txt"), "stray file").unwrap();
        },
        Quarantine(&[("cards", 2, "card_id", "DUPLICATE_KEY")]),
    );
    run_case(
        "certificates for unknown and for quarantined cards",
        |d| {
            cards(d, &[CARD_1, "C2,SE1-B,Unit,SITHS,received,bad date,,,,true,true"]);
            fs::write(
                d.join("certificates.csv"),
                format!("{CERTS}03,C9,SITHS CA,,\n02,C1,Other CA,,\n02,C1,SITHS CA,,\n"),
            )
            .unwrap();
        },
        Quarantine(&[
            ("cards", 2, "ordered_at", "BAD_VALUE"),
            ("certificates", 2, "card_id", "UNKNOWN_CARD"),
            ("certificates", 3, "card_id", "UNKNOWN_CARD"),
            ("certificates", 5, "issuer,cert_serial", "DUPLICATE_KEY"),
        ]),
    );
}

#[test]
fn parquet_text_forms_and_null_columns() {
    run_case(
        "integer ids, Null-typed optional column",
        |d| {
            fs::remove_file(d.join("organisations.csv")).unwrap();
            write_parquet(
                &d.join("organisations.parquet"),
                vec![
                    ("org_id", strs(&[Some("SE1-A"), Some("SE1-B")])),
                    ("org_name", Arc::new(arrow_array::NullArray::new(2)) as ArrayRef),
                ],
            );
            fs::remove_file(d.join("certificates.csv")).unwrap();
            write_parquet(
                &d.join("certificates.parquet"),
                vec![
                    ("cert_serial", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
                    ("card_id", strs(&[Some("C1"), Some("C2")])),
                    ("issuer", strs(&[Some("SITHS CA"), Some("")])),
                ],
            );
        },
        Quarantine(&[("certificates", 2, "issuer", "MISSING_REQUIRED")]),
    );
}

#[test]
fn admin_rows_never_echo_personal_data() {
    let work = tmp();
    let input = work.path().join("in");
    base(&input);
    fs::write(
        input.join("id_admins.csv"),
        format!("{ADMINS}SE1-A,Cia,195704289999,c@a.se,Org A,Unit,2021-02-01,the 3rd of March\n"),
    )
    .unwrap();
    let out = work.path().join("out");
    sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"], 0);
    let q = table(&out, "quarantine.parquet");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["key"], None);
    let detail = q[0]["detail"].clone().unwrap();
    assert!(!detail.contains("March") && !detail.contains("1957"), "{detail}");
}

/// A certificate keeps only a key hash unless the revocation lists may name it, and
/// rows whose hashes are equal are read again from their files to confirm the
/// duplicate. A REVOKE card (ordered ten months ago, never handed out) whose
/// certificates repeat across part files, in CSV and in Parquet: each duplicate is
/// quarantined once, named by its serial, counts for nothing, and the CA's list names
/// each certificate once; the same serial under another issuer is another certificate.
#[test]
fn duplicate_certificates_of_a_revoked_card_are_listed_and_counted_once() {
    const REVOKED: &str = "C1,SE1-A,Unit,SITHS,ordered,2021-01-10,,,,true,true";
    let rows_1 = [("01", "C1", "SITHS CA"), ("07", "C2", "SITHS CA")];
    let rows_2 =
        [("01", "C1", "SITHS CA"), ("01", "C1", "Other CA"), ("05", "C1", "SITHS CA"), ("07", "C2", "SITHS CA")];
    for parquet in [false, true] {
        let work = tmp();
        let input = work.path().join("in");
        base(&input);
        cards(&input, &[REVOKED, CARD_2]);
        fs::remove_file(input.join("certificates.csv")).unwrap();
        fs::create_dir(input.join("certificates")).unwrap();
        for (name, rows) in [("part-1", &rows_1[..]), ("part-2", &rows_2[..])] {
            if parquet {
                let col = |k: usize| {
                    let v: Vec<Option<&str>> = rows.iter().map(|r| Some([r.0, r.1, r.2][k])).collect();
                    strs(&v)
                };
                let path = input.join(format!("certificates/{name}.parquet"));
                write_parquet(&path, vec![("cert_serial", col(0)), ("card_id", col(1)), ("issuer", col(2))]);
            } else {
                let body: String = rows.iter().map(|(s, c, i)| format!("{s},{c},{i},2024-01-01,false\n")).collect();
                let text = format!("cert_serial,card_id,issuer,not_after,revoked\n{body}");
                fs::write(input.join(format!("certificates/{name}.csv")), text).unwrap();
            }
        }
        let out = work.path().join("out");
        sweep(&["run", "--quiet", "--input", s(&input), "--out", s(&out), "--as-of", "2021-11-15"], 0);
        let q = table(&out, "quarantine.parquet");
        let ext = if parquet { "parquet" } else { "csv" };
        let got: Vec<[Option<String>; 5]> = q
            .iter()
            .map(|r| [&r["file"], &r["row"], &r["key"], &r["error"], &r["detail"]].map(|c| c.clone()))
            .collect();
        let cell = |s: &str| Some(s.to_string());
        let first = format!("same key as row 1 of certificates/part-1.{ext}");
        let second = format!("same key as row 2 of certificates/part-1.{ext}");
        let file = format!("certificates/part-2.{ext}");
        assert_eq!(
            got,
            [
                [cell(&file), cell("1"), cell("01"), cell("DUPLICATE_KEY"), cell(&first)],
                [cell(&file), cell("4"), cell("07"), cell("DUPLICATE_KEY"), cell(&second)],
            ],
            "{ext}"
        );
        let listed: Vec<(Option<String>, Option<String>, Option<String>)> =
            table(&out, "revocation_certificates.parquet")
                .iter()
                .map(|r| (r["card_id"].clone(), r["issuer"].clone(), r["cert_serial"].clone()))
                .collect();
        let ca = |serial: &str| (cell("C1"), cell("SITHS CA"), cell(serial));
        assert_eq!(listed, [ca("01"), ca("05")], "{ext}");
        let decisions = table(&out, "card_decisions.parquet");
        let c1 = decisions.iter().find(|r| r["card_id"] == cell("C1")).unwrap();
        let c2 = decisions.iter().find(|r| r["card_id"] == cell("C2")).unwrap();
        assert_eq!((c1["verdict"].clone(), c1["cert_count"].clone()), (cell("REVOKE"), cell("3")), "{ext}");
        assert_eq!((c1["third_party_certs"].clone(), c2["cert_count"].clone()), (cell("1"), cell("1")), "{ext}");
        assert_rows_accounted(&out);
    }
}
