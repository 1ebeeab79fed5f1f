//! Checking tasks off: one byte changes, atomically, on top of whatever the file holds now.

use super::{PlanError, TaskId};
use std::io::Write;
use std::path::Path;

/// What `check_off` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOff {
    /// The box was `[ ]` and is now `[x]`.
    Checked,
    /// Someone had checked it already; the file was not rewritten.
    AlreadyChecked,
    /// The task is no longer in the plan; the file was not rewritten.
    Gone,
}

/// The start of the one line swarm owns in PLAN.md: a note under a failed task.
pub const NOTE_MARK: &str = "⚠ swarm:";

/// Re-reads the plan, flips task `id`'s box to `[x]` (dropping swarm's failure note under
/// it, if any), and writes it atomically.
///
/// Reading right before writing is what keeps a person's edit made during the run: we
/// only ever apply our change to the newest text.
pub fn check_off(path: &Path, id: &TaskId) -> Result<CheckOff, PlanError> {
    let mut outcome = CheckOff::Gone;
    rewrite(path, |text, tasks| {
        let Some(task) = tasks.iter().find(|t| &t.id == id) else {
            outcome = CheckOff::Gone;
            return None;
        };
        if task.checked {
            outcome = CheckOff::AlreadyChecked;
            return None;
        }
        outcome = CheckOff::Checked;
        let mut bytes = text.as_bytes().to_vec();
        bytes[task.checkbox] = b'x';
        if let Some(note) = note_line(text, task.checkbox) {
            bytes.drain(note);
        }
        Some(bytes)
    })?;
    Ok(outcome)
}

/// Writes (or replaces) swarm's one note line under task `id`. Returns false when the task
/// is gone or checked.
pub fn set_note(path: &Path, id: &TaskId, note: &str) -> Result<bool, PlanError> {
    let note = note.replace(['\n', '\r'], " ");
    let mut written = false;
    rewrite(path, |text, tasks| {
        let task = tasks.iter().find(|t| &t.id == id && !t.checked)?;
        let line_start = text[..task.checkbox].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[task.checkbox..]
            .find('\n')
            .map_or(text.len(), |i| task.checkbox + i);
        let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
        // Indent under the task's text, so that markdown keeps the note inside the item.
        let marker = text[line_start..task.checkbox]
            .find(['-', '*', '+'])
            .or_else(|| text[line_start..task.checkbox].find(|c: char| c.is_ascii_digit()))
            .unwrap_or(0);
        let indent = " ".repeat(marker + 2);
        let line = format!("{indent}{NOTE_MARK} {note}{eol}");
        let mut out = text.as_bytes().to_vec();
        match note_line(text, task.checkbox) {
            Some(old) => {
                out.splice(old, line.into_bytes());
            }
            None if line_end == text.len() => {
                out.extend_from_slice(eol.as_bytes());
                out.extend_from_slice(line.trim_end_matches(['\r', '\n']).as_bytes());
            }
            None => {
                out.splice(line_end + 1..line_end + 1, line.into_bytes());
            }
        }
        written = true;
        Some(out)
    })?;
    Ok(written)
}

/// The byte range (with its line ending) of swarm's note line right under the task whose
/// checkbox is at `checkbox`, if there is one.
fn note_line(text: &str, checkbox: usize) -> Option<std::ops::Range<usize>> {
    let start = text[checkbox..].find('\n').map(|i| checkbox + i + 1)?;
    let end = text[start..]
        .find('\n')
        .map_or(text.len(), |i| start + i + 1);
    text[start..end]
        .trim_start()
        .starts_with(NOTE_MARK)
        .then_some(start..end)
}

/// Applies `change` to the newest plan and writes the result atomically. If the file
/// changed while we worked (a person saved it), we start over from their text.
fn rewrite(
    path: &Path,
    mut change: impl FnMut(&str, &[super::Task]) -> Option<Vec<u8>>,
) -> Result<(), PlanError> {
    let io = |source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    };
    for _ in 0..5 {
        let text = super::read(path)?;
        let tasks = super::parse(&text, path)?;
        let Some(bytes) = change(&text, &tasks) else {
            return Ok(());
        };
        if std::fs::read(path).map_err(io)? != text.as_bytes() {
            continue;
        }
        return write_atomically(path, &bytes).map_err(io);
    }
    Err(io(std::io::Error::other(
        "the plan kept changing while swarm tried to update it",
    )))
}

/// Temp file in the same directory, fsync, rename over, fsync the directory: a crash leaves
/// the old plan or the new one, never half of each.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let permissions = std::fs::metadata(path)?.permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".swarm-plan-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().set_permissions(permissions)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}
