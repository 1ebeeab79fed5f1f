//! Where each worker on another host works: the host, its directory there, and the ssh
//! that reaches it. A remote attempt's sentinel is named with its attempt
//! (`wt/<task>.<attempt>/…` under the host's directory), so that an attempt fenced while
//! its host was silent writes where no current attempt is waited for (docs/multihost.md).

use crate::agent::Profile;
use crate::plan::TaskId;
use crate::scheduler::WorkerId;
use crate::ssh::{Host, Remote, SshError};
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
#[derive(Debug, Clone)]
pub struct Place {
    pub host: Host,
    pub dir: String,
}

/// The workers on other hosts, and the ssh that reaches them.
#[derive(Clone)]
pub struct Seats {
    ssh: Arc<dyn Remote>,
    by_worker: HashMap<WorkerId, Place>,
}

impl Seats {
    /// No worker on another host.
    pub fn none(ssh: Arc<dyn Remote>) -> Seats {
        Seats {
            ssh,
            by_worker: HashMap::new(),
        }
    }

    /// Worker `worker` runs at `place`.
    pub fn seat(&mut self, worker: WorkerId, place: Place) {
        self.by_worker.insert(worker, place);
    }

    /// Where `worker` runs, if on another host.
    pub fn of(&self, worker: WorkerId) -> Option<&Place> {
        self.by_worker.get(&worker)
    }

    /// The sentinel of `task`'s `attempt`, relative to the host's directory (the agent's
    /// working directory), for a task whose sentinel is `rel` in the workspace.
    pub fn sentinel(task: &TaskId, attempt: u32, rel: &Path) -> PathBuf {
        Path::new("wt")
            .join(crate::remote::attempt_name(task, attempt))
            .join(rel)
    }

    /// Makes the folder of `task`'s `attempt` on `worker`'s host, with no sentinel in it:
    /// one left there would be taken for this attempt's.
    pub fn prepare(&self, worker: WorkerId, sentinel: &Path) -> Result<(), SshError> {
        let Some(place) = self.of(worker) else {
            return Ok(());
        };
        let path = format!("{}/{}", place.dir, sentinel.display());
        let script = format!(r#"{EXPAND_HOME}mkdir -p "$(dirname "$1")" && rm -f "$1""#);
        let out = self.ssh.exec(
            &place.host,
            &["sh", "-c", &script, "sh", &path],
            PREPARE_TIMEOUT,
        )?;
        match out.status {
            0 => Ok(()),
            status => Err(SshError::HostUnreachable {
                host: place.host.name.clone(),
                why: format!(
                    "preparing {path} failed with status {status}: {}",
                    out.stderr.trim()
                ),
            }),
        }
    }

    /// The agent's argv on another host: as here, except that `swarm` stays `swarm` (the
    /// host's own, on its PATH) and Claude gets no hooks (they report to a folder on this
    /// machine).
    pub fn argv(profile: &Profile) -> Vec<String> {
        profile.command.clone()
    }

    /// The agent's environment on another host.
    pub fn env(profile: &Profile, place: &Place, worker: WorkerId) -> BTreeMap<String, String> {
        profile
            .env
            .clone()
            .into_iter()
            .chain([
                ("SWARM_WORKER".to_string(), worker.to_string()),
                ("SWARM_WORKSPACE".to_string(), place.dir.clone()),
            ])
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_sentinel_carries_its_attempt() {
        let task = TaskId("write-docs".into());
        let one = Seats::sentinel(&task, 1, Path::new("docs/a.md.done"));
        let two = Seats::sentinel(&task, 2, Path::new("docs/a.md.done"));
        assert_eq!(one, Path::new("wt/write-docs.1/docs/a.md.done"));
        assert_ne!(one, two);
    }
}
