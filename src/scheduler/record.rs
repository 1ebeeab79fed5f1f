//! What the scheduler decided, as records, and what replaying them tells: the pure half of
//! the run journal. The journal module writes and reads these records (fsynced, on disk);
//! nothing here does I/O, so the scheduler can build records and restore from a replay.

use super::WorkerId;
use crate::plan::TaskId;
use crate::tmux::PaneId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Journal format version, in the header line.
pub const FORMAT: u32 = 1;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Record {
    /// The first line: which plan this journal belongs to.
    Header {
        format: u32,
        plan: PathBuf,
    },
    Spawned {
        worker: WorkerId,
        pane: PaneId,
    },
    WorkerDied {
        worker: WorkerId,
        pane: PaneId,
        reason: String,
    },
    Assigned {
        task: TaskId,
        worker: WorkerId,
        pane: PaneId,
        attempt: u32,
    },
    Delivered {
        task: TaskId,
        worker: WorkerId,
    },
    Done {
        task: TaskId,
    },
    /// The agent finished `task` (isolated runs): its work, in `worker`'s worktree, is to
    /// be committed, verified and landed.
    Landing {
        task: TaskId,
        worker: WorkerId,
        attempt: u32,
    },
    /// `task`'s work was committed and verified in its worktree, and waits in the merge
    /// queue: after a crash it is landed again, not checked again (its worktree may have
    /// moved on to another task).
    Queued {
        task: TaskId,
    },
    /// `task`'s work is on the landing branch as `commit` (none: it changed nothing).
    Landed {
        task: TaskId,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        commit: Option<String>,
    },
    /// Where a task's work stands on its way to landing (committed, verifying, queued,
    /// conflict, verify-failed), for people reading the journal; replay ignores it.
    Stage {
        task: TaskId,
        stage: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        commit: Option<String>,
    },
    /// A timestamped stage of an attempt (src/receipt.rs): a note for `swarm show`;
    /// replay keeps it only to carry it through compaction.
    Receipt(crate::receipt::Receipt),
    Requeued {
        task: TaskId,
        reason: String,
    },
    /// The prompt never reached the agent (the pane refused the paste, or died first), or
    /// the agent lost the attempt to something not the task's (a rate limit, an API error,
    /// a kill from outside): the task is back in line and its last attempt does not count.
    Unsent {
        task: TaskId,
        reason: String,
    },
    Failed {
        task: TaskId,
        reason: String,
    },
    Skipped {
        task: TaskId,
    },
    /// A person asked for a failed or skipped task to be tried again, or unchecked a done
    /// one to have it redone.
    /// A person edited the task's text: `running`, after its prompt went out.
    Edited {
        task: TaskId,
        running: bool,
    },
    Retried {
        task: TaskId,
    },
    /// Every task was done or failed: the next run starts a fresh journal.
    Finished,
    /// The link to `host` went down; its tasks are leased for the grace.
    HostLost {
        host: String,
    },
    /// The link to `host` is up again (`rebooted`: with a new tmux server).
    HostBack {
        host: String,
        rebooted: bool,
    },
    /// `task`'s `attempt` is fenced: its host was silent past the grace, or restarted.
    /// The task goes back in line (a `Requeued` follows), the attempt not charged.
    LeaseExpired {
        task: TaskId,
        attempt: u32,
    },
    /// A completion from a fenced `attempt` of `task`: never checked off, never landed.
    Stale {
        task: TaskId,
        attempt: u32,
    },
    /// A compacted task: its attempts so far (and where it runs, if it does).
    Task {
        task: TaskId,
        attempts: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        running: Option<Flight>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        closed: Option<Closed>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        landing: Option<WorkerId>,
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        queued: bool,
        #[serde(skip_serializing_if = "is_zero", default)]
        forgiven: u32,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Where a task was last sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flight {
    pub worker: WorkerId,
    pub pane: PaneId,
    pub attempt: u32,
    /// Enter was confirmed; otherwise delivery was under way when the record ended.
    pub delivered: bool,
}

/// How a task ended, when it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "how", content = "reason")]
pub enum Closed {
    Done,
    Failed(String),
    Skipped,
}

/// What replaying a journal tells about one task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskHistory {
    pub attempts: u32,
    pub running: Option<Flight>,
    pub closed: Option<Closed>,
    /// Its agent finished in this worker's worktree, and its work has not landed yet.
    pub landing: Option<WorkerId>,
    /// That work was checked, and waits in the merge queue.
    pub queued: bool,
    /// Attempts not charged to it (fenced with their host).
    pub forgiven: u32,
}

/// The journal's state after replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    pub tasks: BTreeMap<TaskId, TaskHistory>,
    /// The last pane of each worker that had one.
    pub workers: BTreeMap<WorkerId, PaneId>,
    pub records: usize,
    /// The run that wrote this journal finished.
    pub finished: bool,
    /// The receipts so far, for compaction to keep.
    pub receipts: Vec<crate::receipt::Receipt>,
}

impl Replay {
    /// Folds one more record into the state.
    pub fn apply(&mut self, record: Record) {
        self.records += 1;
        self.finished = matches!(record, Record::Finished);
        match record {
            // A note for people reading the journal; it changes nothing to replay.
            Record::Header { .. }
            | Record::Finished
            | Record::Edited { .. }
            | Record::Stage { .. }
            | Record::HostLost { .. }
            | Record::HostBack { .. }
            | Record::Stale { .. } => {}
            Record::LeaseExpired { task, .. } => self.tasks.entry(task).or_default().forgiven += 1,
            Record::Receipt(receipt) => self.receipts.push(receipt),
            Record::Spawned { worker, pane } => {
                self.workers.insert(worker, pane);
            }
            Record::WorkerDied { worker, pane, .. } => {
                if self.workers.get(&worker) == Some(&pane) {
                    self.workers.remove(&worker);
                }
            }
            Record::Assigned {
                task,
                worker,
                pane,
                attempt,
            } => {
                let t = self.tasks.entry(task).or_default();
                t.attempts = t.attempts.max(attempt);
                t.closed = None;
                t.landing = None;
                t.queued = false;
                t.running = Some(Flight {
                    worker,
                    pane,
                    attempt,
                    delivered: false,
                });
            }
            Record::Delivered { task, worker } => {
                if let Some(flight) = self.tasks.entry(task).or_default().running.as_mut()
                    && flight.worker == worker
                {
                    flight.delivered = true;
                }
            }
            Record::Done { task } | Record::Landed { task, .. } => self.close(task, Closed::Done),
            Record::Landing { task, worker, .. } => {
                let t = self.tasks.entry(task).or_default();
                t.running = None;
                t.landing = Some(worker);
                t.queued = false;
            }
            Record::Queued { task } => self.tasks.entry(task).or_default().queued = true,
            Record::Failed { task, reason } => self.close(task, Closed::Failed(reason)),
            Record::Skipped { task } => self.close(task, Closed::Skipped),
            Record::Requeued { task, .. } => {
                let t = self.tasks.entry(task).or_default();
                t.running = None;
                t.landing = None;
                t.queued = false;
            }
            Record::Unsent { task, .. } => {
                let t = self.tasks.entry(task).or_default();
                t.running = None;
                t.attempts = t.attempts.saturating_sub(1);
            }
            Record::Retried { task } => {
                let t = self.tasks.entry(task).or_default();
                t.closed = None;
                t.attempts = 0;
            }
            Record::Task {
                task,
                attempts,
                running,
                closed,
                landing,
                queued,
                forgiven,
            } => {
                self.tasks.insert(
                    task,
                    TaskHistory {
                        attempts,
                        running,
                        closed,
                        landing,
                        queued,
                        forgiven,
                    },
                );
            }
        }
    }

    fn close(&mut self, task: TaskId, how: Closed) {
        let t = self.tasks.entry(task).or_default();
        t.running = None;
        t.landing = None;
        t.queued = false;
        t.closed = Some(how);
    }

    /// The records that rebuild this state, for compaction.
    pub fn compacted(&self, plan: &Path) -> Vec<Record> {
        let mut out = vec![Record::Header {
            format: FORMAT,
            plan: plan.to_path_buf(),
        }];
        out.extend(self.workers.iter().map(|(&worker, pane)| Record::Spawned {
            worker,
            pane: pane.clone(),
        }));
        out.extend(self.tasks.iter().map(|(task, h)| Record::Task {
            task: task.clone(),
            attempts: h.attempts,
            running: h.running.clone(),
            closed: h.closed.clone(),
            landing: h.landing,
            queued: h.queued,
            forgiven: h.forgiven,
        }));
        out.extend(self.receipts.iter().cloned().map(Record::Receipt));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> TaskId {
        TaskId(s.into())
    }

    #[test]
    fn a_receipt_is_a_note_replay_skips_and_compaction_keeps() {
        let receipt = crate::receipt::Receipt {
            task: id("a"),
            attempt: 1,
            at: 1_700_000_000_000,
            stage: crate::receipt::Stage::Submitted {
                how: crate::receipt::Submitted::BoxCleared,
            },
        };
        let line = serde_json::to_string(&Record::Receipt(receipt.clone())).unwrap();
        assert!(line.starts_with(r#"{"event":"receipt","#), "{line}");
        assert!(
            line.contains(r#""stage":"submitted","how":"box-cleared""#),
            "{line}"
        );
        let back: Record = serde_json::from_str(&line).unwrap();
        let mut replay = Replay::default();
        replay.apply(back);
        assert!(replay.tasks.is_empty(), "no task state comes of a receipt");
        let compacted = replay.compacted(Path::new("PLAN.md"));
        assert_eq!(compacted.last(), Some(&Record::Receipt(receipt)));
    }

    #[test]
    fn an_unsent_prompt_gives_its_attempt_back() {
        let mut replay = Replay::default();
        let assigned = |attempt| Record::Assigned {
            task: id("a"),
            worker: 0,
            pane: PaneId("%1".into()),
            attempt,
        };
        for _ in 0..2 {
            replay.apply(assigned(1));
            replay.apply(Record::Unsent {
                task: id("a"),
                reason: "the pane is in copy mode".into(),
            });
        }
        assert_eq!(replay.tasks[&id("a")].attempts, 0);
        assert_eq!(replay.tasks[&id("a")].running, None);
        replay.apply(assigned(1));
        let a = &replay.tasks[&id("a")];
        assert_eq!(a.attempts, 1, "two refusals, then the first real attempt");
        assert_eq!(a.running.as_ref().map(|f| f.attempt), Some(1));
    }
}
