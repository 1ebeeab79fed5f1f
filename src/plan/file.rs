//! The plan as the orchestrator holds it for a whole run: parsed once, re-parsed only when
//! a person changed it, and edited in batches, so that a check-off in a 10,000-task plan
//! costs a read and a write, not a parse.
//!
//! A person edits the file while swarm runs, with any editor. A save that does not parse,
//! or a file that is empty or cut short for a moment (an editor that truncates and writes
//! in place), is a passing state: the last good plan stays in force, the problem is said
//! once, and check-offs and notes wait, in memory, for a plan that parses and still holds
//! their task. A task whose text a person edits keeps its id, so that the run keeps its
//! place in it.

use super::edit::{self, CheckOff, Edit};
use super::{PlanError, Task, TaskId};
use similar::{Algorithm, DiffOp};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a person's change must have stood before a write of ours builds on it. An
/// editor saving in place truncates the file and then writes it; building on what it has
/// written so far, and renaming the result over it, would lose the rest of its save.
pub const SETTLE: Duration = Duration::from_millis(200);

/// What [`PlanFile::refresh`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refresh {
    /// A person changed the plan since the last call (even if a write of ours has built on
    /// their change since), and it parses: [`PlanFile::tasks`] holds the new plan.
    pub changed: bool,
    /// Tasks whose text (or context) a person edited since the last call, under the id they
    /// had: a task whose id comes from its text keeps its old id when edited.
    pub edited: Vec<TaskId>,
    /// What is wrong with the file as it is now (`PLAN.md:LINE: ...`), said once: the same
    /// problem is not reported again, and the last good plan stays in force meanwhile.
    pub problem: Option<String>,
}

/// PLAN.md with its last good text and the tasks parsed from it.
#[derive(Debug)]
pub struct PlanFile {
    path: PathBuf,
    /// The text the file held when we last read or wrote it, and that parsed.
    text: String,
    /// The tasks, under their ids for this run.
    tasks: Vec<Task>,
    /// Each task's id as its text gives it now, in the order of `tasks`: not its id for the
    /// run when a person edited its text during the run.
    file_ids: Vec<TaskId>,
    index: HashMap<TaskId, usize>,
    /// A person's edit that one of our writes found and built on, which `refresh` has
    /// not reported yet: without it, the edit would look like our own text.
    unreported: bool,
    /// Tasks whose text a person edited, not reported yet.
    edited: Vec<TaskId>,
    /// Check-offs not written yet: the file was mid-save, did not parse, or did not hold
    /// the task. They are never dropped.
    pending: Vec<TaskId>,
    /// Failure notes not written yet, for the same reasons.
    notes: Vec<(TaskId, String)>,
    /// The last try to write what waits found the file unfit (mid-save, not parsing).
    deferred: bool,
    /// The problem last reported, so that it is reported once.
    problem: Option<String>,
    /// What else a new plan must pass to be taken (the run's own rules, such as every
    /// task having a pool to go to).
    check: Option<Check>,
}

/// A rule a new plan must pass: `Err` says what is wrong, as `PLAN.md:LINE: ...`.
pub type Rule = Box<dyn Fn(&[Task]) -> Result<(), String> + Send>;

struct Check(Rule);

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Check")
    }
}

impl PlanFile {
    /// Reads and parses the plan at `path`, and clears away temp files that an earlier,
    /// killed swarm left beside it.
    pub fn open(path: &Path) -> Result<PlanFile, PlanError> {
        let mut plan = PlanFile {
            path: path.to_path_buf(),
            text: String::new(),
            tasks: Vec::new(),
            file_ids: Vec::new(),
            index: HashMap::new(),
            unreported: false,
            edited: Vec::new(),
            pending: Vec::new(),
            notes: Vec::new(),
            deferred: false,
            problem: None,
            check: None,
        };
        let text = super::read(path)?;
        let tasks = super::parse(&text, path)?;
        plan.take(text, tasks);
        plan.edited.clear();
        if let Ok(target) = std::fs::canonicalize(path)
            && let Some(dir) = target.parent()
        {
            edit::sweep_temp_files(dir, SystemTime::now() - edit::TEMP_FILE_STALE);
        }
        Ok(plan)
    }

    /// Reads the file again and parses it if it changed, then writes the check-offs and
    /// notes that were waiting for a good plan. A file that cannot be read or parsed right
    /// now is not an error: the last good plan stays, and the problem is reported once.
    pub fn refresh(&mut self) -> Refresh {
        let text = match super::read(&self.path) {
            Ok(text) => text,
            Err(e) => return self.trouble(first_line(&e.to_string())),
        };
        let changed = if text == self.text {
            std::mem::take(&mut self.unreported)
        } else {
            match self.judge(&text) {
                Ok(tasks) => {
                    self.take(text, tasks);
                    self.unreported = false;
                    true
                }
                Err(problem) => return self.trouble(problem),
            }
        };
        self.problem = None;
        let problem = self.write_pending().err().map(|e| e.to_string());
        Refresh {
            changed,
            edited: std::mem::take(&mut self.edited),
            problem,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// From now on, a changed plan is taken only if it passes `rule`; one that does not is
    /// a problem, reported as a plan that does not parse is.
    pub fn check_with(&mut self, rule: Rule) {
        self.check = Some(Check(rule));
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

    /// Check-offs or notes are waiting for the file to be fit to write on (it was mid-save
    /// or did not parse): call [`PlanFile::check_off`] (with no ids) again a little later.
    /// Check-offs of tasks the plan does not hold wait for [`PlanFile::refresh`] instead.
    pub fn pending(&self) -> bool {
        self.deferred
    }

    /// Flips the boxes of `ids` to `[x]` (dropping swarm's failure notes under them) in one
    /// write, on top of whatever the file holds now, together with any check-offs still
    /// waiting. Says what it found for each id, in order; an id that is
    /// [`CheckOff::Pending`] or [`CheckOff::Gone`] stays queued, and is written once a
    /// plan that parses holds its task.
    pub fn check_off(&mut self, ids: &[TaskId]) -> Result<Vec<(TaskId, CheckOff)>, PlanError> {
        for id in ids {
            if !self.pending.contains(id) {
                self.pending.push(id.clone());
            }
        }
        let found = self.write_pending()?;
        let mut seen = HashSet::new();
        Ok(ids
            .iter()
            .map(|id| {
                let outcome = match found.as_ref().and_then(|f| f.get(id)) {
                    None => CheckOff::Pending,
                    Some(CheckOff::Checked) if !seen.insert(id) => CheckOff::AlreadyChecked,
                    Some(&outcome) => outcome,
                };
                (id.clone(), outcome)
            })
            .collect())
    }

    /// Writes (or replaces) swarm's one note line under task `id`. Returns false when the
    /// task is gone or checked; a note that cannot be written now (the file is mid-save)
    /// is kept and written with the next good plan.
    pub fn set_note(&mut self, id: &TaskId, note: &str) -> Result<bool, PlanError> {
        if self.task(id).is_none_or(|t| t.checked) {
            return Ok(false);
        }
        self.notes.retain(|(other, _)| other != id);
        self.notes.push((id.clone(), note.to_string()));
        self.write_pending()?;
        Ok(true)
    }

    /// Appends the open task `- [ ] TASK` at the end of the plan, on top of whatever the
    /// file holds now, so that a person's edit made meanwhile is kept. Returns the new
    /// task's id, or `None` when the plan cannot be built on right now (mid-save, not
    /// parsing): try again a little later. A task that would make the plan wrong (an
    /// unknown `after=`, a forbidden `out=`) is refused, and nothing is written.
    pub fn add_task(&mut self, task: &str) -> Result<Option<TaskId>, PlanError> {
        // Nothing waits on an added task: let any save settle first, even one that left
        // the text we hold (an editor writing in place may have written only that yet).
        if self.recently_changed() {
            return Ok(None);
        }
        let path = self.path.clone();
        let mut refused = None;
        let wrote = self.rewrite(|text, _, _| {
            let edit = edit::append_task(text, task);
            let fits = super::parse(&edit.text, &path)
                .and_then(|tasks| super::output::check_all(&tasks, &path));
            match fits {
                Ok(()) => Some(edit),
                Err(e) => {
                    refused = Some(e);
                    None
                }
            }
        })?;
        if let Some(e) = refused {
            return Err(e);
        }
        // Appended last, the new task is the plan's last.
        Ok(wrote.and_then(|()| self.tasks.last().map(|t| t.id.clone())))
    }

    /// Writes, each time `within` allows, what is waiting, until it is written or its
    /// tasks are gone from a good plan: for the end of a run. Returns the check-offs that
    /// are still not written.
    pub fn settle(&mut self, within: Duration) -> Result<Vec<TaskId>, PlanError> {
        let deadline = std::time::Instant::now() + within;
        while self.write_pending()?.is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(self.pending.clone())
    }

    /// A problem to report unless it was the last one reported.
    fn trouble(&mut self, problem: String) -> Refresh {
        let new = self.problem.as_ref() != Some(&problem);
        self.problem = Some(problem.clone());
        Refresh {
            problem: new.then_some(problem),
            ..Refresh::default()
        }
    }

    /// The tasks of `text` if it is a plan to build on, or what is wrong with it.
    fn judge(&self, text: &str) -> Result<Vec<Task>, String> {
        let path = self.path.display();
        if text.trim().is_empty() {
            return Err(format!("{path}:1: the plan is empty (a save under way?)"));
        }
        let tasks = super::parse(text, &self.path).map_err(|e| first_line(&e.to_string()))?;
        if let Some(Check(rule)) = &self.check {
            rule(&tasks)?;
        }
        if tasks.is_empty() && !self.tasks.is_empty() {
            let lines = text.lines().count();
            return Err(format!(
                "{path}:{lines}: the plan holds no tasks any more (a save under way?)"
            ));
        }
        Ok(tasks)
    }

    /// Makes `text` (parsed as `tasks`) the known plan. A task whose derived id left the
    /// plan where one with a new derived id appeared is the same task with edited text: it
    /// keeps the id it had, so that the run keeps its place and its attempts.
    fn take(&mut self, text: String, mut tasks: Vec<Task>) {
        let file_ids: Vec<TaskId> = tasks.iter().map(|t| t.id.clone()).collect();
        let mut ids = file_ids.clone();
        let in_new: HashSet<&TaskId> = file_ids.iter().collect();
        let in_old: HashSet<&TaskId> = self.file_ids.iter().collect();
        let derived = |id: &TaskId, task: &Task| *id == super::parse::derive_id(&task.text);
        for op in similar::capture_diff_slices(Algorithm::Myers, &self.file_ids, &file_ids) {
            match op {
                DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } => {
                    for k in 0..len {
                        ids[new_index + k] = self.tasks[old_index + k].id.clone();
                    }
                }
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => {
                    for k in 0..old_len.min(new_len) {
                        let (o, n) = (old_index + k, new_index + k);
                        // Explicit ids say who a task is; and an id still in the plan, or
                        // one that was there, moved rather than changed.
                        if derived(&self.file_ids[o], &self.tasks[o])
                            && derived(&file_ids[n], &tasks[n])
                            && !in_new.contains(&self.file_ids[o])
                            && !in_old.contains(&file_ids[n])
                        {
                            ids[n] = self.tasks[o].id.clone();
                        }
                    }
                }
                DiffOp::Delete { .. } | DiffOp::Insert { .. } => {}
            }
        }
        // A kept id that a task of the new text derives for itself gives way to that task.
        for (id, file_id) in ids.iter_mut().zip(&file_ids) {
            if id != file_id && in_new.contains(id) {
                *id = file_id.clone();
            }
        }
        // `after=` and a parent's children name tasks by their ids in the file: give them
        // the ids the run knows those tasks by.
        let renamed: HashMap<TaskId, TaskId> = file_ids
            .iter()
            .zip(&ids)
            .filter(|(file, run)| file != run)
            .map(|(file, run)| (file.clone(), run.clone()))
            .collect();
        for (task, id) in tasks.iter_mut().zip(ids) {
            task.id = id;
            for dep in task.after.iter_mut().chain(task.children.iter_mut()) {
                if let Some(run) = renamed.get(dep) {
                    *dep = run.clone();
                }
            }
            let before = self.task(&task.id);
            if before.is_some_and(|b| b.text != task.text || b.context != task.context)
                && !self.edited.contains(&task.id)
            {
                self.edited.push(task.id.clone());
            }
        }
        self.index = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        self.tasks = tasks;
        self.file_ids = file_ids;
        self.text = text;
    }

    /// Writes the waiting notes and check-offs. Returns what it found for each check-off,
    /// or `None` when the file cannot be built on right now.
    fn write_pending(&mut self) -> Result<Option<HashMap<TaskId, CheckOff>>, PlanError> {
        let written = self.try_write_pending();
        self.deferred = matches!(written, Ok(None));
        written
    }

    fn try_write_pending(&mut self) -> Result<Option<HashMap<TaskId, CheckOff>>, PlanError> {
        if self.pending.is_empty() && self.notes.is_empty() {
            return Ok(Some(HashMap::new()));
        }
        // Notes come with failures, which are rare: one write each.
        while let Some((id, note)) = self.notes.first().cloned() {
            let wrote = self.rewrite(|text, tasks, index| {
                let task = index.get(&id).map(|&i| &tasks[i]).filter(|t| !t.checked)?;
                Some(edit::set_note(text, task, &note))
            })?;
            if wrote.is_none() {
                return Ok(None);
            }
            self.notes.remove(0);
        }
        let ids = self.pending.clone();
        let mut found = Vec::new();
        let wrote = self.rewrite(|text, tasks, index| {
            let (outcomes, change) = edit::check_off(text, tasks, index, &ids);
            found = outcomes;
            change
        })?;
        if wrote.is_none() {
            return Ok(None);
        }
        // A task that is not in the plan now may be back with the next save.
        self.pending
            .retain(|id| found.iter().any(|(f, o)| f == id && *o == CheckOff::Gone));
        Ok(Some(found.into_iter().collect()))
    }

    /// Applies `change` to the newest plan and writes the result atomically. Returns `None`
    /// when the newest plan cannot be built on now: it is mid-save, does not parse, or
    /// kept changing.
    ///
    /// Reading right before writing is what keeps a person's edit made during the run: we
    /// only ever apply our change to the newest text. When that text is what we know, the
    /// cached offsets serve; otherwise we parse it. Right before the rename we check that
    /// the file still holds the text we built on, and start over if it does not.
    fn rewrite(
        &mut self,
        mut change: impl FnMut(&str, &[Task], &HashMap<TaskId, usize>) -> Option<Edit>,
    ) -> Result<Option<()>, PlanError> {
        let path = self.path.clone();
        let io = |source| PlanError::Io {
            path: path.clone(),
            source,
        };
        for _ in 0..5 {
            let Ok(now) = super::read(&self.path) else {
                return Ok(None);
            };
            if now != self.text {
                if self.recently_changed() {
                    return Ok(None);
                }
                let Ok(tasks) = self.judge(&now) else {
                    return Ok(None);
                };
                self.take(now, tasks);
                self.unreported = true;
            }
            let Some(edit) = change(&self.text, &self.tasks, &self.index) else {
                return Ok(Some(()));
            };
            let base = self.text.as_bytes();
            let still = || Ok(std::fs::read(&path)? == base);
            if !edit::write_atomically(&self.path, edit.text.as_bytes(), still).map_err(io)? {
                continue;
            }
            // A flipped box moves no offset. Lines added or removed (notes, which come
            // with failures and are rare) move the tasks after them: parse again.
            if edit.moved {
                let tasks = super::parse(&edit.text, &self.path)?;
                let edited = std::mem::take(&mut self.edited);
                self.take(edit.text, tasks);
                self.edited = edited;
            } else {
                for i in edit.checked {
                    self.tasks[i].checked = true;
                }
                self.text = edit.text;
            }
            return Ok(Some(()));
        }
        Ok(None)
    }

    /// The file was written less than [`SETTLE`] ago.
    fn recently_changed(&self) -> bool {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().map_or(true, |age| age < SETTLE))
    }
}

/// The first line of an error: what and where, without its hint.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_string()
}

/// Re-reads the plan, flips task `id`'s box to `[x]` (dropping swarm's failure note under
/// it, if any), and writes it atomically. [`PlanFile::check_off`] does this for a run.
pub fn check_off(path: &Path, id: &TaskId) -> Result<CheckOff, PlanError> {
    let outcomes = PlanFile::open(path)?.check_off(std::slice::from_ref(id))?;
    Ok(outcomes[0].1)
}

/// Re-reads the plan and appends the open task `- [ ] TASK` to it; see
/// [`PlanFile::add_task`]. Tries again for up to `within` while a person's save is under
/// way; `None` if the plan was never fit to build on in that time.
pub fn add_task(path: &Path, task: &str, within: Duration) -> Result<Option<TaskId>, PlanError> {
    let deadline = std::time::Instant::now() + within;
    let mut plan = PlanFile::open(path)?;
    loop {
        if let Some(id) = plan.add_task(task)? {
            return Ok(Some(id));
        }
        if std::time::Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes (or replaces) swarm's one note line under task `id`; see [`PlanFile::set_note`].
pub fn set_note(path: &Path, id: &TaskId, note: &str) -> Result<bool, PlanError> {
    PlanFile::open(path)?.set_note(id, note)
}
