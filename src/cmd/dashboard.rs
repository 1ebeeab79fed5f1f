//! `swarm dashboard`: the dashboard of window 0, on any terminal (hidden: window 0 is
//! where people meet it).

use crate::Outcome;
use crate::cli::Workspace as WorkspaceArgs;
use crate::error::BadInput;
use crate::tui::{self, Quit};
use std::io::IsTerminal;

pub fn run(args: &WorkspaceArgs) -> anyhow::Result<Outcome> {
    let (ws, tmux) = super::target(args)?;
    if !std::io::stdout().is_terminal() {
        return Err(BadInput::new("the dashboard needs a terminal")
            .hint("use `swarm status` or `swarm workers --json` in scripts")
            .into());
    }
    if tui::run(&ws, &tmux)? == Quit::StopWorkers {
        tmux.kill_server()?;
        println!("stopped the swarm of {}", ws.root.display());
    }
    Ok(Outcome::Success)
}
