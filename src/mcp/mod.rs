//! `swarm mcp`: swarm's primitives as tools of a Model Context Protocol server on stdio,
//! for an agent that orchestrates (Claude Code reads `.mcp.json`, which `swarm init
//! --llm-orchestrator` writes). The protocol is the maintained SDK's (rmcp); each tool
//! calls the same library function as its subcommand, and answers with the same JSON.

pub(crate) mod claude_config;
mod params;
mod plan;
mod reply;
mod server;
mod show;
mod wait;

use crate::cli::Workspace;
use rmcp::ServiceExt;

/// Serves `workspace` on stdin and stdout until the client goes away.
pub fn serve(workspace: Workspace) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let service = server::Swarm::new(workspace)
            .serve(rmcp::transport::stdio())
            .await?;
        service.waiting().await?;
        Ok(())
    })
}
