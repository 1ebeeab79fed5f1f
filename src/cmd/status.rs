//! `swarm status`: the tasks and workers of this workspace's swarm, for people or `--json`.

use crate::Outcome;
use crate::cli::StatusArgs;
use crate::orchestrator::snapshot::Snapshot;
use crate::tmux::Tmux;
use crate::workspace::Workspace;
use std::time::Duration;

pub fn run(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let (ws, tmux) = super::target(&args.workspace)?;
    if args.watch {
        return watch(&ws, &tmux);
    }
    let snapshot = Snapshot::read(&ws.state_path())?;
    if args.line {
        // Read every few seconds by tmux's status line: no snapshot yet is no line yet.
        if let Some(snapshot) = snapshot {
            println!(
                "{}",
                snapshot.status_line(crate::orchestrator::snapshot::now())
            );
        }
        return Ok(Outcome::Success);
    }
    let running = tmux.server_alive();
    if args.json {
        let value = serde_json::json!({
            "workspace": ws.root,
            "socket": tmux.socket,
            "running": running,
            "state": snapshot,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(Outcome::Success);
    }
    match snapshot {
        Some(snapshot) => print!("{}", snapshot.render(running)),
        None => println!(
            "no swarm has run in {} yet\nhint: start one with `swarm run`",
            ws.root.display()
        ),
    }
    Ok(Outcome::Success)
}

/// Redraws the status until the run finishes; what window 0 shows in headless runs.
fn watch(ws: &Workspace, tmux: &Tmux) -> anyhow::Result<Outcome> {
    loop {
        let snapshot = Snapshot::read(&ws.state_path()).ok().flatten();
        // Clear the screen and home the cursor, then draw.
        print!("\x1b[H\x1b[2J");
        match &snapshot {
            Some(s) => print!("{}", s.render(true)),
            None => println!("waiting for the orchestrator…"),
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        if snapshot.is_some_and(|s| s.finished) || !tmux.server_alive() {
            return Ok(Outcome::Success);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
