//! `swarm capture WORKER`: what a worker's pane shows right now, for scripts and for a look
//! without attaching.

use crate::Outcome;
use crate::cli::CaptureArgs;
use crate::config::Overrides;
use crate::error::BadInput;
use crate::orchestrator::snapshot::Snapshot;
use crate::roster::Roster;
use crate::tmux::{Mux, PaneId};
use anyhow::Context;
use serde::Serialize;

pub fn run(args: &CaptureArgs) -> anyhow::Result<Outcome> {
    print!("{}", capture(args)?.screen);
    Ok(Outcome::Success)
}

/// A worker's screen (`swarm capture`, and the MCP tool `capture`).
#[derive(Debug, Serialize)]
pub(crate) struct Screen {
    pub worker: String,
    pub pane: String,
    pub screen: String,
}

/// Reads worker `args.worker`'s pane now.
pub(crate) fn capture(args: &CaptureArgs) -> anyhow::Result<Screen> {
    let id = super::worker_id(&args.worker)?;
    let (ws, tmux, settings) = super::target_with(&args.workspace, Overrides::default())?;
    // The panes carry their workers' names; the snapshot is for panes that do not.
    let tagged = Roster::load(&ws, &tmux, &settings.profile)?
        .get(id)
        .map(|w| w.pane.info.id.clone());
    if tagged.is_none()
        && let Some(remote) = super::on_host::worker(&ws, id)?
    {
        let session = super::on_host::session(&ws, &tmux, &settings, &remote.host)?;
        let screen = session
            .capture(&remote.pane)
            .with_context(|| format!("reading w{id}'s pane {} on {}", remote.pane, remote.host))?;
        return Ok(Screen {
            worker: format!("w{id}"),
            pane: format!("{}:{}", remote.host, remote.pane),
            screen,
        });
    }
    let pane = match tagged {
        Some(pane) => pane,
        None => snapshot_pane(&ws, id)?,
    };
    let screen = tmux
        .capture(&pane)
        .with_context(|| format!("reading w{id}'s pane {pane}"))?;
    Ok(Screen {
        worker: format!("w{id}"),
        pane: pane.to_string(),
        screen,
    })
}

/// The pane of worker `id` in the orchestrator's snapshot.
fn snapshot_pane(ws: &crate::workspace::Workspace, id: usize) -> anyhow::Result<PaneId> {
    let no_worker = || -> anyhow::Error {
        BadInput::new(format!("there is no worker w{id}"))
            .hint("`swarm workers` lists them")
            .into()
    };
    let snapshot = Snapshot::read(&ws.state_path())?.ok_or_else(no_worker)?;
    let worker = snapshot
        .workers
        .iter()
        .find(|w| w.id == id)
        .ok_or_else(no_worker)?;
    let pane = worker
        .pane
        .clone()
        .with_context(|| format!("w{id} has no pane right now (its agent is being replaced)"))?;
    Ok(PaneId(pane))
}
