//! The run's state as a file (`.swarm/state.json`), so that `swarm status` and window 0's
//! view can read it without talking to the orchestrator.

use crate::plan::Task;
use crate::scheduler::{State, TaskStatus, Waiting};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Version of the JSON schema; bump it when a field changes meaning.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema: u32,
    pub plan: String,
    pub socket: String,
    pub session: String,
    pub pid: u32,
    /// Unix time in seconds.
    pub started: f64,
    pub updated: f64,
    pub finished: bool,
    /// No task is handed out to anyone (`swarm pause`).
    pub paused: bool,
    pub counts: Counts,
    pub tasks: Vec<TaskRow>,
    pub workers: Vec<WorkerRow>,
    /// In an isolated run, the branch finished tasks land on.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub land: Option<String>,
    /// The other hosts workers run on, and how each stands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostRow>,
    /// What the run has cost so far, by its agents' records, against its budgets.
    #[serde(default)]
    pub spent: SpentRow,
}

/// What the run has cost, and its budgets, in dollars.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SpentRow {
    #[serde(flatten)]
    pub spent: crate::cost::Spent,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub budget: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub task_budget: Option<f64>,
    /// The run's budget was reached: no task is handed out any more.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub budget_reached: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: usize,
    pub done: usize,
    pub running: usize,
    pub pending: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Waiting for a retry of a task they depend on.
    #[serde(default)]
    pub blocked: usize,
    /// Finished by their agents, on their way to the landing branch (isolated runs).
    #[serde(default)]
    pub landing: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRow {
    pub id: String,
    pub text: String,
    /// `pending`, `running`, `landing`, `done`, `failed`, `skipped` or `blocked`.
    pub state: String,
    /// In an isolated run, where its work stands: `committed`, `verifying`,
    /// `verify-failed`, `queued`, `rebasing`, `conflict`, `landed` or `nothing to land`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<String>,
    /// The commit of its work, once there is one (on the landing branch once landed).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub commit: Option<String>,
    /// The branch a failed or skipped task left its work on (isolated runs).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub branch: Option<String>,
    /// Why it failed or is blocked, or what a pending task waits for, in words.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// What a pending task waits for: tasks not done, or a running task's files.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub waiting: Option<Waiting>,
    pub worker: Option<usize>,
    pub attempts: u32,
    /// Unix time the running attempt was handed out (only while the task runs).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub started: Option<f64>,
    /// A person edited the task's text after its prompt went out: its agent works from
    /// the text before the edit.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub edited_after_dispatch: bool,
    /// Its latest receipt: the stage, its attempt, when, and how long it took since the
    /// stage before it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub receipt: Option<crate::receipt::Latest>,
    /// What it has cost so far, over its attempts.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub spent: Option<crate::cost::Spent>,
}

/// A host other than this machine, as `status --json` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostRow {
    pub name: String,
    /// `up`, or `unreachable` while its link is down.
    pub state: String,
    /// While unreachable: seconds until its workers' tasks go elsewhere (0: they have).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lease_left: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerRow {
    pub id: usize,
    /// The host it runs on; none on this machine.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<String>,
    pub pane: Option<String>,
    /// The profile its agent runs (its pool's); empty in snapshots of older swarms.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// `starting`, `idle`, `delivering`, `busy`, `resetting`, `interrupting`,
    /// `needs-human`, `rate-limited`, `waiting` (for a person to free its pane) or `retired`.
    pub state: String,
    pub task: Option<String>,
    /// Its agent's failures in a row.
    pub restarts: u32,
    pub paused: bool,
    /// What a person must do for this worker (a blocking dialog), when one is needed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub needs: Option<String>,
    /// Why it was retired, when its agent kept failing.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retired: Option<String>,
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Who is running, for the snapshot header.
pub struct Header<'a> {
    pub plan: &'a str,
    pub socket: &'a str,
    pub session: &'a str,
    pub started: f64,
    pub land: Option<&'a str>,
}

impl Snapshot {
    pub fn capture(
        header: &Header,
        state: &State,
        texts: &HashMap<crate::plan::TaskId, Task>,
        edited: &HashSet<crate::plan::TaskId>,
        stages: &HashMap<crate::plan::TaskId, (super::landing::Stage, Option<String>)>,
        kept: &HashMap<crate::plan::TaskId, String>,
        book: &super::receipts::Book,
    ) -> Snapshot {
        let mut counts = Counts::default();
        // Who holds each running task, and since when: the workers' states say.
        let holders: HashMap<&crate::plan::TaskId, (usize, Option<f64>)> = state
            .workers()
            .iter()
            .filter_map(|w| {
                let since = w.since().map(|s| header.started + s.as_secs_f64());
                Some((w.task()?, (w.id, since)))
            })
            .collect();
        let tasks = state
            .tasks()
            .iter()
            .map(|t| {
                counts.total += 1;
                let waiting = state.waiting(&t.id);
                let (name, reason) = match &t.status {
                    TaskStatus::Pending => {
                        counts.pending += 1;
                        ("pending", waiting.as_ref().map(ToString::to_string))
                    }
                    TaskStatus::Running => {
                        counts.running += 1;
                        ("running", None)
                    }
                    TaskStatus::Done => {
                        counts.done += 1;
                        ("done", None)
                    }
                    TaskStatus::Failed(reason) => {
                        counts.failed += 1;
                        ("failed", Some(reason.clone()))
                    }
                    TaskStatus::Skipped => {
                        counts.skipped += 1;
                        ("skipped", None)
                    }
                    TaskStatus::Blocked(reason) => {
                        counts.blocked += 1;
                        ("blocked", Some(reason.clone()))
                    }
                    TaskStatus::Landing => {
                        counts.landing += 1;
                        ("landing", None)
                    }
                };
                let stage = stages.get(&t.id);
                TaskRow {
                    id: t.id.to_string(),
                    text: texts.get(&t.id).map(|t| t.text.clone()).unwrap_or_default(),
                    state: name.to_string(),
                    stage: stage.map(|(s, _)| s.name().to_string()),
                    commit: stage.and_then(|(_, c)| c.clone()),
                    branch: kept.get(&t.id).cloned(),
                    reason,
                    waiting,
                    worker: holders.get(&t.id).map(|h| h.0),
                    attempts: t.attempts,
                    started: holders.get(&t.id).and_then(|h| h.1),
                    edited_after_dispatch: edited.contains(&t.id),
                    receipt: book.latest(&t.id),
                    spent: book.task_spent(&t.id).cloned(),
                }
            })
            .collect();
        let workers = state
            .workers()
            .iter()
            .map(|w| WorkerRow {
                id: w.id,
                host: state.host_of(w.id).map(str::to_owned),
                pane: w.pane().map(|p| p.to_string()),
                profile: state.profile(w.id).to_string(),
                state: w.state().name().to_string(),
                task: w.task().map(|t| t.to_string()),
                restarts: w.restarts(),
                paused: w.is_held(),
                needs: w.needs(),
                retired: w.retired_because().map(str::to_string),
            })
            .collect();
        Snapshot {
            schema: SCHEMA,
            plan: header.plan.to_string(),
            socket: header.socket.to_string(),
            session: header.session.to_string(),
            pid: std::process::id(),
            started: header.started,
            updated: now(),
            finished: state.is_finished(),
            paused: state.is_paused(),
            counts,
            tasks,
            workers,
            land: header.land.map(str::to_string),
            hosts: state
                .hosts()
                .map(|(name, lost)| HostRow {
                    name: name.to_owned(),
                    state: if lost.is_some() { "unreachable" } else { "up" }.into(),
                    lease_left: lost.map(|since| {
                        (since + state.lease_grace())
                            .saturating_sub(state.now())
                            .as_secs_f64()
                    }),
                })
                .collect(),
            spent: {
                let budgets = state.budgets();
                let dollars = |m: u64| m as f64 / 1e6;
                SpentRow {
                    spent: book.total().clone(),
                    budget: budgets.run.map(dollars),
                    task_budget: budgets.task.map(dollars),
                    budget_reached: state.budget_reached(),
                }
            },
        }
    }

    /// Writes atomically: readers never see half a file.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        // One write: serde_json writes token by token, a syscall each on a bare file,
        // which at 10,000 tasks cost most of the orchestrator's time (perf, P5).
        tmp.write_all(&serde_json::to_vec(self)?)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    pub fn read(path: &Path) -> anyhow::Result<Option<Snapshot>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!("{}: not a swarm state file: {e}", path.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }

    /// What is left once the tmux server is gone: its workers with it, and the tasks they
    /// held stopped where they were (a new `swarm run` takes them up again).
    pub fn left_behind(mut self) -> Snapshot {
        for w in &mut self.workers {
            w.state = "gone".into();
            w.pane = None;
            w.task = None;
            w.needs = None;
        }
        for t in &mut self.tasks {
            if t.state == "running" {
                t.state = "stopped".into();
                t.worker = None;
                t.started = None;
            }
        }
        self.counts.running = 0;
        self
    }

    /// One line for tmux's status line: `swarm 7/12 ✓ 1 ✗ · ETA 3m`; the ETA at the pace
    /// of the tasks this run finished (those with attempts), as of `now` (Unix seconds).
    pub fn status_line(&self, now: f64) -> String {
        let c = &self.counts;
        let mut line = format!("swarm {}/{} ✓ {} ✗", c.done, c.total, c.failed);
        let done_here = self
            .tasks
            .iter()
            .filter(|t| t.state == "done" && t.attempts > 0)
            .count();
        let elapsed = std::time::Duration::from_secs_f64((now - self.started).max(0.0));
        if self.finished {
            line.push_str(" · finished");
        } else if self.paused {
            line.push_str(" · paused");
        } else if let Some(eta) = super::progress::eta(elapsed, done_here, c.pending + c.running) {
            line.push_str(&format!(" · ETA {}", super::progress::short(eta)));
        }
        // A limit holds work up: say until when, once (a pool's workers share one).
        let limited = self
            .workers
            .iter()
            .filter(|w| w.state == "rate-limited")
            .find_map(|w| w.needs.as_deref());
        if let Some(limit) = limited.filter(|_| !self.finished) {
            line.push_str(&format!(" · {limit}"));
        }
        line
    }

    /// A plain-text table for people; `running`: the run's tmux server is alive (without
    /// it, the workers are shown gone).
    pub fn render(&self, running: bool) -> String {
        if !running {
            return self.clone().left_behind().table(false);
        }
        self.table(true)
    }

    fn table(&self, running: bool) -> String {
        use std::fmt::Write;
        let c = &self.counts;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "swarm {} · {}/{} done · {} running · {} pending · {} failed{} · {}",
            self.plan,
            c.done,
            c.total,
            c.running,
            c.pending,
            c.failed,
            match (c.blocked, c.landing) {
                (0, 0) => String::new(),
                (0, l) => format!(" · {l} landing"),
                (b, 0) => format!(" · {b} blocked"),
                (b, l) => format!(" · {b} blocked · {l} landing"),
            },
            if self.finished {
                "finished"
            } else if self.paused {
                "paused"
            } else if running {
                "running"
            } else {
                "not running"
            }
        );
        if !running && !self.workers.is_empty() {
            let _ = writeln!(
                out,
                "the tmux server is gone, and so its workers are gone{}",
                if self.finished {
                    ""
                } else {
                    "; `swarm run` goes on where this left off"
                }
            );
        }
        for h in &self.hosts {
            let _ = match h.lease_left {
                Some(left) if left > 0.0 => writeln!(
                    out,
                    "host {}: unreachable; its tasks go to other workers in {left:.0}s",
                    h.name
                ),
                Some(_) => writeln!(
                    out,
                    "host {}: unreachable; its tasks went to other workers",
                    h.name
                ),
                None => writeln!(out, "host {}: {}", h.name, h.state),
            };
        }
        let _ = writeln!(out, "\nWORKER  PANE   PROFILE    STATE       TASK");
        for w in &self.workers {
            let name = match &w.host {
                Some(host) => format!("w{}@{host}", w.id),
                None => format!("w{}", w.id),
            };
            let _ = writeln!(
                out,
                "{:<7} {:<6} {:<10} {:<11} {}",
                name,
                w.pane.as_deref().unwrap_or("-"),
                if w.profile.is_empty() {
                    "-"
                } else {
                    &w.profile
                },
                w.state,
                match (&w.needs, &w.retired) {
                    (Some(what), _) if w.state == "rate-limited" => what.clone(),
                    (Some(what), _) => format!("needs you: {what}"),
                    (None, Some(why)) => format!("retired: {why}"),
                    (None, None) => w.task.clone().unwrap_or_default(),
                }
            );
        }
        // The number is what `retry`, `skip` and `logs` take besides the id.
        let _ = writeln!(out, "\n{:>3}  STATE    TRIES  TASK", "#");
        for (n, t) in self.tasks.iter().enumerate() {
            let _ = write!(
                out,
                "{:>3}  {:<8} {:<6} {} {}",
                n + 1,
                t.state,
                t.attempts,
                t.id,
                t.text
            );
            if let Some(reason) = &t.reason {
                let _ = write!(out, " ({reason})");
            }
            match (&t.stage, &t.commit) {
                (Some(stage), Some(commit)) => {
                    let _ = write!(out, " [{stage} {}]", &commit[..commit.len().min(10)]);
                }
                (Some(stage), None) => {
                    let _ = write!(out, " [{stage}]");
                }
                _ => {}
            }
            if let Some(branch) = &t.branch {
                let _ = write!(out, " (its work is on branch {branch})");
            }
            if t.edited_after_dispatch {
                out.push_str(" (edited after its prompt went out)");
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(done: usize, total: usize, failed: usize) -> Snapshot {
        let task = |n: usize, state: &str, attempts| TaskRow {
            id: format!("t{n}"),
            text: String::new(),
            state: state.into(),
            stage: None,
            commit: None,
            branch: None,
            reason: None,
            worker: None,
            attempts,
            started: None,
            edited_after_dispatch: false,
            waiting: None,
            receipt: None,
            spent: None,
        };
        let mut tasks: Vec<TaskRow> = (0..done).map(|n| task(n, "done", 1)).collect();
        tasks.extend((done..done + failed).map(|n| task(n, "failed", 3)));
        tasks.extend((done + failed..total).map(|n| task(n, "pending", 0)));
        Snapshot {
            hosts: Vec::new(),
            schema: SCHEMA,
            plan: "PLAN.md".into(),
            socket: "s".into(),
            session: "swarm".into(),
            pid: 1,
            started: 1000.0,
            updated: 1000.0,
            finished: false,
            paused: false,
            counts: Counts {
                total,
                done,
                running: 0,
                pending: total - done - failed,
                failed,
                skipped: 0,
                blocked: 0,
                landing: 0,
            },
            tasks,
            workers: Vec::new(),
            land: None,
            spent: SpentRow::default(),
        }
    }

    #[test]
    fn the_status_line_counts_and_estimates() {
        // 7 done in 7 minutes, 4 open: 4 minutes to go.
        assert_eq!(
            snapshot(7, 12, 1).status_line(1000.0 + 420.0),
            "swarm 7/12 ✓ 1 ✗ · ETA 4m"
        );
        assert_eq!(snapshot(0, 3, 0).status_line(1010.0), "swarm 0/3 ✓ 0 ✗");
        let mut done = snapshot(3, 3, 0);
        done.finished = true;
        assert_eq!(done.status_line(2000.0), "swarm 3/3 ✓ 0 ✗ · finished");
    }

    #[test]
    fn the_status_line_says_until_when_a_rate_limit_holds_work_up() {
        let mut held = snapshot(0, 3, 0);
        held.workers.push(WorkerRow {
            host: None,
            id: 0,
            pane: Some("%1".into()),
            profile: "claude".into(),
            state: "rate-limited".into(),
            task: None,
            restarts: 0,
            paused: false,
            needs: Some("rate-limited until 21:20".into()),
            retired: None,
        });
        assert_eq!(
            held.status_line(1010.0),
            "swarm 0/3 ✓ 0 ✗ · rate-limited until 21:20"
        );
    }
}
