//! [`Git`] over the git command line, on the machine swarm runs on.
//!
//! Every method is written so that a crash (or `kill -9`) between any two of its git
//! commands leaves nothing lost: work is committed before a worktree changes branch, a
//! half-done rebase is aborted before anything else, and refs move only by
//! compare-and-swap.

use super::call::Call;
use super::files;
use super::listing::{self, Listed};
use super::{
    Advanced, Committed, Git, GitError, Integrated, Oid, Prepared, Result, Strategy, Trailers,
    is_oid,
};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The identity swarm commits as where the user has none (a CI machine without a
/// ~/.gitconfig), so that a run does not fail on its first commit.
const FALLBACK_NAME: &str = "swarm";
const FALLBACK_EMAIL: &str = "swarm@localhost";

/// Where swarm keeps its own files; never committed.
const SWARM_DIR: &str = ".swarm";

/// How long a worktree's index lock may stay before it is taken for one a killed git
/// left behind.
const LOCK_GRACE: Duration = Duration::from_secs(2);

/// The branches tasks run on: `swarm/task/<id>`.
const TASK_BRANCHES: &str = "refs/heads/swarm/task/";

/// How many commits' trees [`Local`] keeps in mind: a few per task, so that a long run's
/// memory stays small; the oldest go all at once.
const TREES_KEPT: usize = 4096;

/// The git of the repository whose top-level directory is `repo`.
pub struct Local {
    repo: PathBuf,
    /// Variables added to every command (tests pin the configuration with them).
    env: Vec<(OsString, OsString)>,
    /// The author and committer variables, found on first use.
    identity: OnceLock<Vec<(OsString, OsString)>>,
    /// The repository's common git directory, where its files can answer instead of a
    /// git process (see [`files`]); found on first use.
    common: OnceLock<Option<PathBuf>>,
    /// Each commit's tree, as far as swarm has seen them: a commit's tree never changes,
    /// and knowing it spares a `rev-parse` in every task's commit and landing.
    trees: Mutex<HashMap<Oid, Oid>>,
}

impl Local {
    /// The repository whose top-level directory is `repo`.
    pub fn new(repo: impl Into<PathBuf>) -> Local {
        Local {
            repo: repo.into(),
            env: Vec::new(),
            identity: OnceLock::new(),
            common: OnceLock::new(),
            trees: Mutex::default(),
        }
    }

    /// Like [`Local::new`], with `env` added to every git command.
    #[cfg(test)]
    pub(crate) fn with_env(repo: impl Into<PathBuf>, env: Vec<(OsString, OsString)>) -> Local {
        Local {
            env,
            ..Local::new(repo)
        }
    }

    /// A git command run in `dir`.
    fn git(&self, dir: &Path) -> Call {
        let identity = self.identity.get_or_init(|| self.find_identity());
        let mut env = self.env.clone();
        env.extend(identity.iter().cloned());
        Call::new(dir, &env)
    }

    /// The author and committer variables to set: none where git knows who the user is
    /// (their config, or their own GIT_AUTHOR_* variables), else swarm's own.
    fn find_identity(&self) -> Vec<(OsString, OsString)> {
        let mut env = Vec::new();
        for (role, name, email) in [
            ("GIT_AUTHOR_IDENT", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"),
            (
                "GIT_COMMITTER_IDENT",
                "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL",
            ),
        ] {
            let known = Call::new(&self.repo, &self.env)
                .args(["var", role])
                .output()
                .is_ok_and(|out| out.code == Some(0));
            if !known {
                env.push((name.into(), FALLBACK_NAME.into()));
                env.push((email.into(), FALLBACK_EMAIL.into()));
            }
        }
        env
    }

    /// `path`, relative paths taken from the repository's top level.
    fn at(&self, path: &Path) -> PathBuf {
        if path.is_relative() {
            self.repo.join(path)
        } else {
            path.to_path_buf()
        }
    }

    fn common(&self) -> Option<&Path> {
        self.common
            .get_or_init(|| files::git_dir(&self.repo).map(|dir| files::common_dir(&dir)))
            .as_deref()
    }

    /// The tree of `commit`, if swarm has seen it.
    fn tree_of(&self, commit: &str) -> Option<Oid> {
        self.trees.lock().unwrap().get(commit).cloned()
    }

    fn remember(&self, commit: &str, tree: &str) {
        let mut trees = self.trees.lock().unwrap();
        if trees.len() >= TREES_KEPT {
            trees.clear();
        }
        trees.insert(commit.to_string(), tree.to_string());
    }

    /// The working trees and what each has checked out: from the files, else from git.
    fn listed(&self) -> Result<Vec<Listed>> {
        match self.common().and_then(files::worktrees) {
            Some(listed) => Ok(listed),
            None => self.worktrees(),
        }
    }

    fn worktrees(&self) -> Result<Vec<Listed>> {
        // A worktree another thread is adding or removing can be half there for a moment
        // (`failed to read .git/worktrees/w3/commondir`): that is asked again, not failed.
        let mut tries = 0;
        loop {
            match self
                .git(&self.repo)
                .args(["worktree", "list", "--porcelain", "-z"])
                .ok()
            {
                Ok(out) => return Ok(listing::parse(&out)),
                Err(err) if tries < 5 && err.message.contains("failed to read") => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Several revisions resolved in one command.
    fn resolve<const N: usize>(&self, dir: &Path, revs: [&str; N]) -> Result<[Oid; N]> {
        let out = self.git(dir).arg("rev-parse").args(revs).arg("--").ok()?;
        let oids: Vec<Oid> = out
            .lines()
            .filter(|line| *line != "--")
            .map(str::to_string)
            .collect();
        oids.try_into().map_err(|oids| GitError {
            args: format!("rev-parse {}", revs.join(" ")),
            message: format!("expected {N} ids, got {oids:?}"),
        })
    }

    /// Where several full branch refs or commit ids point, None for a branch that is not
    /// there: from the files where they can tell, else in one git command.
    fn refs<const N: usize>(&self, refs: [&str; N]) -> Result<[Option<Oid>; N]> {
        let common = self.common();
        let known: Option<Vec<Option<Oid>>> = refs
            .iter()
            .map(|r| {
                if is_oid(r) {
                    Some(Some(r.to_string()))
                } else {
                    files::branch(common?, r)
                }
            })
            .collect();
        if let Some(Ok(known)) = known.map(<[Option<Oid>; N]>::try_from) {
            return Ok(known);
        }
        self.lookup(
            refs.map(|r| format!("{r}^{{commit}}"))
                .each_ref()
                .map(String::as_str),
        )
    }

    /// Several revisions looked up in one command, where some may name nothing (a branch
    /// that is gone): None for those.
    fn lookup<const N: usize>(&self, revs: [&str; N]) -> Result<[Option<Oid>; N]> {
        let input: String = revs.iter().map(|rev| format!("{rev}\n")).collect();
        let out = self
            .git(&self.repo)
            .args(["cat-file", "--batch-check=%(objectname)"])
            .input(input.into_bytes())
            .ok()?;
        // A missing one is answered `<rev> missing` (or `ambiguous`), never with an id.
        let found: Vec<Option<Oid>> = out
            .lines()
            .map(|line| is_oid(line).then(|| line.to_string()))
            .collect();
        found.try_into().map_err(|found| GitError {
            args: format!("cat-file --batch-check <<< {}", revs.join(" ")),
            message: format!("expected {N} answers, got {found:?}"),
        })
    }

    /// Aborts whatever git operation a crash left half-done in `wt`.
    fn abort_interrupted(&self, wt: &Path) -> Result<()> {
        const STATES: [&str; 6] = [
            "rebase-merge",
            "rebase-apply",
            "MERGE_HEAD",
            "CHERRY_PICK_HEAD",
            "REVERT_HEAD",
            "sequencer",
        ];
        let paths = self
            .git(wt)
            .arg("rev-parse")
            .args(STATES.iter().flat_map(|state| ["--git-path", state]))
            .ok()?;
        let present: Vec<&str> = STATES
            .iter()
            .zip(paths.lines())
            .filter(|(_, path)| wt.join(path).exists())
            .map(|(state, _)| *state)
            .collect();
        for state in present {
            let abort: &[&str] = match state {
                "rebase-merge" | "rebase-apply" => &["rebase", "--abort"],
                "MERGE_HEAD" => &["merge", "--abort"],
                "REVERT_HEAD" => &["revert", "--abort"],
                _ => &["cherry-pick", "--abort"],
            };
            // An earlier abort may have cleared this state too (a merge inside a rebase).
            let _ = self.git(wt).args(abort).output()?;
        }
        Ok(())
    }

    /// Removes the index lock a git killed mid-command left in `wt`, which would fail
    /// every later command there. A live git holds it for moments: it is given
    /// [`LOCK_GRACE`] to let go before the lock is taken for a dead one's.
    fn clear_stale_lock(&self, wt: &Path) -> Result<()> {
        let lock = self
            .git(wt)
            .args(["rev-parse", "--git-path", "index.lock"])
            .ok()?;
        let lock = wt.join(lock);
        let deadline = Instant::now() + LOCK_GRACE;
        while lock.exists() {
            if Instant::now() >= deadline {
                return match std::fs::remove_file(&lock) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(GitError {
                        args: format!("rev-parse --git-path index.lock (in {})", wt.display()),
                        message: format!("cannot remove the stale {}: {e}", lock.display()),
                    }),
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Puts the landing worktree back as it was: nothing in progress, nothing changed.
    fn abandon(&self, wt: &Path) -> Result<()> {
        self.abort_interrupted(wt)?;
        self.git(wt).args(["reset", "-q", "--hard"]).ok()?;
        Ok(())
    }

    /// Stages everything in `wt` except swarm's files and `exclude`; whether anything is
    /// staged.
    fn stage(&self, wt: &Path, exclude: &[PathBuf]) -> Result<bool> {
        self.add_all(wt, exclude)?;
        let clean = self.git(wt).args(["diff", "--cached", "--quiet"]).test()?;
        Ok(!clean)
    }

    /// Stages everything in `wt` but swarm's folder and `exclude` (the sentinels): they
    /// are left out of the `add`, and only if the index may still hold them (staged by
    /// hand before, or tracked) are they reset to what the commit has, tracked or not.
    fn add_all(&self, wt: &Path, exclude: &[PathBuf]) -> Result<()> {
        let exclude: Vec<String> = exclude
            .iter()
            .map(|path| path.strip_prefix(wt).unwrap_or(path).display().to_string())
            .collect();
        self.git(wt)
            .args(["add", "-A", "--", "."])
            .arg(format!(":(exclude,glob){}", unnamed(SWARM_DIR)))
            .arg(format!(":(exclude,glob){}/**", unnamed(SWARM_DIR)))
            .args(
                exclude
                    .iter()
                    .map(|path| format!(":(exclude,glob){}", unnamed(path))),
            )
            .ok()?;
        let mut own = vec![format!("{SWARM_DIR}/"), SWARM_DIR.to_string()];
        own.extend(exclude.iter().cloned());
        let index = files::git_dir(wt).map(|dir| dir.join("index"));
        if index.is_none_or(|index| files::index_may_hold(&index, &own)) {
            let mut reset = self.git(wt).args(["reset", "-q", "--", SWARM_DIR]);
            for path in &exclude {
                reset = reset.arg(format!(":(literal){path}"));
            }
            reset.ok()?;
        }
        Ok(())
    }

    /// Makes a commit of what `wt` holds beyond `head` (all but swarm's files and
    /// `exclude`), if there is anything; no ref moves. With git's plumbing: `commit`
    /// would refresh the index and read the config again, and was the slowest step
    /// between an agent's sentinel and its next task.
    fn commit_tree(
        &self,
        wt: &Path,
        head: &Head,
        message: &str,
        exclude: &[PathBuf],
    ) -> Result<Option<Oid>> {
        self.add_all(wt, exclude)?;
        let tree = self.git(wt).arg("write-tree").ok()?;
        let tree = tree.trim();
        if tree == head.tree {
            return Ok(None);
        }
        let new = self
            .git(wt)
            .args(["commit-tree", tree, "-p", &head.commit, "-m", message])
            .ok()?
            .trim()
            .to_string();
        self.remember(&new, tree);
        Ok(Some(new))
    }

    /// Commits what is staged in `wt`.
    fn commit_staged(&self, wt: &Path, message: &str) -> Result<()> {
        // --no-verify: the verify command is the gate a task's work must pass. A user's
        // pre-commit or commit-msg hook that fails, or waits for input, would wedge the
        // run on a commit nobody can fix from inside it.
        self.git(wt)
            .args(["commit", "-q", "--no-verify", "--cleanup=whitespace", "-m"])
            .arg(message)
            .ok()?;
        Ok(())
    }

    /// Commits whatever is uncommitted in `wt` where it belongs: to the task branch it is
    /// on, else to a new `swarm/salvage/…` branch. Nothing a crash or an agent left behind
    /// is ever dropped.
    fn save_leftovers(&self, wt: &Path) -> Result<()> {
        // Mostly there are none: one `status` says so, where staging takes three calls.
        let status = self
            .git(wt)
            .args(["status", "--porcelain", "-z", "--untracked-files=all"])
            .ok()?;
        if status.is_empty() || !self.stage(wt, &[])? {
            return Ok(());
        }
        let name = wt
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "worktree".to_string());
        let on = self
            .git(wt)
            .args(["symbolic-ref", "-q", "HEAD"])
            .output()?
            .stdout;
        if !on.trim_end().starts_with(TASK_BRANCHES) {
            let salvage = self.salvage_branch(&name)?;
            self.git(wt).args(["switch", "-q", "-c", &salvage]).ok()?;
        }
        self.commit_staged(
            wt,
            &format!("swarm: work left uncommitted in worktree {name}, saved"),
        )
    }

    /// Frees `branch` for `wt` when another of swarm's worktrees still has it checked
    /// out (an attempt there ended without landing, and the task went to another
    /// worker): what that attempt left is committed on the branch, and that worktree
    /// detaches. A person's own worktree is never touched.
    fn release(&self, wt: &Path, branch: &str) -> Result<()> {
        let full = full_ref(branch);
        let here = listing::real(wt);
        let holder = self.listed()?.into_iter().find(|entry| {
            entry.branch.as_deref() == Some(full.as_str()) && listing::real(&entry.path) != here
        });
        let Some(holder) = holder else {
            return Ok(());
        };
        if listing::is_swarms(&holder.path) {
            self.save_leftovers(&holder.path)?;
            self.git(&holder.path)
                .args(["switch", "-q", "--detach"])
                .ok()?;
        }
        Ok(())
    }

    /// A name for a new branch to keep work on: `swarm/salvage/<what>-<unix time>`, with
    /// a count added if that is taken.
    fn salvage_branch(&self, what: &str) -> Result<String> {
        let stem = format!("swarm/salvage/{what}-{}", unix_time());
        let mut name = stem.clone();
        let mut n = 1;
        while self.tip(&full_ref(&name))?.is_some() {
            n += 1;
            name = format!("{stem}-{n}");
        }
        Ok(name)
    }

    /// The commit `wt` is at, its tree, and the branch it is on: from the files and the
    /// trees known, else from git.
    fn head(&self, wt: &Path) -> Result<Head> {
        let known = || -> Option<Head> {
            let dir = files::git_dir(wt)?;
            let (commit, on) = match files::head(&dir)? {
                files::Head::Branch(on) => {
                    (files::branch(&files::common_dir(&dir), &on)??, Some(on))
                }
                files::Head::Detached(commit) => (commit, None),
            };
            let tree = self.tree_of(&commit)?;
            Some(Head { commit, tree, on })
        };
        if let Some(head) = known() {
            return Ok(head);
        }
        let out = self
            .git(wt)
            .args([
                "rev-parse",
                "HEAD",
                "HEAD^{tree}",
                "--symbolic-full-name",
                "HEAD",
            ])
            .ok()?;
        let mut lines = out.lines().map(str::to_string);
        let head = Head {
            commit: lines.next().unwrap_or_default(),
            tree: lines.next().unwrap_or_default(),
            on: lines.next().filter(|on| on != "HEAD"),
        };
        self.remember(&head.commit, &head.tree);
        Ok(head)
    }

    /// The error for a worktree the agent left off its task's branch. Its work is not
    /// committed to whatever branch it is on (the landing branch, say, which moves only
    /// by compare-and-swap): what is uncommitted, and commits on no branch, go to a
    /// salvage branch that the error names.
    fn astray(
        &self,
        wt: &Path,
        on: Option<String>,
        exclude: &[PathBuf],
        trailers: &Trailers,
    ) -> GitError {
        let expected = format!("swarm/task/{}", trailers.task);
        let on_text = on.as_deref().map_or("a detached HEAD".to_string(), |on| {
            format!("`{}`", on.trim_start_matches("refs/heads/"))
        });
        let kept = (|| -> Result<Option<String>> {
            let dirty = self.stage(wt, exclude)?;
            let head = self.head(wt)?.commit;
            let on_a_branch = !self
                .git(&self.repo)
                .args([
                    "for-each-ref",
                    "--count=1",
                    "--format=x",
                    "--contains",
                    &head,
                ])
                .arg("refs/heads/")
                .ok()?
                .is_empty();
            if !dirty && on_a_branch {
                return Ok(None);
            }
            let salvage = self.salvage_branch(&trailers.task.to_string())?;
            self.git(wt).args(["switch", "-q", "-c", &salvage]).ok()?;
            if dirty {
                self.commit_staged(
                    wt,
                    &format!(
                        "swarm: work task {} left off its branch, saved",
                        trailers.task
                    ),
                )?;
            }
            self.git(wt).args(["checkout", "-q", "--detach"]).ok()?;
            Ok(Some(salvage))
        })();
        let message = match kept {
            Ok(Some(salvage)) => format!(
                "{}: the agent left the worktree on {on_text}, not on `{expected}`; its work there is kept on `{salvage}`",
                wt.display()
            ),
            Ok(None) => format!(
                "{}: the agent left the worktree on {on_text}, not on `{expected}`",
                wt.display()
            ),
            Err(err) => format!(
                "{}: the agent left the worktree on {on_text}, not on `{expected}`, and keeping its work failed: {err}",
                wt.display()
            ),
        };
        GitError {
            args: "commit".to_string(),
            message,
        }
    }

    /// Makes the existing directory `wt`, which git does not know as a worktree, one:
    /// its files move into a new worktree at `base_ref`, where the leftover rule then
    /// commits them. A directory holding a repository of its own is left alone.
    fn adopt(&self, wt: &Path, base_ref: &str) -> Result<()> {
        let io = |what: &str, e: std::io::Error| GitError {
            args: format!("worktree add --detach {} {base_ref}", wt.display()),
            message: format!("{what}: {e}"),
        };
        let empty = std::fs::read_dir(wt)
            .map_err(|e| io("cannot read the directory", e))?
            .next()
            .is_none();
        if empty {
            return self.add_worktree(wt, base_ref, false);
        }
        let link = wt.join(".git");
        if link.is_dir() {
            return Err(GitError {
                args: format!("worktree add {}", wt.display()),
                message: format!(
                    "{} holds a repository of its own, where swarm keeps a worktree\n\
                     hint: move it elsewhere",
                    wt.display()
                ),
            });
        }
        let aside = wt.with_file_name(format!(
            "{}.adopting-{}",
            wt.file_name().unwrap_or_default().to_string_lossy(),
            unix_time()
        ));
        std::fs::rename(wt, &aside).map_err(|e| io("cannot move it aside", e))?;
        self.add_worktree(wt, base_ref, true)?;
        for entry in std::fs::read_dir(&aside).map_err(|e| io("cannot read it", e))? {
            let entry = entry.map_err(|e| io("cannot read it", e))?;
            if entry.file_name() == ".git" {
                std::fs::remove_file(entry.path()).map_err(|e| io("cannot unlink .git", e))?;
            } else {
                std::fs::rename(entry.path(), wt.join(entry.file_name()))
                    .map_err(|e| io("cannot move its files back", e))?;
            }
        }
        std::fs::remove_dir(&aside).map_err(|e| io("cannot remove the emptied copy", e))?;
        // The index of a worktree added without a checkout is empty: make it the
        // commit's, so that the files show as what they are, changes against it.
        self.git(wt).args(["reset", "-q"]).ok()?;
        Ok(())
    }

    fn add_worktree(&self, wt: &Path, base_ref: &str, no_checkout: bool) -> Result<()> {
        let mut add = self
            .git(&self.repo)
            .args(["worktree", "add", "-q", "--detach"]);
        if no_checkout {
            add = add.arg("--no-checkout");
        }
        add.arg(wt).arg(base_ref).ok()?;
        Ok(())
    }

    /// Moves `refs/heads/branch` from `old` to `new`, or fails.
    fn set_branch(&self, dir: &Path, branch: &str, new: &Oid, old: &Oid) -> Result<()> {
        self.git(dir)
            .args(["update-ref", "-m", "swarm: integrated"])
            .arg(full_ref(branch))
            .args([new, old])
            .ok()?;
        Ok(())
    }

    /// The paths with conflicts in `wt`'s index, relative to the repository.
    fn conflicts(&self, wt: &Path) -> Result<Vec<String>> {
        let out = self
            .git(wt)
            .args([
                "diff",
                "--name-only",
                "--no-relative",
                "--diff-filter=U",
                "-z",
            ])
            .ok()?;
        let mut files: Vec<String> = out
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        files.dedup();
        Ok(files)
    }

    /// After a failed rebase or merge in the landing worktree: a conflict, or an error.
    /// Either way the worktree is put back clean.
    fn failed_landing(&self, wt: &Path, err: GitError) -> Result<Integrated> {
        let files = self.conflicts(wt);
        self.abandon(wt)?;
        match files? {
            files if files.is_empty() => Err(err),
            files => Ok(Integrated::Conflict { files }),
        }
    }

    /// The landing tip and the branch's tip, each with its tree; the branch's None when
    /// it is gone.
    fn tips(&self, branch: &str, land_ref: &str) -> Result<(Tip, Option<Tip>)> {
        let full = full_ref(branch);
        // Mostly both tips and their trees are known: the landing tip from the last
        // landing, the branch's from the task's commit.
        if let [Some(onto), old] = self.refs([land_ref, &full])?
            && let Some(onto_tree) = self.tree_of(&onto)
        {
            let old_tree = old.as_ref().map(|old| self.tree_of(old));
            if old_tree.as_ref().is_none_or(Option::is_some) {
                let branch = old
                    .zip(old_tree.flatten())
                    .map(|(commit, tree)| Tip { commit, tree });
                let onto = Tip {
                    commit: onto,
                    tree: onto_tree,
                };
                return Ok((onto, branch));
            }
        }
        let [onto, onto_tree, old, old_tree] = self.lookup([
            &format!("{land_ref}^{{commit}}"),
            &format!("{land_ref}^{{tree}}"),
            &format!("{full}^{{commit}}"),
            &format!("{full}^{{tree}}"),
        ])?;
        let (Some(commit), Some(tree)) = (onto, onto_tree) else {
            return Err(GitError {
                args: format!("cat-file --batch-check <<< {land_ref}^{{commit}}"),
                message: format!("the landing branch `{land_ref}` is gone"),
            });
        };
        self.remember(&commit, &tree);
        let branch = old.zip(old_tree).map(|(commit, tree)| Tip { commit, tree });
        if let Some(tip) = &branch {
            self.remember(&tip.commit, &tip.tree);
        }
        Ok((Tip { commit, tree }, branch))
    }

    fn rebase(&self, wt: &Path, branch: &str, land_ref: &str) -> Result<Integrated> {
        let (onto, Some(old)) = self.tips(branch, land_ref)? else {
            return Ok(Integrated::Gone);
        };
        if let Some(integrated) = self.replay(branch, &onto, &old)? {
            return Ok(integrated);
        }
        // What `replay` could not do: a branch in the landing branch already (nothing to
        // replay), a conflict, a merge commit.
        let base = self.merge_base(wt, &onto.commit, &old.commit)?;
        if base.as_ref() == Some(&old.commit) {
            return Ok(Integrated::Contained { head: old.commit });
        }
        self.git(wt)
            .args(["checkout", "-q", "--detach", &old.commit])
            .ok()?;
        let rebased = self
            .git(wt)
            .args([
                "rebase",
                "-q",
                "--no-verify",
                "--no-autosquash",
                "--no-autostash",
                "--no-update-refs",
                "--no-rerere-autoupdate",
                &onto.commit,
            ])
            .ok();
        if let Err(err) = rebased {
            return self.failed_landing(wt, err);
        }
        let [head, tree] = self.resolve(wt, ["HEAD", "HEAD^{tree}"])?;
        Ok(if tree == onto.tree {
            Integrated::Empty { from: old.commit }
        } else {
            Integrated::Ready {
                head,
                onto: onto.commit,
                from: old.commit,
            }
        })
    }

    /// The fast way to rebase: `git replay` writes the branch's commits that the landing
    /// tip lacks on that tip, in the object store, touching no worktree (3 ms where a
    /// rebase in the landing worktree took 80); commits already on the tip stay as they
    /// are. None when it cannot (nothing to replay, a conflict, a merge commit): the
    /// rebase in the worktree then does it, or names the conflicting files.
    fn replay(&self, branch: &str, onto: &Tip, old: &Tip) -> Result<Option<Integrated>> {
        let full = full_ref(branch);
        let out = self
            .git(&self.repo)
            .args(["replay", "--onto", &onto.commit])
            .arg(format!("{}..{full}", onto.commit))
            .output()?;
        let update = out.stdout.lines().find_map(|line| {
            let mut words = line.strip_prefix("update ")?.split(' ');
            (words.next()? == full).then(|| words.next().map(str::to_string))?
        });
        let (Some(0), Some(head)) = (out.code, update) else {
            return Ok(None);
        };
        let tree = if head == old.commit {
            old.tree.clone()
        } else {
            let [tree] = self.resolve(&self.repo, [&format!("{head}^{{tree}}")])?;
            self.remember(&head, &tree);
            tree
        };
        Ok(Some(if tree == onto.tree {
            Integrated::Empty {
                from: old.commit.clone(),
            }
        } else {
            Integrated::Ready {
                head,
                onto: onto.commit.clone(),
                from: old.commit.clone(),
            }
        }))
    }

    fn merge(
        &self,
        wt: &Path,
        branch: &str,
        land_ref: &str,
        squash: bool,
        message: &str,
    ) -> Result<Integrated> {
        let (onto, Some(old)) = self.tips(branch, land_ref)? else {
            return Ok(Integrated::Gone);
        };
        if self.merge_base(wt, &onto.commit, &old.commit)?.as_ref() == Some(&old.commit) {
            return Ok(Integrated::Contained { head: old.commit });
        }
        self.git(wt)
            .args(["checkout", "-q", "--detach", &onto.commit])
            .ok()?;
        let merge = self.git(wt).args(["merge", "-q", "--no-rerere-autoupdate"]);
        let merged = if squash {
            merge.arg("--squash").arg(&old.commit).ok()
        } else {
            merge
                // --no-log: `merge.log` would append a shortlog after the trailers, where
                // `%(trailers)` no longer finds them.
                .args(["--no-ff", "--no-edit", "--no-verify", "--no-log"])
                .args(["--cleanup=whitespace", "-m", message, &old.commit])
                .ok()
        };
        if let Err(err) = merged {
            return self.failed_landing(wt, err);
        }
        if squash {
            let staged = !self.git(wt).args(["diff", "--cached", "--quiet"]).test()?;
            if !staged {
                self.abandon(wt)?;
                return Ok(Integrated::Empty { from: old.commit });
            }
            self.commit_staged(wt, message)?;
        }
        let [head, tree] = self.resolve(wt, ["HEAD", "HEAD^{tree}"])?;
        Ok(if tree == onto.tree {
            Integrated::Empty { from: old.commit }
        } else {
            Integrated::Ready {
                head,
                onto: onto.commit,
                from: old.commit,
            }
        })
    }

    fn merge_base(&self, dir: &Path, a: &Oid, b: &Oid) -> Result<Option<Oid>> {
        let out = self.git(dir).args(["merge-base", a, b]).output()?;
        Ok((out.code == Some(0)).then(|| out.stdout.trim().to_string()))
    }
}

impl Git for Local {
    fn ensure_worktree(&self, wt: &Path, base_ref: &str) -> Result<()> {
        let wt = self.at(wt);
        let here = listing::real(&wt);
        let listed = self
            .listed()?
            .iter()
            .any(|entry| listing::real(&entry.path) == here);
        let exists = wt.symlink_metadata().is_ok();
        match (listed, exists) {
            (true, true) if wt.join(".git").is_file() => {}
            (true, true) => {
                self.git(&self.repo)
                    .args(["worktree", "repair"])
                    .arg(&wt)
                    .ok()?;
            }
            (true, false) => {
                // Its directory is gone: forget it, then make it anew.
                self.git(&self.repo).args(["worktree", "prune"]).ok()?;
                self.add_worktree(&wt, base_ref, false)?;
            }
            // Made just now, clean and detached: nothing below has anything to do.
            (false, false) => return self.add_worktree(&wt, base_ref, false),
            (false, true) => self.adopt(&wt, base_ref)?,
        }
        self.clear_stale_lock(&wt)?;
        self.abort_interrupted(&wt)?;
        self.save_leftovers(&wt)?;
        self.git(&wt).args(["checkout", "-q", "--detach"]).ok()?;
        Ok(())
    }

    fn prepare(&self, wt: &Path, branch: &str, base_ref: &str) -> Result<Prepared> {
        let wt = self.at(wt);
        self.save_leftovers(&wt)?;
        // The branch and the base in one command: most often the branch is new. The base
        // goes to `switch` as an id: given a name, `switch -c` reads it twice, for the files
        // and for the branch, and a landing in between leaves the branch ahead of the
        // files, so that the task's commit would undo what had just landed.
        let [head, base] = self.refs([&full_ref(branch), &full_ref(base_ref)])?;
        if let Some(head) = head {
            self.release(&wt, branch)?;
            self.git(&wt).args(["switch", "-q", branch]).ok()?;
            return Ok(Prepared::Resumed { head });
        }
        let base = base.ok_or_else(|| GitError {
            args: format!(
                "cat-file --batch-check <<< {}^{{commit}}",
                full_ref(base_ref)
            ),
            message: format!("`{base_ref}` names no commit"),
        })?;
        self.git(&wt)
            .args(["switch", "-q", "-c", branch, &base])
            .ok()?;
        Ok(Prepared::Fresh { base })
    }

    fn commit(
        &self,
        wt: &Path,
        message: &str,
        trailers: &Trailers,
        exclude: &[PathBuf],
        base_ref: &str,
    ) -> Result<Committed> {
        let wt = self.at(wt);
        let head = self.head(&wt)?;
        let on = head.on.clone();
        let expected = format!("{TASK_BRANCHES}{}", trailers.task);
        let branch = expected.trim_start_matches("refs/heads/");
        if on.is_none() && self.tip(&expected)?.as_ref() == Some(&head.commit) {
            // Detached at the branch's tip: an earlier call committed and detached (the
            // run crashed before it heard). Back on the branch, this one repeats it.
            self.git(&wt).args(["switch", "-q", branch]).ok()?;
        } else if let Some(other) = on
            .as_deref()
            .filter(|on| on.starts_with(TASK_BRANCHES) && *on != expected.as_str())
        {
            // Another task's branch: the worktree moved on, and what is uncommitted in it
            // is that task's. Nothing here is touched.
            return Err(GitError {
                args: "commit".to_string(),
                message: format!(
                    "{}: the worktree is on `{}` now, not on `{branch}`",
                    wt.display(),
                    other.trim_start_matches("refs/heads/")
                ),
            });
        } else if on.as_deref() != Some(expected.as_str()) {
            return Err(self.astray(&wt, on, exclude, trailers));
        }
        let made = self.commit_tree(&wt, &head, &with_trailers(message, trailers), exclude)?;
        let old = head.commit;
        let committed = made.is_some();
        let head = made.clone().unwrap_or_else(|| old.clone());
        let changed = committed || {
            let [base] = self.resolve(&wt, [&format!("{base_ref}^{{commit}}")])?;
            head != base
                && !self
                    .git(&wt)
                    .args(["rev-list", "-n1", &format!("{base}..{head}")])
                    .ok()?
                    .is_empty()
        };
        // The branch moves first (a compare-and-swap), then the worktree is detached
        // where it is: not in one transaction, which git refuses for HEAD and the branch
        // it names. HEAD alone changes: written as git writes it where the files allow,
        // else by `update-ref`, without the index refresh `checkout --detach` pays for.
        if let Some(new) = &made {
            self.set_branch(&wt, branch, new, &old)?;
        }
        let detached = files::git_dir(&wt).is_some_and(|dir| files::detach(&dir, &head));
        if !detached {
            self.git(&wt)
                .args([
                    "update-ref",
                    "--no-deref",
                    "-m",
                    "swarm: committed",
                    "HEAD",
                    &head,
                ])
                .ok()?;
        }
        Ok(if changed {
            Committed::Changes { head }
        } else {
            Committed::Nothing
        })
    }

    fn integrate(
        &self,
        wt: &Path,
        branch: &str,
        onto: &str,
        strategy: Strategy,
        message: &str,
        trailers: &Trailers,
    ) -> Result<Integrated> {
        let wt = self.at(wt);
        // A branch in full, so that a tag of the same name cannot be taken for it.
        let land_ref = &if is_oid(onto) {
            onto.to_string()
        } else {
            full_ref(onto)
        };
        let message = with_trailers(message, trailers);
        let integrated = match strategy {
            Strategy::Rebase => self.rebase(&wt, branch, land_ref),
            Strategy::Merge => self.merge(&wt, branch, land_ref, false, &message),
            Strategy::Squash => self.merge(&wt, branch, land_ref, true, &message),
        };
        if integrated.is_err() {
            // Whatever failed, the next task must find the landing worktree clean; the
            // error that matters is the first.
            let _ = self.abandon(&wt);
        }
        integrated
    }

    fn move_branch(&self, branch: &str, new: &Oid, old: &Oid) -> Result<()> {
        self.set_branch(&self.repo, branch, new, old)
    }

    fn advance(
        &self,
        land_ref: &str,
        new: &Oid,
        old: &Oid,
        landed: &[(&str, &Oid)],
    ) -> Result<Advanced> {
        let full = full_ref(land_ref);
        let listed = self.listed()?;
        let has = |entry: &Listed, branch: &str| entry.branch.as_deref() == Some(branch);
        if let Some(person) = listed
            .iter()
            .find(|entry| has(entry, &full) && !listing::is_swarms(&entry.path))
        {
            return Ok(Advanced::Held(person.path.clone()));
        }
        // A branch some working tree has checked out is kept, as `delete_branch` keeps it.
        let landed: Vec<(String, &Oid)> = landed
            .iter()
            .map(|(branch, at)| (full_ref(branch), *at))
            .filter(|(branch, _)| !listed.iter().any(|entry| has(entry, branch)))
            .collect();
        // One transaction: the landing branch moves and the landed branches go together,
        // or nothing changes.
        let mut input = format!("update {full} {new} {old}\n");
        for (branch, at) in &landed {
            input.push_str(&format!("delete {branch} {at}\n"));
        }
        let moved = self
            .git(&self.repo)
            .args(["update-ref", "-m", "swarm: landed", "--stdin"])
            .input(input.into_bytes())
            .ok();
        let Err(err) = moved else {
            return Ok(Advanced::Moved);
        };
        // Failed: an error, unless a ref had moved under it.
        if self.tip(&full)?.as_ref() != Some(old) {
            return Ok(Advanced::Raced);
        }
        for (branch, at) in &landed {
            if self.tip(branch)?.as_ref() != Some(*at) {
                return Ok(Advanced::Raced);
            }
        }
        Err(err)
    }

    fn tip(&self, refname: &str) -> Result<Option<Oid>> {
        if let Some(tip) = self
            .common()
            .and_then(|common| files::branch(common, refname))
        {
            return Ok(tip);
        }
        let out = self
            .git(&self.repo)
            .args(["rev-parse", "--verify", "-q"])
            .arg(format!("{refname}^{{commit}}"))
            .output()?;
        match out.code {
            Some(0) => Ok(Some(out.stdout.trim().to_string())),
            Some(1) => Ok(None),
            _ => Err(GitError {
                args: format!("rev-parse --verify -q {refname}^{{commit}}"),
                message: out.stderr.trim().to_string(),
            }),
        }
    }

    fn delete_branch(&self, branch: &str, expected: &Oid) -> Result<()> {
        let full = full_ref(branch);
        if let Some(entry) = self
            .listed()?
            .into_iter()
            .find(|entry| entry.branch.as_deref() == Some(&full))
        {
            return Err(GitError {
                args: format!("update-ref -d {full} {expected}"),
                message: format!(
                    "`{branch}` is checked out in {}; it is kept",
                    entry.path.display()
                ),
            });
        }
        let deleted = self
            .git(&self.repo)
            .args(["update-ref", "-d", &full, expected])
            .ok();
        match deleted {
            Ok(_) => Ok(()),
            Err(err) => match self.tip(&full)? {
                None => Ok(()),
                Some(_) => Err(err),
            },
        }
    }

    fn park(&self, wt: &Path, rev: &str) -> Result<bool> {
        let wt = self.at(wt);
        let status = self
            .git(&wt)
            .args(["status", "--porcelain", "-z", "--untracked-files=all"])
            .ok()?;
        if !status.is_empty() {
            return Ok(false);
        }
        self.git(&wt)
            .args(["switch", "-q", "--detach", &format!("{rev}^{{commit}}")])
            .ok()?;
        Ok(true)
    }

    fn remove_worktree(&self, wt: &Path) -> Result<bool> {
        let wt = self.at(wt);
        if wt.symlink_metadata().is_err() {
            self.git(&self.repo).args(["worktree", "prune"]).ok()?;
            return Ok(true);
        }
        let here = listing::real(&wt);
        if !self
            .listed()?
            .iter()
            .any(|entry| listing::real(&entry.path) == here)
        {
            // Not a worktree (any more): its files are nobody's to delete.
            return Ok(false);
        }
        // Whether anything in it is not committed, `worktree remove` looks itself: it
        // refuses then.
        let detached = match files::git_dir(&wt).and_then(|dir| files::head(&dir)) {
            Some(files::Head::Detached(head)) => Some(head),
            Some(files::Head::Branch(_)) => None,
            None => {
                let out = self
                    .git(&wt)
                    .args(["rev-parse", "HEAD", "--symbolic-full-name", "HEAD"])
                    .ok()?;
                let mut lines = out.lines();
                let head = lines.next().unwrap_or_default().to_string();
                (lines.next() == Some("HEAD")).then_some(head)
            }
        };
        if let Some(head) = &detached {
            // Detached: its commit must be on some ref, or removing the worktree would
            // leave it to be collected.
            let on_a_ref = self
                .git(&self.repo)
                .args([
                    "for-each-ref",
                    "--count=1",
                    "--format=x",
                    "--contains",
                    head,
                ])
                .ok()?;
            if on_a_ref.is_empty() {
                return Ok(false);
            }
        }
        let removed = self
            .git(&self.repo)
            .args(["worktree", "remove"])
            .arg(&wt)
            .output()?;
        Ok(removed.code == Some(0))
    }
}

/// Where a worktree's HEAD is.
struct Head {
    commit: Oid,
    tree: Oid,
    /// The branch it is on (`refs/heads/…`); None when detached.
    on: Option<String>,
}

/// A branch's commit and its tree.
struct Tip {
    commit: Oid,
    tree: Oid,
}

/// A glob pattern that matches `path` alone, its first character in brackets: `add`
/// fails on a pathspec whose literal part names an ignored path (or a path in an ignored
/// folder) outright, even to leave it out, and swarm's own files are ignored.
fn unnamed(path: &str) -> String {
    let mut out = String::new();
    for (i, c) in path.chars().enumerate() {
        if i == 0 {
            out.push('[');
        }
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
        if i == 0 {
            out.push(']');
        }
    }
    out
}

/// `refs/heads/<name>` for a short branch name; a full ref as it is.
fn full_ref(name: &str) -> String {
    if name.starts_with("refs/") {
        name.to_string()
    } else {
        format!("refs/heads/{name}")
    }
}

/// A commit message: the text, a blank line, and swarm's trailers (the last paragraph,
/// so `git log --format=%(trailers)` finds them).
pub(crate) fn with_trailers(message: &str, trailers: &Trailers) -> String {
    let text = message.trim_end();
    let text = if text.trim().is_empty() {
        format!("swarm task {}", trailers.task)
    } else {
        text.to_string()
    };
    format!(
        "{text}\n\nSwarm-Task: {}\nSwarm-Attempt: {}\n",
        trailers.task, trailers.attempt
    )
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
