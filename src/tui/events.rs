//! Recent events, read off the difference between two snapshots: the snapshot is the one
//! thing the dashboard reads, and the journal is rewritten on compaction, so tailing it
//! would lose the place.

use crate::orchestrator::snapshot::{Snapshot, TaskRow, WorkerRow};
use std::collections::HashMap;

/// What kind of thing happened, for its color.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Started,
    Done,
    Trouble,
    Quiet,
}

/// One line of the events pane.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLine {
    /// Seconds since the run started.
    pub at: f64,
    pub kind: Kind,
    pub text: String,
}

/// The events that turn `old` into `new`, tasks first, then workers.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Vec<EventLine> {
    let at = new.updated - new.started;
    let line = |kind, text| EventLine { at, kind, text };
    let before: HashMap<&str, &TaskRow> = old.tasks.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut out = Vec::new();
    for task in &new.tasks {
        let was = before.get(task.id.as_str());
        let moved = was.is_none_or(|w| w.state != task.state || w.attempts != task.attempts);
        if !moved {
            continue;
        }
        let id = &task.id;
        let event = match (was.map(|w| w.state.as_str()), task.state.as_str()) {
            (_, "running") => {
                let on = task.worker.map_or(String::new(), |w| format!("w{w} "));
                let attempt = match task.attempts {
                    0 | 1 => String::new(),
                    n => format!(" (attempt {n})"),
                };
                line(Kind::Started, format!("→ {on}{id}{attempt}"))
            }
            (_, "done") => line(Kind::Done, format!("✓ {id}")),
            (_, "failed") => line(
                Kind::Trouble,
                format!("✗ {id}: {}", task.reason.as_deref().unwrap_or("failed")),
            ),
            (_, "skipped") => line(Kind::Quiet, format!("⤼ {id} skipped")),
            (Some("running"), "pending") => line(Kind::Trouble, format!("↺ {id} requeued")),
            (Some("failed" | "skipped"), "pending") => {
                line(Kind::Started, format!("↻ {id} retried"))
            }
            _ => continue,
        };
        out.push(event);
    }
    let before: HashMap<usize, &WorkerRow> = old.workers.iter().map(|w| (w.id, w)).collect();
    for worker in &new.workers {
        let Some(was) = before.get(&worker.id) else {
            continue;
        };
        let w = worker.id;
        if worker.restarts > was.restarts {
            let pane = worker.pane.as_deref().unwrap_or("?");
            out.push(line(Kind::Trouble, format!("↻ w{w} restarted in {pane}")));
        }
        if worker.state == "retired"
            && was.state != "retired"
            && let Some(why) = &worker.retired
        {
            out.push(line(Kind::Trouble, format!("✗ w{w} retired: {why}")));
        }
        if worker.needs.is_some() && worker.needs != was.needs {
            let what = worker.needs.as_deref().unwrap_or_default();
            let text = if worker.state == "rate-limited" {
                format!("! w{w} {what}")
            } else {
                format!("! w{w} needs you: {what}")
            };
            out.push(line(Kind::Trouble, text));
        }
        if worker.paused != was.paused {
            let what = if worker.paused { "paused" } else { "resumed" };
            out.push(line(Kind::Quiet, format!("w{w} {what}")));
        }
    }
    if new.paused != old.paused {
        let what = if new.paused { "paused" } else { "resumed" };
        out.push(line(Kind::Quiet, format!("every worker {what}")));
    }
    out
}

/// How long each task that finished between `old` and `new` took, when its start was known.
pub fn durations(old: &Snapshot, new: &Snapshot) -> Vec<(String, f64)> {
    let started: HashMap<&str, f64> = old
        .tasks
        .iter()
        .filter_map(|t| Some((t.id.as_str(), t.started?)))
        .collect();
    new.tasks
        .iter()
        .filter(|t| t.state == "done")
        .filter_map(|t| Some((t.id.clone(), new.updated - started.get(t.id.as_str())?)))
        .collect()
}
