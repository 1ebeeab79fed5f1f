//! The transport to other hosts: the system `ssh`, one ControlMaster per host in a short
//! ControlPath of swarm's own, and exit 255 read as an unreachable host (docs/multihost.md).

mod argv;
mod backoff;
mod control_path;
mod each;
mod host;
mod system;

pub use argv::{git_ssh_command, remote_command, ssh_argv, ssh_terminal_argv};
pub use backoff::Backoff;
pub use control_path::ControlPath;
pub use each::each_host;
pub use host::{Host, check_destination};
pub use system::SystemSsh;

use std::time::Duration;

/// Runs commands on other hosts. The one implementation is [`SystemSsh`]; the seam is for
/// code that drives hosts, so that its tests can answer for them.
pub trait Remote: Send + Sync {
    /// Runs `argv` on `host` (each word quoted for the remote shell), giving up after
    /// `timeout`. A command that ran and failed is an `Ok` with its status; only a host
    /// that could not be reached (or did not answer in time) is an error.
    fn exec(&self, host: &Host, argv: &[&str], timeout: Duration) -> Result<Output, SshError>;

    /// As `exec`, with the remote command's stdout as the bytes it wrote (a transcript
    /// pulled from a host is not always UTF-8, and must arrive byte for byte). The
    /// default is for stand-ins whose output is text.
    fn exec_bytes(
        &self,
        host: &Host,
        argv: &[&str],
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>), SshError> {
        self.exec(host, argv, timeout)
            .map(|out| (out.status, out.stdout.into_bytes()))
    }
}

/// What a remote command left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The remote command's exit status (never 255 from ssh itself: that is an error).
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Why a remote call failed.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// ssh could not reach the host, or the host did not answer within the call's timeout.
    /// Not a dead tmux server: a silent host may come back with its panes still running.
    #[error(
        "{host}: unreachable over ssh: {why}\nhint: check that `ssh {host} true` works without a password prompt (swarm runs ssh with BatchMode=yes)"
    )]
    HostUnreachable { host: String, why: String },
    /// The `ssh` program could not be started.
    #[error("cannot run {program}: {source}\nhint: install the OpenSSH client")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
}

impl SshError {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SshError::HostUnreachable { .. })
    }
}

impl crate::error::Classify for SshError {
    fn exit(&self) -> crate::error::Exit {
        match self {
            SshError::HostUnreachable { .. } => crate::error::Exit::Failure,
            SshError::Spawn { .. } => crate::error::Exit::BadInput,
        }
    }
}
