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

/// Re-reads the plan, flips task `id`'s box to `[x]`, and writes it atomically.
///
/// Reading right before writing is what keeps a person's edit made during the run: we
/// only ever apply our one byte to the newest text.
pub fn check_off(path: &Path, id: &TaskId) -> Result<CheckOff, PlanError> {
    let text = super::read(path)?;
    let tasks = super::parse(&text, path)?;
    let Some(task) = tasks.iter().find(|t| &t.id == id) else {
        return Ok(CheckOff::Gone);
    };
    if task.checked {
        return Ok(CheckOff::AlreadyChecked);
    }
    let mut bytes = text.into_bytes();
    bytes[task.checkbox] = b'x';
    write_atomically(path, &bytes).map_err(|source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(CheckOff::Checked)
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
