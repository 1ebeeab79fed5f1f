//! `swarm capture WORKER`: what a worker's pane shows right now, for scripts and for a look
//! without attaching.

use crate::Outcome;
use crate::cli::CaptureArgs;
use crate::error::BadInput;
use crate::orchestrator::snapshot::Snapshot;
use crate::tmux::{Mux, PaneId};
use anyhow::Context;

pub fn run(args: &CaptureArgs) -> anyhow::Result<Outcome> {
    let id = super::worker_id(&args.worker)?;
    let (ws, tmux) = super::target(&args.workspace)?;
    let Some(snapshot) = Snapshot::read(&ws.state_path())? else {
        return Err(
            BadInput::new(format!("no swarm has run in {} yet", ws.root.display()))
                .hint("start one with `swarm run`")
                .into(),
        );
    };
    let Some(worker) = snapshot.workers.iter().find(|w| w.id == id) else {
        return Err(BadInput::new(format!("there is no worker w{id}"))
            .hint("`swarm workers` lists them")
            .into());
    };
    let pane = worker
        .pane
        .clone()
        .with_context(|| format!("w{id} has no pane right now (its agent is being replaced)"))?;
    let screen = tmux
        .capture(&PaneId(pane.clone()))
        .with_context(|| format!("reading w{id}'s pane {pane}"))?;
    print!("{screen}");
    Ok(Outcome::Success)
}
