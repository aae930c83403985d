//! siths-sweep: the command line over the library.
//!
//! Exit codes (also in the README): 0 success; 1 error (message on stderr, nothing
//! written); 2 command-line misuse; 3 `--strict` and some input rows were quarantined
//! (results still written).

use std::process::ExitCode;

use siths_sweep::cli::AllocatorHooks;

// The sweep allocates many small strings from several threads at once; mimalloc's
// per-thread heaps keep that from contending the way glibc's arenas do.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tune_polars_parquet_scans();
    siths_sweep::cli::main(AllocatorHooks { release_freed: release_freed_memory, before_query: purge_at_once })
}

/// Returns the memory freed so far to the system at once, where the library says a large
/// structure has just been let go (`memory::release_freed`: as each stage of a sweep
/// starts, and between the columns of the cards copied into one table). mimalloc keeps freed pages for a while before
/// it does (its purge delay), so the next allocations came on top of the last ones'
/// garbage: at 10M cards the evaluate stage peaked ~290 MiB higher for it
/// (BENCHMARKS.md). Shortening the delay for every free instead cost the CSV sweep
/// ~20% of its time.
#[allow(unsafe_code)]
fn release_freed_memory() {
    // SAFETY: mi_collect takes no pointers and has no preconditions; it walks
    // mimalloc's own structures under its own synchronisation, from any thread.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// mimalloc's `mi_option_purge_delay` (the same place in the option enums of mimalloc
/// 2 and 3, `mimalloc.h`; the Rust bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Called before `query` runs: freed pages go back to the system at once. Polars frees
/// each decoded row group (a million rows of our outputs) and decodes the next; with the
/// default delay the freed one was still resident, ~80 MiB more at the peak of the
/// README's second query at 10M cards (BENCHMARKS.md). The price is faulting fresh
/// pages in again, ~0.05 s of that query's ~0.45 s.
#[allow(unsafe_code)]
fn purge_at_once() {
    // SAFETY: mi_option_set takes no pointers; options are plain integers that mimalloc
    // reads on its own, and the purge delay may be changed while the program runs.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

/// Polars reads two settings of its Parquet scans only from the environment. `query`
/// reads our outputs, whose row groups are a million rows: by default the streaming
/// engine fetches and decodes up to 16 of them at once on one thread each, which made
/// the README's second query at 10M cards peak at 4 times DuckDB's memory. One row
/// group at a time, its columns decoded in parallel, it peaks at less than half that
/// (with `purge_at_once`), as fast as DuckDB (BENCHMARKS.md). A value the user set is
/// kept: the README says how to trade memory back for speed.
fn tune_polars_parquet_scans() {
    for (name, value) in
        [("POLARS_ROW_GROUP_PREFETCH_SIZE", "1"), ("POLARS_PARQUET_DECODE_TARGET_VALUES_PER_THREAD", "1")]
    {
        if std::env::var_os(name).is_none() {
            set_env(name, value);
        }
    }
}

#[allow(unsafe_code)]
fn set_env(name: &str, value: &str) {
    // SAFETY: called first thing in `main`, before any thread exists (mimalloc starts
    // none), so nothing can be reading the environment concurrently.
    unsafe { std::env::set_var(name, value) }
}
