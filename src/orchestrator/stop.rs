//! `swarm stop`'s note to the orchestrator it ends (`.swarm/stop`, holding that
//! orchestrator's pid): the server it loses next was taken away on purpose, so the run
//! ends as stopped rather than crashed.

use crate::workspace::Workspace;

/// Leaves the note for the orchestrator with process id `pid`, before its server goes.
pub fn request(ws: &Workspace, pid: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(ws.swarm_dir())?;
    std::fs::write(ws.stop_path(), pid.to_string())
}

/// Whether `swarm stop` asked this very process to stop. A note for another pid (an
/// earlier run's) does not count.
pub fn requested(ws: &Workspace) -> bool {
    std::fs::read_to_string(ws.stop_path())
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        == Some(std::process::id())
}

/// Removes the note once its run has ended.
pub fn clear(ws: &Workspace) {
    let _ = std::fs::remove_file(ws.stop_path());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_process_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::locate(&dir.path().join("PLAN.md")).unwrap();
        assert!(!requested(&ws));
        request(&ws, std::process::id().wrapping_add(1)).unwrap();
        assert!(!requested(&ws), "another run's note");
        request(&ws, std::process::id()).unwrap();
        assert!(requested(&ws));
        clear(&ws);
        assert!(!requested(&ws));
    }
}
