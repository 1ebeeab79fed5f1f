//! What each MCP tool takes: serde structs whose doc comments become the JSON schemas the
//! client sees (schemars), so an agent learns the arguments from the tool list alone.

use schemars::JsonSchema;
use serde::Deserialize;

/// `workers`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct Workers {
    /// Only workers ready for a task: idle, not paused, needing nobody.
    #[serde(default)]
    pub idle: bool,
}

/// `spawn`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Spawn {
    /// How many workers to add (1 to 256).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 256))]
    pub count: u32,
    /// The agent profile (`claude`, `codex`, `sim`, ...) [default: swarm.toml's `agent`].
    pub agent: Option<String>,
    /// Replace the command the profile starts, keeping its other rules.
    pub agent_cmd: Option<String>,
}

fn one() -> u32 {
    1
}

/// `send`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Send {
    /// The worker, as `workers` names it (`w2`).
    pub worker: String,
    /// The prompt. Start it with `Task: `: an agent CLI runs a paste that starts with `/`
    /// or `!` as a command.
    pub text: String,
}

/// `wait`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct Wait {
    /// Wait until these files exist (paths relative to the plan's directory), such as the
    /// sentinels of the tasks in flight.
    #[serde(default)]
    pub done: Vec<String>,
    /// Or: wait until these workers are idle (`["w0"]`); `[]` means every worker.
    pub idle: Option<Vec<String>>,
    /// Until one of them holds, not all.
    #[serde(default)]
    pub any: bool,
    /// Give up after this many seconds [default: 30, at most 60]: call `wait` again to
    /// wait longer. The result says `timed_out: true` when the time ran out.
    pub timeout_secs: Option<u64>,
}

/// `capture`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Capture {
    /// The worker, as `workers` names it (`w2`).
    pub worker: String,
}

/// `plan`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct Plan {
    /// `read` (the default) lists the tasks; `add` appends an open task; `check` checks a
    /// finished task off.
    #[serde(default)]
    pub action: PlanAction,
    /// `add`: the new task's line, without `- [ ] ` (one line; may end with `{#id}`,
    /// `{after=ID}` or `{out=PATH}`).
    pub text: Option<String>,
    /// `check`: the task, by id or number as `read` lists them.
    pub task: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlanAction {
    #[default]
    Read,
    Add,
    Check,
}

/// `logs`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Logs {
    /// The task: its id, a prefix only its id starts with, or its number.
    pub task: String,
    /// Which attempt's transcript [default: the latest].
    pub attempt: Option<u32>,
}

/// `show`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Show {
    /// The task: its id, a prefix only its id starts with, or its number.
    pub task: String,
}
