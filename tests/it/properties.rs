//! Properties over generated exports, run in-process through the library, with hostile
//! rows mixed in (duplicate keys, also across part files; certificates of unknown and of
//! quarantined cards; blank and malformed values in every column; in CSV, malformed
//! records):
//! - every input row is decided or quarantined;
//! - CSV and Parquet of the same rows give the same outputs (the quarantine's file names
//!   aside);
//! - shuffling cards and certificates and splitting tables into part files change
//!   nothing but where the quarantine says a row was (its file and row, and the row a
//!   duplicate's detail points to);
//! - the thread count never changes a byte.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::*;
use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use proptest::prelude::*;
use siths_sweep::rules::Policy;
use siths_sweep::sweep::{Plan, run};
use siths_sweep::time::{MICROS_PER_DAY, format_instant, parse_date};

const ORGS: [&str; 4] = ["SE1-A", "SE1-B", "SE1-C", "SE9-UNKNOWN"];
const ISSUERS: [&str; 4] = ["SITHS CA", "Svensk e-identitet", "TeliaSonera", "Region Skåne EK CA"];
const STATUSES: [&str; 5] = ["ordered", "sent", "received", "revoked", "mottaget"];

#[derive(Clone, Debug)]
struct Cert {
    issuer: usize,
    revoked: Option<bool>,
    not_after: Option<i64>,
}

#[derive(Clone, Debug)]
struct Card {
    org: usize,
    new_card: bool,
    status: usize,
    ordered: i64,
    sent: Option<i64>,
    received: Option<i64>,
    upgraded: Option<i64>,
    auth: Option<bool>,
    sign: Option<bool>,
    certs: Vec<Cert>,
    /// What hostile rows come with this card (0 = none; see [`Twist`]).
    twist: Twist,
}

/// Hostile rows a card brings. Duplicates are exact copies or broken copies, so that
/// which occurrence comes first (shuffling) cannot change a decision, only the
/// quarantine's row numbers.
#[derive(Clone, Copy, Debug)]
enum Twist {
    None,
    /// An exact copy of the card row, at the end of the table (another part file).
    DuplicateCard,
    /// A copy of the card row with column `k` blank or malformed.
    BrokenCopy(usize),
    /// The card row itself has column `k` blank or malformed: its certificates then
    /// belong to a quarantined card.
    BrokenCard(usize),
    /// Exact copies of its certificates, at the end of the table.
    DuplicateCerts,
    /// One more certificate with column `k` blank or malformed.
    BrokenCert(usize),
    /// One more certificate whose card_id is no card's.
    OrphanCert,
}

/// A blank or malformed value for each card column, in `csv_tables`' column order.
const BAD_CARD_VALUES: [&str; 11] =
    ["  ", "", "", "X-CARD", "lost", "2021-02-30", "01/02/2021", "24:00", "2021-13-01T00:00", "maybe", "2"];
/// The same for certificate columns (cert_serial, card_id, issuer, not_after, revoked).
const BAD_CERT_VALUES: [&str; 5] = [" ", "", "\u{3000}", "2021-11-15 25:00", "nej tack"];

/// Instants between 2021-01-01 and 2022-01-31, on the minute.
fn instant() -> impl Strategy<Value = i64> {
    let start = i64::from(parse_date("2021-01-01").unwrap()) * MICROS_PER_DAY;
    (0i64..(395 * 24 * 60)).prop_map(move |m| start + m * 60_000_000)
}

fn cert() -> impl Strategy<Value = Cert> {
    (0..4usize, proptest::option::of(any::<bool>()), proptest::option::of(instant()))
        .prop_map(|(issuer, revoked, not_after)| Cert { issuer, revoked, not_after })
}

fn card() -> impl Strategy<Value = Card> {
    (
        (0..4usize, any::<bool>(), 0..5usize, instant()),
        (proptest::option::of(instant()), proptest::option::of(instant()), proptest::option::of(instant())),
        (proptest::option::of(any::<bool>()), proptest::option::of(any::<bool>())),
        proptest::collection::vec(cert(), 0..9),
        twist(),
    )
        .prop_map(|((org, new_card, status, ordered), (sent, received, upgraded), (auth, sign), certs, twist)| {
            Card { org, new_card, status, ordered, sent, received, upgraded, auth, sign, certs, twist }
        })
}

/// Most cards bring no hostile row; the rest one of each kind, every column in turn.
fn twist() -> impl Strategy<Value = Twist> {
    prop_oneof![
        6 => Just(Twist::None),
        1 => Just(Twist::DuplicateCard),
        1 => (0..BAD_CARD_VALUES.len()).prop_map(Twist::BrokenCopy),
        1 => (0..BAD_CARD_VALUES.len()).prop_map(Twist::BrokenCard),
        1 => Just(Twist::DuplicateCerts),
        1 => (0..BAD_CERT_VALUES.len()).prop_map(Twist::BrokenCert),
        1 => Just(Twist::OrphanCert),
    ]
}

fn t(v: Option<i64>) -> String {
    v.map(format_instant).unwrap_or_default()
}

fn b(v: Option<bool>) -> String {
    v.map(|b| b.to_string()).unwrap_or_default()
}

/// Registrations: three good ones, and rows the value checks reject (a blank org_id, a
/// registration date that is no date).
const ADMINS: &str = "org_id,name,personnummer,email,care_provider,care_unit,registered_at,trained_at\n\
SE1-A,Anna,195704289999,anna@a.se,A,U,2021-02-01,2021-03-01\n\
SE1-A,Bo,190905271474,bo@a.se,A,U,2021-02-01,2021-06-02\n\
 ,Ulf,190905271474,ulf@a.se,A,U,2021-02-01,2021-06-02\n\
SE1-B,Cia,200002292399,cia@b.se,B,U,2021-02-01,2021-03-01\n\
SE1-B,Dag,200002292399,dag@b.se,B,U,igår,2021-03-01\n";

/// The export as CSV text per table, cards and certificates in the given order, with
/// the cards' hostile rows; `malformed` adds records only CSV can hold.
fn csv_tables(cards: &[(usize, &Card)], malformed: bool) -> BTreeMap<&'static str, Vec<String>> {
    let mut m = BTreeMap::new();
    m.insert(
        "organisations",
        ["org_id,org_name", "SE1-A,A", "SE1-B,B", "SE1-C,C", "SE1-B,B", "  ,Blank"].map(String::from).to_vec(),
    );
    m.insert("id_admins", ADMINS.lines().map(String::from).collect());
    let mut c = vec!["card_id,org_id,care_unit,card_type,status,ordered_at,sent_at,received_at,upgraded_at,has_auth_code,has_sign_code".to_string()];
    let mut k = vec!["cert_serial,card_id,issuer,not_after,revoked".to_string()];
    let (mut late_cards, mut late_certs) = (Vec::new(), Vec::new());
    for (i, card) in cards {
        let mut cells = vec![
            format!("C{i:04}"),
            ORGS[card.org].to_string(),
            format!("Unit {}", i % 3),
            if card.new_card { "SITHS_EID" } else { "SITHS" }.to_string(),
            STATUSES[card.status].to_string(),
            t(Some(card.ordered)),
            t(card.sent),
            t(card.received),
            t(card.upgraded),
            b(card.auth),
            b(card.sign),
        ];
        let row = cells.join(",");
        match card.twist {
            Twist::DuplicateCard => late_cards.push(row.clone()),
            Twist::BrokenCopy(col) => {
                let mut copy = cells.clone();
                copy[col] = BAD_CARD_VALUES[col].to_string();
                // A copy needs its key, and a blank care_unit is valid (a copy that
                // differs and is kept would depend on order): break the status instead.
                if col == 0 || col == 2 {
                    copy[4] = BAD_CARD_VALUES[4].to_string();
                    copy[0] = cells[0].clone();
                }
                late_cards.push(copy.join(","));
            }
            _ => {}
        }
        if let Twist::BrokenCard(col) = card.twist {
            cells[col] = BAD_CARD_VALUES[col].to_string();
        }
        c.push(cells.join(","));
        for (j, cert) in card.certs.iter().enumerate() {
            let line =
                format!("{i:04}{j:02},C{i:04},{},{},{}", ISSUERS[cert.issuer], t(cert.not_after), b(cert.revoked));
            if matches!(card.twist, Twist::DuplicateCerts) {
                late_certs.push(line.clone());
            }
            k.push(line);
        }
        match card.twist {
            Twist::BrokenCert(col) => {
                let mut cells =
                    [format!("{i:04}99"), format!("C{i:04}"), ISSUERS[0].to_string(), String::new(), String::new()];
                cells[col] = BAD_CERT_VALUES[col].to_string();
                k.push(cells.join(","));
            }
            Twist::OrphanCert => k.push(format!("{i:04}98,X{i:04},{},,", ISSUERS[1])),
            _ => {}
        }
    }
    c.extend(late_cards);
    k.extend(late_certs);
    if malformed {
        c.push("C9998,SE1-A,U,SITHS,ord\"ered,2021-01-01,,,,,".to_string());
        c.push("C9999,SE1-A".to_string());
        k.push("999901,C0000,\"SITHS CA\"x,,".to_string());
    }
    m.insert("cards", c);
    m.insert("certificates", k);
    m
}

fn write_csv(dir: &Path, tables: &BTreeMap<&'static str, Vec<String>>, parts: usize) {
    fs::create_dir_all(dir).unwrap();
    for (name, lines) in tables {
        if parts <= 1 || lines.len() < 3 {
            fs::write(dir.join(format!("{name}.csv")), lines.join("\n") + "\n").unwrap();
            continue;
        }
        fs::create_dir_all(dir.join(name)).unwrap();
        let body = &lines[1..];
        for (p, chunk) in body.chunks(body.len().div_ceil(parts)).enumerate() {
            let text = std::iter::once(lines[0].clone()).chain(chunk.iter().cloned()).collect::<Vec<_>>().join("\n");
            fs::write(dir.join(name).join(format!("part-{p}.csv")), text + "\n").unwrap();
        }
    }
}

/// The same rows as Parquet: strings as Utf8, times as UTC timestamps, booleans.
fn write_parquet(dir: &Path, tables: &BTreeMap<&'static str, Vec<String>>) {
    fs::create_dir_all(dir).unwrap();
    let time_cols = ["ordered_at", "sent_at", "received_at", "upgraded_at", "not_after", "registered_at", "trained_at"];
    let bool_cols = ["has_auth_code", "has_sign_code", "revoked"];
    for (name, lines) in tables {
        let recs = csv_records(&(lines.join("\n") + "\n"));
        let header = &recs[0];
        let rows = &recs[1..];
        let zone = Policy::default().zone;
        let cols: Vec<(String, ArrayRef)> = header
            .iter()
            .enumerate()
            .map(|(c, h)| {
                let vals = rows.iter().map(|r| Some(r[c].as_str()).filter(|v| !v.is_empty()));
                let parsed_times: Option<Vec<Option<i64>>> = vals
                    .clone()
                    .map(|v| match v.map(siths_sweep::time::parse_text_time) {
                        None => Some(None),
                        Some(Some(siths_sweep::time::TextTime::Instant(i))) => Some(Some(i)),
                        Some(Some(siths_sweep::time::TextTime::Local(l))) => Some(Some(zone.local_to_instant(l))),
                        Some(None) => None,
                    })
                    .collect();
                let booleans: Option<BooleanArray> = vals
                    .clone()
                    .map(|v| v.map(|v| ["true", "false"].contains(&v).then_some(v == "true")))
                    .map(|v| match v {
                        None => Some(None),
                        Some(b) => b.map(Some),
                    })
                    .collect::<Option<Vec<Option<bool>>>>()
                    .map(BooleanArray::from);
                // A time or boolean column with a value that is none is written as text,
                // which the reader parses as CSV text would be (SPEC "Input").
                let a: ArrayRef = match (time_cols.contains(&h.as_str()), bool_cols.contains(&h.as_str())) {
                    (true, _) if parsed_times.is_some() => {
                        Arc::new(TimestampMicrosecondArray::from(parsed_times.unwrap()).with_timezone("UTC"))
                    }
                    (_, true) if booleans.is_some() => Arc::new(booleans.unwrap()),
                    _ => Arc::new(vals.collect::<StringArray>()),
                };
                (h.clone(), a)
            })
            .collect();
        let schema = Arc::new(Schema::new(
            cols.iter().map(|(n, a)| Field::new(n, a.data_type().clone(), true)).collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
        let mut w =
            ArrowWriter::try_new(fs::File::create(dir.join(format!("{name}.parquet"))).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
}

fn sweep(input: &Path, out: &Path, threads: usize) {
    let plan = Plan {
        org_reports: false,
        input: input.to_path_buf(),
        out: out.to_path_buf(),
        as_of: parse_date("2021-11-15").unwrap(),
        policy: Policy::default(),
        threads,
        force: true,
        batch_rows: 7,
        previous: None,
        memory_check: true,
    };
    run(&plan, &mut |_| {}).unwrap();
    assert_rows_accounted(out);
}

/// Where the quarantine says a row was.
#[derive(Clone, Copy, PartialEq)]
enum Position {
    /// The file without its extension (CSV and Parquet of one table compare equal).
    FileStem,
    /// Dropped: file, row, and the row a duplicate's detail points to; rows sorted.
    Dropped,
}

/// The decisions and reports as text (Parquet through the tests' own reader, CSV as
/// written), the quarantine's positions as `position` says.
fn outputs(out: &Path, position: Position) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for e in fs::read_dir(out).unwrap() {
        let p: PathBuf = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == "quarantine.parquet" {
            m.insert(name, quarantine(&p, position));
        } else if name.ends_with(".parquet") {
            m.insert(name, parquet_to_text(&p));
        } else if name.ends_with(".csv") {
            m.insert(name, fs::read_to_string(&p).unwrap());
        }
    }
    m
}

fn quarantine(path: &Path, position: Position) -> String {
    let mut lines: Vec<String> = rows(&parquet_to_text(path))
        .into_iter()
        .map(|mut r| {
            match position {
                Position::FileStem => {
                    let file = r["file"].clone().unwrap();
                    r.insert(
                        "file".into(),
                        Some(file.rsplit_once('.').map_or(file.clone(), |(stem, _)| stem.to_string())),
                    );
                }
                Position::Dropped => {
                    r.remove("file");
                    r.remove("row");
                    if r["error"].as_deref() == Some("DUPLICATE_KEY") {
                        r.remove("detail");
                    }
                }
            }
            format!("{r:?}")
        })
        .collect();
    if position == Position::Dropped {
        lines.sort();
    }
    lines.join("\n")
}

/// Some row of the export was quarantined, so the properties did look at hostile rows.
fn quarantined_rows(out: &Path) -> usize {
    rows(&parquet_to_text(&out.join("quarantine.parquet"))).len()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn csv_and_parquet_give_the_same_decisions(cards in proptest::collection::vec(card(), 1..40)) {
        let work = tempfile::tempdir().unwrap();
        let tables = csv_tables(&cards.iter().enumerate().collect::<Vec<_>>(), false);
        let (c, p) = (work.path().join("csv"), work.path().join("parquet"));
        write_csv(&c, &tables, 1);
        write_parquet(&p, &tables);
        sweep(&c, &work.path().join("oc"), 2);
        sweep(&p, &work.path().join("op"), 2);
        // The organisations' and registrations' hostile rows are always there.
        prop_assert!(quarantined_rows(&work.path().join("oc")) >= 4);
        prop_assert_eq!(
            outputs(&work.path().join("oc"), Position::FileStem),
            outputs(&work.path().join("op"), Position::FileStem)
        );
    }

    #[test]
    fn row_order_and_part_files_change_nothing_but_positions(
        cards in proptest::collection::vec(card(), 1..40),
        seed in any::<u64>(),
        parts in 2..5usize,
    ) {
        let work = tempfile::tempdir().unwrap();
        let indexed: Vec<(usize, &Card)> = cards.iter().enumerate().collect();
        let mut shuffled = indexed.clone();
        // A seeded Fisher–Yates shuffle.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let (a, b, c) = (work.path().join("a"), work.path().join("b"), work.path().join("c"));
        write_csv(&a, &csv_tables(&indexed, true), 1);
        write_csv(&b, &csv_tables(&shuffled, true), 1);
        write_csv(&c, &csv_tables(&indexed, true), parts);
        for (input, out) in [(&a, "oa"), (&b, "ob"), (&c, "oc")] {
            sweep(input, &work.path().join(out), 2);
        }
        let oa = outputs(&work.path().join("oa"), Position::Dropped);
        prop_assert_eq!(&oa, &outputs(&work.path().join("ob"), Position::Dropped));
        prop_assert_eq!(&oa, &outputs(&work.path().join("oc"), Position::Dropped));
    }

    #[test]
    fn threads_never_change_a_byte(cards in proptest::collection::vec(card(), 1..60), threads in 2..5usize) {
        let work = tempfile::tempdir().unwrap();
        let input = work.path().join("in");
        write_csv(&input, &csv_tables(&cards.iter().enumerate().collect::<Vec<_>>(), true), 2);
        let (o1, on) = (work.path().join("o1"), work.path().join("on"));
        sweep(&input, &o1, 1);
        sweep(&input, &on, threads);
        for e in fs::read_dir(&o1).unwrap() {
            let name = e.unwrap().file_name();
            if name != "manifest.json" {
                prop_assert!(fs::read(o1.join(&name)).unwrap() == fs::read(on.join(&name)).unwrap(), "{:?}", name);
            }
        }
    }
}
