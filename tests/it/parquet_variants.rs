//! Parquet inputs in every encoding SPEC lists give the same decisions as the plain
//! sample: LargeUtf8, Utf8View and dictionary strings; timestamps in seconds,
//! milliseconds and nanoseconds, with a zone, another offset, or none (Stockholm wall
//! clock); many small row groups read in parallel.

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use crate::common::*;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, DictionaryArray, LargeStringArray, RecordBatch, StringViewArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;
use siths_sweep::time::Zone;

fn read(path: &Path) -> Vec<RecordBatch> {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    b.with_batch_size(777).build().unwrap().map(|r| r.unwrap()).collect()
}

/// The `n`-th encoding of a column; same values, another Arrow type.
fn variant(a: &ArrayRef, n: usize, zone: &Zone) -> ArrayRef {
    match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            match n % 4 {
                0 => a.clone(),
                1 => Arc::new(s.iter().collect::<LargeStringArray>()),
                2 => Arc::new(s.iter().collect::<StringViewArray>()),
                _ => Arc::new(s.iter().collect::<DictionaryArray<Int32Type>>()),
            }
        }
        DataType::Timestamp(_, _) => {
            let t = a.as_primitive::<TimestampMicrosecondType>();
            let map = |f: &dyn Fn(i64) -> i64| t.iter().map(|v| v.map(f)).collect::<Vec<_>>();
            match n % 4 {
                0 => Arc::new(TimestampSecondArray::from(map(&|v| v / 1_000_000)).with_timezone("UTC")),
                1 => Arc::new(TimestampMillisecondArray::from(map(&|v| v / 1_000)).with_timezone("+05:00")),
                2 => Arc::new(TimestampNanosecondArray::from(map(&|v| v * 1_000)).with_timezone("Europe/Stockholm")),
                // Wall-clock time in Stockholm, no zone.
                _ => Arc::new(TimestampMillisecondArray::from(map(&|v| (v + zone.offset_at(v)) / 1_000))),
            }
        }
        _ => a.clone(),
    }
}

#[test]
fn every_parquet_encoding_gives_the_same_decisions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = root.join("testdata/sample/parquet");
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in");
    fs::create_dir(&input).unwrap();
    let zone = Zone::new("Europe/Stockholm").unwrap();
    for (t, table) in ["organisations", "id_admins", "cards", "certificates"].iter().enumerate() {
        let batches = read(&sample.join(format!("{table}.parquet")));
        let first = &batches[0];
        let columns: Vec<Vec<ArrayRef>> = batches
            .iter()
            .map(|b| b.columns().iter().enumerate().map(|(c, a)| variant(a, c + t, &zone)).collect())
            .collect();
        let fields: Vec<Field> = first
            .schema()
            .fields()
            .iter()
            .zip(&columns[0])
            .map(|(f, a)| Field::new(f.name(), a.data_type().clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        // A folder of parts for the certificates, one file for the others.
        let props = WriterProperties::builder().set_max_row_group_row_count(Some(1_000)).build();
        let parts = if *table == "certificates" { 3 } else { 1 };
        let per = columns.len().div_ceil(parts);
        for (p, chunk) in columns.chunks(per.max(1)).enumerate() {
            let path = if parts == 1 {
                input.join(format!("{table}.parquet"))
            } else {
                fs::create_dir_all(input.join(table)).unwrap();
                input.join(table).join(format!("part-{p:03}.parquet"))
            };
            let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema.clone(), Some(props.clone())).unwrap();
            for cols in chunk {
                w.write(&RecordBatch::try_new(schema.clone(), cols.clone()).unwrap()).unwrap();
            }
            w.close().unwrap();
        }
    }
    let run = |input: &Path, out: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_siths-sweep"))
            .args(["run", "--quiet", "--as-of", "2021-11-15", "--input"])
            .arg(input)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    run(&sample, &a);
    run(&input, &b);
    for name in [
        "card_decisions.parquet",
        "org_compliance.parquet",
        "admin_review.parquet",
        "revocation_candidates.parquet",
        "revocation_certificates.parquet",
    ] {
        assert_eq!(parquet_to_text(&a.join(name)), parquet_to_text(&b.join(name)), "{name}");
    }
    let q = parquet_to_text(&b.join("quarantine.parquet"));
    let q_plain = parquet_to_text(&a.join("quarantine.parquet"));
    // Same rows quarantined; only the file names differ (parts).
    assert_eq!(q.lines().count(), q_plain.lines().count(), "{q}");
}
