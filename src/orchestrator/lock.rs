//! One orchestrator per workspace: an advisory lock on `.swarm/lock`, held for the run.
//! The kernel drops it when the process dies, however it dies, so a stale lock never
//! blocks a restart.

use crate::workspace::Workspace;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::time::{Duration, Instant};

/// The held lock; dropping it releases it.
pub struct Lock {
    _file: File,
}

/// How long `acquire` keeps trying while someone holds the lock: `holder` probes take it
/// (shared) for a moment, and must not make a starting orchestrator give up.
const PATIENCE: Duration = Duration::from_millis(500);

/// Takes the workspace's lock, or says which process holds it.
pub fn acquire(ws: &Workspace) -> std::io::Result<Result<Lock, Option<u32>>> {
    std::fs::create_dir_all(ws.swarm_dir())?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(ws.swarm_dir().join("lock"))?;
    let deadline = Instant::now() + PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0)?;
                file.rewind()?;
                write!(file, "{}", std::process::id())?;
                return Ok(Ok(Lock { _file: file }));
            }
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => return Ok(Err(read_pid(&mut file))),
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// The pid of the orchestrator running in `ws`, if one is. It only looks: a shared lock
/// for an instant, and nothing written.
pub fn holder(ws: &Workspace) -> Option<u32> {
    let mut file = File::open(ws.swarm_dir().join("lock")).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_pid(&mut file).unwrap_or(0)),
        Err(TryLockError::Error(_)) => None,
    }
}

/// Like `holder`, but a lock whose recorded process is gone gets a moment to go too: it
/// was seen held for an instant after its orchestrator was killed and reaped, under load
/// (the fault suite's kill loop). A live holder is answered at once.
pub fn live_holder(ws: &Workspace) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let pid = holder(ws)?;
        let alive = pid != 0 && std::path::Path::new(&format!("/proc/{pid}")).exists();
        if alive || Instant::now() >= deadline {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
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

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::locate(&dir.path().join("PLAN.md")).unwrap();
        let Ok(first) = acquire(&ws).unwrap() else {
            panic!("the lock was free")
        };
        assert_eq!(acquire(&ws).unwrap().err(), Some(Some(std::process::id())));
        assert_eq!(holder(&ws), Some(std::process::id()));
        drop(first);
        assert!(acquire(&ws).unwrap().is_ok());
        assert_eq!(holder(&ws), None);
    }
}
