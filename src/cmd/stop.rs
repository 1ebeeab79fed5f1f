//! `swarm stop`: end this workspace's swarm by killing its own tmux server, and only it,
//! here and on each of its hosts.

use crate::Outcome;
use crate::cli::Workspace as WorkspaceArgs;
use crate::tmux::{Tmux, TmuxError};
use std::sync::Arc;
use std::time::Duration;

/// How long a host may take to end swarm's server there.
const HOST_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(args: &WorkspaceArgs) -> anyhow::Result<Outcome> {
    let (ws, tmux, settings) = super::target_with(args, Default::default())?;
    if tmux.server_alive() {
        // The orchestrator learns that its server went on purpose, not in a crash.
        if let Some(pid) = crate::orchestrator::lock::holder(&ws).filter(|&pid| pid != 0) {
            crate::orchestrator::stop::request(&ws, pid)?;
        }
        tmux.kill_server()?;
        println!(
            "stopped the swarm of {} (tmux socket `{}`)",
            ws.root.display(),
            tmux.socket
        );
    } else {
        println!("no swarm is running for {}", ws.root.display());
    }
    let hosts: Vec<_> = settings.remote_pools.iter().map(|p| &p.host.host).collect();
    if hosts.is_empty() {
        return Ok(Outcome::Success);
    }
    // The agents on other hosts run on in swarm's server there until it ends too.
    let ssh = Arc::new(crate::ssh::SystemSsh::new()?);
    let ended: Vec<(String, Result<(), TmuxError>)> = crate::ssh::each_host(&hosts, |host| {
        let remote = Tmux::new(&tmux.socket, &settings.session)
            .with_timeout(HOST_TIMEOUT)
            .over_ssh(ssh.clone(), (*host).clone());
        (host.name.clone(), remote.kill_server())
    });
    let mut failed = Vec::new();
    for (host, result) in ended {
        match result {
            Ok(()) => println!("stopped its agents on {host}"),
            Err(e) => failed.push(format!("{host}: {e}")),
        }
    }
    if failed.is_empty() {
        return Ok(Outcome::Success);
    }
    Err(crate::error::Failure::new(format!(
        "the agents on some hosts could not be stopped:\n{}",
        failed.join("\n")
    ))
    .hint("run `swarm stop` again once they answer (`swarm hosts check` asks them)")
    .into())
}
