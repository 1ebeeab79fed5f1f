//! `swarm status`: the tasks and workers of this workspace's swarm, for people, `--json` or
//! tmux's status line (`--line`).

use crate::Outcome;
use crate::cli::StatusArgs;
use crate::orchestrator::snapshot::Snapshot;

pub fn run(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let (ws, tmux) = super::target(&args.workspace)?;
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
