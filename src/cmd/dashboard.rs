//! `swarm dashboard`: the dashboard of window 0, on any terminal; window 0 of a headless
//! run runs it too.

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
        // As `swarm stop` does: a headless orchestrator ends as stopped, not crashed.
        if let Some(pid) = crate::orchestrator::lock::holder(&ws).filter(|&pid| pid != 0) {
            crate::orchestrator::stop::request(&ws, pid)?;
        }
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
