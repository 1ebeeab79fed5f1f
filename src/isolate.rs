//! Getting a repository ready for an isolated run: every check that refuses bad input
//! comes first (exit 2, nothing touched), and only then swarm's exclude block and the
//! landing branch are written.

use crate::config::Isolation;
use crate::git::{self, Git};
use crate::orchestrator::LandSpec;
use crate::plan::Task;
use crate::prompt;
use crate::workspace::Workspace;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A commit id that names no commit: `git update-ref` reads it as "the ref must not exist".
const NO_COMMIT: &str = "0000000000000000000000000000000000000000";

/// Checks the repository, the landing branch, the verify command and the tasks' output
/// paths; then keeps swarm's files out of `git status` and makes the landing branch.
pub fn prepare(
    ws: &Workspace,
    isolation: &Isolation,
    tasks: &[Task],
) -> anyhow::Result<(Arc<dyn Git>, LandSpec)> {
    let landing = git::check::landing(&ws.root, isolation.land.as_deref())?;
    let root = std::fs::canonicalize(&ws.root).unwrap_or_else(|_| ws.root.clone());
    let prefix = root
        .strip_prefix(&landing.repo)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    if let Some(verify) = &isolation.verify {
        git::check::verify_program(verify, &ws.root)?;
    }
    let outs: Vec<(String, usize, PathBuf)> = tasks
        .iter()
        .filter(|t| !t.checked)
        .filter_map(|t| {
            let out = t.output.as_deref()?;
            Some((t.id.to_string(), t.line, prefix.join(out)))
        })
        .collect();
    git::check::out_ignored(&landing.repo, &outs)?;

    // Past every check: now swarm may write.
    git::exclude::install(&landing.repo, &excludes(&prefix, tasks))?;
    let local = git::Local::new(&landing.repo);
    if !landing.exists {
        let branch = format!("refs/heads/{}", landing.branch);
        local.advance(&branch, &landing.base, &NO_COMMIT.to_string(), &[])?;
    }
    let spec = LandSpec {
        prefix,
        land: landing.branch,
        strategy: isolation.strategy,
        verify: isolation.verify.clone(),
        verify_timeout: isolation.verify_timeout,
    };
    Ok((Arc::new(local), spec))
}

/// Without isolation too, swarm's own files stay out of `git status`, when the workspace
/// is in a git repository; outside one there is nothing to keep them out of.
pub fn exclude_own_files(ws: &Workspace, tasks: &[Task]) {
    let Some(top) = git::check::toplevel(&ws.root) else {
        return;
    };
    let root = std::fs::canonicalize(&ws.root).unwrap_or_else(|_| ws.root.clone());
    let prefix = root
        .strip_prefix(&top)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // A read-only repository, say, must not stop the work.
    let _ = git::exclude::install(&top, &excludes(&prefix, tasks));
}

/// What keeps swarm's own files out of every worktree's `git status`: its folder, and
/// the sentinels that sit beside `{out=…}` files.
fn excludes(prefix: &Path, tasks: &[Task]) -> Vec<String> {
    let mut patterns = vec![format!("{}/", crate::workspace::SWARM_DIR)];
    patterns.extend(tasks.iter().filter(|t| t.output.is_some()).filter_map(|t| {
        let sentinel = prompt::sentinel_for(t).ok()?;
        Some(format!("/{}", prefix.join(sentinel).display()))
    }));
    patterns
}
