//! A person's commands to a running swarm (`swarm pause`, `resume`, `retry`, `skip`) travel
//! as files in `.swarm/commands/`: state lives in files, so a command sent while the
//! orchestrator restarts is not lost.

use crate::scheduler::Command;
use crate::workspace::Workspace;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// The folder the orchestrator watches for commands.
pub fn dir(ws: &Workspace) -> PathBuf {
    ws.commands_dir()
}

/// Queues `command` for the orchestrator of `ws`.
pub fn send(ws: &Workspace, command: &Command) -> std::io::Result<()> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let dir = dir(ws);
    std::fs::create_dir_all(&dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!(
        "{nanos:020}-{}-{}.json",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    // Written aside and renamed in, so the orchestrator never reads half a command.
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    serde_json::to_writer(&mut tmp, command)?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}

/// Takes every queued command, oldest first. Unreadable files are dropped with a warning.
pub fn take(ws: &Workspace) -> Vec<Command> {
    let Ok(entries) = std::fs::read_dir(dir(ws)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let command = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok());
            let _ = std::fs::remove_file(&path);
            if command.is_none() {
                eprintln!(
                    "swarm: ignored an unreadable command file {}",
                    path.display()
                );
            }
            command
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::TaskId;

    #[test]
    fn commands_arrive_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::locate(&dir.path().join("PLAN.md")).unwrap();
        let sent = [
            Command::Pause { worker: Some(2) },
            Command::Retry {
                task: TaskId("a".into()),
            },
            Command::Resume { worker: None },
        ];
        for c in &sent {
            send(&ws, c).unwrap();
        }
        assert_eq!(take(&ws), sent);
        assert!(take(&ws).is_empty());
    }
}
