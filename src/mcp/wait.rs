//! The `wait` tool: `swarm wait` in bounded steps. An agent's tool call has a time limit
//! of its own (Claude Code's is minutes), so one call waits at most [`MAX_WAIT`] and says
//! whether its time ran out; the agent calls again to wait longer.

use super::params;
use crate::cli::{WaitArgs, Workspace};
use crate::cmd::wait::Report;
use crate::error::BadInput;
use serde::Serialize;
use std::time::Duration;

/// The longest one call waits, whatever it asks for.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How long a call that names no timeout waits.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// What the `wait` tool returns: `swarm wait --json`, with the time it waited for.
#[derive(Debug, Serialize)]
pub struct Waited {
    /// The timeout this call used, after the cap.
    timeout_secs: u64,
    #[serde(flatten)]
    report: Report,
}

/// Waits for files or idle workers, at most [`MAX_WAIT`]; dead workers are an error.
pub fn wait(workspace: &Workspace, asked: params::Wait) -> anyhow::Result<Waited> {
    if asked.done.is_empty() == asked.idle.is_none() {
        return Err(BadInput::new(
            "`wait` takes either `done` (files that must exist) or `idle` (workers that must be idle)",
        )
        .hint(r#"as in {"done": [".swarm/done/a.done"]} or {"idle": ["w0"]}"#)
        .into());
    }
    let timeout = asked
        .timeout_secs
        .map_or(DEFAULT_WAIT, Duration::from_secs)
        .min(MAX_WAIT);
    let args = WaitArgs {
        workspace: workspace.clone(),
        done: asked.done.iter().map(Into::into).collect(),
        idle: asked.idle,
        any: asked.any,
        timeout: Some(timeout),
        json: true,
    };
    let report = crate::cmd::wait::wait(&args)?;
    report.in_vain()?;
    Ok(Waited {
        timeout_secs: timeout.as_secs(),
        report,
    })
}
