//! One orchestrator per plan, whatever the path that leads to it: an advisory lock on
//! `.swarm/lock`, and one on the plan file's identity (its device and inode, and the path
//! its symlinks resolve to), so that a symlink or a hard link from another directory is the
//! same plan. Held for the run; the kernel drops them when the process dies, however it
//! dies, so a stale lock never blocks a restart.

use crate::workspace::Workspace;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The held locks; dropping it releases them.
pub struct Lock {
    _files: Vec<File>,
}

/// How long `acquire` keeps trying while a live process holds a lock: `holder` probes take
/// it (shared) for a moment, and must not make a starting orchestrator give up.
const PATIENCE: Duration = Duration::from_millis(500);
/// How long `acquire` waits for a lock whose recorded process is gone: it was seen held
/// for an instant after its orchestrator was killed and reaped, under load.
const DEAD_PATIENCE: Duration = Duration::from_secs(2);

/// Takes the plan's locks, or says which process holds one.
pub fn acquire(ws: &Workspace) -> std::io::Result<Result<Lock, Option<u32>>> {
    std::fs::create_dir_all(ws.swarm_dir())?;
    let mut paths = vec![ws.lock_path()];
    paths.extend(identity_locks(&ws.plan)?);
    let mut files = Vec::new();
    for path in paths {
        match take(&path)? {
            Ok(file) => files.push(file),
            Err(pid) => return Ok(Err(pid)),
        }
    }
    Ok(Ok(Lock { _files: files }))
}

/// Takes the lock at `path` and writes our pid in it.
fn take(path: &Path) -> std::io::Result<Result<File, Option<u32>>> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0)?;
                file.rewind()?;
                write!(file, "{}", std::process::id())?;
                return Ok(Ok(file));
            }
            Err(TryLockError::WouldBlock) => {
                let pid = read_pid(&mut file);
                let patience = if pid.is_some_and(alive) {
                    PATIENCE
                } else {
                    DEAD_PATIENCE
                };
                if started.elapsed() >= patience {
                    return Ok(Err(pid));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// The lock files that stand for the plan file itself, in swarm's runtime directory: one
/// named by its device and inode (a hard link elsewhere), one by the path its symlinks
/// resolve to (which stays the same when an editor's save replaces the inode).
fn identity_locks(plan: &Path) -> std::io::Result<Vec<PathBuf>> {
    let Ok(target) = std::fs::canonicalize(plan) else {
        // No plan file (yet): the workspace lock is all there is to key on.
        return Ok(Vec::new());
    };
    let meta = std::fs::metadata(&target)?;
    let dir = runtime_dir()?;
    let digest = Sha256::digest(target.as_os_str().as_encoded_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    Ok(vec![
        dir.join(format!("plan-{}-{}.lock", meta.dev(), meta.ino())),
        dir.join(format!("path-{hex}.lock")),
    ])
}

/// Where the identity locks live: the user's runtime directory, or a private folder of
/// theirs under the temp directory.
fn runtime_dir() -> std::io::Result<PathBuf> {
    let base = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_dir() => dir.join("swarm"),
        _ => {
            let uid = std::fs::metadata("/proc/self")?.uid();
            std::env::temp_dir().join(format!("swarm-{uid}"))
        }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&base)?;
    Ok(base)
}

/// The pid of the orchestrator running in `ws`, if one is. It only looks: a shared lock
/// for an instant, and nothing written.
pub fn holder(ws: &Workspace) -> Option<u32> {
    let mut file = File::open(ws.lock_path()).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_pid(&mut file).unwrap_or(0)),
        Err(TryLockError::Error(_)) => None,
    }
}

fn alive(pid: u32) -> bool {
    pid != 0 && Path::new(&format!("/proc/{pid}")).exists()
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut pid = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut pid).ok()?;
    pid.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(dir: &Path, plan: &str) -> Workspace {
        Workspace::locate(&dir.join(plan)).unwrap()
    }

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("PLAN.md"), "- [ ] One\n").unwrap();
        let ws = workspace(dir.path(), "PLAN.md");
        let Ok(first) = acquire(&ws).unwrap() else {
            panic!("the lock was free")
        };
        assert_eq!(acquire(&ws).unwrap().err(), Some(Some(std::process::id())));
        assert_eq!(holder(&ws), Some(std::process::id()));
        drop(first);
        assert!(acquire(&ws).unwrap().is_ok());
        assert_eq!(holder(&ws), None);
    }

    #[test]
    fn the_same_plan_through_a_symlink_or_a_hard_link_elsewhere_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let plan = home.path().join("PLAN.md");
        std::fs::write(&plan, "- [ ] One\n").unwrap();
        let ws = workspace(home.path(), "PLAN.md");
        let Ok(held) = acquire(&ws).unwrap() else {
            panic!("the lock was free")
        };
        let other = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&plan, other.path().join("LINKED.md")).unwrap();
        std::fs::hard_link(&plan, other.path().join("HARD.md")).unwrap();
        for name in ["LINKED.md", "HARD.md"] {
            let elsewhere = workspace(other.path(), name);
            assert_eq!(
                acquire(&elsewhere).unwrap().err(),
                Some(Some(std::process::id())),
                "{name}"
            );
        }
        drop(held);
        assert!(
            acquire(&workspace(other.path(), "HARD.md"))
                .unwrap()
                .is_ok()
        );
    }
}
