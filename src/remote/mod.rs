//! A task's workspace on another host, reached over ssh alone: a bare mirror of the
//! coordinator's repository, a worktree per attempt, the branch fetched back for the local
//! merge queue, and one sentinel stream per host (docs/multihost.md, "Workspaces on hosts").

#[cfg(test)]
pub(crate) mod fake_host;
mod paths;
pub mod sentinels;
pub mod transcripts;
pub mod workspace;

pub use paths::{Sentinel, attempt_name, parse_attempt_name, parse_sentinel};
pub use sentinels::{SentinelEvent, SentinelStream, Watch};
pub use workspace::{Attempt, Started, Workspace, WorkspaceError};

/// The host side of every call: POSIX sh and git, sent with the call (hosts need nothing
/// of swarm's installed).
const HOST_SCRIPT: &str = include_str!("host.sh");

/// The words that run `op` of [`HOST_SCRIPT`] in `dir` on a host.
fn host_argv<'a>(op: &'a str, dir: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut argv = vec!["sh", "-c", HOST_SCRIPT, "swarm", op, dir];
    argv.extend_from_slice(args);
    argv
}
