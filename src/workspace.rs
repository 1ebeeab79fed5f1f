//! Where a swarm lives: the plan's directory, its `.swarm/` folder, and its own tmux server.

use crate::error::BadInput;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// swarm's own folder, beside the plan.
pub const SWARM_DIR: &str = ".swarm";
/// Where default sentinels go, relative to the workspace: agents are told this path.
pub const DONE_DIR: &str = ".swarm/done";

/// The nearest `name` in the current directory or above it, when `name` is a bare file
/// name that the current directory lacks.
fn upward(name: &Path) -> Option<PathBuf> {
    let mut parts = name.components();
    let bare = matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    );
    if !bare || name.exists() {
        return None;
    }
    let here = std::env::current_dir().ok()?;
    here.ancestors()
        .skip(1)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[derive(Debug, Clone)]
pub struct Workspace {
    /// The plan's directory, canonical.
    pub root: PathBuf,
    /// The plan file, absolute.
    pub plan: PathBuf,
}

impl Workspace {
    /// The workspace of `plan` (relative to the current directory). A bare file name
    /// (`PLAN.md`, the default) missing here is looked for in the directories above, as git
    /// looks for its repository; a path (`./PLAN.md`, `docs/PLAN.md`) is taken as written.
    pub fn locate(plan: &Path) -> Result<Workspace, BadInput> {
        let found = upward(plan);
        let plan = found.as_deref().unwrap_or(plan);
        let abs = std::path::absolute(plan).map_err(|e| {
            BadInput::new(format!(
                "{}: cannot resolve the plan path: {e}",
                plan.display()
            ))
        })?;
        let dir = abs.parent().unwrap_or(Path::new("/"));
        let root = dir.canonicalize().map_err(|e| {
            BadInput::new(format!(
                "{}: cannot open the plan's directory: {e}",
                dir.display()
            ))
        })?;
        let name = abs.file_name().ok_or_else(|| {
            BadInput::new(format!("{}: not a file name", plan.display()))
                .hint("pass the plan file, for example `--plan PLAN.md`")
        })?;
        Ok(Workspace {
            plan: root.join(name),
            root,
        })
    }

    /// swarm's own folder. Every path under it is named here, and nowhere else
    /// (docs/architecture.md, "Files").
    pub fn swarm_dir(&self) -> PathBuf {
        self.root.join(SWARM_DIR)
    }

    /// Default sentinels, `done/<id>.done`; see [`DONE_DIR`].
    pub fn done_dir(&self) -> PathBuf {
        self.root.join(DONE_DIR)
    }

    /// The steering-command queue (`swarm pause`, `resume`, `retry`, `skip`).
    pub fn commands_dir(&self) -> PathBuf {
        self.swarm_dir().join("commands")
    }

    /// One orchestrator per workspace: the lock and its holder's pid.
    pub fn lock_path(&self) -> PathBuf {
        self.swarm_dir().join("lock")
    }

    /// Long task texts handed to `on_done` and `on_fail` programs.
    pub fn notify_dir(&self) -> PathBuf {
        self.swarm_dir().join("notify")
    }

    /// Claude Code's hook settings and each worker's last hook state.
    pub fn hooks_dir(&self) -> PathBuf {
        self.swarm_dir().join("hooks")
    }

    /// One `swarm send` at a time per worker: a lock file each.
    pub fn send_locks_dir(&self) -> PathBuf {
        self.swarm_dir().join("send")
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("swarm.toml")
    }

    /// Transcripts and the notify log.
    pub fn logs_dir(&self) -> PathBuf {
        self.swarm_dir().join("logs")
    }

    /// What the pane showed during one attempt at a task.
    pub fn transcript(&self, task: &crate::plan::TaskId, attempt: u32) -> PathBuf {
        self.logs_dir().join(format!("{task}.{attempt}.log"))
    }

    /// Where the transcript of an attempt on another host comes from, beside it
    /// (src/remote/transcripts.rs).
    pub fn transcript_origin(&self, task: &crate::plan::TaskId, attempt: u32) -> PathBuf {
        self.logs_dir()
            .join(format!("{task}.{attempt}.origin.json"))
    }

    /// What a task's verify printed, per attempt.
    pub fn verify_log(&self, task: &crate::plan::TaskId, attempt: u32) -> PathBuf {
        self.logs_dir().join(format!("{task}.{attempt}.verify.log"))
    }

    /// The git worktrees of an isolated run: one per worker, and the landing one.
    pub fn worktrees_dir(&self) -> PathBuf {
        self.swarm_dir().join("worktrees")
    }

    /// Worker `worker`'s worktree: each of its tasks runs there, on the task's branch.
    pub fn worktree(&self, worker: usize) -> PathBuf {
        self.worktrees_dir().join(format!("w{worker}"))
    }

    /// Where the merge queue rebases, verifies again and lands.
    pub fn land_worktree(&self) -> PathBuf {
        self.worktrees_dir().join("land")
    }

    /// The run journal.
    pub fn journal_path(&self) -> PathBuf {
        self.swarm_dir().join("journal.jsonl")
    }

    /// `swarm stop`'s note to the orchestrator it ends: that orchestrator's pid.
    pub fn stop_path(&self) -> PathBuf {
        self.swarm_dir().join("stop")
    }

    /// The run's per-task record (`seq`, `task`, `worker`, times, attempts, result).
    pub fn joblog_path(&self) -> PathBuf {
        self.swarm_dir().join("joblog.tsv")
    }

    /// The snapshot that `swarm status` reads.
    pub fn state_path(&self) -> PathBuf {
        self.swarm_dir().join("state.json")
    }

    /// The plan's file name, for prompts and messages.
    pub fn plan_name(&self) -> String {
        self.plan
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// `swarm-<hash>`: one tmux server per workspace, so that two swarms never share one
    /// (a crash of tmux 3.3a takes every pane of its server down).
    pub fn default_socket(&self) -> String {
        let digest = Sha256::digest(self.root.as_os_str().as_encoded_bytes());
        let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("swarm-{hex}")
    }

    /// The socket name to use: the one configured (already checked), or the default.
    pub fn socket(&self, configured: Option<&str>) -> String {
        configured.map_or_else(|| self.default_socket(), str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_socket_depends_on_the_workspace() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let wa = Workspace::locate(&a.path().join("PLAN.md")).unwrap();
        let wb = Workspace::locate(&b.path().join("PLAN.md")).unwrap();
        assert_ne!(wa.default_socket(), wb.default_socket());
        assert_eq!(wa.default_socket(), wa.socket(None));
        assert_eq!(wa.socket(Some("mine")), "mine");
        assert_eq!(wa.default_socket().len(), "swarm-".len() + 8);
    }
}
