//! The run journal, `.swarm/journal.jsonl`: an append-only, fsynced record of what the
//! scheduler decided, so that a restarted orchestrator knows which tasks are in flight on
//! which panes and how many attempts each has had. Nothing is lost and nothing is done twice.

pub use crate::scheduler::record::{Record, Replay};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Records after which the journal is rewritten as its replayed state, by default.
const COMPACT_AFTER: usize = 10_000;

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
    /// Records after which `compact_if_long` rewrites the journal.
    compact_after: usize,
    /// Records the last rewrite left.
    compacted: usize,
}

impl Journal {
    /// Opens (or creates) the journal at `path` for `plan`, replaying what it holds.
    /// A torn last line (a crash mid-write) is dropped; any other bad line is an error.
    /// The journal of a run that finished is started afresh.
    pub fn open(path: &Path, plan: &Path) -> Result<(Journal, Replay), JournalError> {
        Journal::open_compacting(path, plan, COMPACT_AFTER)
    }

    /// `open`, compacting after `compact_after` records instead of the default.
    fn open_compacting(
        path: &Path,
        plan: &Path,
        compact_after: usize,
    ) -> Result<(Journal, Replay), JournalError> {
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
            compact_after,
            compacted: 0,
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

    /// Appends a note that replay does not need (a receipt, a stage of a task's landing)
    /// without waiting for the disk: the next record's fsync takes it along, and a crash
    /// may lose the last few. An fsync costs milliseconds, and an attempt makes several.
    pub fn note(&mut self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.records += 1;
        Ok(())
    }

    /// Rewrites the journal as its state when it has grown long. `state` is the replay of
    /// everything appended so far.
    pub fn compact_if_long(&mut self, state: &Replay) -> std::io::Result<bool> {
        // Receipts survive compaction: a journal that compacts to many records waits until
        // it has doubled, so that compaction never runs on every append.
        if self.records < self.compact_after.max(2 * self.compacted) {
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
        self.compacted = records.len();
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
    use crate::plan::TaskId;
    use crate::scheduler::record::Closed;
    use crate::tmux::PaneId;

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
        // A small threshold: each append is fsynced, and 10,000 of them took seconds.
        const AFTER: usize = 100;
        let (mut j, _) = Journal::open_compacting(&path, &plan, AFTER).unwrap();
        let mut state = Replay::default();
        for _ in 0..AFTER - 2 {
            let record = Record::Done { task: id("early") };
            j.append(&record).unwrap();
            state.apply(record);
        }
        assert!(!j.compact_if_long(&state).unwrap(), "not long yet");
        for n in 0..AFTER {
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
        assert_eq!(lines, 1 + 1 + 7, "the header, `early` and t0 to t6");
        drop(j);
        let (_, replay) = Journal::open(&path, &plan).unwrap();
        assert_eq!(replay.tasks, state.tasks);
    }
}

#[cfg(test)]
mod finished_tests {
    use super::*;
    use crate::plan::TaskId;

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
