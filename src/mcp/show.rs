//! The `show` tool: one task's details in one call, from what swarm records: the plan (its
//! text, its box, its sentinel), the last run's snapshot (its state, why, which worker,
//! how many attempts) and the transcripts of its attempts.

use crate::cli::Workspace;
use crate::orchestrator::snapshot::{Snapshot, TaskRow};
use crate::plan::TaskId;
use serde::Serialize;
use std::path::PathBuf;

/// What the `show` tool returns.
#[derive(Debug, Serialize)]
pub struct Shown {
    id: TaskId,
    text: String,
    line: usize,
    /// Checked off in PLAN.md.
    done: bool,
    /// The file its worker creates when it is done, relative to the plan's directory.
    sentinel: PathBuf,
    sentinel_exists: bool,
    /// As `swarm run` last saw it (`pending`, `running`, `done`, `failed`, `skipped`,
    /// `blocked`): `null` when no run has had it.
    state: Option<String>,
    /// Why it failed or is blocked, or what it waits for.
    reason: Option<String>,
    /// The worker on it now (`w2`).
    worker: Option<String>,
    /// Deliveries so far, as the run counts them; without a run, its transcripts.
    attempts: u32,
    /// The transcript of each recorded attempt, oldest first (`logs` prints them).
    transcripts: Vec<Transcript>,
}

#[derive(Debug, Serialize)]
struct Transcript {
    attempt: u32,
    path: PathBuf,
}

pub fn show(workspace: &Workspace, typed: &str) -> anyhow::Result<Shown> {
    let (ws, _) = crate::cmd::target(workspace)?;
    let task = crate::cmd::find_task(&ws, typed)?;
    let sentinel = crate::prompt::sentinel_for(&task)?;
    let row: Option<TaskRow> = Snapshot::read(&ws.state_path())?
        .and_then(|s| s.tasks.into_iter().find(|t| t.id == task.id.0));
    let transcripts: Vec<Transcript> = crate::cmd::logs::attempts(&ws.logs_dir(), &task.id)
        .into_iter()
        .map(|attempt| Transcript {
            attempt,
            path: ws.transcript(&task.id, attempt),
        })
        .collect();
    Ok(Shown {
        attempts: row
            .as_ref()
            .map_or(transcripts.len() as u32, |r| r.attempts),
        state: row.as_ref().map(|r| r.state.clone()),
        reason: row.as_ref().and_then(|r| r.reason.clone()),
        worker: row.as_ref().and_then(|r| r.worker).map(|w| format!("w{w}")),
        sentinel_exists: ws.root.join(&sentinel).exists(),
        sentinel,
        transcripts,
        line: task.line,
        done: task.checked,
        text: task.text,
        id: task.id,
    })
}
