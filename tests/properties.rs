//! Properties over generated exports, run in-process through the library:
//! - CSV and Parquet of the same rows give the same decisions;
//! - shuffling cards and certificates changes no output;
//! - splitting a table into part files changes nothing but quarantine file names;
//! - the thread count never changes a byte.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use proptest::prelude::*;
use siths_sweep::output::canonical::parquet_to_text;
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
}

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
    )
        .prop_map(|((org, new_card, status, ordered), (sent, received, upgraded), (auth, sign), certs)| Card {
            org,
            new_card,
            status,
            ordered,
            sent,
            received,
            upgraded,
            auth,
            sign,
            certs,
        })
}

fn t(v: Option<i64>) -> String {
    v.map(format_instant).unwrap_or_default()
}

fn b(v: Option<bool>) -> String {
    v.map(|b| b.to_string()).unwrap_or_default()
}

const ADMINS: &str = "org_id,name,personnummer,email,care_provider,care_unit,registered_at,trained_at\n\
SE1-A,Anna,195704289999,anna@a.se,A,U,2021-02-01,2021-03-01\n\
SE1-A,Bo,190905271474,bo@a.se,A,U,2021-02-01,2021-06-02\n\
SE1-B,Cia,200002292399,cia@b.se,B,U,2021-02-01,2021-03-01\n";

/// The export as CSV text per table, cards and certificates in the given order.
fn csv_tables(cards: &[(usize, &Card)]) -> BTreeMap<&'static str, Vec<String>> {
    let mut m = BTreeMap::new();
    m.insert("organisations", vec!["org_id,org_name".into(), "SE1-A,A".into(), "SE1-B,B".into(), "SE1-C,C".into()]);
    m.insert("id_admins", ADMINS.lines().map(String::from).collect());
    let mut c = vec!["card_id,org_id,care_unit,card_type,status,ordered_at,sent_at,received_at,upgraded_at,has_auth_code,has_sign_code".to_string()];
    let mut k = vec!["cert_serial,card_id,issuer,not_after,revoked".to_string()];
    for (i, card) in cards {
        c.push(format!(
            "C{i:04},{},Unit {},{},{},{},{},{},{},{},{}",
            ORGS[card.org],
            i % 3,
            if card.new_card { "SITHS_EID" } else { "SITHS" },
            STATUSES[card.status],
            t(Some(card.ordered)),
            t(card.sent),
            t(card.received),
            t(card.upgraded),
            b(card.auth),
            b(card.sign)
        ));
        for (j, cert) in card.certs.iter().enumerate() {
            k.push(format!("{i:04}{j:02},C{i:04},{},{},{}", ISSUERS[cert.issuer], t(cert.not_after), b(cert.revoked)));
        }
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
        let recs = siths_sweep::ingest::csv::parse_records(&(lines.join("\n") + "\n"));
        let header = &recs[0];
        let rows = &recs[1..];
        let zone = Policy::default().zone;
        let cols: Vec<(String, ArrayRef)> = header
            .iter()
            .enumerate()
            .map(|(c, h)| {
                let vals = rows.iter().map(|r| Some(r[c].as_str()).filter(|v| !v.is_empty()));
                let a: ArrayRef = if time_cols.contains(&h.as_str()) {
                    let v: Vec<Option<i64>> = vals
                        .map(|v| {
                            v.map(|v| match siths_sweep::time::parse_text_time(v).unwrap() {
                                siths_sweep::time::TextTime::Instant(i) => i,
                                siths_sweep::time::TextTime::Local(l) => zone.local_to_instant(l),
                            })
                        })
                        .collect();
                    Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
                } else if bool_cols.contains(&h.as_str()) {
                    Arc::new(vals.map(|v| v.map(|v| v == "true")).collect::<BooleanArray>())
                } else {
                    Arc::new(vals.collect::<StringArray>())
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
    };
    run(&plan, &mut |_| {}).unwrap();
}

/// The decisions and reports as text; quarantine without its file column.
fn outputs(out: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for e in fs::read_dir(out).unwrap() {
        let p: PathBuf = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".parquet") {
            m.insert(name, parquet_to_text(&p).unwrap());
        } else if name.ends_with(".csv") {
            m.insert(name, fs::read_to_string(&p).unwrap());
        }
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn csv_and_parquet_give_the_same_decisions(cards in proptest::collection::vec(card(), 1..40)) {
        let work = tempfile::tempdir().unwrap();
        let tables = csv_tables(&cards.iter().enumerate().collect::<Vec<_>>());
        let (c, p) = (work.path().join("csv"), work.path().join("parquet"));
        write_csv(&c, &tables, 1);
        write_parquet(&p, &tables);
        sweep(&c, &work.path().join("oc"), 2);
        sweep(&p, &work.path().join("op"), 2);
        prop_assert_eq!(outputs(&work.path().join("oc")), outputs(&work.path().join("op")));
    }

    #[test]
    fn row_order_and_part_files_change_nothing(
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
        write_csv(&a, &csv_tables(&indexed), 1);
        write_csv(&b, &csv_tables(&shuffled), 1);
        write_csv(&c, &csv_tables(&indexed), parts);
        for (input, out) in [(&a, "oa"), (&b, "ob"), (&c, "oc")] {
            sweep(input, &work.path().join(out), 2);
        }
        let oa = outputs(&work.path().join("oa"));
        prop_assert_eq!(&oa, &outputs(&work.path().join("ob")));
        prop_assert_eq!(&oa, &outputs(&work.path().join("oc")));
    }

    #[test]
    fn threads_never_change_a_byte(cards in proptest::collection::vec(card(), 1..60), threads in 2..5usize) {
        let work = tempfile::tempdir().unwrap();
        let input = work.path().join("in");
        write_csv(&input, &csv_tables(&cards.iter().enumerate().collect::<Vec<_>>()), 2);
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
