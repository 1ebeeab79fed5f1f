//! `swarm attach`: put this terminal on the running swarm; detaching leaves it running.

use crate::Outcome;
use crate::cli::Workspace as WorkspaceArgs;
use crate::error::BadInput;

pub fn run(args: &WorkspaceArgs) -> anyhow::Result<Outcome> {
    let (ws, tmux) = super::target(args)?;
    if !tmux.server_alive() {
        return Err(
            BadInput::new(format!("no swarm is running for {}", ws.root.display()))
                .hint("start one with `swarm run`")
                .into(),
        );
    }
    tmux.attach()?;
    Ok(Outcome::Success)
}
