//! Profiles are data: built-ins are TOML compiled into the binary, users add their own.

use super::ScreenState;
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// The built-in profiles, sorted by name.
const BUILTINS: &[(&str, &str)] = &[
    ("aider", include_str!("builtin/aider.toml")),
    ("claude", include_str!("builtin/claude.toml")),
    ("codex", include_str!("builtin/codex.toml")),
    ("gemini", include_str!("builtin/gemini.toml")),
    ("generic", include_str!("builtin/generic.toml")),
    ("ollama", include_str!("builtin/ollama.toml")),
    ("opencode", include_str!("builtin/opencode.toml")),
    ("qwen-code", include_str!("builtin/qwen-code.toml")),
    ("sim", include_str!("builtin/sim.toml")),
];

/// Used when a profile leaves a timing unset.
const DEFAULT_SETTLE_MS: u64 = 150;
const DEFAULT_ENTER_RETRIES: u32 = 3;
const DEFAULT_STARTUP_TIMEOUT_MS: u64 = 30_000;

/// How a worker gets a fresh context between tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reset {
    /// Type this command (for example `/clear`) and press Enter.
    Command(String),
    /// Kill the agent and start a new one.
    Restart,
}

/// A profile as written in TOML (built-in or `[profiles.NAME]` in swarm.toml).
///
/// Every field is optional so that a user table can override a built-in field by field.
/// Fields that can be wrong keep their span, so that swarm.toml errors name the line.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    /// The profile this one inherits every field from, before its own (swarm.toml only):
    /// a built-in or another `[profiles.NAME]`.
    pub base: Option<Spanned<String>>,
    /// One line for people choosing a profile.
    pub description: Option<String>,
    /// argv, as an array or as one string split like a shell would.
    pub command: Option<Spanned<CommandLine>>,
    /// Regex: the input box is empty and ready for a prompt.
    pub ready: Option<Spanned<String>>,
    /// Regex: text waits in the input box; an empty string means "cannot tell".
    pub input_pending: Option<Spanned<String>>,
    /// Regex: the agent works on a turn; an empty string means "cannot tell".
    pub busy: Option<Spanned<String>>,
    /// `"restart"`, or a command typed into the agent (such as `"/clear"`).
    pub reset: Option<Spanned<String>>,
    /// The agent holds a reset command typed during a turn and runs it as the turn ends
    /// (default false): the reset goes in as soon as the sentinel is, not after the turn.
    pub reset_queues: Option<bool>,
    /// The least time between a paste and its Enter (default 150).
    pub settle_ms: Option<u64>,
    /// Extra Enters for a paste that stays in the input box (default 3).
    pub enter_retries: Option<u32>,
    /// How long the agent may take to show its ready screen (default 30000).
    pub startup_timeout_ms: Option<u64>,
    /// Regex: a blocking dialog (trust, API key, permissions, login) waits for a person.
    pub dialog: Option<Spanned<String>>,
    /// Regex: the agent says it is rate-limited.
    pub rate_limited: Option<Spanned<String>>,
    /// Regex with a named capture `reset`: when a rate limit ends, as the agent prints it.
    pub rate_limit_reset: Option<Spanned<String>>,
    /// Regex: the agent gave up on its provider's errors and ended the turn; an optional
    /// capture `what` holds what it said.
    pub api_error: Option<Spanned<String>>,
    /// Regex: a prompt sent while the agent was busy waits in its queue (it counts as
    /// delivered).
    pub queued: Option<Spanned<String>>,
    /// The tmux key that interrupts a turn (such as `"Escape"` or `"C-c"`).
    pub interrupt: Option<String>,
    /// What to type to make the agent exit (such as `"/exit"`).
    pub quit: Option<String>,
    /// Acceptable `#{pane_current_command}` names while the agent runs; when not given,
    /// the program the profile's command starts (and, for a script, its interpreter).
    pub foreground: Option<Vec<String>>,
    /// `true`, or which version was checked against real screens and when.
    pub verified: Option<Verified>,
    /// Environment variables set for the agent.
    pub env: Option<BTreeMap<String, String>>,
}

/// `verified = true | false | "claude-code 2.1.331 on 2026-11-24"` in TOML.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Verified {
    Flag(bool),
    Note(String),
}

/// A command line in TOML: `["prog", "arg"]`, or `"prog arg"` split with shell-words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CommandLine(pub Vec<String>);

impl<'de> Deserialize<'de> for CommandLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = CommandLine;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a command: an array of strings, or a string")
            }

            fn visit_str<E: serde::de::Error>(self, line: &str) -> Result<CommandLine, E> {
                shell_words::split(line)
                    .map(CommandLine)
                    .map_err(|err| E::custom(format!("cannot split {line:?}: {err}")))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<CommandLine, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    argv.push(arg);
                }
                Ok(CommandLine(argv))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl ProfileSpec {
    /// Fields set here win; the rest come from `base`.
    fn over(self, base: ProfileSpec) -> ProfileSpec {
        ProfileSpec {
            // Resolved: what it inherits is in the fields now.
            base: None,
            description: self.description.or(base.description),
            command: self.command.or(base.command),
            ready: self.ready.or(base.ready),
            input_pending: self.input_pending.or(base.input_pending),
            busy: self.busy.or(base.busy),
            reset: self.reset.or(base.reset),
            reset_queues: self.reset_queues.or(base.reset_queues),
            settle_ms: self.settle_ms.or(base.settle_ms),
            enter_retries: self.enter_retries.or(base.enter_retries),
            startup_timeout_ms: self.startup_timeout_ms.or(base.startup_timeout_ms),
            dialog: self.dialog.or(base.dialog),
            rate_limited: self.rate_limited.or(base.rate_limited),
            rate_limit_reset: self.rate_limit_reset.or(base.rate_limit_reset),
            api_error: self.api_error.or(base.api_error),
            queued: self.queued.or(base.queued),
            interrupt: self.interrupt.or(base.interrupt),
            quit: self.quit.or(base.quit),
            foreground: self.foreground.or(base.foreground),
            verified: self.verified.or(base.verified),
            env: self.env.or(base.env),
        }
    }

    /// Compiles the spec of the profile called `name`.
    ///
    /// A missing command compiles to an empty argv: `generic` has none until `--agent-cmd`
    /// gives one, so the caller checks for it once every override is known.
    pub fn compile(self, name: &str) -> Result<Profile, ProfileError> {
        let invalid = |key: &'static str, span: Option<Range<usize>>, message: String| {
            ProfileError::Invalid {
                profile: name.to_owned(),
                key,
                span,
                message,
            }
        };
        let regex = |key: &'static str, pattern: &Spanned<String>| {
            Regex::new(pattern.get_ref()).map_err(|err| {
                invalid(
                    key,
                    Some(pattern.span()),
                    format!(
                        "`{key}` is not a valid regex: {err}\nhint: see \
                         https://docs.rs/regex/latest/regex/#syntax"
                    ),
                )
            })
        };
        let optional_regex = |key: &'static str, pattern: Option<Spanned<String>>| {
            pattern
                .filter(|p| !p.get_ref().is_empty())
                .map(|p| regex(key, &p))
                .transpose()
        };

        let ready = match &self.ready {
            Some(pattern) if !pattern.get_ref().is_empty() => regex("ready", pattern)?,
            other => {
                return Err(invalid(
                    "ready",
                    other.as_ref().map(Spanned::span),
                    "has no `ready` pattern\nhint: set `ready` to a regex that matches the \
                     agent's screen when it waits for a prompt"
                        .to_owned(),
                ));
            }
        };
        let command = match self.command {
            Some(command) if command.get_ref().0.is_empty() => {
                return Err(invalid(
                    "command",
                    Some(command.span()),
                    "`command` is empty\nhint: name the program, as in `command = [\"claude\"]`"
                        .to_owned(),
                ));
            }
            Some(command) => command.into_inner().0,
            None => Vec::new(),
        };
        let reset = match self.reset {
            None => Reset::Restart,
            Some(reset) => match reset.get_ref().trim() {
                "restart" => Reset::Restart,
                "" => {
                    return Err(invalid(
                        "reset",
                        Some(reset.span()),
                        "`reset` is empty\nhint: use \"restart\", or a command the agent \
                         understands such as \"/clear\""
                            .to_owned(),
                    ));
                }
                command => Reset::Command(command.to_owned()),
            },
        };
        let rate_limit_reset = optional_regex("rate_limit_reset", self.rate_limit_reset.clone())?;
        if let Some(re) = &rate_limit_reset
            && !re.capture_names().any(|n| n == Some("reset"))
        {
            return Err(invalid(
                "rate_limit_reset",
                self.rate_limit_reset.as_ref().map(Spanned::span),
                "`rate_limit_reset` has no capture named `reset`\nhint: write it as in \
                 'resets (?<reset>[0-9:apm ]+)'"
                    .to_owned(),
            ));
        }
        let verified = match self.verified {
            None | Some(Verified::Flag(false)) => None,
            Some(Verified::Flag(true)) => Some("yes".to_owned()),
            Some(Verified::Note(note)) => Some(note),
        };
        let key = |key: Option<String>| key.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty());
        Ok(Profile {
            name: name.to_owned(),
            description: self.description.unwrap_or_default(),
            command,
            ready,
            input_pending: optional_regex("input_pending", self.input_pending)?,
            busy: optional_regex("busy", self.busy)?,
            reset,
            reset_queues: self.reset_queues.unwrap_or(false),
            settle: Duration::from_millis(self.settle_ms.unwrap_or(DEFAULT_SETTLE_MS)),
            enter_retries: self.enter_retries.unwrap_or(DEFAULT_ENTER_RETRIES),
            startup_timeout: Duration::from_millis(
                self.startup_timeout_ms
                    .unwrap_or(DEFAULT_STARTUP_TIMEOUT_MS),
            ),
            dialog: optional_regex("dialog", self.dialog)?,
            rate_limited: optional_regex("rate_limited", self.rate_limited)?,
            rate_limit_reset,
            api_error: optional_regex("api_error", self.api_error)?,
            queued: optional_regex("queued", self.queued)?,
            interrupt: key(self.interrupt),
            quit: key(self.quit),
            foreground: self.foreground.unwrap_or_default(),
            verified,
            env: self.env.unwrap_or_default(),
        })
    }
}

/// A profile that cannot be used as written, or one that does not exist.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profile `{profile}`: {message}")]
    Invalid {
        profile: String,
        /// The TOML key at fault.
        key: &'static str,
        /// Byte range of the bad value in its TOML source, when there is one.
        span: Option<Range<usize>>,
        message: String,
    },
    #[error("unknown agent profile `{name}`\nhint: known profiles: {}", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
}

impl crate::error::Classify for ProfileError {
    fn exit(&self) -> crate::error::Exit {
        // A bad profile in swarm.toml reaches the user as a ConfigError (exit 2).
        crate::error::Exit::Failure
    }
}

/// A compiled profile, ready to classify screens.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// One line for people choosing a profile; may be empty.
    pub description: String,
    /// argv of the agent; the program `swarm` means this very executable.
    pub command: Vec<String>,
    /// Matches a screen whose input box is empty and ready for a prompt.
    pub ready: Regex,
    /// Matches a screen with text waiting in the input box.
    pub input_pending: Option<Regex>,
    /// Matches a screen of an agent working on a turn.
    pub busy: Option<Regex>,
    pub reset: Reset,
    /// Whether a reset command typed during a turn waits in the agent's queue and runs as
    /// the turn ends (rather than going to the model as a message, or being refused).
    pub reset_queues: bool,
    /// The least time between a paste and its Enter.
    pub settle: Duration,
    /// How many more times Enter is pressed when a paste stays in the input box.
    pub enter_retries: u32,
    /// How long an agent may take to show its ready screen after it starts.
    pub startup_timeout: Duration,
    /// Matches a blocking dialog that only a person may answer.
    pub dialog: Option<Regex>,
    /// Matches a screen saying the agent is rate-limited.
    pub rate_limited: Option<Regex>,
    /// Finds when a rate limit ends, in its capture `reset`.
    pub rate_limit_reset: Option<Regex>,
    /// Matches a turn the agent ended on its provider's errors (capture `what`: its words).
    pub api_error: Option<Regex>,
    /// Matches a screen with a prompt waiting in the agent's queue.
    pub queued: Option<Regex>,
    /// The tmux key name that interrupts a turn, if the agent has one.
    pub interrupt: Option<String>,
    /// The command typed to make the agent exit, if it has one.
    pub quit: Option<String>,
    /// The `#{pane_current_command}` names the agent runs as; empty means any.
    pub foreground: Vec<String>,
    /// Which version was checked against real screens, and when; `None` if never.
    pub verified: Option<String>,
    /// Environment variables set for the agent.
    pub env: BTreeMap<String, String>,
}

impl Profile {
    /// Reads a captured screen.
    ///
    /// A dialog wins over everything: it can sit above an input box that looks ready, and
    /// an Enter pressed into it picks its default, which is the unsafe answer. A rate limit
    /// comes next, as it can show beside a busy footer (and its popups are not dialogs for
    /// a person: Enter there switches the model). An API error the agent gave up on comes
    /// before the rest: its placeholder reads like typed text. Busy wins over a pending input,
    /// which wins over ready: an agent that is working can show a queued message and an
    /// empty box at once, and neither means "paste now".
    pub fn classify(&self, screen: &str) -> ScreenState {
        let matches = |re: &Option<Regex>| re.as_ref().is_some_and(|re| re.is_match(screen));
        if matches(&self.dialog) {
            ScreenState::Dialog
        } else if matches(&self.rate_limited) {
            ScreenState::RateLimited
        } else if matches(&self.api_error) {
            ScreenState::ApiError
        } else if matches(&self.busy) {
            ScreenState::Busy
        } else if matches(&self.input_pending) {
            ScreenState::InputPending
        } else if self.ready.is_match(screen) {
            ScreenState::Ready
        } else {
            ScreenState::Unknown
        }
    }

    /// Whether the screen shows a prompt waiting in the agent's queue: it was delivered,
    /// and the agent runs it after the current turn.
    pub fn is_queued(&self, screen: &str) -> bool {
        self.queued.as_ref().is_some_and(|re| re.is_match(screen))
    }

    /// When a rate limit ends, as the screen says it (for example `3pm (Europe/Paris)`):
    /// the newest time on screen, and of those, one that names its zone.
    pub fn rate_limit_reset(&self, screen: &str) -> Option<String> {
        let times: Vec<&str> = self
            .rate_limit_reset
            .as_ref()?
            .captures_iter(screen)
            .filter_map(|caps| Some(caps.name("reset")?.as_str().trim()))
            .filter(|t| !t.is_empty())
            .collect();
        let zoned = times.iter().rev().find(|t| t.contains('('));
        zoned.or(times.last()).map(|t| t.to_string())
    }

    /// The question a dialog on screen asks (Claude's `Do you want to create p.md?`), when
    /// the profile's `dialog` pattern matched one.
    pub fn dialog_question(&self, screen: &str) -> Option<String> {
        let found = self.dialog.as_ref()?.find_iter(screen).last()?;
        let question = found.as_str().trim();
        question.ends_with('?').then(|| question.to_owned())
    }

    /// What the agent said when it gave up on its provider's errors, if the screen shows
    /// that it did.
    pub fn api_error(&self, screen: &str) -> Option<String> {
        let caps = self.api_error.as_ref()?.captures_iter(screen).last()?;
        let what = caps
            .name("what")
            .unwrap_or_else(|| caps.get(0).expect("a match"));
        Some(
            what.as_str()
                .trim()
                .trim_end_matches(['…', ',', ' '])
                .to_owned(),
        )
    }

    /// Whether `front` (a pane's `#{pane_current_command}`) is this agent running, in a
    /// pane whose first process is `pid` (0: unknown). The profile's `foreground` names
    /// decide; without them, the program it was started with: the command's program, or
    /// the pane process's own. A REPL, a pager or a shell in front is never the agent.
    pub fn runs_as(&self, front: &str, pid: u32) -> bool {
        let names = self.programs(pid);
        names.is_empty() || names.iter().any(|name| name == front)
    }

    /// Whether the agent has left a pane for good, though the pane lives: something else
    /// is in front, and the pane's own process is no longer a program the profile starts
    /// (a wrapper went on to its next command, or the agent exec'd another program). A
    /// program the agent runs in front of itself (an editor, a pager) is not that: the
    /// pane's process is still the agent, and the pane is a person's for a while.
    pub fn agent_gone(&self, front: &str, pid: u32) -> bool {
        if self.runs_as(front, pid) {
            return false;
        }
        started_program(pid).is_some_and(|first| {
            !launched_programs(&self.command).contains(&first) && !self.foreground.contains(&first)
        })
    }

    /// The names [`Profile::runs_as`] accepts in front of a pane whose first process is
    /// `pid`; empty when nothing says (a profile without a command, an unknown process).
    pub fn programs(&self, pid: u32) -> Vec<String> {
        if !self.foreground.is_empty() {
            return self.foreground.clone();
        }
        let mut names = launched_programs(&self.command);
        if let Some(started) = started_program(pid) {
            names.push(started);
        }
        names.sort();
        names.dedup();
        names
    }
}

/// The program `argv` runs, as tmux names it in front: the basename of its first word past
/// `env` and its settings, and the interpreter of a `#!` script.
fn launched_programs(argv: &[String]) -> Vec<String> {
    let mut words = argv.iter().map(String::as_str).peekable();
    if words.peek().is_some_and(|w| basename(w) == "env") {
        words.next();
        while let Some(word) = words.next_if(|w| w.starts_with('-') || w.contains('=')) {
            // These two take a value of their own.
            if matches!(word, "-u" | "--unset" | "-C" | "--chdir") {
                words.next();
            }
        }
    }
    let Some(program) = words.next() else {
        return Vec::new();
    };
    let mut names = vec![basename(program).to_string()];
    names.extend(interpreter(program));
    // `sh -c 'exec my-agent ...'`: the agent is the script's program.
    if matches!(basename(program), "sh" | "bash" | "dash" | "zsh")
        && words.next() == Some("-c")
        && let Some(script) = words.next()
        && let Ok(script) = shell_words::split(script)
    {
        let rest: Vec<String> = script
            .into_iter()
            .skip_while(|w| w == "exec" || w.contains('='))
            .collect();
        names.extend(launched_programs(&rest));
    }
    names
}

/// The interpreter named on the `#!` line of `program` (found on `PATH` when it has no
/// slash): tmux shows it, not the script, in front.
fn interpreter(program: &str) -> Option<String> {
    let path = if program.contains('/') {
        std::path::PathBuf::from(program)
    } else {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())?
    };
    let mut head = [0u8; 256];
    let n = std::io::Read::read(&mut std::fs::File::open(path).ok()?, &mut head).ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?.strip_prefix("#!")?;
    let mut words = line.lines().next()?.split_whitespace();
    let first = basename(words.next()?);
    match first {
        "env" => words
            .find(|w| !w.starts_with('-'))
            .map(|w| basename(w).to_string()),
        other => Some(other.to_string()),
    }
}

/// The basename of the first word of process `pid`'s command line, as tmux reads it.
fn started_program(pid: u32) -> Option<String> {
    if pid == 0 {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let first = cmdline.split(|&b| b == 0).next()?;
    let first = std::str::from_utf8(first).ok()?.trim_start_matches('-');
    (!first.is_empty()).then(|| basename(first).to_string())
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The TOML of the built-in profile called `name`, parsed.
fn builtin_spec(name: &str) -> Option<ProfileSpec> {
    let (_, source) = BUILTINS.iter().find(|(n, _)| *n == name)?;
    // The built-ins are compiled in and covered by tests, so they always parse.
    Some(toml::from_str(source).expect("built-in profiles parse"))
}

/// The built-in profile called `name`.
pub fn builtin(name: &str) -> Option<Profile> {
    let spec = builtin_spec(name)?;
    Some(spec.compile(name).expect("built-in profiles compile"))
}

/// Names of the built-in profiles, sorted.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(name, _)| *name).collect()
}

/// The profile called `name`: a user profile, a built-in, or a user table laid over the
/// built-in of the same name (field by field).
pub fn resolve_profile(
    name: &str,
    user_profiles: &BTreeMap<String, ProfileSpec>,
) -> Result<Profile, ProfileError> {
    resolve_spec(name, user_profiles)?.compile(name)
}

/// The spec of the profile called `name`, before compiling: what `swarm profiles show`
/// prints.
pub fn resolve_spec(
    name: &str,
    user_profiles: &BTreeMap<String, ProfileSpec>,
) -> Result<ProfileSpec, ProfileError> {
    resolve_from(name, user_profiles, &mut Vec::new())
}

/// [`resolve_spec`], following `base` through `chain`: the user profiles that led here.
fn resolve_from(
    name: &str,
    user_profiles: &BTreeMap<String, ProfileSpec>,
    chain: &mut Vec<String>,
) -> Result<ProfileSpec, ProfileError> {
    let user = user_profiles.get(name).cloned();
    let Some(base) = user.as_ref().and_then(|spec| spec.base.clone()) else {
        return match (user, builtin_spec(name)) {
            (Some(user), Some(builtin)) => Ok(user.over(builtin)),
            (Some(spec), None) | (None, Some(spec)) => Ok(spec),
            (None, None) => Err(ProfileError::Unknown {
                name: name.to_owned(),
                known: known_names(user_profiles),
            }),
        };
    };
    let user = user.expect("a base comes from a user profile");
    let invalid = |message: String| ProfileError::Invalid {
        profile: name.to_owned(),
        key: "base",
        span: Some(base.span()),
        message,
    };
    chain.push(name.to_owned());
    let base_name = base.get_ref().as_str();
    // `[profiles.claude] base = "claude"` builds on the built-in of its own name.
    let inherited = if base_name == name {
        builtin_spec(name).ok_or_else(|| {
            invalid(format!(
                "base = {base_name:?} names the profile itself, and no built-in has its name
hint: name a built-in ({}) or another [profiles.NAME]",
                builtin_names().join(", ")
            ))
        })?
    } else if let Some(start) = chain.iter().position(|n| n == base_name) {
        let mut cycle = chain[start..].to_vec();
        cycle.push(base_name.to_owned());
        return Err(invalid(format!(
            "its bases form a cycle: {}
hint: let one of them build on a built-in, or on nothing",
            cycle.join(" → ")
        )));
    } else {
        match resolve_from(base_name, user_profiles, chain) {
            Err(ProfileError::Unknown { known, .. }) => {
                return Err(invalid(format!(
                    "base = {base_name:?} is not a known profile
hint: use one of {}, or define it in a [profiles.{base_name}] table",
                    known.join(", ")
                )));
            }
            other => other?,
        }
    };
    Ok(user.over(inherited))
}

/// Every profile name there is: the built-ins and `user_profiles`, sorted.
fn known_names(user_profiles: &BTreeMap<String, ProfileSpec>) -> Vec<String> {
    let mut known: Vec<String> = builtin_names().into_iter().map(String::from).collect();
    known.extend(user_profiles.keys().cloned());
    known.sort();
    known.dedup();
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 30-line sim-agent screen: transcript, then the four-line box the sim contract fixes.
    fn sim_screen(input: &str, status: &str) -> String {
        let mut lines = vec!["swarm sim-agent 0.1".to_owned(), String::new()];
        lines.push("sim> Write the intro section. {echoed from the last task}".to_owned());
        lines.push("  wrote docs/intro.md".to_owned());
        lines.push("  created .swarm/done/intro.done".to_owned());
        while lines.len() < 26 {
            lines.push(String::new());
        }
        let rule = "─".repeat(80);
        lines.push(rule.clone());
        lines.push(format!("sim> {input}"));
        lines.push(rule);
        lines.push(status.to_owned());
        lines.join("\n")
    }

    #[test]
    fn builtins_compile() {
        for name in builtin_names() {
            let profile = builtin(name).unwrap();
            assert_eq!(profile.name, name);
            assert!(!profile.description.is_empty(), "{name} has no description");
        }
        assert!(builtin("nope").is_none());
    }

    #[test]
    fn sim_profile_matches_its_contract() {
        let sim = builtin("sim").unwrap();
        assert_eq!(sim.command, ["swarm", "sim-agent"]);
        assert_eq!(sim.reset, Reset::Command("/clear".into()));
        assert_eq!(sim.settle, Duration::ZERO);
        assert_eq!(sim.enter_retries, 3);
        assert_eq!(sim.startup_timeout, Duration::from_secs(10));
    }

    #[test]
    fn classify_sim_screens() {
        let sim = builtin("sim").unwrap();
        let ready = sim_screen("", "[ready] 2 tasks done");
        assert_eq!(ready.lines().count(), 30);
        assert_eq!(sim.classify(&ready), ScreenState::Ready);
        let pending = sim_screen("[Pasted text #1 +5 lines, 300 chars]", "[ready]");
        assert_eq!(sim.classify(&pending), ScreenState::InputPending);
        let working = sim_screen("", "[working] ⠋ Write the intro section (3s)");
        assert_eq!(sim.classify(&working), ScreenState::Busy);
        let queued_while_working = sim_screen("next prompt", "[working] ⠙");
        assert_eq!(sim.classify(&queued_while_working), ScreenState::Busy);
        let wrapped = sim_screen(&format!("{}\nthe rest", "typed ".repeat(13)), "[ready]");
        assert_eq!(sim.classify(&wrapped), ScreenState::InputPending);
        let tight = "sim> the last task\n  done\n────\nsim> \n────\n[ready]";
        assert_eq!(sim.classify(tight), ScreenState::Ready);
        let starting = sim_screen("", "[starting]");
        assert_eq!(sim.classify(&starting), ScreenState::Unknown);
        assert_eq!(sim.classify(""), ScreenState::Unknown);
    }

    #[test]
    fn classify_claude_screens() {
        let claude = builtin("claude").unwrap();
        let rule = "─".repeat(60);
        let screen = |spinner: &str, input: &str, footer: &str| {
            format!(
                "● Done.\n\n{spinner}\n\n{rule}\n❯\u{a0}{input}\n{rule}\n  ⏵⏵ bypass permissions on{footer}\n"
            )
        };
        let idle = screen("✻ Crunched for 1s · done 1:22 PM", "", "");
        assert_eq!(claude.classify(&idle), ScreenState::Ready);
        let pasted = screen("", "[Pasted text #1 +12 lines]", "");
        assert_eq!(claude.classify(&pasted), ScreenState::InputPending);
        let busy = screen("✽ Elucidating…", "", " · esc to interrupt");
        assert_eq!(claude.classify(&busy), ScreenState::Busy);
        let narrow = screen("✽ Elucidating…", "", " · esc to …");
        assert_eq!(claude.classify(&narrow), ScreenState::Busy);
        let dialog = "Is this a project you created or one you trust?\n ❯ No, exit\n   Yes, I \
                      trust this folder\n\n Enter to confirm · Esc to cancel";
        assert_eq!(claude.classify(dialog), ScreenState::Dialog);
    }

    #[test]
    fn generic_is_ready_on_any_screen_and_restarts() {
        let generic = builtin("generic").unwrap();
        assert!(generic.command.is_empty());
        assert_eq!(generic.reset, Reset::Restart);
        assert_eq!(generic.classify("$ "), ScreenState::Ready);
        assert_eq!(generic.classify("  \n \n"), ScreenState::Unknown);
    }

    #[test]
    fn command_may_be_a_string() {
        let spec: ProfileSpec =
            toml::from_str("command = \"my-agent --model 'big one'\"\nready = 'x'").unwrap();
        let profile = spec.compile("mine").unwrap();
        assert_eq!(profile.command, ["my-agent", "--model", "big one"]);
    }

    #[test]
    fn user_table_overrides_builtin_field_by_field() {
        let user: ProfileSpec = toml::from_str("settle_ms = 500\nbusy = ''").unwrap();
        let profiles = BTreeMap::from([("sim".to_owned(), user)]);
        let sim = resolve_profile("sim", &profiles).unwrap();
        assert_eq!(sim.settle, Duration::from_millis(500));
        assert!(
            sim.busy.is_none(),
            "an empty pattern clears the built-in one"
        );
        assert_eq!(sim.command, ["swarm", "sim-agent"]);
        assert_eq!(sim.reset, Reset::Command("/clear".into()));
    }

    fn user(tables: &[(&str, &str)]) -> BTreeMap<String, ProfileSpec> {
        tables
            .iter()
            .map(|(name, toml)| (name.to_string(), toml::from_str(toml).unwrap()))
            .collect()
    }

    #[test]
    fn a_base_gives_every_field_the_profile_does_not_set() {
        let profiles = user(&[
            (
                "opus",
                "base = 'claude'\ncommand = ['claude', '--model', 'opus']",
            ),
            ("fast", "base = 'opus'\nsettle_ms = 10"),
            ("claude", "settle_ms = 700"),
        ]);
        let opus = resolve_profile("opus", &profiles).unwrap();
        let claude = resolve_profile("claude", &profiles).unwrap();
        assert_eq!(opus.name, "opus");
        assert_eq!(opus.command, ["claude", "--model", "opus"]);
        assert_eq!(opus.ready.as_str(), claude.ready.as_str());
        assert_eq!(opus.foreground, claude.foreground);
        // The base as swarm.toml changes it, not only the built-in.
        assert_eq!(opus.settle, Duration::from_millis(700));
        let fast = resolve_profile("fast", &profiles).unwrap();
        assert_eq!(fast.command, opus.command);
        assert_eq!(fast.settle, Duration::from_millis(10));
        let own = user(&[("sim", "base = 'sim'\nsettle_ms = 5")]);
        let sim = resolve_profile("sim", &own).unwrap();
        assert_eq!(sim.command, ["swarm", "sim-agent"]);
        assert!(resolve_spec("fast", &profiles).unwrap().base.is_none());
    }

    #[test]
    fn an_unknown_base_or_a_cycle_of_bases_names_the_profile() {
        let profiles = user(&[("mine", "base = 'claud'")]);
        let err = resolve_profile("mine", &profiles).unwrap_err();
        assert!(matches!(err, ProfileError::Invalid { key: "base", .. }));
        assert!(
            err.to_string()
                .starts_with("profile `mine`: base = \"claud\" is not a known profile"),
            "{err}"
        );
        let profiles = user(&[
            ("a", "base = 'b'"),
            ("b", "base = 'c'"),
            ("c", "base = 'a'"),
        ]);
        let err = resolve_profile("a", &profiles).unwrap_err().to_string();
        assert!(
            err.starts_with("profile `c`: its bases form a cycle: a → b → c → a"),
            "{err}"
        );
        let err = resolve_profile("x", &user(&[("x", "base = 'x'")])).unwrap_err();
        assert!(
            err.to_string().contains("names the profile itself"),
            "{err}"
        );
    }

    #[test]
    fn new_user_profile_needs_ready() {
        let user: ProfileSpec = toml::from_str("command = ['x']").unwrap();
        let profiles = BTreeMap::from([("mine".to_owned(), user)]);
        let err = resolve_profile("mine", &profiles).unwrap_err();
        assert!(
            matches!(err, ProfileError::Invalid { key: "ready", .. }),
            "{err}"
        );
    }

    #[test]
    fn bad_regex_names_profile_and_key() {
        let user: ProfileSpec = toml::from_str("ready = '(unclosed'").unwrap();
        let err = user.compile("mine").unwrap_err();
        assert!(matches!(err, ProfileError::Invalid { key: "ready", .. }));
        let message = err.to_string();
        assert!(
            message.starts_with("profile `mine`: `ready` is not a valid regex"),
            "{message}"
        );
    }

    #[test]
    fn unknown_profile_lists_known_names() {
        let profiles = BTreeMap::from([("mine".to_owned(), ProfileSpec::default())]);
        let err = resolve_profile("claud", &profiles).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown agent profile `claud`\nhint: known profiles: aider, claude, codex, gemini, generic, mine, ollama, opencode, qwen-code, sim"
        );
    }
}
