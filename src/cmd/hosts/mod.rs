//! `swarm hosts check`: whether each machine of `[[hosts]]` can take swarm's workers, asked
//! over one ssh call per host through its ControlMaster (docs/multihost.md).

use crate::Outcome;
use crate::cli::{HostsArgs, HostsCheckArgs, HostsCommand};
use crate::config::{self, HostConfig};
use crate::error::{BadInput, Failure};
use crate::ssh::{Remote, SshError, SystemSsh};
use crate::workspace::Workspace;
use serde::Serialize;
use std::time::{Duration, Instant};

mod probe;
mod table;

use probe::{Report, SESSION_BUDGET};

/// How long the check of one host may take; a host silent for longer is unreachable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(args: &HostsArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        HostsCommand::Check(check) => run_check(check),
    }
}

fn run_check(args: &HostsCheckArgs) -> anyhow::Result<Outcome> {
    let ws = Workspace::locate(&args.workspace.plan)?;
    let config = config::load(&ws.config_path())?.unwrap_or_default();
    let remote = config.remote()?;
    if remote.hosts.is_empty() {
        return Err(BadInput::new(format!(
            "{}: no [[hosts]] to check",
            ws.config_path().display()
        ))
        .hint(
            "add a host: [[hosts]] with name = \"gpu1\" and ssh = \"alice@gpu1.lan\" (docs/cli.md)",
        )
        .into());
    }
    let socket = ws.socket(
        config
            .socket_for(args.workspace.socket.as_deref())?
            .as_deref(),
    );
    let mut plans = Vec::with_capacity(remote.hosts.len());
    for host in &remote.hosts {
        plans.push((host, config.host_agents(host)?));
    }
    let ssh = SystemSsh::new()
        .map_err(|err| Failure::new(format!("cannot make swarm's ssh socket directory: {err}")))?;
    let started = Instant::now();
    let reports: Vec<Report> = crate::ssh::each_host(&plans, |(host, agents)| {
        check_host(&ssh, host, agents, &socket, &ws.root)
    })
    .into_iter()
    .collect::<Result<_, SshError>>()?;
    let report = Checked {
        socket: socket.clone(),
        session_budget: SESSION_BUDGET,
        seconds: started.elapsed().as_secs_f64(),
        hosts: reports,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table::table(&report));
    }
    let unready: Vec<String> = report
        .hosts
        .iter()
        .filter(|h| !h.ready)
        .map(|h| format!("{} ({})", h.name, h.problems.join(", ")))
        .collect();
    if unready.is_empty() {
        return Ok(Outcome::Success);
    }
    Err(Failure::new(format!(
        "{} of {} hosts not ready: {}",
        unready.len(),
        report.hosts.len(),
        unready.join("; ")
    ))
    .hint("install what is missing on those hosts, or check that `ssh HOST true` works")
    .into())
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Checked {
    /// swarm's tmux socket name, which is also its name on every host.
    socket: String,
    session_budget: u32,
    /// Wall time of the whole check.
    seconds: f64,
    hosts: Vec<Report>,
}

fn check_host(
    ssh: &impl Remote,
    config: &HostConfig,
    agents: &[(String, String)],
    socket: &str,
    workspace: &std::path::Path,
) -> Result<Report, SshError> {
    let host = &config.host;
    let started = Instant::now();
    let argv = probe::argv(socket, agents);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut report = Report {
        name: host.name.clone(),
        ssh: host.dest.clone(),
        dir: config.dir(workspace),
        ..Report::default()
    };
    let out = match ssh.exec(host, &argv, CHECK_TIMEOUT) {
        Ok(out) => out,
        Err(err @ SshError::Spawn { .. }) => return Err(err),
        Err(SshError::HostUnreachable { why, .. }) => {
            report.error = Some(why);
            report.problems.push("unreachable".into());
            report.seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }
    };
    report.reachable = true;
    probe::read(&mut report, &out.stdout, agents);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
