//! The run journal, `.swarm/journal.jsonl`: an append-only, fsynced record of what the
//! scheduler decided, so that a restarted orchestrator knows which tasks are in flight on
//! which panes and how many attempts each has had. Nothing is lost and nothing is done twice.

use crate::plan::TaskId;
use crate::scheduler::WorkerId;
use crate::tmux::PaneId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Journal format version, in the header line.
const FORMAT: u32 = 1;
/// Records after which the journal is rewritten as its replayed state.
const COMPACT_AFTER: usize = 10_000;

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
    Requeued {
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
    /// A person asked for a failed or skipped task to be tried again.
    Retried {
        task: TaskId,
    },
    /// Every task was done or failed: the next run starts a fresh journal.
    Finished,
    /// A compacted task: its attempts so far (and where it runs, if it does).
    Task {
        task: TaskId,
        attempts: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        running: Option<Flight>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        closed: Option<Closed>,
    },
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
}

impl Replay {
    /// Folds one more record into the state.
    pub fn apply(&mut self, record: Record) {
        self.records += 1;
        self.finished = matches!(record, Record::Finished);
        match record {
            Record::Header { .. } | Record::Finished => {}
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
            Record::Done { task } => self.close(task, Closed::Done),
            Record::Failed { task, reason } => self.close(task, Closed::Failed(reason)),
            Record::Skipped { task } => self.close(task, Closed::Skipped),
            Record::Requeued { task, .. } => {
                self.tasks.entry(task).or_default().running = None;
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
            } => {
                self.tasks.insert(
                    task,
                    TaskHistory {
                        attempts,
                        running,
                        closed,
                    },
                );
            }
        }
    }

    fn close(&mut self, task: TaskId, how: Closed) {
        let t = self.tasks.entry(task).or_default();
        t.running = None;
        t.closed = Some(how);
    }

    /// The records that rebuild this state, for compaction.
    fn compacted(&self, plan: &Path) -> Vec<Record> {
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
        }));
        out
    }
}

/// Problems with an existing journal: the user decides (exit 2), PLAN.md is untouched.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "{path}:{line}: the run journal is corrupt ({message})\nhint: PLAN.md is intact and every finished task is checked off; move the journal aside (`mv {path} {path}.bad`) and run again to start a fresh journal"
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "{path}: this run journal belongs to another plan ({other})\nhint: run swarm with `--plan {other}`, or move the journal aside (`mv {path} {path}.old`) to start a fresh one for this plan"
    )]
    ForeignPlan { path: PathBuf, other: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl crate::error::Classify for JournalError {
    fn exit(&self) -> crate::error::Exit {
        match self {
            JournalError::Corrupt { .. } | JournalError::ForeignPlan { .. } => {
                crate::error::Exit::BadInput
            }
            JournalError::Io { .. } => crate::error::Exit::Failure,
        }
    }
}

/// An open journal: replayed, and ready for appends.
pub struct Journal {
    path: PathBuf,
    plan: PathBuf,
    file: File,
    records: usize,
}

impl Journal {
    /// Opens (or creates) the journal at `path` for `plan`, replaying what it holds.
    /// A torn last line (a crash mid-write) is dropped; any other bad line is an error.
    /// The journal of a run that finished is started afresh.
    pub fn open(path: &Path, plan: &Path) -> Result<(Journal, Replay), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut replay = match std::fs::read(path) {
            Ok(bytes) => replay(path, plan, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Replay::default(),
            Err(e) => return Err(io(e)),
        };
        if replay.finished {
            replay = Replay::default();
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Rewriting also drops a torn tail, so the next append starts on a clean line.
        let mut journal = Journal {
            path: path.to_path_buf(),
            plan: plan.to_path_buf(),
            file: File::open("/dev/null").map_err(io)?,
            records: 0,
        };
        journal.rewrite(&replay).map_err(io)?;
        Ok((journal, replay))
    }

    /// Checks, without changing anything, that the journal at `path` (if any) is readable
    /// and belongs to `plan`.
    pub fn check(path: &Path, plan: &Path) -> Result<(), JournalError> {
        match std::fs::read(path) {
            Ok(bytes) => replay(path, plan, &bytes).map(|_| ()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(JournalError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Appends one record and fsyncs it before returning.
    pub fn append(&mut self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        self.records += 1;
        Ok(())
    }

    /// Rewrites the journal as its state when it has grown long. `state` is the replay of
    /// everything appended so far.
    pub fn compact_if_long(&mut self, state: &Replay) -> std::io::Result<bool> {
        if self.records < COMPACT_AFTER {
            return Ok(false);
        }
        self.rewrite(state)?;
        Ok(true)
    }

    fn rewrite(&mut self, state: &Replay) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        let records = state.compacted(&self.plan);
        // Built in memory and written once: a syscall per JSON token adds up at 10,000 tasks.
        let mut text = Vec::new();
        for record in &records {
            serde_json::to_writer(&mut text, record)?;
            text.push(b'\n');
        }
        tmp.write_all(&text)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        File::open(dir)?.sync_all()?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.records = records.len();
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Replays journal bytes for `plan`.
fn replay(path: &Path, plan: &Path, bytes: &[u8]) -> Result<Replay, JournalError> {
    let mut state = Replay::default();
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let torn_tail = !bytes.ends_with(b"\n");
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        let last = i + 1 == lines.len();
        let record: Record = match serde_json::from_slice(line) {
            Ok(record) => record,
            Err(_) if last && torn_tail => break,
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: e.to_string(),
                });
            }
        };
        match (&record, i) {
            (Record::Header { plan: other, .. }, 0) if other != plan => {
                return Err(JournalError::ForeignPlan {
                    path: path.to_path_buf(),
                    other: other.display().to_string(),
                });
            }
            (Record::Header { .. }, 0) => {}
            (_, 0) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: 1,
                    message: "it does not start with a swarm journal header".into(),
                });
            }
            _ => {}
        }
        state.apply(record);
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> TaskId {
        TaskId(s.into())
    }

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".swarm/journal.jsonl");
        let plan = dir.path().join("PLAN.md");
        (dir, path, plan)
    }

    #[test]
    fn replay_tracks_attempts_flights_and_closures() {
        let (_dir, path, plan) = setup();
        let (mut j, replay) = Journal::open(&path, &plan).unwrap();
        assert!(replay.tasks.is_empty());
        let pane = PaneId("%3".into());
        for record in [
            Record::Spawned {
                worker: 0,
                pane: pane.clone(),
            },
            Record::Assigned {
                task: id("a"),
                worker: 0,
                pane: pane.clone(),
                attempt: 1,
            },
            Record::Delivered {
                task: id("a"),
                worker: 0,
            },
            Record::Assigned {
                task: id("b"),
                worker: 1,
                pane: PaneId("%4".into()),
                attempt: 2,
            },
            Record::Done { task: id("c") },
            Record::Failed {
                task: id("d"),
                reason: "hung".into(),
            },
        ] {
            j.append(&record).unwrap();
        }
        drop(j);
        let (_, replay) = Journal::open(&path, &plan).unwrap();
        let a = &replay.tasks[&id("a")];
        assert_eq!(a.running.as_ref().unwrap().pane, pane);
        assert!(a.running.as_ref().unwrap().delivered);
        assert!(!replay.tasks[&id("b")].running.as_ref().unwrap().delivered);
        assert_eq!(replay.tasks[&id("b")].attempts, 2);
        assert_eq!(replay.tasks[&id("c")].closed, Some(Closed::Done));
        assert_eq!(
            replay.tasks[&id("d")].closed,
            Some(Closed::Failed("hung".into()))
        );
        assert_eq!(replay.workers[&0], pane);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_appends_go_on() {
        let (_dir, path, plan) = setup();
        let (mut j, _) = Journal::open(&path, &plan).unwrap();
        j.append(&Record::Done { task: id("a") }).unwrap();
        drop(j);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"event\":\"done\",\"ta");
        std::fs::write(&path, &bytes).unwrap();
        let (mut j, replay) = Journal::open(&path, &plan).unwrap();
        assert_eq!(replay.tasks.len(), 1);
        j.append(&Record::Done { task: id("b") }).unwrap();
        drop(j);
        let (_, replay) = Journal::open(&path, &plan).unwrap();
        assert_eq!(replay.tasks.len(), 2);
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_naming_the_line() {
        let (_dir, path, plan) = setup();
        let (mut j, _) = Journal::open(&path, &plan).unwrap();
        j.append(&Record::Done { task: id("a") }).unwrap();
        drop(j);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("garbage\n{\"event\":\"done\",\"task\":\"b\"}\n");
        std::fs::write(&path, &text).unwrap();
        let err = Journal::open(&path, &plan).err().unwrap().to_string();
        assert!(
            err.contains("journal.jsonl:3: the run journal is corrupt"),
            "{err}"
        );
        assert!(err.contains("mv "), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "left as it was"
        );
    }

    #[test]
    fn a_journal_of_another_plan_is_refused() {
        let (dir, path, plan) = setup();
        drop(Journal::open(&path, &dir.path().join("OTHER.md")).unwrap());
        let err = Journal::open(&path, &plan).err().unwrap().to_string();
        assert!(err.contains("belongs to another plan"), "{err}");
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let (_dir, path, plan) = setup();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{\"event\":\"done\",\"task\":\"a\"}\n").unwrap();
        let err = Journal::open(&path, &plan).err().unwrap().to_string();
        assert!(err.contains("header"), "{err}");
    }

    #[test]
    fn compaction_keeps_the_replayed_state() {
        let (_dir, path, plan) = setup();
        let (mut j, _) = Journal::open(&path, &plan).unwrap();
        let mut state = Replay::default();
        for n in 0..COMPACT_AFTER {
            let record = Record::Assigned {
                task: id(&format!("t{}", n % 7)),
                worker: 0,
                pane: PaneId("%1".into()),
                attempt: (n / 7) as u32 + 1,
            };
            j.append(&record).unwrap();
            state.apply(record);
        }
        assert!(j.compact_if_long(&state).unwrap());
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert_eq!(lines, 1 + 7);
        drop(j);
        let (_, replay) = Journal::open(&path, &plan).unwrap();
        assert_eq!(replay.tasks, state.tasks);
    }
}

#[cfg(test)]
mod finished_tests {
    use super::*;

    #[test]
    fn a_finished_journal_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let plan = dir.path().join("PLAN.md");
        let (mut j, _) = Journal::open(&path, &plan).unwrap();
        j.append(&Record::Failed {
            task: TaskId("a".into()),
            reason: "x".into(),
        })
        .unwrap();
        j.append(&Record::Finished).unwrap();
        drop(j);
        let (_, replay) = Journal::open(&path, &plan).unwrap();
        assert!(replay.tasks.is_empty());
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }
}
