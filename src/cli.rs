//! The command line: every subcommand and flag, with help people can read.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Turn a markdown checklist into finished work by driving a swarm of agent CLIs in tmux.
#[derive(Debug, Parser)]
#[command(name = "swarm", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work through the plan: start the tmux session, dispatch tasks, check them off.
    Run(RunArgs),
    /// Attach to this workspace's running swarm (detaching leaves it running).
    Attach(AttachArgs),
    /// Show the tasks and workers of this workspace's swarm.
    Status(StatusArgs),
    /// End this workspace's swarm (its own tmux server, nothing else).
    Stop(Workspace),
    /// Stop handing out tasks, to one worker (`w2`) or to all; running tasks go on.
    Pause(WorkerArgs),
    /// Hand out tasks again, to one worker or to all.
    Resume(WorkerArgs),
    /// Try a failed or skipped task again, with fresh attempts.
    Retry(TaskArgs),
    /// Do not do a task; if it is running, its agent is interrupted.
    Skip(TaskArgs),
    /// Print a task's transcript (its latest attempt), with terminal escapes stripped.
    Logs(LogsArgs),
    /// Show a task's change in an isolated run: its branch, or its landed commits.
    Diff(TaskArgs),
    /// Show a task's receipts (each attempt's stages, with times), tokens and cost.
    Show(ShowArgs),
    /// List the workers and what they do (`--json` for scripts).
    Workers(WorkersArgs),
    /// Print what a worker's pane shows right now.
    Capture(CaptureArgs),
    /// Start worker agents in swarm's tmux session, for scripts and LLM orchestrators.
    ///
    /// Returns once every new agent is ready. Exit 0 ready, 1 an agent did not start, 2 bad
    /// input or `swarm run` drives this plan (its workers are its own).
    Spawn(SpawnArgs),
    /// Give a worker a prompt: a guarded paste, then Enter once it settles, confirmed.
    ///
    /// Never into a dead pane, a shell, copy mode, or an input box holding someone else's
    /// text. Exit 0 delivered, 1 not delivered (the message says why), 2 bad input
    /// (nothing was typed).
    Send(SendArgs),
    /// Wait until files exist (`--done`) or workers are idle (`--idle`).
    ///
    /// Prints what holds. Exit 0 when all of it (`--any`: some of it) holds, 1 when it never
    /// can (a worker's agent died), 124 when the timeout passes first, 2 bad input.
    Wait(WaitArgs),
    /// Serve swarm's primitives as MCP tools on stdio, for an agent that orchestrates.
    ///
    /// Tools: workers, spawn, send, wait (at most 60 s a call), capture, status, plan (read,
    /// add a task, check one off), logs and show. Claude Code starts it from the `.mcp.json`
    /// that `swarm init --llm-orchestrator` writes. Paths are relative to the plan's
    /// directory.
    Mcp(Workspace),
    /// A live dashboard of the running swarm (tasks, workers, progress), with keys to steer it.
    Dashboard(Workspace),
    /// Print a shell completion script (`source <(swarm completions bash)`): it completes
    /// task ids, workers and profiles from the workspace too.
    Completions(CompletionsArgs),
    /// Print the man page (roff) of swarm, or of one command, on stdout.
    #[command(hide = true)]
    Man(ManArgs),
    /// Write a commented swarm.toml, and a sample PLAN.md if there is none.
    Init(InitArgs),
    /// Run a 12-task sample plan with 4 simulated agents in a temporary workspace.
    Demo(DemoArgs),
    /// List the agent profiles (built-in and swarm.toml's), or show one as TOML.
    Profiles(ProfilesArgs),
    /// Check the machines of swarm.toml's `[[hosts]]` over ssh (`swarm hosts check`).
    Hosts(HostsArgs),
    /// The built-in simulated agent (a stand-in for an LLM CLI in demos and tests).
    SimAgent(crate::sim::SimArgs),
}

/// Which workspace, and which tmux server, a command is about.
#[derive(Debug, Clone, Args)]
pub struct Workspace {
    /// The plan file; its directory is the workspace.
    #[arg(long, value_name = "FILE", default_value = "PLAN.md")]
    pub plan: PathBuf,
    /// swarm's tmux server socket name (default: swarm-<hash of the workspace path>).
    #[arg(long, value_name = "NAME")]
    pub socket: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct AttachArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// Attach to swarm's session on this `[[hosts]]` machine (over ssh), where its
    /// workers' agents run, instead of this machine's.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// How many agents work at once [default: 4, or swarm.toml's `workers`].
    // Negative numbers are values, so that `--workers -1` is told its range, not that
    // `-1` is an unknown flag.
    #[arg(long, short = 'w', value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: Option<u32>,
    /// The agent profile (`swarm run --agent sim`, `--agent generic`, ...).
    #[arg(long, value_name = "PROFILE")]
    pub agent: Option<String>,
    /// Replace the command the profile starts, keeping its other rules.
    #[arg(long, value_name = "CMD")]
    pub agent_cmd: Option<String>,
    /// Deliveries a task gets before it is failed [default: 3].
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: Option<u32>,
    /// How long one attempt may run before the agent is interrupted and the task retried
    /// (`90`, `90s`, `10m`, `1h`), or `none`; time lost to rate limits, API errors and
    /// waiting for a person does not count [default: 30m].
    #[arg(long, value_name = "D|none", allow_negative_numbers = true,
          value_parser = crate::config::parse_task_timeout)]
    pub task_timeout: Option<crate::config::TaskTimeout>,
    /// Where tasks run: `worktree` gives each task a git worktree of its own, and lands
    /// its work on the landing branch through a merge queue [default: swarm.toml's
    /// `isolation`, else none].
    #[arg(long, value_name = "HOW")]
    pub isolate: Option<crate::config::IsolationKind>,
    /// Do not attach: print progress on stderr and exit when the plan is done.
    #[arg(long)]
    pub headless: bool,
    /// Set internally when the orchestrator runs inside window 0.
    #[arg(long, hide = true)]
    pub in_window: bool,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    pub json: bool,
    /// One line, `swarm 7/12 ✓ 1 ✗ · ETA 3m`: what tmux's status line shows.
    #[arg(long, conflicts_with = "json")]
    pub line: bool,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// The worker, as `swarm status` names it (`w2`, or `2`); all workers if left out.
    #[arg(value_name = "WORKER", conflicts_with = "all")]
    pub worker: Option<String>,
    /// Every worker (the default).
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TaskArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// The task: its id, a prefix only its id starts with, or its number (`3`), as
    /// `swarm status` shows them.
    #[arg(value_name = "TASK")]
    pub task: String,
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// The task: its id, a prefix only its id starts with, or its number (`3`), as
    /// `swarm status` shows them.
    #[arg(value_name = "TASK")]
    pub task: String,
    /// Which attempt's transcript [default: the latest].
    #[arg(long, value_name = "N")]
    pub attempt: Option<u32>,
    /// Keep printing what the agent writes until the task stops running.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Print the pane's bytes as recorded, escape sequences and all.
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// The task: its id, a prefix only its id starts with, or its number (`3`), as
    /// `swarm status` shows them.
    #[arg(value_name = "TASK")]
    pub task: String,
    /// Print JSON for scripts (schema in docs/cli.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct WorkersArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// Only workers ready for a task (idle, not paused, needing nobody).
    #[arg(long)]
    pub idle: bool,
    /// Print JSON for scripts (schema in docs/cli.md).
    #[arg(long)]
    pub json: bool,
    /// Keep redrawing until swarm's tmux server ends (what window 0 shows for `swarm spawn`).
    #[arg(long, hide = true)]
    pub watch: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CaptureArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// The worker, as `swarm status` names it (`w2`, or `2`).
    #[arg(value_name = "WORKER")]
    pub worker: String,
}

#[derive(Debug, Clone, Args)]
pub struct SpawnArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// How many workers to add.
    #[arg(value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub count: u32,
    /// The agent profile [default: swarm.toml's `agent`, or claude].
    #[arg(long, value_name = "PROFILE")]
    pub agent: Option<String>,
    /// Replace the command the profile starts, keeping its other rules.
    #[arg(long, value_name = "CMD")]
    pub agent_cmd: Option<String>,
    /// Run CMD in window 0 of the new session: the LLM that orchestrates, as in
    /// `--orchestrator "claude 'Read ORCHESTRATOR.md and follow it'"` (this swarm is first on
    /// its PATH). Without it, window 0 lists the workers.
    #[arg(long, value_name = "CMD")]
    pub orchestrator: Option<String>,
    /// Print the new workers as JSON (the schema of `swarm workers --json`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// The worker, as `swarm workers` names it (`w2`, or `2`).
    #[arg(value_name = "WORKER")]
    pub worker: String,
    /// Send this file's text (`-`: standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    pub file: Option<PathBuf>,
    /// The text to send, as one argument (quote it; `--` before a text that starts with `-`).
    #[arg(value_name = "TEXT", required_unless_present = "file")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("until").required(true).args(["done", "idle"]))]
pub struct WaitArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// Until these files exist (paths relative to the current directory).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub done: Vec<PathBuf>,
    /// Until these workers' agents are idle (every worker if none is named).
    #[arg(long, value_name = "WORKER", num_args = 0..)]
    pub idle: Option<Vec<String>>,
    /// Until one of them holds, not all.
    #[arg(long)]
    pub any: bool,
    /// Give up after this long (`90`, `90s`, `5m`, `1h`) and exit 124 [default: never].
    #[arg(long, value_name = "D", value_parser = crate::duration::parse)]
    pub timeout: Option<Duration>,
    /// Print what holds and what does not as JSON (schema in docs/cli.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
    /// A script that completes commands and flags only, without calling swarm (task ids,
    /// workers and profiles are completed by asking swarm at each Tab otherwise).
    #[arg(long = "static")]
    pub r#static: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    pub show: Option<ProfilesCommand>,
    /// The plan file; swarm.toml beside it may define more profiles.
    #[arg(long, value_name = "FILE", default_value = "PLAN.md", global = true)]
    pub plan: PathBuf,
    /// Print the list as JSON: an array of {name, description, verified, command}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ProfilesCommand {
    /// Print one profile as TOML, swarm.toml's changes included.
    Show {
        /// The profile's name, as `swarm profiles` lists it.
        name: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct HostsArgs {
    #[command(subcommand)]
    pub command: HostsCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum HostsCommand {
    /// For each `[[hosts]]` host, over ssh: tmux, git, inotify-tools, the agents and their
    /// logins, sshd's MaxSessions against swarm's session budget, and swarm's tmux server.
    ///
    /// Exit 0 when every host is ready, 1 when one is unreachable or lacks tmux or git,
    /// 2 bad input (no hosts, or a bad swarm.toml).
    Check(HostsCheckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct HostsCheckArgs {
    #[command(flatten)]
    pub workspace: Workspace,
    /// Print the report as JSON (schema in docs/cli.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Overwrite the file that exists (swarm.toml, or ORCHESTRATOR.md).
    #[arg(long)]
    pub force: bool,
    /// Write ORCHESTRATOR.md instead of swarm.toml: the protocol an LLM agent follows to
    /// drive the workers with `swarm spawn`, `send`, `wait` and `workers`.
    #[arg(long)]
    pub llm_orchestrator: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// A command (`run`, `status`, ...): its own page, `swarm-COMMAND(1)`.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Run without attaching, even on a terminal.
    #[arg(long)]
    pub headless: bool,
    /// How long each simulated task works, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub think_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
