//! Atomic publish: results are written into a hidden sibling of `--out` and swapped into
//! place only when everything succeeded, so `--out` is always either the old complete
//! set or the new complete set — never partial, and (where the system can exchange two
//! folders in one step) never missing.
//!
//! The promise to the operators (SPEC "Command line", `--out`): no run — failed, killed
//! or concurrent — ever deletes the only complete copy of a result. So:
//! - `--force` exchanges the staging folder with `--out` in one `renameat2(RENAME_EXCHANGE)`
//!   on Linux. Elsewhere, or on a file system without it, the old folder is renamed
//!   aside first and the new one renamed in: for a moment `--out` is missing, but a
//!   complete copy always exists under one of the two names.
//! - Leftovers of dead processes beside `--out` (their pid is in the name) are put back
//!   when `--out` is missing and they are the replaced result or hold a complete one
//!   (manifest hashes verified), removed when they are incomplete or a complete result is
//!   in place, and otherwise left alone with a warning.
//! - Folders of live processes are never touched.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Staging folders: `.NAME.siths-sweep-tmp-PID-STAMP`. After an exchange the same
/// name holds the replaced result until it is removed.
const TMP_TAG: &str = ".siths-sweep-tmp-";
/// Where the fallback puts the replaced result aside: `.NAME.siths-sweep-old-PID`.
const OLD_TAG: &str = ".siths-sweep-old-";

/// A staging folder beside the target; removed on drop unless published.
pub struct Staging {
    pub dir: PathBuf,
    target: PathBuf,
    parent: PathBuf,
    name: String,
    published: bool,
}

fn name_of(target: &Path) -> Result<String> {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Config(format!("--out {} must name a folder", target.display())))
}

impl Staging {
    /// Puts back or clears what killed runs left beside the target, checks the target
    /// and creates the staging folder. An existing non-empty target is an error unless
    /// `force`.
    pub fn new(target: &Path, force: bool) -> Result<Staging> {
        let name = name_of(target)?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        for message in recover_leftovers(&parent, &name, target)? {
            eprintln!("siths-sweep: warning: {message}");
        }
        if target.exists() {
            if !target.is_dir() {
                return Err(Error::output(target, "exists and is not a folder"));
            }
            let non_empty = fs::read_dir(target).map_err(|e| Error::io(target, e))?.next().is_some();
            if non_empty && !force {
                return Err(Error::Config(format!(
                    "--out {} exists and is not empty\nhint: pass --force to replace it",
                    target.display()
                )));
            }
        }
        let stamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dir = parent.join(format!(".{name}{TMP_TAG}{}-{stamp}", std::process::id()));
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o750);
        b.create(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Staging { dir, target: target.to_path_buf(), parent, name, published: false })
    }

    /// Moves the staging folder into place, replacing any old target. The staging
    /// folder's files must be complete and synced, the manifest last.
    pub fn publish(mut self) -> Result<()> {
        failpoint("publish:staged");
        if !self.target.exists() {
            // Nothing to replace: one rename, atomic on every system.
            fs::rename(&self.dir, &self.target).map_err(|e| Error::io(&self.target, e))?;
            self.published = true;
            sync_dir(&self.parent);
            return Ok(());
        }
        if exchange(&self.dir, &self.target).map_err(|e| Error::io(&self.target, e))? {
            // The new result is in place; the staging name now holds the old one.
            self.published = true;
            sync_dir(&self.parent);
            failpoint("publish:exchanged");
            discard(&self.dir);
        } else {
            self.publish_in_two_renames()?;
        }
        sync_dir(&self.parent);
        Ok(())
    }

    /// The fallback where folders cannot be exchanged: old aside, new in. A kill
    /// between the two leaves the old result under its aside name, which the next run
    /// puts back.
    fn publish_in_two_renames(&mut self) -> Result<()> {
        let old = self.parent.join(format!(".{}{OLD_TAG}{}", self.name, std::process::id()));
        fs::rename(&self.target, &old).map_err(|e| Error::io(&self.target, e))?;
        failpoint("publish:old-aside");
        if let Err(e) = fs::rename(&self.dir, &self.target) {
            let _ = fs::rename(&old, &self.target);
            return Err(Error::io(&self.target, e));
        }
        self.published = true;
        sync_dir(&self.parent);
        failpoint("publish:new-in");
        discard(&old);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Removes a replaced result: its manifest first, so that a kill half-way leaves a
/// folder that is plainly incomplete.
fn discard(dir: &Path) {
    let _ = fs::remove_file(dir.join("manifest.json"));
    failpoint("publish:discarding");
    let _ = fs::remove_dir_all(dir);
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Swaps two folders in one step; `Ok(false)` where the system or file system cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    use rustix::io::Errno;
    if cfg!(feature = "failpoints") && std::env::var_os("SITHS_SWEEP_NO_EXCHANGE").is_some() {
        return Ok(false);
    }
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        // No renameat2 (old kernels, some sandboxes), or a file system without exchange.
        Err(Errno::NOSYS | Errno::INVAL | Errno::OPNOTSUPP) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<bool> {
    Ok(false)
}

/// A folder left beside the target by an earlier run.
struct Leftover {
    path: PathBuf,
    /// Put aside by the fallback publish: the result that was replaced.
    replaced: bool,
    complete: bool,
}

/// Puts back or removes the staging and replaced folders of processes no longer
/// running (this process's own pid counts as dead: a folder of a new process can only
/// be from an earlier one that had the same pid). Returns what it did that the
/// operator should hear of.
fn recover_leftovers(parent: &Path, name: &str, target: &Path) -> Result<Vec<String>> {
    let Ok(entries) = fs::read_dir(parent) else { return Ok(Vec::new()) };
    let mut leftovers = Vec::new();
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let tagged = |tag: &str| file.strip_prefix(&format!(".{name}{tag}")).map(str::to_string);
        let (rest, replaced) = match (tagged(TMP_TAG), tagged(OLD_TAG)) {
            (Some(rest), _) => (rest, false),
            (None, Some(rest)) => (rest, true),
            (None, None) => continue,
        };
        let pid = rest.split('-').next().unwrap_or("");
        let alive = !pid.is_empty() && Path::new("/proc").join(pid).exists();
        if alive && pid != std::process::id().to_string() {
            continue;
        }
        let path = e.path();
        let complete = is_complete(&path);
        leftovers.push(Leftover { path, replaced, complete });
    }
    let mut said = Vec::new();
    if leftovers.is_empty() {
        return Ok(said);
    }
    if !target.exists() {
        // The replaced result first (it was published: a `generate` export has no
        // manifest to verify, and is put back all the same), then any complete one,
        // the newest first.
        let modified = |l: &Leftover| fs::metadata(&l.path).and_then(|m| m.modified()).ok();
        let best =
            leftovers.iter().filter(|l| l.complete || l.replaced).max_by_key(|l| (l.replaced, l.complete, modified(l)));
        if let Some(best) = best {
            failpoint("recover:put-back");
            fs::rename(&best.path, target).map_err(|e| Error::io(target, e))?;
            sync_dir(parent);
            said.push(format!(
                "{} was missing; put back the result a killed run had left in {}",
                target.display(),
                best.path.display()
            ));
        }
    }
    let target_complete = is_complete(target);
    for l in leftovers.iter().filter(|l| l.path.exists()) {
        if !l.complete || target_complete {
            let _ = fs::remove_dir_all(&l.path);
        } else {
            said.push(format!(
                "left {} alone: it holds a complete result and {} holds no complete one",
                l.path.display(),
                target.display()
            ));
        }
    }
    Ok(said)
}

/// Whether `dir` holds a complete result: a manifest whose every output is there with
/// the SHA-256 the manifest gives.
pub fn is_complete(dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(dir.join("manifest.json")) else { return false };
    let Ok(manifest) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    let Some(outputs) = manifest.get("outputs").and_then(|o| o.as_array()) else { return false };
    outputs.iter().all(|o| {
        let (Some(name), Some(want)) =
            (o.get("name").and_then(|n| n.as_str()), o.get("sha256").and_then(|h| h.as_str()))
        else {
            return false;
        };
        // Names are relative to the folder and never climb out of it.
        let relative = Path::new(name);
        if relative.is_absolute() || relative.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return false;
        }
        sha256_of(&dir.join(relative)).is_some_and(|got| got == want)
    })
}

fn sha256_of(path: &Path) -> Option<String> {
    let mut file = fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Test builds (`--features failpoints`) stop here when `SITHS_SWEEP_FAILPOINT` names
/// this point: they say so on stderr and wait to be killed, so that a test can SIGKILL
/// the process at exactly this step. Other builds compile it to nothing.
#[inline]
fn failpoint(_name: &str) {
    #[cfg(feature = "failpoints")]
    if std::env::var("SITHS_SWEEP_FAILPOINT").is_ok_and(|v| v == _name) {
        eprintln!("failpoint {_name} reached");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use super::*;

    /// A complete result: one output and a manifest with its hash.
    fn write_result(dir: &Path, night: u32) {
        fs::create_dir_all(dir).unwrap();
        let body = format!("night {night}\n");
        fs::write(dir.join("data.csv"), &body).unwrap();
        let hash: String = Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let manifest =
            serde_json::json!({"night": night, "outputs": [{"name": "data.csv", "sha256": hash, "rows": 1}]});
        fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    }

    fn night_of(dir: &Path) -> Option<u64> {
        assert!(is_complete(dir), "{} is not complete", dir.display());
        let m: serde_json::Value = serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).ok()?).ok()?;
        m["night"].as_u64()
    }

    #[test]
    fn completeness_is_the_manifest_and_every_hash() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("r");
        write_result(&d, 1);
        assert!(is_complete(&d));
        fs::write(d.join("data.csv"), "night 2\n").unwrap();
        assert!(!is_complete(&d), "a changed output");
        write_result(&d, 1);
        fs::remove_file(d.join("data.csv")).unwrap();
        assert!(!is_complete(&d), "a missing output");
        write_result(&d, 1);
        fs::write(d.join("manifest.json"), "{\"outputs\": [").unwrap();
        assert!(!is_complete(&d), "a torn manifest");
        assert!(!is_complete(&t.path().join("none")));
    }

    /// The state a kill between the fallback's two renames leaves: `--out` missing, the
    /// replaced result aside. The next run puts it back even before it fails.
    #[test]
    fn a_replaced_result_is_put_back_when_the_target_is_missing() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("night");
        let aside = t.path().join(".night.siths-sweep-old-999999999");
        write_result(&aside, 1);
        // An incomplete staging folder of the same dead run.
        fs::create_dir(t.path().join(".night.siths-sweep-tmp-999999999-5")).unwrap();
        let staging = Staging::new(&target, false);
        assert!(staging.is_err(), "the restored target is not empty");
        assert_eq!(night_of(&target), Some(1));
        let names: Vec<String> =
            fs::read_dir(t.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert_eq!(names, ["night"], "only the restored result is left");
    }

    /// A complete leftover is never removed while the target holds no complete result.
    #[test]
    fn a_complete_leftover_is_kept_while_the_target_is_incomplete() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("night");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("notes.txt"), "not a sweep").unwrap();
        let aside = t.path().join(".night.siths-sweep-old-999999999");
        write_result(&aside, 1);
        let said = recover_leftovers(t.path(), "night", &target).unwrap();
        assert!(aside.exists() && said.iter().any(|s| s.contains("left")), "{said:?}");
        // Once a complete result is in place, the leftover goes.
        fs::remove_dir_all(&target).unwrap();
        write_result(&target, 2);
        recover_leftovers(t.path(), "night", &target).unwrap();
        assert!(!aside.exists());
        assert_eq!(night_of(&target), Some(2));
    }

    /// A reader polling `--out/manifest.json` through 200 `--force` publishes never
    /// finds it missing, and every manifest it reads belongs to a complete result.
    #[test]
    fn a_reader_never_finds_the_target_missing() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("night");
        write_result(&target, 0);
        let (a, b) = (t.path().join(".probe-a"), t.path().join(".probe-b"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        let can_exchange = exchange(&a, &b).unwrap_or(false);
        fs::remove_dir(&a).unwrap();
        fs::remove_dir(&b).unwrap();
        if !can_exchange {
            // Linux file systems have had it since 3.15 (ext4, xfs, btrfs, tmpfs, overlayfs).
            if cfg!(target_os = "linux") {
                panic!("RENAME_EXCHANGE is missing on this Linux file system");
            }
            eprintln!("no RENAME_EXCHANGE here: the fallback's moment without --out is documented, not tested");
            return;
        }
        let done = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let reader = {
            let (target, done, reads) = (target.clone(), done.clone(), reads.clone());
            std::thread::spawn(move || {
                let mut missing = 0u64;
                while !done.load(Ordering::Relaxed) {
                    match fs::read_to_string(target.join("manifest.json")) {
                        Ok(text) => assert!(text.contains("\"outputs\""), "a torn manifest: {text}"),
                        Err(_) => missing += 1,
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                missing
            })
        };
        for night in 1..=200 {
            let staging = Staging::new(&target, true).unwrap();
            write_result(&staging.dir, night);
            staging.publish().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        let missing = reader.join().unwrap();
        assert_eq!(missing, 0, "manifest.json was missing {missing} times in {} reads", reads.load(Ordering::Relaxed));
        assert!(reads.load(Ordering::Relaxed) > 200, "the reader polled throughout");
        assert_eq!(night_of(&target), Some(200));
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1, "no folder left beside the target");
    }
}
