//! `swarm stop`: end this workspace's swarm by killing its own tmux server, and only it.

use crate::Outcome;
use crate::cli::Workspace as WorkspaceArgs;

pub fn run(args: &WorkspaceArgs) -> anyhow::Result<Outcome> {
    let (ws, tmux) = super::target(args)?;
    if tmux.server_alive() {
        // The orchestrator learns that its server went on purpose, not in a crash.
        if let Some(pid) = crate::orchestrator::lock::holder(&ws).filter(|&pid| pid != 0) {
            crate::orchestrator::stop::request(&ws, pid)?;
        }
        tmux.kill_server()?;
        println!(
            "stopped the swarm of {} (tmux socket `{}`)",
            ws.root.display(),
            tmux.socket
        );
    } else {
        println!("no swarm is running for {}", ws.root.display());
    }
    Ok(Outcome::Success)
}
