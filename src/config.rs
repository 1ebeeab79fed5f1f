//! swarm.toml: optional settings beside the plan, overridden by command-line flags.

use crate::agent::{self, Profile, ProfileError, ProfileSpec};
use crate::error::BadInput;
use crate::prompt::{self, PromptError, PromptTemplate};
use crate::scheduler::ScopeDefault;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

mod cost;
mod hosts;
mod isolation;
pub use cost::Costing;
pub use hosts::{HostConfig, HostSpec, RemoteSpec};
pub use isolation::{Isolation, IsolationKind};

pub use crate::tmux::TmuxConf;

const WORKERS: RangeInclusive<i64> = 1..=256;
const ATTEMPTS: RangeInclusive<i64> = 1..=100;
/// One second to a week.
const TIMEOUT: RangeInclusive<Duration> = Duration::from_secs(1)..=Duration::from_secs(604_800);

/// swarm.toml's `task_timeout`: seconds, or a duration as text (`"30m"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TimeSpec {
    Seconds(i64),
    Text(String),
}

/// swarm.toml's `workers`: how many workers run the default profile, or a pool per
/// profile (`{ claude = 3, codex = 1 }`), in the order written.
#[derive(Debug, Clone)]
pub enum WorkersSpec {
    Count(i64),
    Pools(Vec<(String, i64)>),
}

impl<'de> Deserialize<'de> for WorkersSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = WorkersSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a number of workers, or a pool per profile as in { claude = 3, codex = 1 }",
                )
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<WorkersSpec, E> {
                Ok(WorkersSpec::Count(n))
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<WorkersSpec, E> {
                Ok(WorkersSpec::Count(i64::try_from(n).unwrap_or(i64::MAX)))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<WorkersSpec, A::Error> {
                let mut pools = Vec::new();
                while let Some((name, n)) = map.next_entry::<Spanned<String>, i64>()? {
                    pools.push((name, n));
                }
                // The table comes sorted by name; people mean the order they wrote.
                pools.sort_by_key(|(name, _)| name.span().start);
                Ok(WorkersSpec::Pools(
                    pools
                        .into_iter()
                        .map(|(name, n)| (name.into_inner(), n))
                        .collect(),
                ))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `workers` once checked.
enum Workers {
    Count(usize),
    /// Profile names and their workers, in the order written.
    Pools(Vec<(String, usize)>),
}

/// The message for a task timeout outside [`TIMEOUT`].
fn timeout_out_of_range(what: &str) -> String {
    format!("{what} is out of range\nhint: use 1s to 7 days (604800 seconds)")
}
const DEFAULT_ATTEMPTS: u32 = 3;
/// How long one attempt may run when neither a flag nor swarm.toml says: long enough for
/// real work, short enough that a hung agent does not hold a run for ever. Time a worker
/// spends rate-limited, backing off an API error or waiting for a person is not counted.
const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(1800);

/// `--task-timeout` and swarm.toml's `task_timeout`: a duration, or `none` for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskTimeout {
    After(Duration),
    Off,
}

/// As `--task-timeout` takes it back: seconds, or `none`.
impl std::fmt::Display for TaskTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskTimeout::After(limit) => write!(f, "{}s", limit.as_secs()),
            TaskTimeout::Off => f.write_str("none"),
        }
    }
}

impl TaskTimeout {
    fn duration(self) -> Option<Duration> {
        match self {
            TaskTimeout::After(limit) => Some(limit),
            TaskTimeout::Off => None,
        }
    }
}

/// Reads `--task-timeout`: `none`, or a duration in range (`90`, `90s`, `10m`, `1h`).
pub fn parse_task_timeout(text: &str) -> Result<TaskTimeout, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(TaskTimeout::Off);
    }
    let limit = crate::duration::parse(text)?;
    if !TIMEOUT.contains(&limit) {
        return Err(timeout_out_of_range(&format!("`{text}`")));
    }
    Ok(TaskTimeout::After(limit))
}
const PANES: RangeInclusive<i64> = 4..=8;
const WIDTH: RangeInclusive<i64> = 40..=10_000;
const HEIGHT: RangeInclusive<i64> = 10..=10_000;
const DEFAULT_WORKERS: usize = 4;
const DEFAULT_AGENT: &str = "claude";
const DEFAULT_SESSION: &str = "swarm";
const DEFAULT_WIDTH: u16 = 200;
const DEFAULT_HEIGHT: u16 = 50;
const DEFAULT_PANES: usize = 4;

/// What `swarm init` writes: every key, commented out, showing its default.
pub const SAMPLE: &str = r#"# swarm.toml: settings for `swarm run` on the plan in this directory.
# Every key is optional; the values shown are the defaults or examples.
# Command-line flags win over this file.

# How many agents work at once, 1 to 256 (--workers): all of them run the profile of
# `agent`. Or a pool per profile, each running its own:
#   workers = { claude = 3, codex = 1 }
# A task goes only to its pool: `{agent=codex}` in PLAN.md, or `agent` for a task that
# names none. --workers N replaces the pools with N workers of `agent`.
# workers = 4

# The agent profile: a built-in (`swarm profiles` lists them: claude, codex, gemini,
# qwen-code, aider, opencode, ollama, generic, sim) or one of [profiles] below (--agent).
# With pools, the profile of the tasks that name none.
# agent = "claude"

# Replace the profile's command, keeping its other rules; split like a shell would
# (--agent-cmd). It applies to the profile chosen here, not to one chosen with --agent;
# with no agent set anywhere, the command runs under the `generic` profile.
# agent_cmd = "claude --dangerously-skip-permissions"

# The tmux config swarm's own server reads first, so that your prefix, mouse and
# copy-mode keys work there: by default yours (~/.tmux.conf or ~/.config/tmux/tmux.conf,
# as tmux finds it); a file relative to this directory; or "none". swarm's own options
# (remain-on-exit, base-index 0, ...) are applied after it.
# tmux_conf = "none"

# The prompt each agent gets: a minijinja template, inline or in a file relative to this
# directory, not both. Variables: task, id, context, output, sentinel, attempt, plan.
# The default asks for the task, names the output file if the task has {out=PATH}, and
# asks the agent to create the sentinel file when it is done.
# prompt = "{{ task }}\n\nWhen you have finished, create the empty file `{{ sentinel }}`."
# prompt_file = "prompt.md.j2"

# The tmux session, on swarm's own tmux server.
# session = "swarm"

# swarm's own tmux server socket: 1 to 64 letters, digits, - or _ (--socket).
# The default is swarm-<hash of this directory>.
# socket = "swarm-myproject"

# Deliveries a task gets before it is failed, 1 to 100 (--max-attempts).
# max_attempts = 3

# How long one attempt may run before the agent is interrupted and the task retried
# (--task-timeout): seconds, or "90s", "30m", "1h", or "none". Time a worker spends
# rate-limited, backing off an API error or waiting for a person does not count.
# task_timeout = "30m"

# What a task with no `{files=…}` may change: "none" (it runs beside anything) or
# "everything" (it runs beside no task with a scope: strict serial safety).
# scope_default = "none"

# Each task in a git worktree of its own, its work committed, checked by `verify` and
# landed on the landing branch through a merge queue (--isolate worktree): "none" or
# "worktree". `land` defaults to swarm/<your current branch>; `land_strategy` is
# "rebase", "merge" or "squash".
# isolation = "worktree"
# verify = "cargo test -q"
# verify_timeout = "30m"
# land = "swarm/integration"
# land_strategy = "rebase"

# What the run may spend, read from the agents' own records (README, "What it cost"):
# dispatch stops at `budget` (running tasks finish, unless `budget_hard`); a task over
# `task_budget` is stopped and failed.
# budget = "$20"
# budget_hard = false
# task_budget = "$2"

# A tmux message and a bell when a task is done or fails, when an agent needs you, and
# when the plan is done.
# notify = true

# Programs to run when a task is done, or fails: an array, or a line split like a shell
# would, but never run by a shell. They get SWARM_EVENT (done or failed), SWARM_TASK_ID,
# SWARM_TASK (its text), SWARM_SENTINEL, SWARM_TRANSCRIPT (the attempt's log),
# SWARM_REASON (failures only), SWARM_PLAN and SWARM_WORKSPACE in their environment, run
# in this directory, and write to .swarm/logs/notify.log.
# on_done = ["notify-send", "swarm: a task is done"]
# on_fail = "notify-send 'swarm: a task failed'"

# The size of each tmux window while nobody is attached (an attached terminal's size
# while someone is), and how many agents share one workers window (4 to 8).
# [window]
# width = 200
# height = 50
# panes = 4

# A profile of your own, or changes to the built-in of the same name (field by field).
# `base` inherits every field of another profile (a built-in or one of these tables)
# before the table's own, so that a second model of an agent is a few lines:
#   [profiles.opus]
#   base = "claude"
#   command = ["claude", "--dangerously-skip-permissions", "--model", "opus"]
# Patterns are regexes matched against the pane's screen.
# [profiles.claude]
# description = "Claude Code, unattended"
# command = ["claude", "--dangerously-skip-permissions"]
# ready = '(?m)^[^\S\n]*─{10,}[^\S\n]*\n[^\S\n]*❯'
# input_pending = '(?m)^[^\S\n]*─{10,}[^\S\n]*\n[^\S\n]*❯[^\S\n]*\S'
# busy = '· esc to|esc to interrupt'
# A prompt sent while the agent works waits in its queue; it counts as delivered.
# queued = 'Queued · |Press up to edit queued messages'
# A blocking dialog (trust, API key, login): swarm reports needs-you and presses nothing.
# dialog = '(?m)^\s*Enter to confirm · Esc to cancel|Unable to connect to Anthropic services|Select login method|Choose the text style|^\s*Do you want to (?:proceed|make this edit to \S+|create \S+)\?'
# A usage limit: swarm parks every worker of the profile until it lifts.
# rate_limited = '(?m)^[^\S\n]*⚠ Usage limit reached|Continuing (?:automatically at [^\n]*|shortly) · Esc to cancel|You.ve hit your [^\n]*limit[^\n]*\n(?:[^\S\n]*(?:● Usage limit reached[^\n]*)?\n)*[^\S\n]*─{10,}'
# When the limit ends: a regex with a capture named `reset`.
# rate_limit_reset = '(?m)(?:· resets |limit resets |continue automatically at )(?<reset>[^\n·]*?)\.?[^\S\n]*$'
# The agent gave up on API errors and ended the turn (capture `what`: its words).
# api_error = '(?m)● (?<what>API Error: [^\n]*)(?:\n(?:[^●\n][^\n]*)?)*\n[^\S\n]*❯[^\S\n]*Resend your message to try again|^[^\S\n]*❯[^\S\n]*Resend your message to try again[^\S\n]*$'
# The tmux key that interrupts a turn, and what to type to make the agent exit.
# interrupt = "Escape"
# quit = "/exit"
# The names `#{pane_current_command}` may show while the agent runs (never a shell).
# foreground = ["claude"]
# Which version was checked against real screens (or true / false).
# verified = "claude-code 2.1.331 on 2026-11-24"
# Environment variables for the agent.
# env = { DISABLE_AUTOUPDATER = "1" }
# reset = "/clear"
# settle_ms = 200
# enter_retries = 3
# startup_timeout_ms = 30000

# Other machines agents run on, reached with your own ssh setup; `swarm hosts check`
# checks them (docs/multihost.md).
# [[hosts]]
# name = "gpu1"
# ssh = "alice@gpu1.lan"
# workers = 8
# dir = "~/swarm/myrepo"
# agents = ["claude", "codex"]
# tags = ["gpu"]
# ssh_options = []
#
# [remote]
# lease_grace = "2m"
"#;

/// swarm.toml as written. Every key is optional.
///
/// Values keep their spans so that errors found after parsing still name the line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How many agents work at once, or a pool per profile.
    pub workers: Option<Spanned<WorkersSpec>>,
    /// The agent profile's name.
    pub agent: Option<Spanned<String>>,
    /// A command line replacing the profile's command.
    pub agent_cmd: Option<Spanned<String>>,
    /// An inline prompt template.
    pub prompt: Option<Spanned<String>>,
    /// A prompt template file, relative to the workspace.
    pub prompt_file: Option<Spanned<String>>,
    /// The tmux session name.
    pub session: Option<Spanned<String>>,
    /// The tmux config swarm's server reads first: a path, or `none`.
    pub tmux_conf: Option<Spanned<String>>,
    /// swarm's tmux server socket name.
    pub socket: Option<Spanned<String>>,
    /// Deliveries a task gets before it is failed.
    pub max_attempts: Option<Spanned<i64>>,
    /// How long one attempt may run before the agent is interrupted: seconds, `"30m"`, or
    /// `"none"`.
    pub task_timeout: Option<Spanned<TimeSpec>>,
    /// What a task with no `files` may change: "none" or "everything".
    pub scope_default: Option<Spanned<String>>,
    /// A tmux message and a bell on news.
    pub notify: Option<bool>,
    /// A program to run when a task is done.
    pub on_done: Option<Spanned<CommandSpec>>,
    /// A program to run when a task fails.
    pub on_fail: Option<Spanned<CommandSpec>>,
    /// Where tasks run: "none" or "worktree".
    pub isolation: Option<Spanned<String>>,
    /// A shell command that must pass before a task lands.
    pub verify: Option<Spanned<String>>,
    /// How long verify may run: seconds, `"10m"`, or `"none"`.
    pub verify_timeout: Option<Spanned<TimeSpec>>,
    /// The branch finished tasks land on.
    pub land: Option<Spanned<String>>,
    /// "rebase", "merge" or "squash".
    pub land_strategy: Option<Spanned<String>>,
    /// What the run may cost (`"$20"`): no task is handed out once it is spent.
    pub budget: Option<Spanned<cost::Amount>>,
    /// Interrupt running tasks too when the run's budget is reached.
    pub budget_hard: Option<bool>,
    /// What one task may cost over its attempts; a task over it fails.
    pub task_budget: Option<Spanned<cost::Amount>>,
    /// `[prices.MODEL]` tables: dollars per million tokens.
    #[serde(default)]
    pub prices: BTreeMap<String, Spanned<cost::PriceSpec>>,
    /// The `[window]` table.
    #[serde(default)]
    pub window: WindowConfig,
    /// `[profiles.NAME]` tables.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileSpec>,
    /// `[[hosts]]` tables: other machines agents may run on.
    #[serde(default)]
    pub hosts: Vec<HostSpec>,
    /// The `[remote]` table.
    #[serde(default)]
    pub remote: RemoteSpec,
    #[serde(skip)]
    source: Source,
}

/// A program as swarm.toml gives it: an argv array, or one line split like a shell would.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CommandSpec {
    Argv(Vec<String>),
    Line(String),
}

/// The `[window]` table of swarm.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Columns of each tmux window.
    pub width: Option<Spanned<i64>>,
    /// Rows of each tmux window.
    pub height: Option<Spanned<i64>>,
    /// Agents per workers window.
    pub panes: Option<Spanned<i64>>,
}

/// Where a config came from, to turn spans into `path:line`.
#[derive(Debug, Clone, Default)]
struct Source {
    path: PathBuf,
    text: String,
}

/// Problems with swarm.toml: bad TOML, unknown keys, wrong types or values (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// swarm.toml cannot be read; the I/O error is the message, not a cause to repeat.
    #[error(
        "{path}: cannot read: {error}\nhint: make swarm.toml a readable file, or move it away to use the defaults"
    )]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A bad command-line flag, or a choice that needs one (such as `generic` without
    /// `--agent-cmd`); kept in this type so that every `resolve` error exits 2.
    #[error(transparent)]
    Input(#[from] BadInput),
}

impl crate::error::Classify for ConfigError {
    fn exit(&self) -> crate::error::Exit {
        crate::error::Exit::BadInput
    }
}

/// Loads `path` if it exists.
pub fn load(path: &Path) -> Result<Option<Config>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Config::parse(&text, path).map(Some),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(ConfigError::Io {
            path: path.to_owned(),
            error,
        }),
    }
}

impl Config {
    /// Parses and checks `text`, read from `path`.
    ///
    /// Everything that can be checked without other files is checked here, so that a bad
    /// swarm.toml fails even when a flag would have overridden the bad key.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let source = Source {
            path: path.to_owned(),
            text: text.to_owned(),
        };
        let mut config: Config = toml::from_str(text).map_err(|err| {
            let line = err.span().map_or(1, |span| source.line(span.start));
            // serde names the Rust type; people know TOML's words.
            let mut message = err.message().trim_end().replace("i64", "an integer");
            // toml says only "duplicate key"; its span holds the key.
            if message.starts_with("duplicate key") {
                let key = err.span().and_then(|span| text.get(span)).unwrap_or("?");
                message = format!(
                    "duplicate key `{}`\nhint: a key may be set once per table; delete one \
                     of the two",
                    key.trim()
                );
            }
            source.invalid(line, message)
        })?;
        config.source = source;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.workers()?;
        self.window()?;
        self.session()?;
        self.socket()?;
        self.scope_default()?;
        self.isolation(None)?;
        self.costing()?;
        self.remote()?;
        self.agent_cmd()?;
        self.hook("on_done", &self.on_done)?;
        self.hook("on_fail", &self.on_fail)?;
        for name in self.profiles.keys() {
            self.profile(name)?;
        }
        if let Some(agent) = &self.agent {
            self.profile(agent.get_ref())?;
        }
        if let (Some(_), Some(file)) = (&self.prompt, &self.prompt_file) {
            return Err(self.invalid(
                file.span(),
                "`prompt` and `prompt_file` are both set\nhint: keep one of them",
            ));
        }
        self.inline_template()?;
        Ok(())
    }

    fn invalid(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        self.source
            .invalid(self.source.line(span.start), message.into())
    }

    fn ranged(
        &self,
        key: &str,
        value: &Option<Spanned<i64>>,
        range: RangeInclusive<i64>,
    ) -> Result<Option<i64>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        let n = *value.get_ref();
        if range.contains(&n) {
            Ok(Some(n))
        } else {
            Err(self.invalid(
                value.span(),
                format!(
                    "{key} = {n} is out of range\nhint: use {} to {}",
                    range.start(),
                    range.end()
                ),
            ))
        }
    }

    fn workers(&self) -> Result<Option<Workers>, ConfigError> {
        let Some(spec) = &self.workers else {
            return Ok(None);
        };
        let span = spec.span();
        let pools = match spec.get_ref() {
            WorkersSpec::Count(n) => {
                let count = Spanned::new(span, *n);
                // With hosts declared, every agent may run on them.
                let range = match self.hosts.is_empty() {
                    true => WORKERS,
                    false => 0..=*WORKERS.end(),
                };
                let n = self.ranged("workers", &Some(count), range)?;
                return Ok(n.map(|n| Workers::Count(n as usize)));
            }
            WorkersSpec::Pools(pools) => pools,
        };
        if pools.is_empty() {
            return Err(self.invalid(
                span,
                "workers = {} names no pool\nhint: give a profile its workers, as in \
                 `workers = { claude = 3 }`, or write a number",
            ));
        }
        let mut checked = Vec::with_capacity(pools.len());
        for (name, n) in pools {
            if !WORKERS.contains(n) {
                return Err(self.invalid(
                    span.clone(),
                    format!(
                        "workers: {name} = {n} is out of range\nhint: use 1 to {}",
                        WORKERS.end()
                    ),
                ));
            }
            self.pool_profile(name)?;
            checked.push((name.clone(), *n as usize));
        }
        let total: usize = checked.iter().map(|(_, n)| n).sum();
        if total as i64 > *WORKERS.end() {
            return Err(self.invalid(
                span,
                format!(
                    "workers: the pools add up to {total} workers\nhint: use {} at most in all",
                    WORKERS.end()
                ),
            ));
        }
        Ok(Some(Workers::Pools(checked)))
    }

    fn limits(&self) -> Result<(Option<u32>, Option<TaskTimeout>), ConfigError> {
        let attempts = self.ranged("max_attempts", &self.max_attempts, ATTEMPTS)?;
        let timeout = match &self.task_timeout {
            None => None,
            Some(spec) => Some(match spec.get_ref() {
                TimeSpec::Text(text) if text.trim().eq_ignore_ascii_case("none") => {
                    TaskTimeout::Off
                }
                time => {
                    let read = match time {
                        TimeSpec::Seconds(n) => u64::try_from(*n)
                            .map(Duration::from_secs)
                            .map_err(|_| format!("`{n}` is not a number of seconds")),
                        TimeSpec::Text(text) => crate::duration::parse(text),
                    };
                    let timeout = read
                        .map_err(|why| self.invalid(spec.span(), format!("task_timeout: {why}")))?;
                    if !TIMEOUT.contains(&timeout) {
                        return Err(
                            self.invalid(spec.span(), timeout_out_of_range("task_timeout = …"))
                        );
                    }
                    TaskTimeout::After(timeout)
                }
            }),
        };
        Ok((attempts.map(|n| n as u32), timeout))
    }

    /// Width, height and panes per workers window.
    fn window(&self) -> Result<(u16, u16, usize), ConfigError> {
        let window = &self.window;
        let width = self.ranged("width", &window.width, WIDTH)?;
        let height = self.ranged("height", &window.height, HEIGHT)?;
        let panes = self.ranged("panes", &window.panes, PANES)?;
        // The ranges above fit the target types.
        Ok((
            width.map_or(DEFAULT_WIDTH, |n| n as u16),
            height.map_or(DEFAULT_HEIGHT, |n| n as u16),
            panes.map_or(DEFAULT_PANES, |n| n as usize),
        ))
    }

    /// `tmux_conf`: absent, the person's own tmux config, found as tmux finds it; `none`,
    /// none; else a file, relative to the workspace, that must exist.
    fn tmux_conf(&self, workspace: &Path) -> Result<TmuxConf, ConfigError> {
        let Some(conf) = &self.tmux_conf else {
            return Ok(TmuxConf::Default);
        };
        let text = conf.get_ref();
        if text == "none" {
            return Ok(TmuxConf::None);
        }
        let path = workspace.join(text);
        if !path.is_file() {
            return Err(self.invalid(
                conf.span(),
                format!(
                    "tmux_conf = {text:?}: no such file\nhint: name a tmux config relative to \
                     this directory, or write `none` to read none"
                ),
            ));
        }
        Ok(TmuxConf::File(path))
    }

    fn session(&self) -> Result<String, ConfigError> {
        let Some(session) = &self.session else {
            return Ok(DEFAULT_SESSION.to_owned());
        };
        let name = session.get_ref();
        let bad = name.is_empty()
            || name
                .chars()
                .any(|c| c == ':' || c == '.' || c.is_whitespace() || c.is_control());
        if bad {
            // tmux reads `:` and `.` in a target as window and pane separators.
            return Err(self.invalid(
                session.span(),
                format!(
                    "session = {name:?} is not a usable tmux session name\nhint: use letters, \
                     digits, `-` or `_`"
                ),
            ));
        }
        Ok(name.clone())
    }

    fn socket(&self) -> Result<Option<String>, ConfigError> {
        let Some(socket) = &self.socket else {
            return Ok(None);
        };
        let name = socket.get_ref();
        if !is_socket_name(name) {
            return Err(self.invalid(
                socket.span(),
                format!("socket = {name:?} is not a valid socket name\nhint: {SOCKET_HINT}"),
            ));
        }
        Ok(Some(name.clone()))
    }

    fn scope_default(&self) -> Result<ScopeDefault, ConfigError> {
        let Some(value) = &self.scope_default else {
            return Ok(ScopeDefault::None);
        };
        match value.get_ref().as_str() {
            "none" => Ok(ScopeDefault::None),
            "everything" => Ok(ScopeDefault::Everything),
            other => Err(self.invalid(
                value.span(),
                format!(
                    "scope_default = {other:?} is not a scope\nhint: use \"none\" (a task without `files=` runs beside anything) or \"everything\" (it runs beside no scoped task)"
                ),
            )),
        }
    }

    fn agent_cmd(&self) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(line) = &self.agent_cmd else {
            return Ok(None);
        };
        split_command(line.get_ref())
            .map(Some)
            .map_err(|(why, hint)| {
                self.invalid(line.span(), format!("agent_cmd {why}\nhint: {hint}"))
            })
    }

    /// `on_done` or `on_fail` (named `key`), as argv.
    fn hook(
        &self,
        key: &str,
        spec: &Option<Spanned<CommandSpec>>,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(spec) = spec else { return Ok(None) };
        let split = match spec.get_ref() {
            CommandSpec::Line(line) => split_command(line).map_err(|(why, _)| why),
            CommandSpec::Argv(argv) if argv.first().is_some_and(|p| !p.is_empty()) => {
                Ok(argv.clone())
            }
            CommandSpec::Argv(_) => Err("is empty".into()),
        };
        split.map(Some).map_err(|why| {
            self.invalid(
                spec.span(),
                format!(
                    "{key} {why}\nhint: name a program, as an array (`[\"notify-send\", \"done\"]`) or a line"
                ),
            )
        })
    }

    /// The profile `name`, with swarm.toml's tables laid over the built-ins.
    fn profile(&self, name: &str) -> Result<Profile, ConfigError> {
        let span = self.agent.as_ref().map_or(0..0, Spanned::span);
        self.profile_named(name, |known| {
            let message = format!(
                "agent = {name:?} is not a known profile\nhint: use one of {}, or define \
                 it in a [profiles.{name}] table",
                known.join(", ")
            );
            self.invalid(span, message)
        })
    }

    /// The profile of the pool `name` in `workers`.
    fn pool_profile(&self, name: &str) -> Result<Profile, ConfigError> {
        let span = self.workers.as_ref().map_or(0..0, Spanned::span);
        self.profile_named(name, |known| {
            let message = format!(
                "workers: {name:?} is not a known profile\nhint: use one of {}, or define \
                 it in a [profiles.{name}] table",
                known.join(", ")
            );
            self.invalid(span, message)
        })
    }

    /// The profile `name`; `unknown` says what is wrong when there is none, given the
    /// names there are.
    fn profile_named(
        &self,
        name: &str,
        unknown: impl FnOnce(Vec<String>) -> ConfigError,
    ) -> Result<Profile, ConfigError> {
        agent::resolve_profile(name, &self.profiles).map_err(|err| match err {
            ProfileError::Unknown { known, .. } => unknown(known),
            ProfileError::Invalid { ref span, .. } => {
                let line = span.clone().map_or_else(
                    || self.profile_table_line(name),
                    |span| self.source.line(span.start),
                );
                self.source.invalid(line, err.to_string())
            }
        })
    }

    /// The line of `[profiles.NAME]`, for a profile missing a key.
    fn profile_table_line(&self, name: &str) -> usize {
        #[derive(Deserialize)]
        struct Tables {
            #[serde(default)]
            profiles: BTreeMap<Spanned<String>, serde::de::IgnoredAny>,
        }
        // The text parsed once already; it only lacks the spans of the table names.
        toml::from_str::<Tables>(&self.source.text)
            .ok()
            .and_then(|tables| {
                let (key, _) = tables.profiles.get_key_value(name)?;
                Some(self.source.line(key.span().start))
            })
            .unwrap_or(1)
    }

    fn inline_template(&self) -> Result<Option<PromptTemplate>, ConfigError> {
        let Some(prompt) = &self.prompt else {
            return Ok(None);
        };
        PromptTemplate::new(Some(prompt.get_ref()))
            .map(Some)
            .map_err(|err| {
                let start = prompt.span().start;
                let mut line = self.source.line(start);
                // TOML drops the newline right after an opening `"""`, so the template's
                // first line sits on the next line of the file.
                let opening = &self.source.text[start..];
                if ["\"\"\"\n", "\"\"\"\r\n", "'''\n", "'''\r\n"]
                    .iter()
                    .any(|quote| opening.starts_with(quote))
                {
                    line += 1;
                }
                template_error(&self.source.path, line, "prompt template", err)
            })
    }

    fn template(&self, workspace: &Path) -> Result<PromptTemplate, ConfigError> {
        if let Some(template) = self.inline_template()? {
            return Ok(template);
        }
        let Some(file) = &self.prompt_file else {
            return PromptTemplate::new(None).map_err(|err| {
                template_error(&self.source.path, 1, "default prompt template", err)
            });
        };
        let path = workspace.join(file.get_ref());
        let text = std::fs::read_to_string(&path).map_err(|err| {
            self.invalid(
                file.span(),
                format!(
                    "cannot read prompt_file {}: {err}\nhint: the path is relative to the \
                     plan's directory",
                    path.display()
                ),
            )
        })?;
        PromptTemplate::new(Some(&text)).map_err(|err| template_error(&path, 1, "template", err))
    }
}

impl Source {
    /// The 1-based line holding byte `offset`.
    fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn invalid(&self, line: usize, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            line,
            message,
        }
    }
}

/// A template error placed in its file: the template's line `n` is the file's line
/// `first_line + n - 1`.
fn template_error(path: &Path, first_line: usize, what: &str, err: PromptError) -> ConfigError {
    match err {
        PromptError::Template { line, message } => ConfigError::Invalid {
            path: path.to_owned(),
            line: first_line + line - 1,
            message: format!(
                "{what}: {message}\nhint: the template may use {}",
                prompt::VARIABLES
            ),
        },
        other => ConfigError::Invalid {
            path: path.to_owned(),
            line: first_line,
            message: other.to_string(),
        },
    }
}

const SOCKET_HINT: &str = "use 1 to 64 letters, digits, `-` or `_`";

fn is_socket_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Splits the command line given to `flag` (`--agent-cmd`) like a shell would.
pub fn split_flag(flag: &str, line: &str) -> Result<Vec<String>, BadInput> {
    split_command(line).map_err(|(why, hint)| BadInput::new(format!("{flag} {why}")).hint(hint))
}

/// Splits a command line like a shell would; the error is (what is wrong, hint).
fn split_command(line: &str) -> Result<Vec<String>, (String, &'static str)> {
    match shell_words::split(line) {
        Ok(argv) if argv.is_empty() => Err(("is empty".into(), "name the agent's program")),
        Ok(argv) => Ok(argv),
        Err(err) => Err((
            format!("{line:?} cannot be split: {err}"),
            "check its quotes; the line is split like a shell would",
        )),
    }
}

/// Command-line flags that override swarm.toml.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--workers`.
    pub workers: Option<u32>,
    /// `--agent`.
    pub agent: Option<String>,
    /// `--agent-cmd`.
    pub agent_cmd: Option<String>,
    /// `--socket`.
    pub socket: Option<String>,
    /// `--max-attempts`.
    pub max_attempts: Option<u32>,
    /// `--task-timeout`: a duration, or none.
    pub task_timeout: Option<TaskTimeout>,
    /// `--isolate`.
    pub isolate: Option<IsolationKind>,
}

/// Workers that run one profile.
#[derive(Debug, Clone)]
pub struct Pool {
    pub profile: Profile,
    /// How many of them work at once.
    pub workers: usize,
}

/// Everything a run needs to know, from flags, swarm.toml and defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The workers, a pool per profile, in the order swarm.toml gives them: worker ids
    /// count through them pool after pool.
    pub pools: Vec<Pool>,
    /// The default profile (`agent`), its command replaced by `agent_cmd` if given: the
    /// profile of tasks that name none, and of `swarm spawn`.
    pub profile: Profile,
    /// The prompt template.
    pub template: PromptTemplate,
    /// The tmux session name.
    pub session: String,
    /// The tmux config swarm's server reads before swarm's own options.
    pub tmux_conf: TmuxConf,
    /// The tmux socket name, if set; the caller derives the default from the workspace.
    pub socket: Option<String>,
    /// Columns of each tmux window.
    pub width: u16,
    /// Rows of each tmux window.
    pub height: u16,
    /// Agents per workers window.
    pub panes_per_window: usize,
    /// Deliveries a task gets before it is failed.
    pub max_attempts: u32,
    /// How long one attempt may run before the agent is interrupted.
    pub task_timeout: Option<std::time::Duration>,
    /// What to tell people, and how.
    pub notify: Notify,
    /// What a task with no `{files=…}` may change.
    pub scope_default: ScopeDefault,
    /// Worktrees, verify and landing, when tasks are isolated.
    pub isolation: Option<Isolation>,
    /// Prices and budgets.
    pub costing: Costing,
    /// The workers on other hosts, after this machine's in worker order.
    pub remote_pools: Vec<RemotePool>,
    /// How long a silent host keeps its tasks (`[remote] lease_grace`).
    pub lease_grace: std::time::Duration,
}

/// Workers on another host, all running one profile.
#[derive(Debug, Clone)]
pub struct RemotePool {
    pub host: HostConfig,
    pub profile: Profile,
    pub workers: usize,
}

/// How news reaches people (swarm.toml's `notify`, `on_done` and `on_fail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// A tmux message and a bell.
    pub tmux: bool,
    pub on_done: Option<Vec<String>>,
    pub on_fail: Option<Vec<String>>,
}

/// Combines flags, swarm.toml (if any) and defaults; `workspace` is the plan's directory.
pub fn resolve(
    config: Option<Config>,
    overrides: &Overrides,
    workspace: &Path,
) -> Result<Settings, ConfigError> {
    let config = config.unwrap_or_default();

    let workers = match overrides.workers {
        Some(n) if WORKERS.contains(&i64::from(n)) => Workers::Count(n as usize),
        Some(n) => {
            return Err(BadInput::new(format!("--workers {n} is out of range"))
                .hint(format!("use --workers 1 to {}", WORKERS.end()))
                .into());
        }
        None => config.workers()?.unwrap_or(Workers::Count(DEFAULT_WORKERS)),
    };
    // `workers = 0` passed only with [[hosts]], each of which has 1 worker or more.
    let remote = config.remote()?;

    let (config_attempts, config_timeout) = config.limits()?;
    let max_attempts = match overrides.max_attempts {
        Some(n) if ATTEMPTS.contains(&i64::from(n)) => n,
        Some(n) => {
            return Err(BadInput::new(format!("--max-attempts {n} is out of range"))
                .hint(format!("use --max-attempts 1 to {}", ATTEMPTS.end()))
                .into());
        }
        None => config_attempts.unwrap_or(DEFAULT_ATTEMPTS),
    };
    let task_timeout = overrides
        .task_timeout
        .or(config_timeout)
        .unwrap_or(TaskTimeout::After(DEFAULT_TASK_TIMEOUT))
        .duration();

    let socket = match &overrides.socket {
        Some(name) if is_socket_name(name) => Some(name.clone()),
        Some(name) => {
            return Err(
                BadInput::new(format!("--socket {name:?} is not a valid socket name"))
                    .hint(SOCKET_HINT)
                    .into(),
            );
        }
        None => config.socket()?,
    };

    let flag_cmd = overrides
        .agent_cmd
        .as_deref()
        .map(|line| split_flag("--agent-cmd", line))
        .transpose()?;
    // swarm.toml's agent_cmd was written for swarm.toml's agent, so `--agent` drops it.
    let (mut profile, command) = match &overrides.agent {
        Some(name) => (profile_for_flag(&config, name)?, flag_cmd),
        None => {
            let command = match flag_cmd {
                Some(argv) => Some(argv),
                None => config.agent_cmd()?,
            };
            let name = match (&config.agent, &command) {
                (Some(agent), _) => agent.get_ref().as_str(),
                (None, Some(_)) => "generic",
                (None, None) => DEFAULT_AGENT,
            };
            (config.profile(name)?, command)
        }
    };
    if let Some(argv) = command {
        profile.command = argv;
    }
    if profile.command.is_empty() {
        return Err(BadInput::new(format!(
            "the `{}` profile has no command to start",
            profile.name
        ))
        .hint("pass --agent-cmd 'PROGRAM ARGS', or set agent_cmd in swarm.toml")
        .into());
    }

    let pools = match workers {
        Workers::Count(workers) => vec![Pool {
            profile: profile.clone(),
            workers,
        }],
        Workers::Pools(pools) => {
            let mut out = Vec::with_capacity(pools.len());
            for (name, workers) in pools {
                // The default profile is the one `agent_cmd` and `--agent-cmd` change.
                let profile = match name == profile.name {
                    true => profile.clone(),
                    false => config.pool_profile(&name)?,
                };
                if profile.command.is_empty() {
                    return Err(BadInput::new(format!(
                        "workers: the `{name}` profile has no command to start"
                    ))
                    .hint(format!(
                        "give it one in a [profiles.{name}] table of swarm.toml (`base = \"{name}\"` and a `command`)"
                    ))
                    .into());
                }
                out.push(Pool { profile, workers });
            }
            out
        }
    };

    let mut remote_pools = Vec::new();
    for host in remote.hosts.iter().filter(|h| h.workers > 0) {
        // A host runs the run's own profile if it may, else the first it lists.
        let name = match host.agents.contains(&profile.name) || host.agents.is_empty() {
            true => profile.name.clone(),
            false => host.agents[0].clone(),
        };
        let host_profile = match name == profile.name {
            true => profile.clone(),
            false => config.pool_profile(&name)?,
        };
        remote_pools.push(RemotePool {
            host: host.clone(),
            profile: host_profile,
            workers: host.workers,
        });
    }

    let isolation = config.isolation(overrides.isolate)?;
    let (width, height, panes_per_window) = config.window()?;
    Ok(Settings {
        remote_pools,
        lease_grace: remote.lease_grace,
        notify: Notify {
            tmux: config.notify.unwrap_or(true),
            on_done: config.hook("on_done", &config.on_done)?,
            on_fail: config.hook("on_fail", &config.on_fail)?,
        },
        max_attempts,
        task_timeout,
        pools,
        template: config.template(workspace)?,
        session: config.session()?,
        scope_default: config.scope_default()?,
        isolation,
        costing: config.costing()?,
        tmux_conf: config.tmux_conf(workspace)?,
        profile,
        socket,
        width,
        height,
        panes_per_window,
    })
}

impl Settings {
    /// Whether a pool of this run runs profile `name`.
    pub fn runs_agent(&self, name: &str) -> bool {
        self.pools.iter().any(|p| p.profile.name == name)
            || self.remote_pools.iter().any(|p| p.profile.name == name)
    }

    /// The profile of each worker, by worker id: this machine's, then the hosts'.
    pub fn worker_profiles(&self) -> Vec<&Profile> {
        let local = self
            .pools
            .iter()
            .flat_map(|p| std::iter::repeat_n(&p.profile, p.workers));
        let remote = self
            .remote_pools
            .iter()
            .flat_map(|p| std::iter::repeat_n(&p.profile, p.workers));
        local.chain(remote).collect()
    }

    /// Every open task with `{tags=…}` has a host with all of them (and workers of its
    /// profile) to go to. Otherwise nothing would ever take it.
    fn check_tags(&self, tasks: &[crate::plan::Task], plan: &Path) -> Result<(), BadInput> {
        let served = |t: &crate::plan::Task| {
            let profile = t.agent.as_deref().unwrap_or(&self.profile.name);
            self.remote_pools.iter().any(|p| {
                p.profile.name == profile && t.tags.iter().all(|tag| p.host.tags.contains(tag))
            })
        };
        let stray = tasks
            .iter()
            .filter(|t| !t.checked && !t.tags.is_empty())
            .find(|t| !served(t));
        let Some(task) = stray else {
            return Ok(());
        };
        let tags = task.tags.join(",");
        Err(BadInput::new(format!(
            "{}:{}: `{{tags={tags}}}`: no [[hosts]] in swarm.toml with workers of the task's profile has all of these tags",
            plan.display(),
            task.line
        ))
        .hint(format!(
            "add `tags = [{}]` to a [[hosts]] table of swarm.toml, or drop the attribute",
            task.tags
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// How many workers run on this machine; the hosts' come after them.
    pub fn local_workers(&self) -> usize {
        self.pools.iter().map(|p| p.workers).sum()
    }

    /// The pools as the scheduler knows them: profile names and sizes.
    pub fn scheduler_pools(&self) -> Vec<crate::scheduler::Pool> {
        self.pools
            .iter()
            .map(|p| crate::scheduler::Pool {
                profile: p.profile.name.clone(),
                workers: p.workers,
            })
            .collect()
    }

    /// Every open task goes to a profile some pool runs: the one it asks for with
    /// `{agent=…}`, or the default. Otherwise nothing would ever take it.
    pub fn check_agents(&self, tasks: &[crate::plan::Task], plan: &Path) -> Result<(), BadInput> {
        self.check_tags(tasks, plan)?;
        let stray = tasks
            .iter()
            .filter(|t| !t.checked)
            .find(|t| !self.runs_agent(t.agent.as_deref().unwrap_or(&self.profile.name)));
        let Some(task) = stray else {
            return Ok(());
        };
        let at = format!("{}:{}", plan.display(), task.line);
        let names: Vec<String> = self
            .pools
            .iter()
            .map(|p| format!("`{}`", p.profile.name))
            .collect();
        let runs = format!("this run's workers run {}", names.join(", "));
        Err(match &task.agent {
            Some(agent) => BadInput::new(format!(
                "{at}: `{{agent={agent}}}`: no worker of this run runs the `{agent}` profile"
            ))
            .hint(format!(
                "{runs}: give `{agent}` a pool in swarm.toml (`workers = {{ {} = 2, {agent} = 1 }}`), or drop the attribute",
                self.profile.name
            )),
            None => BadInput::new(format!(
                "{at}: the task names no profile, and no worker of this run runs the default, `{}`",
                self.profile.name
            ))
            .hint(format!(
                "{runs}: set `agent` in swarm.toml to one of them, add `{} = N` to `workers`, or give the task `{{agent=…}}`",
                self.profile.name
            )),
        })
    }
}

fn profile_for_flag(config: &Config, name: &str) -> Result<Profile, ConfigError> {
    match agent::resolve_profile(name, &config.profiles) {
        Err(ProfileError::Unknown { known, .. }) => Err(BadInput::new(format!(
            "--agent {name}: unknown agent profile"
        ))
        .hint(format!(
            "--agent takes one of: {}, or a [profiles.NAME] of swarm.toml",
            known.join(", ")
        ))
        .into()),
        // A profile that exists but does not compile is swarm.toml's fault: name its line.
        Err(ProfileError::Invalid { .. }) => config.profile(name),
        Ok(profile) => Ok(profile),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Reset;
    use std::time::Duration;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("swarm.toml"))
    }

    /// The error's full message, to check both the `path:line` and the advice.
    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn resolved(text: &str, overrides: &Overrides) -> Result<Settings, ConfigError> {
        resolve(
            Some(parse(text).unwrap()),
            overrides,
            Path::new("/nonexistent"),
        )
    }

    #[test]
    fn notify_programs_are_arrays_or_lines_and_never_empty() {
        let settings = resolved(
            "notify = false\non_done = \"notify-send 'a task is done'\"\non_fail = [\"say\", \"$X; y\"]\n",
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            settings.notify,
            Notify {
                tmux: false,
                on_done: Some(vec!["notify-send".into(), "a task is done".into()]),
                on_fail: Some(vec!["say".into(), "$X; y".into()]),
            }
        );
        assert!(resolved("", &Overrides::default()).unwrap().notify.tmux);
        assert!(error("\non_fail = ''\n").starts_with("swarm.toml:2: on_fail is empty"));
        assert!(error("on_done = ['']\n").starts_with("swarm.toml:1: on_done is empty"));
        assert!(error("on_done = \"a 'b\"\n").contains("cannot be split"));
    }

    #[test]
    fn defaults_without_a_file() {
        let missing = load(Path::new("/nonexistent/swarm.toml")).unwrap();
        assert!(missing.is_none());
        let overrides = Overrides::default();
        let settings = resolve(None, &overrides, Path::new("/nonexistent")).unwrap();
        assert_eq!(settings.worker_profiles().len(), 4);
        assert_eq!(settings.profile.name, "claude");
        assert_eq!(settings.session, "swarm");
        assert_eq!(settings.socket, None);
        assert_eq!((settings.width, settings.height), (200, 50));
        assert_eq!(settings.panes_per_window, 4);
    }

    #[test]
    fn every_key() {
        let text = r#"
workers = 8
agent = "sim"
agent_cmd = "swarm sim-agent --think-ms 10"
prompt = "{{ task }} -> `{{ sentinel }}`"
session = "work"
socket = "swarm-test_1"

[window]
width = 120
height = 40
panes = 6
"#;
        let settings = resolved(text, &Overrides::default()).unwrap();
        assert_eq!(settings.worker_profiles().len(), 8);
        assert_eq!(settings.profile.name, "sim");
        assert_eq!(
            settings.profile.command,
            ["swarm", "sim-agent", "--think-ms", "10"]
        );
        assert_eq!(settings.session, "work");
        assert_eq!(settings.socket.as_deref(), Some("swarm-test_1"));
        assert_eq!((settings.width, settings.height), (120, 40));
        assert_eq!(settings.panes_per_window, 6);
    }

    #[test]
    fn syntax_error_names_its_line() {
        insta::assert_snapshot!(error("workers = 4\n\nagent = \"sim\n"), @r#"swarm.toml:3: invalid basic string, expected `"`"#);
    }

    #[test]
    fn unknown_key_in_a_nested_table_names_its_line() {
        let message = error("workers = 4\n[window]\nwidth = 100\nwidht = 100\n");
        assert!(
            message.starts_with("swarm.toml:4: unknown field `widht`"),
            "{message}"
        );
        let message = error("[profiles.sim]\nsettle_ms = 1\n\nbsy = 'x'\n");
        assert!(
            message.starts_with("swarm.toml:4: unknown field `bsy`"),
            "{message}"
        );
    }

    #[test]
    fn wrong_type_names_its_line() {
        let message = error("agent = \"sim\"\nworkers = \"four\"\n");
        assert!(
            message.starts_with("swarm.toml:2: invalid type: string"),
            "{message}"
        );
        let message = error("[window]\n\npanes = 4.5\n");
        assert!(
            message.starts_with("swarm.toml:3: invalid type"),
            "{message}"
        );
    }

    #[test]
    fn out_of_range_values_name_their_line() {
        insta::assert_snapshot!(error("agent = \"sim\"\n\nworkers = 0\n"), @"
        swarm.toml:3: workers = 0 is out of range
        hint: use 1 to 256
        ");
        insta::assert_snapshot!(error("workers = 257"), @"
        swarm.toml:1: workers = 257 is out of range
        hint: use 1 to 256
        ");
        insta::assert_snapshot!(error("[window]\nwidth = 100\npanes = 9\n"), @"
        swarm.toml:3: panes = 9 is out of range
        hint: use 4 to 8
        ");
    }

    #[test]
    fn a_duplicate_key_is_named() {
        insta::assert_snapshot!(error("workers = 2\nworkers = 3\n"), @"
        swarm.toml:2: duplicate key `workers`
        hint: a key may be set once per table; delete one of the two
        ");
        let message = error("[profiles.x]\ncommand = 'a'\n command = 'b'\n");
        assert!(
            message.starts_with("swarm.toml:3: duplicate key `command`"),
            "{message}"
        );
    }

    #[test]
    fn an_undefined_template_name_is_named() {
        let message = error("prompt = \"\"\"\nDo {{ task }}\nby {{ deadline }}\n\"\"\"\n");
        assert!(
            message.starts_with("swarm.toml:3: prompt template: undefined name `deadline`"),
            "{message}"
        );
    }

    #[test]
    fn scope_default_is_none_unless_it_says_everything() {
        let none = resolved("", &Overrides::default()).unwrap();
        assert_eq!(none.scope_default, ScopeDefault::None);
        let all = resolved("scope_default = \"everything\"", &Overrides::default()).unwrap();
        assert_eq!(all.scope_default, ScopeDefault::Everything);
        let message = error("workers = 2\nscope_default = \"all\"\n");
        assert!(
            message.starts_with("swarm.toml:2: scope_default = \"all\" is not a scope"),
            "{message}"
        );
    }

    #[test]
    fn a_task_may_ask_only_for_the_profile_the_run_runs() {
        let settings = resolved("agent = \"sim\"", &Overrides::default()).unwrap();
        let plan = "- [ ] a {agent=sim}\n- [x] b {agent=codex}\n- [ ] c {agent=codex}\n";
        let tasks = crate::plan::parse(plan, Path::new("PLAN.md")).unwrap();
        assert!(
            settings
                .check_agents(&tasks[..2], Path::new("PLAN.md"))
                .is_ok()
        );
        let err = settings
            .check_agents(&tasks, Path::new("PLAN.md"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "PLAN.md:3: `{agent=codex}`: no worker of this run runs the `codex` profile"
            ),
            "{err}"
        );
    }

    fn pools(settings: &Settings) -> Vec<(String, usize)> {
        settings
            .pools
            .iter()
            .map(|p| (p.profile.name.clone(), p.workers))
            .collect()
    }

    #[test]
    fn workers_may_be_a_pool_per_profile_in_the_order_written() {
        let text = "agent = 'sim'\nagent_cmd = 'swarm sim-agent --think-ms 5'\nworkers = { sim = 2, codex = 1 }\n";
        let settings = resolved(text, &Overrides::default()).unwrap();
        assert_eq!(pools(&settings), [("sim".into(), 2), ("codex".into(), 1)]);
        assert_eq!(settings.worker_profiles().len(), 3);
        let names: Vec<&str> = settings
            .worker_profiles()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["sim", "sim", "codex"]);
        // agent_cmd changes the default profile, and so its pool.
        assert_eq!(
            settings.pools[0].profile.command,
            ["swarm", "sim-agent", "--think-ms", "5"]
        );
        let codex = crate::agent::builtin("codex").unwrap();
        assert_eq!(settings.pools[1].profile.command, codex.command);
        // --workers N is N workers of the default profile, as before.
        let flag = Overrides {
            workers: Some(3),
            ..Overrides::default()
        };
        assert_eq!(pools(&resolved(text, &flag).unwrap()), [("sim".into(), 3)]);
    }

    #[test]
    fn a_number_of_workers_is_one_pool_of_the_default_profile() {
        let settings = resolved("workers = 4\nagent = 'sim'\n", &Overrides::default()).unwrap();
        assert_eq!(pools(&settings), [("sim".into(), 4)]);
        let settings = resolved("", &Overrides::default()).unwrap();
        assert_eq!(pools(&settings), [("claude".into(), 4)]);
    }

    #[test]
    fn bad_pools_name_their_line() {
        insta::assert_snapshot!(error("agent = 'sim'\nworkers = { sim = 2, codx = 1 }\n"), @r#"
        swarm.toml:2: workers: "codx" is not a known profile
        hint: use one of aider, claude, codex, gemini, generic, ollama, opencode, qwen-code, sim, or define it in a [profiles.codx] table
        "#);
        insta::assert_snapshot!(error("\nworkers = { sim = 0 }\n"), @"
        swarm.toml:2: workers: sim = 0 is out of range
        hint: use 1 to 256
        ");
        let message = error("workers = {}\n");
        assert!(
            message.starts_with("swarm.toml:1: workers = {} names no pool"),
            "{message}"
        );
        let message = error("workers = { sim = 200, codex = 100 }\n");
        assert!(message.contains("add up to 300 workers"), "{message}");
        let message = error("workers = { sim = 'two' }\n");
        assert!(
            message.starts_with("swarm.toml:1: invalid type: string"),
            "{message}"
        );
        let message = resolved("workers = { generic = 1 }\n", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("workers: the `generic` profile has no command to start"),
            "{message}"
        );
    }

    #[test]
    fn a_profile_inherits_its_base_and_changes_its_command() {
        let text = "workers = { sim = 1, quick = 2 }\nagent = 'sim'\n\n[profiles.quick]\nbase = 'sim'\ncommand = ['swarm', 'sim-agent', '--think-ms', '1']\n";
        let settings = resolved(text, &Overrides::default()).unwrap();
        let quick = &settings.pools[1].profile;
        let sim = crate::agent::builtin("sim").unwrap();
        assert_eq!(quick.name, "quick");
        assert_eq!(quick.command, ["swarm", "sim-agent", "--think-ms", "1"]);
        assert_eq!(quick.ready.as_str(), sim.ready.as_str());
        assert_eq!(quick.reset, sim.reset);
    }

    #[test]
    fn an_unknown_base_or_a_cycle_of_bases_is_named_with_its_line() {
        let message = error("workers = 2\n[profiles.opus]\nbase = 'claud'\n");
        assert!(
            message.starts_with(
                "swarm.toml:3: profile `opus`: base = \"claud\" is not a known profile"
            ),
            "{message}"
        );
        let message = error("[profiles.a]\nbase = 'b'\n[profiles.b]\nbase = 'a'\n");
        assert!(
            message.starts_with("swarm.toml:")
                && message.contains("its bases form a cycle: a → b → a"),
            "{message}"
        );
    }

    #[test]
    fn a_task_without_a_profile_needs_a_pool_for_the_default() {
        let text = "agent = 'claude'\nworkers = { sim = 2, codex = 1 }\n";
        let settings = resolved(text, &Overrides::default()).unwrap();
        let plan = "- [ ] a {agent=sim}\n- [ ] b {agent=codex}\n- [ ] c\n";
        let tasks = crate::plan::parse(plan, Path::new("PLAN.md")).unwrap();
        assert!(
            settings
                .check_agents(&tasks[..2], Path::new("PLAN.md"))
                .is_ok()
        );
        let err = settings
            .check_agents(&tasks, Path::new("PLAN.md"))
            .unwrap_err();
        insta::assert_snapshot!(err, @"
        PLAN.md:3: the task names no profile, and no worker of this run runs the default, `claude`
        hint: this run's workers run `sim`, `codex`: set `agent` in swarm.toml to one of them, add `claude = N` to `workers`, or give the task `{agent=…}`
        ");
    }

    #[test]
    fn bad_socket_and_session_name_their_line() {
        insta::assert_snapshot!(error("workers = 2\nsocket = \"my socket\"\n"), @r#"
        swarm.toml:2: socket = "my socket" is not a valid socket name
        hint: use 1 to 64 letters, digits, `-` or `_`
        "#);
        let message = error("session = \"a:b\"");
        assert!(
            message.starts_with("swarm.toml:1: session = \"a:b\""),
            "{message}"
        );
    }

    #[test]
    fn bad_regex_in_a_profile_names_its_line() {
        let message = error("[profiles.mine]\ncommand = ['mine']\nready = '(oops'\n");
        assert!(
            message.starts_with("swarm.toml:3: profile `mine`: `ready` is not a valid regex"),
            "{message}"
        );
    }

    #[test]
    fn profile_missing_ready_names_its_table() {
        let message = error("workers = 2\n\n[profiles.mine]\ncommand = ['mine']\n");
        assert!(
            message.starts_with("swarm.toml:3: profile `mine`: has no `ready` pattern"),
            "{message}"
        );
    }

    #[test]
    fn unknown_agent_in_config_names_its_line() {
        insta::assert_snapshot!(error("workers = 2\nagent = \"claud\"\n"), @r#"
        swarm.toml:2: agent = "claud" is not a known profile
        hint: use one of aider, claude, codex, gemini, generic, ollama, opencode, qwen-code, sim, or define it in a [profiles.claud] table
        "#);
    }

    #[test]
    fn bad_agent_cmd_names_its_line() {
        let message = error("\nagent_cmd = \"claude 'unclosed\"\n");
        assert!(message.starts_with("swarm.toml:2: agent_cmd"), "{message}");
        let message = error("agent_cmd = \"  \"\n");
        assert!(
            message.starts_with("swarm.toml:1: agent_cmd is empty"),
            "{message}"
        );
    }

    #[test]
    fn prompt_and_prompt_file_conflict() {
        let message = error("prompt = 'x {{ sentinel }}'\nprompt_file = 'p.j2'\n");
        assert!(
            message.starts_with("swarm.toml:2: `prompt` and `prompt_file`"),
            "{message}"
        );
    }

    #[test]
    fn inline_template_error_names_the_config_line() {
        let text = "workers = 2\nprompt = \"\"\"\nDo {{ task }}.\nThen {{ tsk }}.\n\"\"\"\n";
        let message = error(text);
        assert!(
            message.starts_with("swarm.toml:4: prompt template: undefined"),
            "{message}"
        );
    }

    #[test]
    fn prompt_file_is_read_from_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.j2"), "Do: {{ task }}\n").unwrap();
        let config = parse("prompt_file = 'p.j2'").unwrap();
        let settings = resolve(Some(config), &Overrides::default(), dir.path()).unwrap();
        let task = crate::plan::Task {
            id: crate::plan::TaskId("t".into()),
            text: "it".into(),
            context: String::new(),
            checked: false,
            line: 1,
            checkbox: 3,
            output: None,
            ..Default::default()
        };
        let prompt = settings
            .template
            .render(&task, Path::new("t.done"), 1, "PLAN.md");
        assert_eq!(prompt.unwrap(), "Do: it");

        std::fs::write(dir.path().join("p.j2"), "ok\n{{ nope }}").unwrap();
        let config = parse("prompt_file = 'p.j2'").unwrap();
        let err = resolve(Some(config), &Overrides::default(), dir.path()).unwrap_err();
        let expected = format!(
            "{}:2: template: undefined",
            dir.path().join("p.j2").display()
        );
        assert!(err.to_string().starts_with(&expected), "{err}");

        let config = parse("\nprompt_file = 'missing.j2'").unwrap();
        let err = resolve(Some(config), &Overrides::default(), dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("swarm.toml:2: cannot read prompt_file"),
            "{err}"
        );
    }

    #[test]
    fn the_task_timeout_is_half_an_hour_unless_told_and_may_be_none() {
        let thirty = Some(std::time::Duration::from_secs(1800));
        assert_eq!(
            resolved("", &Overrides::default()).unwrap().task_timeout,
            thirty
        );
        let off = resolved("task_timeout = 'none'\n", &Overrides::default()).unwrap();
        assert_eq!(off.task_timeout, None);
        let flag = Overrides {
            task_timeout: Some(parse_task_timeout("none").unwrap()),
            ..Overrides::default()
        };
        assert_eq!(
            resolved("task_timeout = 60\n", &flag).unwrap().task_timeout,
            None
        );
        let after = |n| Ok(TaskTimeout::After(Duration::from_secs(n)));
        assert_eq!(parse_task_timeout("90"), after(90));
        assert_eq!(parse_task_timeout("10m"), after(600));
        assert!(parse_task_timeout("0").is_err() && parse_task_timeout("soon").is_err());
        let err = resolved("task_timeout = 'later'\n", &Overrides::default()).unwrap_err();
        assert!(
            err.to_string().starts_with("swarm.toml:1: task_timeout:"),
            "{err}"
        );
    }

    #[test]
    fn task_timeouts_read_as_seconds_or_with_a_unit() {
        let timeout = |text: &str| {
            resolved(text, &Overrides::default())
                .map(|s| s.task_timeout)
                .map_err(|e| e.to_string())
        };
        let secs = |n| Ok::<_, String>(Some(Duration::from_secs(n)));
        assert_eq!(timeout("task_timeout = 90\n"), secs(90));
        assert_eq!(timeout("task_timeout = '10m'\n"), secs(600));
        assert_eq!(timeout("task_timeout = \"1h 30m\"\n"), secs(5400));
        let err = timeout("\ntask_timeout = 'soon'\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("swarm.toml:2:") && err.contains("10m"),
            "{err}"
        );
        let err = timeout("task_timeout = '30d'\n").unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        let flag = Overrides {
            task_timeout: Some(TaskTimeout::After(Duration::from_secs(600))),
            ..Overrides::default()
        };
        assert_eq!(
            resolved("task_timeout = 5\n", &flag).unwrap().task_timeout,
            secs(600).unwrap()
        );
    }

    #[test]
    fn flags_beat_the_config() {
        let text = "workers = 2\nagent = 'claude'\nagent_cmd = 'claude --fast'\nsocket = 'a'\nmax_attempts = 5\ntask_timeout = 60\n";
        let overrides = Overrides {
            workers: Some(6),
            agent: Some("sim".into()),
            agent_cmd: None,
            socket: Some("b".into()),
            max_attempts: Some(2),
            task_timeout: None,
            isolate: None,
        };
        let settings = resolved(text, &overrides).unwrap();
        assert_eq!(settings.worker_profiles().len(), 6);
        assert_eq!(settings.max_attempts, 2);
        assert_eq!(
            settings.task_timeout,
            Some(std::time::Duration::from_secs(60))
        );
        assert_eq!(settings.socket.as_deref(), Some("b"));
        assert_eq!(settings.profile.name, "sim");
        // swarm.toml's agent_cmd was meant for its own agent, not for `--agent sim`.
        assert_eq!(settings.profile.command, ["swarm", "sim-agent"]);

        let overrides = Overrides {
            agent_cmd: Some("claude --slow".into()),
            ..Overrides::default()
        };
        let settings = resolved(text, &overrides).unwrap();
        assert_eq!(settings.profile.name, "claude");
        assert_eq!(settings.profile.command, ["claude", "--slow"]);
    }

    #[test]
    fn agent_cmd_alone_means_generic() {
        let overrides = Overrides {
            agent_cmd: Some("my-agent --yes".into()),
            ..Overrides::default()
        };
        let settings = resolved("", &overrides).unwrap();
        assert_eq!(settings.profile.name, "generic");
        assert_eq!(settings.profile.command, ["my-agent", "--yes"]);
    }

    #[test]
    fn generic_without_a_command_is_bad_input() {
        let overrides = Overrides {
            agent: Some("generic".into()),
            ..Overrides::default()
        };
        let err = resolved("", &overrides).unwrap_err();
        insta::assert_snapshot!(err, @"
        the `generic` profile has no command to start
        hint: pass --agent-cmd 'PROGRAM ARGS', or set agent_cmd in swarm.toml
        ");
    }

    #[test]
    fn bad_flags_are_bad_input_naming_the_flag() {
        let bad = [
            Overrides {
                workers: Some(0),
                ..Overrides::default()
            },
            Overrides {
                workers: Some(300),
                ..Overrides::default()
            },
            Overrides {
                socket: Some("a/b".into()),
                ..Overrides::default()
            },
            Overrides {
                agent: Some("nope".into()),
                ..Overrides::default()
            },
            Overrides {
                agent_cmd: Some("".into()),
                ..Overrides::default()
            },
            Overrides {
                agent_cmd: Some("a 'b".into()),
                ..Overrides::default()
            },
        ];
        for overrides in bad {
            let err = resolved("", &overrides).unwrap_err();
            let ConfigError::Input(input) = &err else {
                panic!("{overrides:?}: not bad input: {err}");
            };
            assert!(input.hint.is_some(), "{overrides:?}: no hint: {err}");
            assert!(input.message.starts_with("--"), "{overrides:?}: {err}");
        }
    }

    #[test]
    fn unknown_agent_flag_lists_the_profiles() {
        let overrides = Overrides {
            agent: Some("claud".into()),
            ..Overrides::default()
        };
        let err = resolved("[profiles.mine]\ncommand = 'm'\nready = 'x'\n", &overrides);
        insta::assert_snapshot!(err.unwrap_err(), @"
        --agent claud: unknown agent profile
        hint: --agent takes one of: aider, claude, codex, gemini, generic, mine, ollama, opencode, qwen-code, sim, or a [profiles.NAME] of swarm.toml
        ");
    }

    #[test]
    fn user_profile_is_merged_over_the_builtin() {
        let text = "agent = 'sim'\n[profiles.sim]\nsettle_ms = 400\nreset = 'restart'\n";
        let profile = resolved(text, &Overrides::default()).unwrap().profile;
        assert_eq!(profile.settle, Duration::from_millis(400));
        assert_eq!(profile.reset, Reset::Restart);
        assert_eq!(profile.command, ["swarm", "sim-agent"]);
        assert_eq!(profile.enter_retries, 3);
    }

    #[test]
    fn sample_parses() {
        let config = parse(SAMPLE).unwrap();
        assert!(config.workers.is_none() && config.profiles.is_empty());
    }

    /// SAMPLE with every commented-out key or table switched on, except `skip`.
    fn uncommented(skip: &str) -> String {
        let key = regex::Regex::new(r"^# (\[\[?[a-z.]+\]\]?|[a-z_]+ = .*)$").unwrap();
        SAMPLE
            .lines()
            .map(|line| match key.captures(line) {
                Some(toml) if !line.starts_with(skip) => format!("{}\n", &toml[1]),
                _ => format!("{line}\n"),
            })
            .collect()
    }

    #[test]
    fn sample_with_its_keys_uncommented_parses() {
        for skip in ["# prompt_file", "# prompt ="] {
            let text = uncommented(skip);
            let config = parse(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));
            assert!(matches!(
                config.workers.as_ref().map(|w| w.get_ref()),
                Some(WorkersSpec::Count(4))
            ));
            assert!(config.window.panes.is_some());
            let profile = &config.profiles["claude"];
            assert!(profile.busy.is_some() && profile.startup_timeout_ms.is_some());
            assert_eq!(
                config.remote().unwrap().hosts[0].host.dest,
                "alice@gpu1.lan"
            );
        }
        let text = uncommented("# prompt_file");
        let settings = resolved(&text, &Overrides::default()).unwrap();
        assert_eq!(settings.profile.name, "claude");
        assert_eq!(
            settings.profile.command,
            ["claude", "--dangerously-skip-permissions"]
        );
    }

    #[test]
    fn sample_profile_matches_the_builtin() {
        let text = uncommented("# prompt_file");
        let sample = resolved(&text, &Overrides::default()).unwrap().profile;
        let builtin = crate::agent::builtin("claude").unwrap();
        assert_eq!(sample.ready.as_str(), builtin.ready.as_str());
        assert_eq!(
            sample.input_pending.unwrap().as_str(),
            builtin.input_pending.unwrap().as_str()
        );
        assert_eq!(
            sample.busy.unwrap().as_str(),
            builtin.busy.unwrap().as_str()
        );
        let pattern = |re: Option<regex::Regex>| re.map(|re| re.as_str().to_owned());
        assert_eq!(pattern(sample.dialog), pattern(builtin.dialog));
        assert_eq!(pattern(sample.queued), pattern(builtin.queued));
        assert_eq!(pattern(sample.rate_limited), pattern(builtin.rate_limited));
        assert_eq!(
            pattern(sample.rate_limit_reset),
            pattern(builtin.rate_limit_reset)
        );
        assert_eq!(pattern(sample.api_error), pattern(builtin.api_error));
        assert_eq!(sample.foreground, builtin.foreground);
        assert_eq!(sample.verified, builtin.verified);
        assert_eq!(sample.env["DISABLE_AUTOUPDATER"], "1");
    }
}
