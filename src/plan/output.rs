//! Which files a task's `{out=PATH}` may name: an agent is told to write there, so the
//! plan itself, swarm's `.swarm/`, git's `.git/` and anything outside the plan's
//! directory (symlinks followed) are refused before anything starts.

use super::{PlanError, Task};
use std::path::{Component, Path, PathBuf};

/// Checks the output of every task in the plan at `plan`.
pub(super) fn check_all(tasks: &[Task], plan: &Path) -> Result<(), PlanError> {
    let Some(places) = Places::of(plan) else {
        return Ok(());
    };
    tasks.iter().try_for_each(|task| places.check(task, plan))
}

/// Checks the output of one task of the plan at `plan`, such as one a person added while
/// swarm runs.
pub fn check_output(task: &Task, plan: &Path) -> Result<(), PlanError> {
    match Places::of(plan) {
        Some(places) => places.check(task, plan),
        None => Ok(()),
    }
}

/// The plan's directory and the plan file, as the file system resolves them.
struct Places {
    root: PathBuf,
    /// The plan as named in its directory, and where it leads if it is a symlink.
    plans: Vec<PathBuf>,
}

impl Places {
    fn of(plan: &Path) -> Option<Places> {
        let root = plan.parent()?.canonicalize().ok()?;
        let mut plans = vec![root.join(plan.file_name()?)];
        plans.extend(plan.canonicalize().ok());
        Some(Places { root, plans })
    }

    fn check(&self, task: &Task, plan: &Path) -> Result<(), PlanError> {
        let Some(out) = &task.output else {
            return Ok(());
        };
        let refuse = |why: &str| PlanError::ForbiddenOutput {
            path: plan.to_path_buf(),
            line: task.line,
            out: out.clone(),
            why: why.to_string(),
        };
        let relative = lexical(Path::new(out)).map_err(&refuse)?;
        let resolved = self.resolve(&relative).map_err(|why| refuse(&why))?;
        if self.plans.contains(&resolved) {
            return Err(refuse("is the plan itself: the agent would overwrite it"));
        }
        let inside = resolved
            .strip_prefix(&self.root)
            .map_err(|_| refuse("leads out of the plan's directory through a symlink"))?;
        match inside.components().next() {
            Some(Component::Normal(first)) if first == ".swarm" => Err(refuse(
                "is under .swarm/, where swarm keeps its journal, state and sentinels",
            )),
            Some(Component::Normal(first)) if first == ".git" => Err(refuse(
                "is under .git/, where git keeps the repository and the hooks it runs",
            )),
            Some(_) => Ok(()),
            None => Err(refuse("is the plan's directory, not a file")),
        }
    }

    /// `relative` below the root with every symlink on the way resolved; the part that
    /// does not exist yet is taken as written.
    fn resolve(&self, relative: &Path) -> Result<PathBuf, String> {
        let mut at = self.root.clone();
        let mut parts = relative.components();
        while let Some(part) = parts.next() {
            let next = at.join(part);
            match std::fs::symlink_metadata(&next) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    at = next.canonicalize().map_err(|_| {
                        format!(
                            "goes through the symlink `{}`, which leads nowhere",
                            next.strip_prefix(&self.root).unwrap_or(&next).display()
                        )
                    })?;
                }
                Ok(_) => at = next,
                Err(_) => {
                    at = next;
                    at.extend(parts);
                    break;
                }
            }
        }
        Ok(at)
    }
}

/// `path` without `.` and with each `..` folded into its parent, as the prompt names it;
/// the error says why it cannot be a file below the plan's directory.
pub(crate) fn lexical(path: &Path) -> Result<PathBuf, &'static str> {
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(name) => normal.push(name),
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    return Err("leads out of the plan's directory");
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("is an absolute path, which means something else on each machine");
            }
        }
    }
    if normal.as_os_str().is_empty() {
        return Err("is the plan's directory, not a file");
    }
    Ok(normal)
}
