//! `swarm status`: the tasks and workers of this workspace's swarm, for people, `--json` or
//! tmux's status line (`--line`).

use crate::Outcome;
use crate::cli::StatusArgs;
use crate::orchestrator::snapshot::Snapshot;
use serde::Serialize;
use std::path::PathBuf;

/// `swarm status --json`, and what the MCP tool `status` returns.
#[derive(Debug, Serialize)]
pub(crate) struct Status {
    /// swarm's tmux server is up.
    pub running: bool,
    pub socket: String,
    /// The orchestrator's snapshot (its last run's, if none runs); `null` before any run.
    pub state: Option<Snapshot>,
    pub workspace: PathBuf,
}

/// The workspace's status now.
pub(crate) fn status(workspace: &crate::cli::Workspace) -> anyhow::Result<Status> {
    let (ws, tmux) = super::target(workspace)?;
    Ok(Status {
        running: tmux.server_alive(),
        state: Snapshot::read(&ws.state_path())?,
        workspace: ws.root,
        socket: tmux.socket,
    })
}

pub fn run(args: &StatusArgs) -> anyhow::Result<Outcome> {
    if args.line {
        let (ws, _) = super::target(&args.workspace)?;
        // Read every few seconds by tmux's status line: no snapshot yet is no line yet.
        if let Some(snapshot) = Snapshot::read(&ws.state_path())? {
            println!(
                "{}",
                snapshot.status_line(crate::orchestrator::snapshot::now())
            );
        }
        return Ok(Outcome::Success);
    }
    let status = status(&args.workspace)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(Outcome::Success);
    }
    match status.state {
        Some(snapshot) => print!("{}", snapshot.render(status.running)),
        None => println!(
            "no swarm has run in {} yet\nhint: start one with `swarm run`",
            status.workspace.display()
        ),
    }
    Ok(Outcome::Success)
}
