//! Changing the plan's text: checkbox bytes flipped and swarm's one note line, worked out
//! against a parse of the text, then written atomically.

use super::{Task, TaskId};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What checking off a task found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOff {
    /// The box was `[ ]` and is now `[x]`.
    Checked,
    /// Someone had checked it already (or it came twice in one batch); nothing changed.
    AlreadyChecked,
    /// The task is not in the plan now; nothing changed. The check-off stays queued, in
    /// case the task comes back with the next save (a save under way had cut it off).
    Gone,
    /// The plan is mid-save or does not parse right now; the check-off stays queued and is
    /// written on the next plan that parses and holds the task.
    Pending,
}

/// The start of the one line swarm owns in PLAN.md: a note under a failed task.
pub const NOTE_MARK: &str = "⚠ swarm:";

/// New plan text, worked out from the parse of the old one.
pub(super) struct Edit {
    pub text: String,
    /// The tasks (indexes into the parse) whose box it flipped.
    pub checked: Vec<usize>,
    /// Lines were added or removed, so the offsets and line numbers after them moved.
    pub moved: bool,
}

/// Flips the boxes of `ids` and drops swarm's note line under each, if any. Returns what it
/// found for each id, and the edit unless there is nothing to change.
pub(super) fn check_off(
    text: &str,
    tasks: &[Task],
    index: &HashMap<TaskId, usize>,
    ids: &[TaskId],
) -> (Vec<(TaskId, CheckOff)>, Option<Edit>) {
    let mut outcomes = Vec::with_capacity(ids.len());
    let mut flip = HashSet::new();
    for id in ids {
        let outcome = match index.get(id) {
            None => CheckOff::Gone,
            Some(&i) if tasks[i].checked || !flip.insert(i) => CheckOff::AlreadyChecked,
            Some(_) => CheckOff::Checked,
        };
        outcomes.push((id.clone(), outcome));
    }
    if flip.is_empty() {
        return (outcomes, None);
    }
    // Tasks are in offset order: editing from the last one back, a dropped note line moves
    // nothing that is still to be edited.
    let mut checked: Vec<usize> = flip.into_iter().collect();
    checked.sort_unstable_by(|a, b| b.cmp(a));
    let mut out = text.to_string();
    let mut moved = false;
    for &i in &checked {
        let checkbox = tasks[i].checkbox;
        if let Some(note) = note_line(text, checkbox) {
            out.replace_range(note, "");
            moved = true;
        }
        // The box byte sits between `[` and `]`, so it is one ASCII character.
        out.replace_range(checkbox..checkbox + 1, "x");
    }
    let edit = Edit {
        text: out,
        checked,
        moved,
    };
    (outcomes, Some(edit))
}

/// Writes (or replaces) swarm's one note line under `task`, which is open.
pub(super) fn set_note(text: &str, task: &Task, note: &str) -> Edit {
    let note = note.replace(['\n', '\r'], " ");
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
    let mut out = text.to_string();
    match note_line(text, task.checkbox) {
        Some(old) => out.replace_range(old, &line),
        None if line_end == text.len() => {
            out.push_str(eol);
            out.push_str(line.trim_end_matches(['\r', '\n']));
        }
        None => out.insert_str(line_end + 1, &line),
    }
    Edit {
        text: out,
        checked: Vec::new(),
        moved: true,
    }
}

/// Appends the open task `- [ ] TASK` as the plan's last line, in the plan's line endings.
pub(super) fn append_task(text: &str, task: &str) -> Edit {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    out.push_str("- [ ] ");
    out.push_str(task);
    out.push_str(eol);
    Edit {
        text: out,
        checked: Vec::new(),
        moved: true,
    }
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

/// What a temp file of ours is called: this, then tempfile's 6 random characters.
const TEMP_PREFIX: &str = ".swarm-plan-";
/// A temp file of ours lives for the milliseconds of one write; one this old was left by a
/// swarm that was killed mid-write.
pub(super) const TEMP_FILE_STALE: Duration = Duration::from_secs(60);

/// Temp file beside the file the path leads to (through symlinks, which stay links), fsync,
/// and, if `unchanged` still holds, rename over it and fsync the directory: a crash leaves
/// the old plan or the new one, never half of each. Returns false, having written nothing,
/// when `unchanged` says the file changed meanwhile.
pub(super) fn write_atomically(
    path: &Path,
    bytes: &[u8],
    unchanged: impl FnOnce() -> std::io::Result<bool>,
) -> std::io::Result<bool> {
    let target = std::fs::canonicalize(path)?;
    let dir = target.parent().unwrap_or(Path::new("/"));
    let permissions = std::fs::metadata(&target)?.permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().set_permissions(permissions)?;
    tmp.as_file().sync_all()?;
    // Checked after the slow fsync, so that a person's save has the least time to slip in
    // between the check and the rename.
    if !unchanged()? {
        return Ok(false);
    }
    tmp.persist(&target).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(true)
}

/// Removes swarm's temp files in `dir` last written before `before`: a swarm killed
/// mid-write leaves one. Only names of the exact form swarm gives them are touched.
pub(super) fn sweep_temp_files(dir: &Path, before: SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let ours = rest.len() == 6 && rest.chars().all(|c| c.is_ascii_alphanumeric());
        let stale = entry
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .and_then(|m| m.modified().ok())
            .is_some_and(|t| t < before);
        if ours && stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
