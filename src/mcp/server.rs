//! The MCP server: each tool is one of swarm's primitives, called as a library function
//! (the one behind its subcommand) on the workspace `swarm mcp` was started for.

use super::{params, reply};
use crate::cli::{CaptureArgs, LogsArgs, SendArgs, SpawnArgs, WorkersArgs, Workspace};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};

/// What the client is told about the server as a whole.
const INSTRUCTIONS: &str = "swarm drives agent CLIs (workers) in tmux panes through the \
checklist in PLAN.md. To work through the plan yourself: `spawn` workers; `plan` lists the \
tasks with each one's prompt and sentinel; `send` a ready task's prompt to an idle worker \
(`workers` with idle=true); `wait` with `done` = the sentinels in flight (each call waits at \
most 60 s: call again while it says timed_out); then `plan` with action=check checks the \
task off. `capture` shows a worker's screen. When `swarm run` drives the plan instead, \
`status`, `show` and `logs` follow it, and `plan` with action=add gives it more work.";

/// The server for one workspace (its plan, its tmux socket).
#[derive(Debug, Clone)]
pub struct Swarm {
    workspace: Workspace,
}

#[tool_router]
impl Swarm {
    pub fn new(workspace: Workspace) -> Swarm {
        Swarm { workspace }
    }

    #[tool(
        description = "List the workers: each one's name (w0, w1, ...), pane, state (idle, busy, needs-human, rate-limited, dead, ...) and task. idle=true: only those ready for a task."
    )]
    async fn workers(&self, Parameters(asked): Parameters<params::Workers>) -> CallToolResult {
        let args = WorkersArgs {
            workspace: self.workspace.clone(),
            idle: asked.idle,
            json: true,
            watch: false,
        };
        reply::blocking(move || crate::cmd::workers::list(&args)).await
    }

    #[tool(
        description = "Start worker agents in swarm's tmux session (starting it if need be); returns the new workers once every one is ready. Refused while `swarm run` drives the plan (its workers are its own)."
    )]
    async fn spawn(&self, Parameters(asked): Parameters<params::Spawn>) -> CallToolResult {
        let args = SpawnArgs {
            workspace: self.workspace.clone(),
            count: asked.count,
            agent: asked.agent,
            agent_cmd: asked.agent_cmd,
            orchestrator: None,
            json: true,
        };
        reply::blocking(move || crate::cmd::spawn::spawn(&args)).await
    }

    #[tool(
        description = "Give an idle worker a prompt: a guarded paste, then Enter, confirmed. Never into a dead pane, a shell, or an input box holding someone else's text; the error says why it was not delivered."
    )]
    async fn send(&self, Parameters(asked): Parameters<params::Send>) -> CallToolResult {
        let args = SendArgs {
            workspace: self.workspace.clone(),
            worker: asked.worker,
            file: None,
            text: Some(asked.text),
        };
        reply::blocking(move || crate::cmd::send::send(&args)).await
    }

    #[tool(
        description = "Wait until files exist (`done`: the sentinels of tasks in flight) or workers are idle (`idle`), all of them or (any=true) one. Waits at most timeout_secs (default 30, capped at 60): `timed_out: true` means call again. An error when a worker waited for is dead."
    )]
    async fn wait(&self, Parameters(asked): Parameters<params::Wait>) -> CallToolResult {
        let workspace = self.workspace.clone();
        reply::blocking(move || super::wait::wait(&workspace, asked)).await
    }

    #[tool(description = "What a worker's pane shows right now, as text.")]
    async fn capture(&self, Parameters(asked): Parameters<params::Capture>) -> CallToolResult {
        let args = CaptureArgs {
            workspace: self.workspace.clone(),
            worker: asked.worker,
        };
        reply::blocking(move || crate::cmd::capture::capture(&args)).await
    }

    #[tool(
        description = "swarm's status, as `swarm status --json` prints it: whether its tmux server runs, and the last `swarm run`'s tasks, counts and workers (`state` is null before any run)."
    )]
    async fn status(&self) -> CallToolResult {
        let workspace = self.workspace.clone();
        reply::blocking(move || crate::cmd::status::status(&workspace)).await
    }

    #[tool(
        description = "PLAN.md. action=read (default): the tasks, each with its number, id, whether it is done, its sentinel, the open tasks it waits for, and (open tasks) the prompt to send. action=add with `text`: append an open task. action=check with `task`: check a finished task off. Writes keep any edit a person makes meanwhile."
    )]
    async fn plan(&self, Parameters(asked): Parameters<params::Plan>) -> CallToolResult {
        let workspace = self.workspace.clone();
        reply::blocking(move || super::plan::plan(&workspace, asked)).await
    }

    #[tool(
        description = "A task's transcript under `swarm run` (the latest attempt, or `attempt`): the prompt as sent, then the agent's pane as it showed."
    )]
    async fn logs(&self, Parameters(asked): Parameters<params::Logs>) -> CallToolResult {
        let args = LogsArgs {
            workspace: self.workspace.clone(),
            task: asked.task,
            attempt: asked.attempt,
            follow: false,
            raw: false,
        };
        reply::blocking(move || crate::cmd::logs::read(&args)).await
    }

    #[tool(
        description = "One task's details: its text and line, whether it is done, its sentinel and whether it exists, its state, reason, worker and attempts in the last `swarm run`, and its transcripts."
    )]
    async fn show(&self, Parameters(asked): Parameters<params::Show>) -> CallToolResult {
        let workspace = self.workspace.clone();
        reply::blocking(move || super::show::show(&workspace, &asked.task)).await
    }
}

#[tool_handler]
impl ServerHandler for Swarm {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("swarm", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}
