//! One orchestrator per workspace: an advisory lock on `.swarm/lock`, held for the run.
//! The kernel drops it when the process dies, however it dies, so a stale lock never
//! blocks a restart.

use crate::workspace::Workspace;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};

/// The held lock; dropping it releases it.
pub struct Lock {
    _file: File,
}

/// Takes the workspace's lock, or says which process holds it.
pub fn acquire(ws: &Workspace) -> std::io::Result<Result<Lock, Option<u32>>> {
    std::fs::create_dir_all(ws.swarm_dir())?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(ws.swarm_dir().join("lock"))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            file.rewind()?;
            write!(file, "{}", std::process::id())?;
            Ok(Ok(Lock { _file: file }))
        }
        Err(TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            Ok(Err(pid.trim().parse().ok()))
        }
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// The pid of the orchestrator running in `ws`, if one is.
pub fn holder(ws: &Workspace) -> Option<u32> {
    if !ws.swarm_dir().join("lock").exists() {
        return None;
    }
    match acquire(ws) {
        Ok(Err(pid)) => Some(pid.unwrap_or(0)),
        _ => None,
    }
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
