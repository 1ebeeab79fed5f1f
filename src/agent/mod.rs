//! Agent profiles: how to start an agent CLI, read its screen, and act on it.

pub mod hooks;
pub mod launch;
pub mod preflight;
mod profile;
pub mod reset_time;
#[cfg(test)]
mod tests;

pub use profile::{
    CommandLine, Profile, ProfileError, ProfileSpec, Reset, Verified, builtin, builtin_names,
    resolve_profile, resolve_spec,
};

/// What a pane's screen says about its agent, as far as the profile can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScreenState {
    /// An empty input box: a prompt may be pasted.
    Ready,
    /// Text sits in the input box, not yet submitted.
    InputPending,
    /// The agent is working on a turn.
    Busy,
    /// A blocking dialog (trust, API key, permissions, login): only a person may answer.
    Dialog,
    /// The agent says it is rate-limited; no work until the limit clears.
    RateLimited,
    /// The agent gave up on its provider's errors (after its own retries) and ended the
    /// turn; it may show a placeholder such as Claude's `Resend your message to try again`.
    ApiError,
    /// None of the profile's patterns matched.
    Unknown,
}
