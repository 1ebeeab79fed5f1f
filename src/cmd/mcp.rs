//! `swarm mcp`: serve this workspace's primitives as MCP tools on stdin and stdout
//! (src/mcp/), until the client goes away.

use crate::Outcome;
use crate::cli::Workspace;

pub fn run(args: &Workspace) -> anyhow::Result<Outcome> {
    let ws = crate::workspace::Workspace::locate(&args.plan)?;
    // The tools take paths relative to the plan's directory, as ORCHESTRATOR.md does,
    // whatever directory the client started the server in.
    std::env::set_current_dir(&ws.root)?;
    crate::mcp::serve(Workspace {
        plan: ws.plan,
        socket: args.socket.clone(),
    })?;
    Ok(Outcome::Success)
}
