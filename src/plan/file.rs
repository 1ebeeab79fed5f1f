//! The plan as the orchestrator holds it for a whole run: parsed once, re-parsed only when
//! a person changed it, and edited in batches, so that a check-off in a 10,000-task plan
//! costs a read and a write, not a parse.

use super::edit::{self, CheckOff, Edit};
use super::{PlanError, Task, TaskId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// PLAN.md with its last known text and the tasks parsed from it.
#[derive(Debug)]
pub struct PlanFile {
    path: PathBuf,
    /// The text the file held when we last read or wrote it.
    text: String,
    tasks: Vec<Task>,
    index: HashMap<TaskId, usize>,
    /// A person's edit that one of our writes found and built on, which `refresh` has
    /// not reported yet: without it, the edit would look like our own text.
    unreported: bool,
}

impl PlanFile {
    /// Reads and parses the plan at `path`.
    pub fn open(path: &Path) -> Result<PlanFile, PlanError> {
        let mut plan = PlanFile {
            path: path.to_path_buf(),
            text: String::new(),
            tasks: Vec::new(),
            index: HashMap::new(),
            unreported: false,
        };
        plan.take(super::read(path)?)?;
        Ok(plan)
    }

    /// Reads the file again and parses it if it changed. Returns false when it holds what we
    /// know (our own last write, say), so that the watcher's echo of it costs no parse;
    /// true when a person changed it since the last call, even if a write of ours has
    /// built on their change since.
    pub fn refresh(&mut self) -> Result<bool, PlanError> {
        let text = super::read(&self.path)?;
        if text == self.text {
            return Ok(std::mem::take(&mut self.unreported));
        }
        self.take(text)?;
        self.unreported = false;
        Ok(true)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plan's text as last read or written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The tasks, in plan order.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.index.get(id).map(|&i| &self.tasks[i])
    }

    /// Flips the boxes of `ids` to `[x]` (dropping swarm's failure notes under them) in one
    /// write, on top of whatever the file holds now. Says what it found for each id, in order.
    pub fn check_off(&mut self, ids: &[TaskId]) -> Result<Vec<(TaskId, CheckOff)>, PlanError> {
        let mut outcomes = Vec::new();
        self.rewrite(|text, tasks, index| {
            let (found, change) = edit::check_off(text, tasks, index, ids);
            outcomes = found;
            change
        })?;
        Ok(outcomes)
    }

    /// Writes (or replaces) swarm's one note line under task `id`. Returns false when the
    /// task is gone or checked.
    pub fn set_note(&mut self, id: &TaskId, note: &str) -> Result<bool, PlanError> {
        let mut written = false;
        self.rewrite(|text, tasks, index| {
            let task = index.get(id).map(|&i| &tasks[i]).filter(|t| !t.checked);
            written = task.is_some();
            task.map(|task| edit::set_note(text, task, note))
        })?;
        Ok(written)
    }

    /// Makes `text` the known plan, if it parses.
    fn take(&mut self, text: String) -> Result<(), PlanError> {
        self.tasks = super::parse(&text, &self.path)?;
        self.index = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        self.text = text;
        Ok(())
    }

    /// Applies `change` to the newest plan and writes the result atomically.
    ///
    /// Reading right before writing is what keeps a person's edit made during the run: we
    /// only ever apply our change to the newest text. When that text is what we know, the
    /// cached offsets serve; otherwise we parse it, and since parsing a big plan takes a
    /// while, we check that the file did not change again meanwhile and start over if it did.
    fn rewrite(
        &mut self,
        mut change: impl FnMut(&str, &[Task], &HashMap<TaskId, usize>) -> Option<Edit>,
    ) -> Result<(), PlanError> {
        let path = self.path.clone();
        let io = |source| PlanError::Io {
            path: path.clone(),
            source,
        };
        for _ in 0..5 {
            let now = super::read(&self.path)?;
            let changed = now != self.text;
            if changed {
                self.take(now)?;
                self.unreported = true;
            }
            let Some(edit) = change(&self.text, &self.tasks, &self.index) else {
                return Ok(());
            };
            if changed && std::fs::read(&self.path).map_err(io)? != self.text.as_bytes() {
                continue;
            }
            edit::write_atomically(&self.path, edit.text.as_bytes()).map_err(io)?;
            // A flipped box moves no offset. Lines added or removed (notes, which come
            // with failures and are rare) move the tasks after them: parse again.
            if edit.moved {
                self.take(edit.text)?;
            } else {
                for i in edit.checked {
                    self.tasks[i].checked = true;
                }
                self.text = edit.text;
            }
            return Ok(());
        }
        Err(io(std::io::Error::other(
            "the plan kept changing while swarm tried to update it",
        )))
    }
}

/// Re-reads the plan, flips task `id`'s box to `[x]` (dropping swarm's failure note under
/// it, if any), and writes it atomically. [`PlanFile::check_off`] does this for a run.
pub fn check_off(path: &Path, id: &TaskId) -> Result<CheckOff, PlanError> {
    let outcomes = PlanFile::open(path)?.check_off(std::slice::from_ref(id))?;
    Ok(outcomes[0].1)
}

/// Writes (or replaces) swarm's one note line under task `id`; see [`PlanFile::set_note`].
pub fn set_note(path: &Path, id: &TaskId, note: &str) -> Result<bool, PlanError> {
    PlanFile::open(path)?.set_note(id, note)
}
