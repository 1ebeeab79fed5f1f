//! `swarm workers [--idle] [--json]`: the workers from the run's snapshot, with a JSON
//! schema of their own (docs/cli.md) that scripts can rely on.

use crate::Outcome;
use crate::cli::WorkersArgs;
use crate::orchestrator::snapshot::{Snapshot, WorkerRow};
use serde::Serialize;

/// Version of the `--json` output; bump it when a field changes meaning.
const SCHEMA: u32 = 1;

/// `swarm workers --json`.
#[derive(Debug, Serialize)]
struct Listing {
    schema: u32,
    /// An orchestrator is running for the workspace; otherwise the workers are the last
    /// run's, as it left them.
    running: bool,
    workers: Vec<WorkerJson>,
}

/// One worker in `swarm workers --json`.
#[derive(Debug, Serialize)]
struct WorkerJson {
    /// `w2`: the name the other commands take.
    worker: String,
    id: usize,
    pane: Option<String>,
    state: String,
    task: Option<String>,
    paused: bool,
    needs: Option<String>,
    restarts: u32,
}

pub fn run(args: &WorkersArgs) -> anyhow::Result<Outcome> {
    let (ws, _) = super::target(&args.workspace)?;
    let snapshot = Snapshot::read(&ws.state_path())?;
    let running = crate::orchestrator::lock::holder(&ws).is_some();
    let paused_all = snapshot.as_ref().is_some_and(|s| s.paused);
    let workers: Vec<&WorkerRow> = snapshot
        .as_ref()
        .map(|s| s.workers.iter().collect())
        .unwrap_or_default();
    let workers = workers
        .into_iter()
        .filter(|w| !args.idle || is_idle(w, paused_all));
    if args.json {
        let listing = Listing {
            schema: SCHEMA,
            running,
            workers: workers
                .map(|w| WorkerJson {
                    worker: format!("w{}", w.id),
                    id: w.id,
                    pane: w.pane.clone(),
                    state: w.state.clone(),
                    task: w.task.clone(),
                    paused: w.paused || paused_all,
                    needs: w.needs.clone(),
                    restarts: w.restarts,
                })
                .collect(),
        };
        println!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(Outcome::Success);
    }
    if snapshot.is_none() {
        println!(
            "no swarm has run in {} yet\nhint: start one with `swarm run`",
            ws.root.display()
        );
        return Ok(Outcome::Success);
    }
    println!("WORKER  PANE   STATE        TASK");
    for w in workers {
        let doing = match (&w.needs, &w.task) {
            (Some(needs), _) => format!("needs you: {needs}"),
            (None, task) => task.clone().unwrap_or_default(),
        };
        let state = if w.paused || paused_all {
            format!("{} (paused)", w.state)
        } else {
            w.state.clone()
        };
        println!(
            "w{:<6} {:<6} {:<12} {doing}",
            w.id,
            w.pane.as_deref().unwrap_or("-"),
            state
        );
    }
    Ok(Outcome::Success)
}

/// Ready for a task: idle, not paused, and needing nobody.
fn is_idle(w: &WorkerRow, paused_all: bool) -> bool {
    w.state == "idle" && !w.paused && !paused_all && w.needs.is_none()
}
