//! How every tool answers: swarm's blocking work runs off the async runtime, a result
//! goes back as JSON (the shape `--json` prints), and an error as a tool error that
//! carries swarm's own message and hint, as the command line shows them.

use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

/// Runs `work` on a thread of its own (a `wait` sleeps, a `send` waits for the agent),
/// so that other calls are answered meanwhile, and turns what it returns into a reply.
pub async fn blocking<T, F>(work: F) -> CallToolResult
where
    T: Serialize + Send + 'static,
    F: FnOnce() -> anyhow::Result<T> + Send + 'static,
{
    let done = tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!("the tool stopped abnormally: {e}")));
    reply(done)
}

/// The value as structured JSON, or the error as swarm renders it (`what`, then `hint:`).
fn reply<T: Serialize>(done: anyhow::Result<T>) -> CallToolResult {
    match done.and_then(|value| Ok(serde_json::to_value(value)?)) {
        Ok(value) => CallToolResult::structured(value),
        Err(err) => CallToolResult::error(vec![ContentBlock::text(crate::error::render(&err))]),
    }
}
