//! Atomic publish: results are written into a hidden sibling of `--out` and renamed into
//! place only when everything succeeded, so `--out` is always either the old complete
//! set, absent, or the new complete set — never partial.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const TMP_TAG: &str = ".siths-sweep-tmp-";
const OLD_TAG: &str = ".siths-sweep-old-";

/// A staging folder beside the target; removed on drop unless published.
pub struct Staging {
    pub dir: PathBuf,
    target: PathBuf,
    parent: PathBuf,
    published: bool,
}

fn name_of(target: &Path) -> Result<String> {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Config(format!("--out {} must name a folder", target.display())))
}

impl Staging {
    /// Checks the target and creates the staging folder. An existing non-empty target
    /// is an error unless `force`.
    pub fn new(target: &Path, force: bool) -> Result<Staging> {
        let name = name_of(target)?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
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
        fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        clean_leftovers(&parent, &name);
        let stamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dir = parent.join(format!(".{name}{TMP_TAG}{}-{stamp}", std::process::id()));
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o750);
        b.create(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Staging { dir, target: target.to_path_buf(), parent, published: false })
    }

    /// Moves the staging folder into place, replacing any old target.
    pub fn publish(mut self) -> Result<()> {
        let name = name_of(&self.target)?;
        let old = self.parent.join(format!(".{name}{OLD_TAG}{}", std::process::id()));
        let had_old = self.target.exists();
        if had_old {
            fs::rename(&self.target, &old).map_err(|e| Error::io(&self.target, e))?;
        }
        if let Err(e) = fs::rename(&self.dir, &self.target) {
            if had_old {
                let _ = fs::rename(&old, &self.target);
            }
            return Err(Error::io(&self.target, e));
        }
        self.published = true;
        if had_old {
            let _ = fs::remove_dir_all(&old);
        }
        if let Ok(d) = fs::File::open(&self.parent) {
            let _ = d.sync_all();
        }
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

/// Removes staging and replaced folders that a killed run left beside the target.
/// Only those of processes no longer running are touched.
fn clean_leftovers(parent: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let rest = [TMP_TAG, OLD_TAG].iter().find_map(|tag| file.strip_prefix(&format!(".{name}{tag}")));
        let Some(rest) = rest else { continue };
        let pid = rest.split('-').next().unwrap_or("");
        let alive = !pid.is_empty() && Path::new("/proc").join(pid).exists();
        if !alive || pid == std::process::id().to_string() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
