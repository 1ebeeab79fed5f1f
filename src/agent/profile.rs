//! Profiles are data: built-ins are TOML compiled into the binary, users add their own.

use super::ScreenState;
use regex::Regex;
use std::time::Duration;

/// How a worker gets a fresh context between tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reset {
    /// Type this command (for example `/clear`) and press Enter.
    Command(String),
    /// Kill the agent and start a new one.
    Restart,
}

/// A profile as written in TOML (built-in or `[profiles.NAME]` in swarm.toml).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {}

/// A compiled profile, ready to classify screens.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// argv of the agent; the program `swarm` means this very executable.
    pub command: Vec<String>,
    /// Matches a screen whose input box is empty and ready for a prompt.
    pub ready: Regex,
    /// Matches a screen with text waiting in the input box.
    pub input_pending: Option<Regex>,
    /// Matches a screen of an agent working on a turn.
    pub busy: Option<Regex>,
    pub reset: Reset,
    /// The least time between a paste and its Enter.
    pub settle: Duration,
    /// How many more times Enter is pressed when a paste stays in the input box.
    pub enter_retries: u32,
    /// How long an agent may take to show its ready screen after it starts.
    pub startup_timeout: Duration,
}

impl Profile {
    /// Reads a captured screen.
    ///
    /// Busy wins over a pending input, which wins over ready: an agent that is working
    /// can show a queued message and an empty box at once, and neither means "paste now".
    pub fn classify(&self, screen: &str) -> ScreenState {
        let matches = |re: &Option<Regex>| re.as_ref().is_some_and(|re| re.is_match(screen));
        if matches(&self.busy) {
            ScreenState::Busy
        } else if matches(&self.input_pending) {
            ScreenState::InputPending
        } else if self.ready.is_match(screen) {
            ScreenState::Ready
        } else {
            ScreenState::Unknown
        }
    }
}

/// The built-in profile called `name`.
pub fn builtin(name: &str) -> Option<Profile> {
    let _ = name;
    todo!("agent::builtin")
}

/// Names of the built-in profiles, sorted.
pub fn builtin_names() -> Vec<&'static str> {
    todo!("agent::builtin_names")
}
