//! Git, behind one narrow trait: the worktrees tasks run in, the commits that hold their
//! work, and the landing branch they join. The run loop sees only `Git`, so that the merge
//! queue is tested with a fake, and a remote host (docs/architecture.md, "Worktrees and
//! landing") can run the same calls over ssh: nothing here assumes the coordinator's file
//! system beyond the paths it is given.

mod call;
pub mod check;
pub mod exclude;
#[cfg(test)]
pub mod fake;
mod files;
#[cfg(test)]
pub(crate) mod fixture;
mod listing;
mod local;
#[cfg(test)]
mod tests;

pub(crate) use call::scrub;
pub use local::Local;
pub(crate) use local::with_trailers;

use crate::plan::TaskId;
use std::path::{Path, PathBuf};

/// A full commit id (40 hex digits).
pub type Oid = String;

/// Whether `rev` is a full object id (SHA-1 or SHA-256) rather than a name.
pub(crate) fn is_oid(rev: &str) -> bool {
    matches!(rev.len(), 40 | 64) && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What identifies a task's commits: the trailers swarm adds to the commit message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailers {
    pub task: TaskId,
    pub attempt: u32,
}

/// How a finished task's branch joins the landing branch (swarm.toml's `land_strategy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// The task's commits, replayed on the landing tip (a linear history).
    #[default]
    Rebase,
    /// A merge commit of the task's branch into the landing tip.
    Merge,
    /// One commit holding the task's whole change.
    Squash,
}

/// Where a worktree stands after `prepare`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// The branch was new: made from the base ref's tip, `base`.
    Fresh { base: Oid },
    /// The branch existed (a retry): checked out as it was, at `head`.
    Resumed { head: Oid },
}

/// What `commit` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// The branch holds changes beyond the base; `head` is its tip.
    Changes { head: Oid },
    /// The task changed nothing: there is nothing to land.
    Nothing,
}

/// What `integrate` made of a task's branch. The branch itself is not moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrated {
    /// `head` sits on the landing tip `onto`, made from the branch's tip `from`: the
    /// landing branch can be moved from `onto` to `head`.
    Ready { head: Oid, onto: Oid, from: Oid },
    /// The change conflicts with the landing tip in these files (paths relative to the
    /// repository). Nothing was left half-done.
    Conflict { files: Vec<String> },
    /// On the landing tip, the change is already there: nothing to land. `from` is the
    /// branch's tip.
    Empty { from: Oid },
    /// The branch's tip `head` is in the landing branch's history already: it landed
    /// (before a crash, say).
    Contained { head: Oid },
    /// The branch is not there: it goes only once its work has landed.
    Gone,
}

/// What `advance` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advanced {
    /// The landing branch moved (and the landed branch, if one was given, went).
    Moved,
    /// It had moved meanwhile (a person committed to it), or the landed branch had:
    /// nothing changed.
    Raced,
    /// A person's working tree has the landing branch checked out: moving it would leave
    /// their index stale, so nothing changed.
    Held(PathBuf),
}

/// A git command that failed, with what git said.
#[derive(Debug, thiserror::Error)]
#[error("git {args}: {message}")]
pub struct GitError {
    /// The arguments, as a person would type them.
    pub args: String,
    pub message: String,
}

impl crate::error::Classify for GitError {
    /// A git command failing mid-run is swarm's failure, not the user's input: the checks
    /// in [`check`] catch bad input before anything runs.
    fn exit(&self) -> crate::error::Exit {
        crate::error::Exit::Failure
    }
}

pub type Result<T> = std::result::Result<T, GitError>;

/// The git operations a run needs. Paths are worktree paths as the implementation's host
/// sees them; refs are full (`refs/heads/…`) or short branch names.
pub trait Git: Send + Sync {
    /// Makes `wt` a clean, detached worktree of the repository, creating it (at the tip
    /// of `base_ref`) or repairing it (a worktree git forgot, a half-done rebase) as needed.
    fn ensure_worktree(&self, wt: &Path, base_ref: &str) -> Result<()>;

    /// Gets `wt` ready for an attempt on `branch`. Whatever an earlier attempt left in it
    /// uncommitted is first committed where it belongs (never dropped). Then `branch` is
    /// checked out: as it is, if it exists, else made from `base_ref`'s tip.
    fn prepare(&self, wt: &Path, branch: &str, base_ref: &str) -> Result<Prepared>;

    /// Commits what the agent left uncommitted in `wt` (all but `exclude`, paths relative
    /// to `wt`), with `message` and the trailers, keeping the agent's own commits. Then
    /// `wt` is detached, so that the branch is free for the landing worktree. Whether the
    /// branch changed anything is judged against `base_ref`'s tip, looked up only when
    /// there was nothing to commit.
    fn commit(
        &self,
        wt: &Path,
        message: &str,
        trailers: &Trailers,
        exclude: &[PathBuf],
        base_ref: &str,
    ) -> Result<Committed>;

    /// Puts `branch`'s work on `onto` with `strategy` (`message` and the trailers name a
    /// merge or squash commit), in the landing worktree `wt` where it needs one. `onto` is
    /// the landing branch, or a commit id: what a task landing before this one in the
    /// same turn made on its tip. The branch stays where it was. A conflict is aborted
    /// cleanly.
    fn integrate(
        &self,
        wt: &Path,
        branch: &str,
        onto: &str,
        strategy: Strategy,
        message: &str,
        trailers: &Trailers,
    ) -> Result<Integrated>;

    /// Moves `branch` from `old` to `new` (a compare-and-swap), or fails.
    fn move_branch(&self, branch: &str, new: &Oid, old: &Oid) -> Result<()>;

    /// Moves `land_ref` from `old` to `new`, only if it still points at `old` (a person's
    /// commit to it is never overwritten) and no person's working tree has it checked
    /// out. `landed`, tasks' branches and the commits each must be at, go in the same
    /// transaction, but for any that some working tree has checked out.
    fn advance(
        &self,
        land_ref: &str,
        new: &Oid,
        old: &Oid,
        landed: &[(&str, &Oid)],
    ) -> Result<Advanced>;

    /// The commit `refname` points at, if it exists.
    fn tip(&self, refname: &str) -> Result<Option<Oid>>;

    /// Deletes `branch` if it still points at `expected` (its work has landed).
    fn delete_branch(&self, branch: &str, expected: &Oid) -> Result<()>;

    /// Moves worktree `wt`, if clean, off whatever it had (a task's commit, landed by now
    /// as a rebased copy) to `rev`, detached. False if it was not clean, and so left.
    fn park(&self, wt: &Path, rev: &str) -> Result<bool>;

    /// Removes worktree `wt` if nothing in it would be lost; false if it was kept.
    fn remove_worktree(&self, wt: &Path) -> Result<bool>;
}
