//! One host's side of the tasks it runs: `<dir>/repo.git`, a bare mirror the coordinator
//! pushes to; `<dir>/wt/<task>.<attempt>`, a worktree per attempt on the task's branch;
//! and the branch fetched back into the coordinator's repository, where the merge queue
//! lands it. Everything goes over ssh (git's own transport, through the host's master, for
//! objects); nothing assumes a file system shared with the host.

use super::{host_argv, paths};
use crate::git::{Advanced, Committed, Git, GitError, Local, Oid, Prepared, Trailers};
use crate::plan::TaskId;
use crate::ssh::{Remote, SshError, SystemSsh};
use std::io::{Read, Seek};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wait_timeout::ChildExt;

/// How long one call may take unless [`Workspace::with_timeout`] says: a push of a large
/// repository's first mirror is the slowest.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the check "is it the host or git?" after a failed transfer may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often fetching back retries when the local branch moved under it.
const CAS_TRIES: usize = 3;

/// Why a workspace call failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The host could not be reached, or did not answer in time: not a git failure, and
    /// the host may come back with its worktrees as they were.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// The host answered, and git (there or here) failed.
    #[error("{host}: {source}")]
    Git {
        host: String,
        #[source]
        source: GitError,
    },
    /// The host's branch does not contain the coordinator's: taking it would drop commits.
    #[error(
        "{host}: `{branch}` there ({fetched:.12}) does not contain the coordinator's ({local:.12}); the local branch was left as it was\nhint: the host's copy is kept as {kept}; compare with `git log --oneline {local:.12}...{kept}`"
    )]
    Diverged {
        host: String,
        branch: String,
        local: Oid,
        fetched: Oid,
        kept: String,
    },
    /// A task id that cannot name a directory and a branch on a host.
    #[error(
        "task id {0:?} cannot name a worktree on a host\nhint: task ids are letters, digits, `.`, `_` and `-`"
    )]
    BadTask(String),
}

impl WorkspaceError {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, WorkspaceError::Ssh(err) if err.is_unreachable())
    }
}

impl crate::error::Classify for WorkspaceError {
    fn exit(&self) -> crate::error::Exit {
        match self {
            WorkspaceError::Ssh(err) => err.exit(),
            WorkspaceError::BadTask(_) => crate::error::Exit::BadInput,
            WorkspaceError::Git { .. } | WorkspaceError::Diverged { .. } => {
                crate::error::Exit::Failure
            }
        }
    }
}

type Result<T> = std::result::Result<T, WorkspaceError>;

/// An attempt's worktree, made on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The worktree's absolute path on the host: the agent's working directory.
    pub path: String,
    /// `Fresh` from the base, or `Resumed` from the coordinator's copy of the branch (a
    /// retry, or a repeated call that found the worktree made).
    pub prepared: Prepared,
}

/// A worktree found under `<dir>/wt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub task: TaskId,
    pub attempt: u32,
    pub path: String,
}

/// One host's mirror and worktrees, seen from the coordinator's repository.
pub struct Workspace {
    ssh: Arc<SystemSsh>,
    host: crate::ssh::Host,
    /// `dir` as configured (`~/swarm/x`), and as the host resolved it, once.
    dir: String,
    resolved: OnceLock<String>,
    repo: PathBuf,
    local: Local,
    timeout: Duration,
    /// Held while worktrees are added, removed or pruned: a prune must not forget a
    /// worktree another thread is adding.
    worktrees: Mutex<()>,
}

impl Workspace {
    /// The workspace under `dir` on `host` (swarm.toml's `dir`: `~`, relative to the home
    /// directory, or absolute), for the repository whose top level is `repo`.
    pub fn new(ssh: Arc<SystemSsh>, host: crate::ssh::Host, dir: &str, repo: &Path) -> Workspace {
        Workspace {
            ssh,
            host,
            dir: dir.to_owned(),
            resolved: OnceLock::new(),
            repo: repo.to_owned(),
            local: Local::new(repo),
            timeout: DEFAULT_TIMEOUT,
            worktrees: Mutex::new(()),
        }
    }

    /// Every call gives up after `timeout`, as `HostUnreachable`.
    pub fn with_timeout(mut self, timeout: Duration) -> Workspace {
        self.timeout = timeout;
        self
    }

    pub fn host(&self) -> &crate::ssh::Host {
        &self.host
    }

    /// The workspace directory's absolute path on the host; the first call makes the
    /// mirror if it is missing.
    pub fn dir(&self) -> Result<String> {
        match self.resolved.get() {
            Some(dir) => Ok(dir.clone()),
            None => self.mirror(),
        }
    }

    /// Makes `<dir>/repo.git` if missing, and pushes `rev` (a commit or ref of the local
    /// repository) to the mirror's `to` (a full ref, or a branch name). `to` must not be
    /// a branch a worktree there has checked out. Returns the commit pushed.
    pub fn sync(&self, rev: &str, to: &str) -> Result<Oid> {
        let oid = self.commit_of(rev)?;
        let dir = self.mirror()?;
        let to = if to.starts_with("refs/") {
            to.to_owned()
        } else {
            format!("refs/heads/{to}")
        };
        let url = self.url(&dir);
        self.transfer(&[
            "push",
            "--quiet",
            "--force",
            "--no-verify",
            &url,
            &format!("{oid}:{to}"),
        ])?;
        Ok(oid)
    }

    /// A worktree `<dir>/wt/<task>.<attempt>` on `swarm/task/<task>`: the branch as the
    /// coordinator has it (a retry continues it; the coordinator's copy is the truth, and
    /// is pushed first), else new from `base`. A stale attempt holding the branch there
    /// is detached where it stands, its files kept. Called again for the same attempt, it
    /// returns the worktree as it is.
    pub fn start_attempt(&self, task: &TaskId, attempt: u32, base: &str) -> Result<Started> {
        check_task(task)?;
        let branch = task_branch(task);
        let (start, prepared) = match self.local.tip(&branch).map_err(|e| self.git(e))? {
            Some(head) => (head.clone(), Prepared::Resumed { head }),
            None => {
                let base = self.commit_of(base)?;
                (base.clone(), Prepared::Fresh { base })
            }
        };
        let name = paths::attempt_name(task, attempt);
        self.sync(&start, &format!("refs/swarm/start/{name}"))?;
        let attempt = attempt.to_string();
        let _held = self.worktrees.lock().unwrap_or_else(|e| e.into_inner());
        let out = self.call("start", &[&task.0, &attempt, &start])?;
        if let Some(rest) = answer(&out, "swarm-started") {
            let (path, _) = rest.rsplit_once(' ').unwrap_or((rest, ""));
            return Ok(Started {
                path: path.to_owned(),
                prepared,
            });
        }
        let rest = answer(&out, "swarm-existing").ok_or_else(|| self.garbled("start", &out))?;
        let (path, head) = rest
            .rsplit_once(' ')
            .ok_or_else(|| self.garbled("start", &out))?;
        Ok(Started {
            path: path.to_owned(),
            prepared: Prepared::Resumed {
                head: head.to_owned(),
            },
        })
    }

    /// Commits what the agent left uncommitted in the worktree at `path` on the host (all
    /// but `*.done` sentinels and `.swarm/`), with `message` and the trailers, keeping the
    /// agent's own commits, then detaches the worktree: [`Local::commit`]'s semantics. The
    /// branch is judged against `base` for [`Committed::Nothing`].
    pub fn commit_attempt(
        &self,
        path: &str,
        message: &str,
        trailers: &Trailers,
        base: &Oid,
    ) -> Result<Committed> {
        check_task(&trailers.task)?;
        let message = crate::git::with_trailers(message, trailers);
        let out = self.call("commit", &[path, &trailers.task.0, &message, base])?;
        let rest = answer(&out, "swarm-committed").ok_or_else(|| self.garbled("commit", &out))?;
        match rest.split_once(' ') {
            Some((head, "1")) => Ok(Committed::Changes {
                head: head.to_owned(),
            }),
            Some((_, "0")) => Ok(Committed::Nothing),
            _ => Err(self.garbled("commit", &out)),
        }
    }

    /// Fetches `swarm/task/<task>` from the host's mirror into the local repository's
    /// branch of the same name, if that fast-forwards it (or it is new, or the same);
    /// otherwise refuses with [`WorkspaceError::Diverged`], the local branch untouched.
    /// Returns the branch's commit.
    pub fn fetch_back(&self, task: &TaskId) -> Result<Oid> {
        check_task(task)?;
        let dir = self.dir()?;
        let branch = task_branch(task);
        // A ref of this host's own: fetches from several hosts do not share FETCH_HEAD.
        let kept = format!("refs/swarm/hosts/{}/{task}", ref_safe(&self.host.name));
        let url = self.url(&dir);
        self.transfer(&[
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            &url,
            &format!("+{branch}:{kept}"),
        ])?;
        let local = &self.local;
        let fetched = local.tip(&kept).map_err(|e| self.git(e))?.ok_or_else(|| {
            self.git(GitError {
                args: format!("fetch {branch}"),
                message: "nothing was fetched".into(),
            })
        })?;
        // The zero id as the old value: the branch is made only if it is still missing.
        let missing = "0".repeat(fetched.len());
        let moved = |old: &str| -> Result<bool> {
            match local
                .advance(&branch, &fetched, &old.to_owned(), &[])
                .map_err(|e| self.git(e))?
            {
                Advanced::Moved => Ok(true),
                // It moved meanwhile, or a working tree has it checked out: look again.
                Advanced::Raced | Advanced::Held(_) => Ok(false),
            }
        };
        for _ in 0..CAS_TRIES {
            let done = match local.tip(&branch).map_err(|e| self.git(e))? {
                Some(now) if now == fetched => true,
                Some(now) if self.is_ancestor(&now, &kept)? => moved(&now)?,
                Some(now) => {
                    return Err(WorkspaceError::Diverged {
                        host: self.host.name.clone(),
                        branch: branch.trim_start_matches("refs/heads/").to_owned(),
                        local: now,
                        fetched,
                        kept,
                    });
                }
                None => moved(&missing)?,
            };
            if done {
                local
                    .delete_branch(&kept, &fetched)
                    .map_err(|e| self.git(e))?;
                return Ok(fetched);
            }
        }
        Err(self.git(GitError {
            args: format!("update-ref {branch}"),
            message: "the branch kept moving while it was fetched; try again".into(),
        }))
    }

    /// Whether `commit` is in `refname`'s history here: a fetched branch that holds the
    /// local one fast-forwards it.
    fn is_ancestor(&self, commit: &str, refname: &str) -> Result<bool> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&self.repo)
            .args(["merge-base", "--is-ancestor", commit, refname])
            .output()
            .map_err(|e| {
                self.git(GitError {
                    args: "merge-base --is-ancestor".into(),
                    message: e.to_string(),
                })
            })?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.git(GitError {
                args: "merge-base --is-ancestor".into(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })),
        }
    }

    /// The attempts' worktrees on the host, for cleaning up stale ones after a reconnect.
    pub fn attempts(&self) -> Result<Vec<Attempt>> {
        let dir = self.dir()?;
        let out = self.call("list", &[])?;
        if answer(&out, "swarm-listed").is_none() {
            return Err(self.garbled("list", &out));
        }
        Ok(out
            .lines()
            .filter_map(|line| line.strip_prefix("swarm-attempt "))
            .filter_map(|name| {
                let (task, attempt) = paths::parse_attempt_name(name)?;
                Some(Attempt {
                    task,
                    attempt,
                    path: format!("{dir}/wt/{name}"),
                })
            })
            .collect())
    }

    /// Removes an attempt's worktree. One with uncommitted work is kept (false) unless
    /// `force`; a commit of it that no ref holds is kept as `refs/swarm/removed/<name>`
    /// in the mirror.
    pub fn remove_attempt(&self, task: &TaskId, attempt: u32, force: bool) -> Result<bool> {
        check_task(task)?;
        let name = paths::attempt_name(task, attempt);
        let how = if force { "force" } else { "keep" };
        let _held = self.worktrees.lock().unwrap_or_else(|e| e.into_inner());
        let out = self.call("remove", &[&name, how])?;
        match (answer(&out, "swarm-removed"), answer(&out, "swarm-kept")) {
            (Some(_), _) => Ok(true),
            (None, Some(_)) => Ok(false),
            _ => Err(self.garbled("remove", &out)),
        }
    }

    /// Makes the mirror forget worktrees whose directories are gone.
    pub fn prune(&self) -> Result<()> {
        let _held = self.worktrees.lock().unwrap_or_else(|e| e.into_inner());
        let out = self.call("prune", &[])?;
        answer(&out, "swarm-pruned")
            .map(|_| ())
            .ok_or_else(|| self.garbled("prune", &out))
    }

    /// Runs the mirror operation, and keeps the directory it resolved.
    fn mirror(&self) -> Result<String> {
        let out = self.exec("mirror", &self.dir, &[])?;
        let dir = answer(&out, "swarm-dir").ok_or_else(|| self.garbled("mirror", &out))?;
        Ok(self.resolved.get_or_init(|| dir.to_owned()).clone())
    }

    /// A local revision as a commit, or a git error naming it.
    fn commit_of(&self, rev: &str) -> Result<Oid> {
        self.local
            .tip(rev)
            .map_err(|e| self.git(e))?
            .ok_or_else(|| {
                self.git(GitError {
                    args: format!("rev-parse {rev}"),
                    message: format!("`{rev}` is not a commit of {}", self.repo.display()),
                })
            })
    }

    /// `op` of the host script in the resolved directory.
    fn call(&self, op: &str, args: &[&str]) -> Result<String> {
        let dir = self.dir()?;
        self.exec(op, &dir, args)
    }

    fn exec(&self, op: &str, dir: &str, args: &[&str]) -> Result<String> {
        let out = self
            .ssh
            .exec(&self.host, &host_argv(op, dir, args), self.timeout)?;
        if out.status != 0 {
            let said = out.stderr.trim();
            return Err(self.git(GitError {
                args: format!("({op} in {dir})"),
                message: if said.is_empty() {
                    format!("exited with {}", out.status)
                } else {
                    said.to_owned()
                },
            }));
        }
        Ok(out.stdout)
    }

    /// `git push` or `git fetch` in the local repository, over the host's master, killed
    /// at the timeout. A failure is the host's (`HostUnreachable`) when the host does not
    /// answer a plain ssh call either, else git's.
    fn transfer(&self, args: &[&str]) -> Result<()> {
        let io = |e: std::io::Error| {
            self.git(GitError {
                args: args.join(" "),
                message: format!("cannot run git: {e}"),
            })
        };
        let mut log = tempfile::tempfile().map_err(io)?;
        let mut cmd = Command::new("git");
        crate::git::scrub(&mut cmd)
            .arg("-C")
            .arg(&self.repo)
            .args(args)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_SSH_COMMAND", self.ssh.git_ssh_command(&self.host))
            .env("GIT_SSH_VARIANT", "ssh")
            .env_remove("GIT_SSH")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.try_clone().map_err(io)?)
            // Its own group, so that a timeout kills git's ssh too.
            .process_group(0);
        let mut child = cmd.spawn().map_err(io)?;
        let group = rustix::process::Pid::from_child(&child);
        let status = match child.wait_timeout(self.timeout).map_err(io)? {
            Some(status) => status,
            None => {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                let _ = child.wait();
                // A master whose network went silent would hold every later call.
                self.ssh.exit_master(&self.host);
                return Err(SshError::HostUnreachable {
                    host: self.host.name.clone(),
                    why: format!(
                        "git {}: no answer within {}s",
                        args[0],
                        self.timeout.as_secs_f64()
                    ),
                }
                .into());
            }
        };
        if status.success() {
            return Ok(());
        }
        let mut said = String::new();
        log.rewind().map_err(io)?;
        log.read_to_string(&mut said).map_err(io)?;
        if let Err(err) = self.ssh.exec(&self.host, &["true"], PROBE_TIMEOUT)
            && err.is_unreachable()
        {
            return Err(err.into());
        }
        Err(self.git(GitError {
            args: args.join(" "),
            message: said.trim().to_owned(),
        }))
    }

    /// The mirror as git addresses it over ssh.
    fn url(&self, dir: &str) -> String {
        let dest = self.host.dest.trim_end_matches('/');
        let dest = dest.strip_prefix("ssh://").unwrap_or(dest);
        format!("ssh://{dest}{dir}/repo.git")
    }

    fn git(&self, source: GitError) -> WorkspaceError {
        WorkspaceError::Git {
            host: self.host.name.clone(),
            source,
        }
    }

    /// The host answered, but not with what the script prints: something on the host (a
    /// login script's output, an old shell) is in the way.
    fn garbled(&self, op: &str, out: &str) -> WorkspaceError {
        self.git(GitError {
            args: format!("({op})"),
            message: format!("unexpected answer from the host: {:?}", out.trim()),
        })
    }
}

/// The task's branch, in full.
fn task_branch(task: &TaskId) -> String {
    format!("refs/heads/swarm/task/{task}")
}

fn check_task(task: &TaskId) -> Result<()> {
    match paths::is_task_id(&task.0) {
        true => Ok(()),
        false => Err(WorkspaceError::BadTask(task.0.clone())),
    }
}

/// A host name as one component of a ref.
fn ref_safe(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
            _ => '-',
        })
        .collect()
}

/// The rest of the line that starts with `token`, if the host printed one.
fn answer<'a>(out: &'a str, token: &str) -> Option<&'a str> {
    out.lines().find_map(|line| {
        let rest = line.strip_prefix(token)?;
        match rest.strip_prefix(' ') {
            Some(rest) => Some(rest),
            None => rest.is_empty().then_some(rest),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::fixture::Repo;
    use crate::remote::fake_host::FakeHost;
    use crate::ssh::Host;

    fn trailers(task: &str, attempt: u32) -> Trailers {
        Trailers {
            task: TaskId(task.into()),
            attempt,
        }
    }

    /// An agent's work in a worktree: a commit of its own, a file left uncommitted, its
    /// sentinel and swarm's folder.
    fn agent_works(wt: &Path, file: &str) {
        std::fs::write(wt.join(file), "agent's\n").unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(wt)
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["add", file]);
        git(&[
            "-c",
            "user.name=Agent",
            "-c",
            "user.email=agent@example.com",
            "commit",
            "-qm",
            "the agent's own commit",
        ]);
        std::fs::write(wt.join(format!("left-{file}")), "uncommitted\n").unwrap();
        std::fs::create_dir_all(wt.join(".swarm")).unwrap();
        std::fs::write(wt.join(".swarm/state"), "{}").unwrap();
        std::fs::write(wt.join("t.done"), "").unwrap();
    }

    #[test]
    fn an_attempt_runs_on_the_host_and_its_branch_comes_back() {
        let repo = Repo::new();
        let host = FakeHost::new();
        let ws = host.workspace(&repo.path);
        let task = TaskId("t".into());
        let main = repo.rev("main");

        let one = ws.start_attempt(&task, 1, "main").unwrap();
        let home = host.home();
        assert_eq!(one.path, format!("{}/ws/wt/t.1", home.display()));
        assert_eq!(one.prepared, Prepared::Fresh { base: main.clone() });
        agent_works(Path::new(&one.path), "a.txt");
        let committed = ws
            .commit_attempt(&one.path, "do t", &trailers("t", 1), &main)
            .unwrap();
        let Committed::Changes { head } = committed else {
            panic!("{committed:?}")
        };
        // A repeated call finds it committed already.
        assert_eq!(
            ws.commit_attempt(&one.path, "do t", &trailers("t", 1), &main)
                .unwrap(),
            Committed::Changes { head: head.clone() }
        );
        assert_eq!(ws.fetch_back(&task).unwrap(), head);
        assert_eq!(repo.rev("swarm/task/t"), head);
        let files = repo.git(&repo.path, &["ls-tree", "-r", "--name-only", &head]);
        assert_eq!(files, "README\na.txt\nleft-a.txt");
        let message = repo.git(&repo.path, &["log", "-1", "--format=%B", &head]);
        assert_eq!(message, "do t\n\nSwarm-Task: t\nSwarm-Attempt: 1");
        let parent = repo.git(
            &repo.path,
            &["log", "-1", "--format=%s", &format!("{head}^")],
        );
        assert_eq!(parent, "the agent's own commit");

        // A retry continues the branch as the coordinator has it, in a path of its own.
        let two = ws.start_attempt(&task, 2, "main").unwrap();
        assert_ne!(two.path, one.path);
        assert_eq!(two.prepared, Prepared::Resumed { head: head.clone() });
        agent_works(Path::new(&two.path), "b.txt");
        let Committed::Changes { head: second } = ws
            .commit_attempt(&two.path, "do t", &trailers("t", 2), &main)
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(ws.fetch_back(&task).unwrap(), second);
        assert_eq!(
            repo.git_code(&repo.path, &["merge-base", "--is-ancestor", &head, &second]),
            Some(0)
        );
        // An attempt that changed nothing beyond its base says so.
        let three = ws.start_attempt(&task, 3, "main").unwrap();
        std::fs::write(Path::new(&three.path).join("t.done"), "").unwrap();
        assert_eq!(
            ws.commit_attempt(&three.path, "do t", &trailers("t", 3), &second)
                .unwrap(),
            Committed::Nothing
        );

        // A local branch the host's does not contain is left alone.
        repo.git(&repo.path, &["branch", "-f", "swarm/task/t", "main"]);
        repo.write("other", "x\n");
        repo.git(&repo.path, &["add", "other"]);
        repo.git(&repo.path, &["commit", "-qm", "other"]);
        let other = repo.rev("HEAD");
        repo.git(&repo.path, &["branch", "-f", "swarm/task/t", &other]);
        let err = ws.fetch_back(&task).unwrap_err();
        assert!(matches!(err, WorkspaceError::Diverged { .. }), "{err}");
        assert!(err.to_string().contains("refs/swarm/hosts/h1/t"), "{err}");
        assert_eq!(repo.rev("swarm/task/t"), other);

        let listed = ws.attempts().unwrap();
        let names: Vec<(String, u32)> = listed
            .iter()
            .map(|a| (a.task.0.clone(), a.attempt))
            .collect();
        assert_eq!(
            names,
            [
                ("t".to_owned(), 1),
                ("t".to_owned(), 2),
                ("t".to_owned(), 3)
            ]
        );
        assert!(ws.remove_attempt(&task, 1, false).unwrap());
        assert!(!Path::new(&one.path).exists());
        assert_eq!(ws.attempts().unwrap().len(), 2);
        ws.prune().unwrap();
    }

    #[test]
    fn a_stale_attempt_lets_go_of_the_branch_and_keeps_its_files() {
        let repo = Repo::new();
        let host = FakeHost::new();
        let ws = host.workspace(&repo.path);
        let task = TaskId("t".into());
        let one = ws.start_attempt(&task, 1, "main").unwrap();
        std::fs::write(Path::new(&one.path).join("half.txt"), "stale\n").unwrap();
        // The coordinator fenced attempt 1 and starts attempt 2 on the same host.
        let two = ws.start_attempt(&task, 2, "main").unwrap();
        assert!(Path::new(&one.path).join("half.txt").exists());
        let head = Command::new("git")
            .args(["-C", &one.path, "symbolic-ref", "-q", "HEAD"])
            .output()
            .unwrap();
        assert!(!head.status.success(), "attempt 1 is detached");
        // Attempt 1's worktree is dirty: kept unless forced.
        assert!(!ws.remove_attempt(&task, 1, false).unwrap());
        assert!(ws.remove_attempt(&task, 1, true).unwrap());
        // Starting an attempt again returns the worktree as it is.
        let again = ws.start_attempt(&task, 2, "main").unwrap();
        assert_eq!(again.path, two.path);
    }

    #[test]
    fn an_unreachable_host_is_not_a_git_failure() {
        let repo = Repo::new();
        let host = FakeHost::new();
        let ws = host.workspace(&repo.path);
        let task = TaskId("t".into());
        ws.start_attempt(&task, 1, "main").unwrap();
        host.down(true);
        let err = ws.fetch_back(&task).unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        // A git failure on a host that answers is git's.
        host.down(false);
        let err = Workspace::new(
            host.ssh.clone(),
            Host::new("h1", "h1", vec![]).unwrap(),
            "~/ws",
            &repo.path,
        )
        .fetch_back(&TaskId("never".into()));
        match err {
            // The fake's backoff from the failure above may still hold.
            Err(WorkspaceError::Git { .. }) => {}
            Err(err) if err.is_unreachable() => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            ws.start_attempt(&TaskId("../x".into()), 1, "main"),
            Err(WorkspaceError::BadTask(_))
        ));
    }
}
