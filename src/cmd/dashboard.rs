//! `swarm dashboard`: the dashboard of window 0, on any terminal (hidden: window 0 is
//! where people meet it).

use crate::Outcome;
use crate::cli::Workspace as WorkspaceArgs;
use crate::error::BadInput;
use crate::tui::{self, Place, Quit};
use std::io::IsTerminal;

pub fn run(args: &WorkspaceArgs) -> anyhow::Result<Outcome> {
    let (ws, tmux) = super::target(args)?;
    if !std::io::stdout().is_terminal() {
        return Err(BadInput::new("the dashboard needs a terminal")
            .hint("use `swarm status` or `swarm workers --json` in scripts")
            .into());
    }
    if tui::run(&ws, &tmux, place(&tmux.socket))? == Quit::StopWorkers {
        tmux.kill_server()?;
        println!("stopped the swarm of {}", ws.root.display());
    }
    Ok(Outcome::Success)
}

/// In swarm's own session when `TMUX` (`socket path,pid,session`) names its server's socket.
fn place(socket: &str) -> Place {
    let inside = std::env::var("TMUX").is_ok_and(|tmux| {
        let path = tmux.split(',').next().unwrap_or_default();
        std::path::Path::new(path).file_name() == Some(std::ffi::OsStr::new(socket))
    });
    if inside {
        Place::InSession
    } else {
        Place::Outside
    }
}
