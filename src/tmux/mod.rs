//! swarm's own thin tmux layer: argv building, timeouts, guarded pastes, pane queries.
//! docs/tmux-facts.md §6 says why the tmux crates fall short.

mod command;
pub mod control;
#[cfg(test)]
pub mod fake;
mod live;
mod mux;
mod navigate;
mod remote;
mod session;
mod version;
mod workers;

pub use command::{Tmux, TmuxConf};
pub use live::PaneNews;
pub use version::{check_version, usable_version};
pub use workers::WorkerPane;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A pane's `%id`: the only stable way to target a pane.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct PaneId(pub String);

impl fmt::Display for PaneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `list-panes` tells about one pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneInfo {
    pub id: PaneId,
    pub dead: bool,
    /// The exit status: `None` while alive, and after death until tmux reaps the process.
    /// tmux 3.3a sometimes misses the SIGCHLD and reaps it only at its next child's exit.
    pub dead_status: Option<i32>,
    /// The signal that ended it, when one did (tmux 3.3's `#{pane_dead_signal}`).
    pub dead_signal: Option<i32>,
    pub in_mode: bool,
    pub current_command: String,
    pub pid: u32,
    pub window: String,
}

impl PaneInfo {
    /// A shell is in the pane's foreground: the agent exited to the shell that started it
    /// (the same names the paste guard refuses).
    pub fn shell_in_front(&self) -> bool {
        let name = self.current_command.as_str();
        let shell = name.strip_suffix("sh").unwrap_or("-");
        matches!(shell, "" | "ba" | "z" | "fi" | "da" | "k" | "tc" | "c")
    }
}

/// An agent process to start in a pane of its own.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// The window (`@id`) to split, or `None` for a new worker window.
    pub window: Option<String>,
    /// The new window's name when `window` is `None`.
    pub window_name: String,
    /// Who works in the pane (the `@worker` pane option), shown in its border.
    pub label: String,
    /// The profile the agent runs (the `@profile` pane option), so that commands reading
    /// its screen later know how to read it.
    pub profile: String,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub env: BTreeMap<String, String>,
    /// The host to start it on (`[[hosts]]` name); `None`: this machine.
    pub host: Option<String>,
}

/// A freshly started pane and the window (`@id`) it sits in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spawned {
    pub pane: PaneId,
    pub window: String,
}

/// Whether a guarded paste went in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasteOutcome {
    Pasted,
    /// The guard refused: the pane is dead, in copy mode, or runs a shell.
    Refused(String),
}

/// Errors talking to tmux.
#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    #[error(
        "tmux is not installed\nhint: install it with `apt install tmux` (swarm needs 3.2 or newer)"
    )]
    Missing,
    #[error(
        "tmux {found} is too old: swarm needs 3.2 or newer\nhint: install a newer tmux (Debian 12 ships 3.3a)"
    )]
    TooOld { found: String },
    #[error("`tmux {args}` took longer than {secs}s and was killed")]
    Timeout { args: String, secs: u64 },
    #[error("`tmux {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("the tmux server `{socket}` is gone")]
    ServerGone { socket: String },
    /// A remote server's host did not answer (ssh exit 255, or no reply in time). Not
    /// `ServerGone`: the host may come back with its panes still running, so the caller
    /// tries again later.
    #[error(
        "{host}: unreachable over ssh: {why}\nhint: check that `ssh {host} true` works without a password prompt (swarm runs ssh with BatchMode=yes)"
    )]
    HostUnreachable { host: String, why: String },
    #[error("{0}")]
    Invalid(String),
    #[error("running tmux: {0}")]
    Io(#[from] std::io::Error),
}

impl crate::error::Classify for TmuxError {
    /// A missing or old tmux is the user's to fix; the rest happen while swarm works.
    fn exit(&self) -> crate::error::Exit {
        use crate::error::Exit;
        match self {
            TmuxError::Missing | TmuxError::TooOld { .. } => Exit::BadInput,
            TmuxError::Timeout { .. }
            | TmuxError::Failed { .. }
            | TmuxError::ServerGone { .. }
            | TmuxError::HostUnreachable { .. }
            | TmuxError::Invalid(_)
            | TmuxError::Io(_) => Exit::Failure,
        }
    }
}

/// The narrow seam between swarm and a terminal multiplexer.
pub trait Mux: Send + Sync {
    /// Starts an agent in a new pane and returns its id.
    fn spawn(&self, spec: &SpawnSpec) -> Result<Spawned, TmuxError>;
    /// Pastes `text` (bracketed) through a uniquely named buffer, guarded in the same call.
    fn paste(&self, pane: &PaneId, text: &str) -> Result<PasteOutcome, TmuxError>;
    /// Whether the last paste into `pane` was `text`, and went in. Only a paste into a
    /// pane on another host is remembered, whose answer a dropped link can lose: a
    /// delivery that its host's loss cut short is finished, not pasted again, once the
    /// host is back. Elsewhere, false.
    fn pasted_last(&self, _pane: &PaneId, _text: &str) -> Result<bool, TmuxError> {
        Ok(false)
    }
    /// A call about `pane` found its host silent (another channel than the link, such as
    /// an ssh call): the host's link hangs up and attaches again, saying `HostLost`, then
    /// `HostBack` once the host answers. Nothing for a local pane.
    fn host_silent(&self, _pane: &PaneId) {}
    /// Sends one key by name, such as `Enter` or `Escape`.
    fn send_key(&self, pane: &PaneId, key: &str) -> Result<(), TmuxError>;
    /// Types a short literal text such as `/clear`; never prompts.
    fn send_text(&self, pane: &PaneId, text: &str) -> Result<(), TmuxError>;
    /// The visible screen as plain text.
    fn capture(&self, pane: &PaneId) -> Result<String, TmuxError>;
    /// Every pane of the session.
    fn panes(&self) -> Result<Vec<PaneInfo>, TmuxError>;
    /// Shows `label` in the pane's border (the `@task` pane option), without waiting
    /// for tmux to confirm: labels are for people.
    fn set_label(&self, pane: &PaneId, label: &str) -> Result<(), TmuxError>;
    fn kill_pane(&self, pane: &PaneId) -> Result<(), TmuxError>;
    /// Tells every person attached: `text` as a message, and a bell in window 0.
    fn alert(&self, text: &str) -> Result<(), TmuxError>;
    /// Appends the pane's output to `log` from now on (`None` stops it). Here, `log`
    /// starts with the pane's `opening`; on another host, `log` is a path there and gets
    /// the output alone: the opening is written where the transcript is read
    /// (src/remote/transcripts.rs).
    fn transcript(&self, pane: &PaneId, log: Option<&std::path::Path>) -> Result<(), TmuxError>;
    /// The first bytes of a transcript of the pane as it is now: its size, screen and
    /// cursor (`crate::transcript::opening`).
    fn opening(&self, pane: &PaneId) -> Result<String, TmuxError>;
    /// A count of the pane's output that grows whenever it writes, or `None` without an
    /// event source (then callers must poll the screen).
    fn output_count(&self, _pane: &PaneId) -> Option<u64> {
        None
    }
    /// Waits until the pane's output count differs from `seen` or `timeout` passes, and
    /// returns the count then; `None` (at once) without an event source.
    fn await_output(&self, _pane: &PaneId, _seen: u64, _timeout: Duration) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_in_front_are_the_ones_the_paste_guard_refuses() {
        let pane = |cmd: &str| PaneInfo {
            id: PaneId("%1".into()),
            dead: false,
            dead_status: None,
            dead_signal: None,
            in_mode: false,
            current_command: cmd.into(),
            pid: 1,
            window: "@1".into(),
        };
        for shell in ["sh", "bash", "zsh", "fish", "dash", "ksh", "tcsh", "csh"] {
            assert!(pane(shell).shell_in_front(), "{shell}");
        }
        for agent in ["claude", "node", "swarm", "python3", "ssh", "", "push"] {
            assert!(!pane(agent).shell_in_front(), "{agent}");
        }
    }
}
