//! PLAN.md: the human's checklist. We read tasks out of it and flip checkbox bytes in it,
//! and never touch anything else.

mod attrs;
mod edit;
mod file;
mod graph;
mod lint;
pub mod lookup;
mod output;
mod parse;

pub use edit::{CheckOff, NOTE_MARK};
pub use file::{PlanFile, Refresh, SETTLE, add_task, check_off, set_note};
pub use lint::{Lookalike, lookalikes};
pub use output::check_output;
pub(crate) use output::lexical;
pub use parse::parse;

use std::fmt;
use std::path::{Path, PathBuf};

/// A task's stable id: explicit (`{#auth-docs}`) or derived from its text.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct TaskId(pub String);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One `- [ ]` item of the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    /// The task's own line, without the checkbox and without a trailing `{...}` attribute block.
    pub text: String,
    /// Indented lines and plain sub-bullets under the task, dedented; empty if none.
    pub context: String,
    pub checked: bool,
    /// 1-based line of the checkbox.
    pub line: usize,
    /// Byte offset of the character between the brackets (` ` or `x`).
    pub checkbox: usize,
    /// The output file the task names with `{out=PATH}`, if any, as written.
    pub output: Option<String>,
    /// The tasks it waits for with `{after=ID,…}`, as written.
    pub after: Vec<TaskId>,
    /// Its own sub-items that are tasks: it waits for them too.
    pub children: Vec<TaskId>,
    /// What it may change, `{files=GLOB,…}`; empty if it says nothing.
    pub files: Vec<String>,
    /// The profile whose workers may take it, `{agent=PROFILE}`.
    pub agent: Option<String>,
    /// Only workers on hosts with every one of these tags may take it, `{tags=TAG,…}`.
    pub tags: Vec<String>,
}

impl Task {
    /// Every task this one waits for: its `after=` ids, then its child tasks.
    pub fn waits_for(&self) -> impl Iterator<Item = &TaskId> {
        self.after.iter().chain(&self.children)
    }
}

/// Problems with PLAN.md itself. All of them are the user's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: no such plan\nhint: create it, or run `swarm init` to write a sample")]
    Missing { path: PathBuf },
    /// The plan cannot be read; the I/O error is the message, not a cause to repeat.
    #[error(
        "{path}: cannot read the plan: {error}\nhint: {}",
        unreadable_hint(path, error)
    )]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not UTF-8 (invalid byte at offset {offset})\nhint: save the plan as UTF-8")]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error(
        "{path}:{line}: duplicate task id `{id}` (first used on line {first_line})\nhint: give one of them an explicit id with `{{#some-id}}` at the end of its line"
    )]
    DuplicateId {
        path: PathBuf,
        id: TaskId,
        line: usize,
        first_line: usize,
    },
    #[error("{path}: no tasks found{}\nhint: {}", suspects(.lookalikes), lint::TASK_SYNTAX)]
    NoTasks {
        path: PathBuf,
        lookalikes: Vec<Lookalike>,
    },
    #[error(
        "{path}:{line}: `{{out={out}}}` {why}\nhint: name a file of the project, below the plan's directory, as in `{{out=docs/notes.md}}`"
    )]
    ForbiddenOutput {
        path: PathBuf,
        line: usize,
        out: String,
        why: String,
    },
    #[error(
        "{path}:{line}: `after={id}`: no task has the id `{id}`\nhint: give that task `{{#{id}}}` at the end of its line, or fix the id"
    )]
    UnknownDependency {
        path: PathBuf,
        line: usize,
        id: TaskId,
    },
    #[error(
        "{path}:{line}: tasks wait for each other in a cycle: {cycle}\nhint: remove one of these `after=` (or move a child task out from under its parent)"
    )]
    Cycle {
        path: PathBuf,
        line: usize,
        cycle: String,
    },
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl crate::error::Classify for PlanError {
    fn exit(&self) -> crate::error::Exit {
        crate::error::Exit::BadInput
    }
}

/// Reads and parses the plan at `path`, which must hold a task, and checks that each
/// task's output is a file an agent may write.
pub fn load(path: &Path) -> Result<(String, Vec<Task>), PlanError> {
    let text = read(path)?;
    let tasks = parse(&text, path)?;
    if tasks.is_empty() {
        // An empty plan would otherwise be "every task is checked": success, doing nothing.
        return Err(PlanError::NoTasks {
            path: path.to_path_buf(),
            lookalikes: lookalikes(&text, &tasks, path),
        });
    }
    output::check_all(&tasks, path)?;
    Ok((text, tasks))
}

/// How to get past a plan that cannot be read.
fn unreadable_hint(path: &Path, error: &std::io::Error) -> String {
    /// Linux's ELOOP: too many symlinks, or one that leads back to itself.
    const SYMLINK_LOOP: i32 = 40;
    if error.kind() == std::io::ErrorKind::IsADirectory {
        format!(
            "--plan takes the plan file, such as `--plan {}`",
            path.join("PLAN.md").display()
        )
    } else if error.kind() == std::io::ErrorKind::PermissionDenied {
        format!("make it readable: `chmod u+r {}`", path.display())
    } else if error.raw_os_error() == Some(SYMLINK_LOOP) {
        "a symlink on the way leads back to itself: point --plan at the real file".into()
    } else {
        "pass a readable plan file with --plan".into()
    }
}

/// The lines that look like mistyped tasks, one per line after the message.
fn suspects(lookalikes: &[Lookalike]) -> String {
    lookalikes
        .iter()
        .map(|l| format!("\n{}", l.summary()))
        .collect()
}

/// Reads the plan as UTF-8 text.
fn read(path: &Path) -> Result<String, PlanError> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => PlanError::Missing {
            path: path.to_path_buf(),
        },
        _ => PlanError::Unreadable {
            path: path.to_path_buf(),
            error: source,
        },
    })?;
    String::from_utf8(bytes).map_err(|e| PlanError::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests;
