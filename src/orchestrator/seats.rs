//! Where each worker on another host works: the host, its directory there, and the ssh
//! that reaches it. A remote attempt's sentinel is named with its attempt
//! (`wt/<task>.<attempt>/…` under the host's directory), so that an attempt fenced while
//! its host was silent writes where no current attempt is waited for (docs/multihost.md).

use crate::agent::Profile;
use crate::git::{Git, Trailers};
use crate::plan::TaskId;
use crate::scheduler::WorkerId;
use crate::ssh::{Host, Remote, SshError};
use crate::tmux::Tmux;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Turns a leading `~` of the script's `$1` into the remote user's home: ssh hands the
/// words to the host's shell quoted, so it expands nothing.
const EXPAND_HOME: &str =
    r#"case "$1" in "~") set -- "$HOME" ;; "~/"*) set -- "$HOME/${1#"~/"}" ;; esac; "#;

/// How long preparing an attempt's folder on a host may take.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(10);

/// A host as a run uses it: how to reach it, and its directory there (absolute).
#[derive(Clone)]
pub struct Place {
    pub host: Host,
    pub dir: String,
    /// In an isolated run: the repository's mirror there, with a worktree per attempt.
    pub repo: Option<Arc<crate::remote::Workspace>>,
}

/// The workers on other hosts, and the ssh that reaches them.
#[derive(Clone)]
pub struct Seats {
    ssh: Arc<dyn Remote>,
    by_worker: HashMap<WorkerId, Place>,
    /// Each host's tmux, by host name, once linked: its control link runs small commands
    /// there quicker than an ssh exec.
    links: HashMap<String, Tmux>,
}

impl Seats {
    /// No worker on another host.
    pub fn none(ssh: Arc<dyn Remote>) -> Seats {
        Seats {
            ssh,
            by_worker: HashMap::new(),
            links: HashMap::new(),
        }
    }

    /// Commands on `host` go over `tmux`'s control link while it is up.
    pub fn link(&mut self, host: &str, tmux: Tmux) {
        self.links.insert(host.to_owned(), tmux);
    }

    /// Worker `worker` runs at `place`.
    pub fn seat(&mut self, worker: WorkerId, place: Place) {
        self.by_worker.insert(worker, place);
    }

    /// The ssh that reaches the hosts.
    pub fn ssh(&self) -> Arc<dyn Remote> {
        self.ssh.clone()
    }

    /// Where `worker` runs, if on another host.
    pub fn of(&self, worker: WorkerId) -> Option<&Place> {
        self.by_worker.get(&worker)
    }

    /// The folder of `task`'s `attempt`, relative to the host's directory (the agent's
    /// working directory): in an isolated run, its worktree.
    pub fn attempt_dir(task: &TaskId, attempt: u32) -> PathBuf {
        Path::new("wt").join(crate::remote::attempt_name(task, attempt))
    }

    /// Makes the folder of `sentinel` on `worker`'s host. A sentinel already there can
    /// only be this attempt's own (the attempt is in its path): a prompt sent again after
    /// the host came back must not remove what the agent made of the first.
    /// A host that answers and fails is `Broken`, not `Unreachable`: the prompt would
    /// go to it again at every return of the host, and fail again.
    pub fn prepare(&self, worker: WorkerId, sentinel: &Path) -> Result<(), Unready> {
        let Some(place) = self.of(worker) else {
            return Ok(());
        };
        let path = format!("{}/{}", place.dir, sentinel.display());
        let script = format!(r#"{EXPAND_HOME}mkdir -p "$(dirname "$1")""#);
        let argv = ["sh", "-c", &script, "sh", &path];
        // A resolved directory needs no shell of its own to expand `~`: one process fewer
        // before every prompt.
        let folder = Path::new(&path).parent().map(|p| p.display().to_string());
        let direct = match &folder {
            Some(folder) if place.dir.starts_with('/') => vec!["mkdir", "-p", "--", folder],
            _ => argv.to_vec(),
        };
        // Before every prompt: over the link, a few milliseconds where an exec costs 10
        // or more.
        if let Some(done) = self
            .links
            .get(&place.host.name)
            .and_then(|tmux| tmux.run_over_link(&direct))
        {
            return match done {
                Ok(true) => Ok(()),
                // The host answered: a folder it cannot make is no lost host.
                Ok(false) => Err(Unready::Broken(format!(
                    "making the folder of {path} failed"
                ))),
                Err(e) => Err(Unready::Unreachable(format!(
                    "preparing {path} failed: {e}"
                ))),
            };
        }
        let out = self
            .ssh
            .exec(&place.host, &argv, PREPARE_TIMEOUT)
            .map_err(|e| match e.is_unreachable() {
                true => Unready::Unreachable(e.to_string()),
                false => Unready::Broken(e.to_string()),
            })?;
        match out.status {
            0 => Ok(()),
            status => Err(Unready::Broken(format!(
                "making the folder of {path} failed with status {status}: {}",
                out.stderr.trim()
            ))),
        }
    }

    /// Makes `task`'s `attempt` its worktree on `worker`'s host (isolated runs): new
    /// from the landing tip `land`, or continuing the coordinator's copy of its branch.
    pub fn start_attempt(
        &self,
        worker: WorkerId,
        task: &TaskId,
        attempt: u32,
        (git, land): (&dyn Git, &str),
    ) -> Result<(), Unready> {
        let Some(repo) = self.of(worker).and_then(|p| p.repo.as_ref()) else {
            return Ok(());
        };
        let base = git
            .tip(land)
            .map_err(|e| Unready::Broken(e.to_string()))?
            .ok_or_else(|| Unready::Broken(format!("the landing branch `{land}` is gone")))?;
        repo.start_attempt(task, attempt, &base)
            .map(drop)
            .map_err(Unready::of)
    }

    /// Brings `task`'s `attempt` back from `worker`'s host (isolated runs): what the agent
    /// left is committed there, and the task's branch fetched into this repository.
    pub fn finish_attempt(
        &self,
        worker: WorkerId,
        job: (&TaskId, u32, &str),
        (git, land): (&dyn Git, &str),
    ) -> Result<(), String> {
        let (task, attempt, message) = job;
        let Some(place) = self.of(worker) else {
            return Ok(());
        };
        let Some(repo) = &place.repo else {
            return Ok(());
        };
        let base = git
            .tip(land)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the landing branch `{land}` is gone"))?;
        let path = format!(
            "{}/wt/{}",
            place.dir,
            crate::remote::attempt_name(task, attempt)
        );
        let trailers = Trailers {
            task: task.clone(),
            attempt,
        };
        let why = |e: crate::remote::WorkspaceError| {
            format!(
                "its work could not be brought back from {}: {e}",
                place.host.name
            )
        };
        repo.commit_attempt(&path, message, &trailers, &base)
            .map_err(why)?;
        repo.fetch_back(task).map(drop).map_err(why)
    }

    /// The agent's argv on another host: as here, except that `swarm` stays `swarm` (the
    /// host's own, on its PATH) and Claude gets no hooks (they report to a folder on this
    /// machine).
    pub fn argv(profile: &Profile) -> Vec<String> {
        profile.command.clone()
    }

    /// The agent's environment on another host: its workspace is the host's directory.
    pub fn env(profile: &Profile, place: &Place, worker: WorkerId) -> BTreeMap<String, String> {
        crate::agent::launch::env_in(profile, &place.dir, worker)
    }
}

/// Why an attempt's worktree or folder could not be made on its host.
#[derive(Debug)]
pub enum Unready {
    /// The host could not be reached.
    Unreachable(String),
    /// It answered, and git failed there (or here).
    Broken(String),
}

impl Unready {
    fn of(e: crate::remote::WorkspaceError) -> Unready {
        match e.is_unreachable() {
            true => Unready::Unreachable(e.to_string()),
            false => Unready::Broken(e.to_string()),
        }
    }
}

/// Resolves `dir` on `host` (a leading `~/` is the remote user's home) and makes it;
/// returns the absolute path.
pub fn resolve_dir(ssh: &dyn Remote, host: &Host, dir: &str) -> Result<String, SshError> {
    let script = format!(r#"{EXPAND_HOME}mkdir -p "$1" && cd "$1" && pwd -P"#);
    let out = ssh.exec(host, &["sh", "-c", &script, "sh", dir], PREPARE_TIMEOUT)?;
    match (out.status, out.stdout.trim()) {
        (0, path) if path.starts_with('/') => Ok(path.to_owned()),
        (status, _) => Err(SshError::HostUnreachable {
            host: host.name.clone(),
            why: format!(
                "making its directory {dir} failed (status {status}): {}",
                out.stderr.trim()
            ),
        }),
    }
}

/// What a host said when a run started there: its directory (absolute when it could be
/// made) and its server's incarnation (`None` when swarm's session could not be started).
pub struct Started {
    pub dir: String,
    pub incarnation: Option<String>,
}

/// Makes `dir` on `tmux`'s host, and starts swarm's session there, in one ssh exec: each
/// exec costs a session through the master, and a run starts every host this way before
/// its first prompt. If that fails, each step is tried on its own, and says why.
pub fn start_host(ssh: &dyn Remote, tmux: &Tmux, dir: &str, size: (u16, u16)) -> Started {
    let Some(host) = tmux.host() else {
        return Started {
            dir: dir.to_owned(),
            incarnation: tmux.start_host_session(size.0, size.1).ok(),
        };
    };
    let session = tmux.host_session_shell(size.0, size.1);
    let script = format!(r#"{EXPAND_HOME}mkdir -p "$1" && cd "$1" && pwd -P || exit 3; {session}"#);
    let out = ssh.exec(host, &["sh", "-c", &script, "sh", dir], PREPARE_TIMEOUT);
    if let Ok(out) = out
        && out.status == 0
        && let Some((path, incarnation)) = out.stdout.trim().split_once('\n')
        && path.starts_with('/')
    {
        return Started {
            dir: path.to_owned(),
            incarnation: Some(incarnation.trim().to_owned()),
        };
    }
    Started {
        dir: resolve_dir(ssh, host, dir).unwrap_or_else(|_| dir.to_owned()),
        incarnation: tmux.start_host_session(size.0, size.1).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_attempt_has_a_folder_of_its_own() {
        let task = TaskId("write-docs".into());
        let one = Seats::attempt_dir(&task, 1);
        assert_eq!(one, Path::new("wt/write-docs.1"));
        assert_ne!(one, Seats::attempt_dir(&task, 2));
    }
}
