//! The memory check: before reading, estimate the run's peak from the inputs and
//! compare it with the memory available to the process, so that an export too big for
//! the machine fails at once with a clear message instead of being killed by the kernel
//! an hour into the night (SPEC "Command line").
//!
//! The estimate is a linear model of rows, fitted to measured peaks (BENCHMARKS.md,
//! "The memory check"): Parquet row counts come from the footers, a CSV file's rows
//! from its size. A CSV file streams through a few pieces of whole records at a time
//! (`ingest::csv`), so it costs about what the same rows cost from Parquet (measured at
//! 10M: 1.91–2.05 GiB from CSV, 1.72–2.05 GiB from Parquet). The manifest records the estimate beside
//! the measured peak, so the model can be checked night after night.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::error::Result;
use crate::ingest::discover::{self, Format, InputFile};
use crate::schema;

/// What the process holds before and besides the tables: the binary, thread stacks,
/// the allocator's arenas, writer buffers, and the spread between runs (one build's
/// peaks at 10M ranged 1,766–2,103 MiB in one session).
const BASE_BYTES: u64 = 384 << 20;

/// Peak bytes per input row, in the order of `schema::INPUT_TABLES` (organisations,
/// id_admins, cards, certificates). Fitted to the 10M and 100M-card sweeps (1.72–2.05
/// and 15.7–15.8 GiB with 4.5 certificates a card; 1.91–2.05 GiB from CSV at 10M): a
/// card and its certificates take ~160–180 bytes at the peak. A card's columns peak at ~110
/// bytes while the cards are copied into one table (`read_cards`: 10.7 GiB at 100M,
/// before any certificate is read); a certificate is counted into its card as it is
/// read and keeps 7 bytes (its key hash) plus its share of the key checks' pairs. With
/// the base, the model sits ~35% above the peaks measured at 10M (1,423–1,455 MiB since
/// session 14) and 21–25% above those at 100M (12,975–13,381 MiB); it only has to tell an
/// export that fits from one that cannot.
const ROW_BYTES: [u64; 4] = [200, 400, 120, 9];

/// CSV bytes per row of each table as `generate` writes it, to estimate a CSV file's
/// rows from its size.
const CSV_ROW_BYTES: [u64; 4] = [32, 160, 170, 110];

/// The estimate of one run's peak, from its inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Rows per input table (counted from Parquet footers, estimated for CSV).
    pub rows: [u64; 4],
    pub peak_bytes: u64,
}

impl Estimate {
    /// Refuses a run whose estimate exceeds what is available: one line for the
    /// operator, with the way around it.
    pub fn check(&self, available: Option<u64>) -> std::result::Result<(), String> {
        match available {
            Some(available) if self.peak_bytes > available => Err(format!(
                "this export needs an estimated {} of memory at its peak ({} cards, {} certificates) but {} is \
available to this process; nothing was written (hint: --no-memory-check runs it anyway)",
                gib(self.peak_bytes),
                self.rows[2],
                self.rows[3],
                gib(available)
            )),
            _ => Ok(()),
        }
    }
}

/// How the process returns memory it has freed to the system, as the binary's allocator
/// does it (`src/main.rs`: mimalloc keeps freed pages resident for a while, to reuse).
static RELEASE_FREED: OnceLock<fn()> = OnceLock::new();

/// Sets [`release_freed`]'s call, once per process (the binary does, at start).
pub fn set_release_freed(release: fn()) {
    let _ = RELEASE_FREED.set(release);
}

/// Returns the memory freed so far to the system, if the binary said how; a no-op
/// otherwise (tests, other allocators). Called where a large structure has just been let
/// go and the next allocations are large and fresh: as each sweep stage starts, and
/// between the columns of a large table being copied into one. Each call walks the
/// allocator's pages (1-5 ms at 10M cards, more at 100M), so it is not made per batch.
pub fn release_freed() {
    if let Some(release) = RELEASE_FREED.get() {
        release();
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Estimates the peak of a sweep of `input`. Files that cannot be read count for
/// nothing here: reading them fails later with the message that names them.
pub fn estimate(input: &Path) -> Result<Estimate> {
    let mut rows = [0u64; 4];
    let mut ignored = Vec::new();
    for (t, table) in schema::INPUT_TABLES.iter().enumerate() {
        for file in discover::discover(input, table, &mut ignored)? {
            rows[t] += rows_of(&file, CSV_ROW_BYTES[t]);
        }
    }
    let table_bytes: u64 = rows.iter().zip(ROW_BYTES).map(|(r, b)| r * b).sum();
    Ok(Estimate { rows, peak_bytes: BASE_BYTES + table_bytes })
}

/// A file's rows: counted for Parquet, estimated from its size for CSV.
fn rows_of(file: &InputFile, csv_row_bytes: u64) -> u64 {
    match file.format {
        Format::Parquet => {
            use parquet::file::reader::FileReader;
            fs::File::open(&file.path)
                .ok()
                .and_then(|f| parquet::file::serialized_reader::SerializedFileReader::new(f).ok())
                .map_or(0, |r| r.metadata().file_metadata().num_rows().max(0) as u64)
        }
        Format::Csv => fs::metadata(&file.path).map_or(0, |m| m.len()) / csv_row_bytes,
    }
}

/// Overrides what the check takes as available, in bytes (tests; or an operator who
/// wants the run to refuse below a budget of their own).
pub const AVAILABLE_VAR: &str = "SITHS_SWEEP_MEMORY_AVAILABLE";

/// The memory this process can still take: the least of the system's MemAvailable and,
/// under a cgroup memory limit, the room left below it. `None` where neither is known.
pub fn available() -> Option<u64> {
    if let Some(v) = std::env::var(AVAILABLE_VAR).ok().and_then(|v| v.trim().parse().ok()) {
        return Some(v);
    }
    let meminfo = fs::read_to_string("/proc/meminfo").ok().and_then(|t| meminfo_available(&t));
    [meminfo, cgroup_room()].into_iter().flatten().min()
}

/// MemAvailable of /proc/meminfo, in bytes.
fn meminfo_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The room below the tightest cgroup memory limit over this process's cgroup and its
/// ancestors (cgroup v2), or below the v1 memory controller's limit.
fn cgroup_room() -> Option<u64> {
    let read_u64 = |p: &Path| fs::read_to_string(p).ok().and_then(|t| t.trim().parse::<u64>().ok());
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    if let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) {
        let mut dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
        let mut room: Option<u64> = None;
        loop {
            // "max" (no limit) does not parse and is skipped.
            if let (Some(max), Some(current)) =
                (read_u64(&dir.join("memory.max")), read_u64(&dir.join("memory.current")))
            {
                let here = max.saturating_sub(current);
                room = Some(room.map_or(here, |r| r.min(here)));
            }
            if dir == Path::new("/sys/fs/cgroup") || !dir.pop() {
                return room;
            }
        }
    }
    let v1 = Path::new("/sys/fs/cgroup/memory");
    let limit = read_u64(&v1.join("memory.limit_in_bytes")).filter(|&l| l < 1 << 60)?;
    Some(limit.saturating_sub(read_u64(&v1.join("memory.usage_in_bytes")).unwrap_or(0)))
}

/// The process's peak resident memory so far (VmHWM), where the system says it.
pub fn peak_rss() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The manifest's `memory` object: the estimate beside what the run measured.
pub fn manifest_entry(estimate: Option<&Estimate>, available: Option<u64>) -> Value {
    json!({
        "estimated_peak_bytes": estimate.map(|e| e.peak_bytes),
        "available_bytes": available,
        "peak_rss_bytes": peak_rss(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_follows_the_model() {
        let e = estimate(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample/parquet")).unwrap();
        // The shipped sample: 20 organisations, 48 registrations, 5,000 cards, 22,719 certificates.
        assert_eq!(e.rows, [20, 48, 5_000, 22_719]);
        assert_eq!(e.peak_bytes, BASE_BYTES + 20 * 200 + 48 * 400 + 5_000 * 120 + 22_719 * 9);
        let csv = estimate(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample/csv")).unwrap();
        // Within 5% of the true rows; streamed, the same rows cost what they cost from Parquet.
        assert!((4_750..=5_250).contains(&csv.rows[2]) && (21_600..=23_900).contains(&csv.rows[3]), "{:?}", csv.rows);
        let table_bytes = |rows: [u64; 4]| rows.iter().zip(ROW_BYTES).map(|(r, b)| r * b).sum::<u64>();
        assert_eq!(csv.peak_bytes, BASE_BYTES + table_bytes(csv.rows));
    }

    #[test]
    fn the_check_refuses_only_above_what_is_available() {
        let e = Estimate { rows: [1, 2, 100_000_000, 450_000_000], peak_bytes: 30 << 30 };
        assert!(e.check(None).is_ok(), "nothing known: no refusal");
        assert!(e.check(Some(30 << 30)).is_ok(), "exactly enough");
        let message = e.check(Some((30 << 30) - 1)).unwrap_err();
        assert!(!message.contains('\n'), "one line: {message}");
        for part in ["30.0 GiB", "100000000 cards", "450000000 certificates", "--no-memory-check"] {
            assert!(message.contains(part), "{part} in {message}");
        }
    }

    #[test]
    fn meminfo_and_the_peak_are_read_in_bytes() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   23000000 kB\n";
        assert_eq!(meminfo_available(text), Some(23_000_000 * 1024));
        assert_eq!(meminfo_available("MemTotal: 1 kB\n"), None);
        if cfg!(target_os = "linux") {
            assert!(peak_rss().is_some_and(|p| p > 1 << 20));
            assert!(available().is_some());
        }
    }
}
