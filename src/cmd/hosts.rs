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

/// How long the check of one host may take; a host silent for longer is unreachable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The ssh sessions swarm keeps open on one host's master: a control client, a sentinel
/// watcher and up to three commands at once (git, rsync, checks).
pub const SESSION_BUDGET: u32 = 5;

/// sshd's `MaxSessions` when its config does not set one.
const SSHD_DEFAULT_MAX_SESSIONS: u32 = 10;

// A default sshd must take swarm's sessions: past its limit, ssh quietly opens a second
// TCP connection instead of sharing the master.
const _: () = assert!(SESSION_BUDGET <= SSHD_DEFAULT_MAX_SESSIONS);

/// Runs on the host with `sh -c`. Arguments: swarm's tmux socket, the number of agent
/// programs, the programs, then the agents whose logins to look for. Prints `key=value`
/// lines; an empty value is "none".
const PROBE: &str = r#"sock=$1; n=$2; shift 2
echo "tmux=$(tmux -V 2>/dev/null)"
echo "git=$(git --version 2>/dev/null)"
echo "inotifywait=$(command -v inotifywait 2>/dev/null)"
while [ "$n" -gt 0 ]; do echo "agent=$1 $(command -v "$1" 2>/dev/null)"; shift; n=$((n - 1)); done
for kind; do
  case $kind in
    claude) { [ -s "$HOME/.claude/.credentials.json" ] || [ -n "${ANTHROPIC_API_KEY:-}" ]; } ;;
    codex) { [ -s "$HOME/.codex/auth.json" ] || [ -n "${OPENAI_API_KEY:-}" ]; } ;;
  esac && echo "login=$kind yes" || echo "login=$kind no"
done
cfg=$(ps -o args= -C sshd 2>/dev/null | sed -n 's/.* -f \([^ ]*\).*/\1/p' | head -n 1)
[ -n "$cfg" ] || cfg=/etc/ssh/sshd_config
ms=$( { sshd -T -f "$cfg" || /usr/sbin/sshd -T -f "$cfg"; } 2>/dev/null | awk '$1 == "maxsessions" { print $2; exit }')
if [ -n "$ms" ]; then echo "maxsessions=$ms sshd -T"
elif [ -r "$cfg" ]; then
  ms=$(awk 'tolower($1) == "maxsessions" { print $2; exit }' "$cfg")
  if [ -n "$ms" ]; then echo "maxsessions=$ms $cfg"; else echo "maxsessions=default $cfg"; fi
else echo "maxsessions="; fi
echo "server=$(tmux -L "$sock" display-message -p '#{pid}:#{start_time}' 2>/dev/null)"
"#;

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
        args.workspace
            .socket
            .as_deref()
            .or(config.socket()?.as_deref()),
    );
    let mut plans = Vec::with_capacity(remote.hosts.len());
    for host in &remote.hosts {
        plans.push((host, config.host_agents(host)?));
    }
    let ssh = SystemSsh::new()
        .map_err(|err| Failure::new(format!("cannot make swarm's ssh socket directory: {err}")))?;
    let started = Instant::now();
    let reports: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .iter()
            .map(|(host, agents)| {
                let (ssh, socket, ws) = (&ssh, &socket, &ws);
                scope.spawn(move || check_host(ssh, host, agents, socket, &ws.root))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a host check panicked"))
            .collect::<Result<_, SshError>>()
    })?;
    let report = Checked {
        socket: socket.clone(),
        session_budget: SESSION_BUDGET,
        seconds: started.elapsed().as_secs_f64(),
        hosts: reports,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
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

/// What one host has.
#[derive(Debug, Default, Serialize)]
struct Report {
    name: String,
    ssh: String,
    dir: String,
    reachable: bool,
    /// Why it is unreachable.
    error: Option<String>,
    /// `tmux -V`, e.g. `tmux 3.4`.
    tmux: Option<String>,
    git: Option<String>,
    /// Where inotifywait is; without it, sentinels are polled every 2 s.
    inotifywait: Option<String>,
    agents: Vec<Agent>,
    max_sessions: Option<MaxSessions>,
    /// swarm's tmux server there: `<pid>:<start time>`, which changes when it restarts.
    server: Option<String>,
    /// No tmux 3.2 or later, no git, or unreachable.
    ready: bool,
    /// What makes it not ready.
    problems: Vec<String>,
    /// What works but should be looked at.
    warnings: Vec<String>,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct Agent {
    profile: String,
    program: String,
    /// Where the program is on the host.
    path: Option<String>,
    /// For claude and codex: whether a login or API key is there.
    login: Option<bool>,
}

#[derive(Debug, Serialize)]
struct MaxSessions {
    value: u32,
    /// `sshd -T`, the config file read, or that file with no MaxSessions (sshd's default).
    source: String,
    enough: bool,
}

fn check_host(
    ssh: &SystemSsh,
    config: &HostConfig,
    agents: &[(String, String)],
    socket: &str,
    workspace: &std::path::Path,
) -> Result<Report, SshError> {
    let host = &config.host;
    let started = Instant::now();
    let programs: Vec<&str> = agents
        .iter()
        .map(|(_, p)| p.as_str())
        .filter(|p| !p.is_empty())
        .collect();
    let logins: Vec<&str> = agents
        .iter()
        .filter_map(|(_, program)| login_kind(program))
        .collect();
    let count = programs.len().to_string();
    let mut argv = vec!["sh", "-c", PROBE, "sh", socket, count.as_str()];
    argv.extend(&programs);
    argv.extend(&logins);
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
    let value = |key: &str| -> Vec<String> {
        out.stdout
            .lines()
            .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
            .collect()
    };
    let first = |key: &str| value(key).into_iter().next().filter(|v| !v.is_empty());
    report.tmux = first("tmux");
    report.git = first("git");
    report.inotifywait = first("inotifywait");
    report.server = first("server");
    let paths: Vec<(String, Option<String>)> = value("agent")
        .iter()
        .map(|line| match line.split_once(' ') {
            Some((program, path)) if !path.is_empty() => (program.into(), Some(path.into())),
            Some((program, _)) => (program.into(), None),
            None => (line.clone(), None),
        })
        .collect();
    let logged_in: Vec<(String, bool)> = value("login")
        .iter()
        .filter_map(|line| line.split_once(' '))
        .map(|(kind, yes)| (kind.to_owned(), yes == "yes"))
        .collect();
    for (profile, program) in agents {
        let path = paths
            .iter()
            .find(|(p, _)| p == program)
            .and_then(|(_, path)| path.clone());
        let login = login_kind(program).and_then(|kind| {
            logged_in
                .iter()
                .find(|(k, _)| k == kind)
                .map(|(_, yes)| *yes)
        });
        if program.is_empty() {
            report
                .warnings
                .push(format!("the `{profile}` profile has no command"));
        } else if path.is_none() {
            report
                .warnings
                .push(format!("{profile}: `{program}` is not on the PATH there"));
        } else if login == Some(false) {
            report
                .warnings
                .push(format!("{profile}: no login or API key found"));
        }
        report.agents.push(Agent {
            profile: profile.clone(),
            program: program.clone(),
            path,
            login,
        });
    }
    report.max_sessions = first("maxsessions").and_then(|line| max_sessions(&line));
    match &report.max_sessions {
        Some(limit) if !limit.enough => report.warnings.push(format!(
            "sshd allows {} sessions per connection, swarm needs {SESSION_BUDGET}: raise MaxSessions",
            limit.value
        )),
        None => report
            .warnings
            .push("sshd's MaxSessions could not be read".into()),
        Some(_) => {}
    }
    match &report.tmux {
        None => report.problems.push("no tmux".into()),
        Some(line) if !crate::tmux::usable_version(line) => {
            report.problems.push(format!("{line} is older than 3.2"));
        }
        Some(_) => {}
    }
    if report.git.is_none() {
        report.problems.push("no git".into());
    }
    if report.inotifywait.is_none() {
        report
            .warnings
            .push("no inotify-tools: sentinels would be polled every 2 s".into());
    }
    report.ready = report.problems.is_empty();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The agent whose login the probe looks for, by its program's name.
fn login_kind(program: &str) -> Option<&'static str> {
    match program.rsplit('/').next()? {
        "claude" => Some("claude"),
        "codex" => Some("codex"),
        _ => None,
    }
}

/// The probe's `maxsessions=` line: `N SOURCE`, or `default FILE`.
fn max_sessions(line: &str) -> Option<MaxSessions> {
    let (value, source) = line.split_once(' ')?;
    let (value, source) = match value {
        "default" => (
            SSHD_DEFAULT_MAX_SESSIONS,
            format!("sshd's default ({source} sets none)"),
        ),
        n => (n.parse().ok()?, source.to_owned()),
    };
    Some(MaxSessions {
        value,
        source,
        enough: value >= SESSION_BUDGET,
    })
}

/// The human report: one row per host, then what to look at.
fn table(report: &Checked) -> String {
    let header = [
        "HOST", "STATE", "TMUX", "GIT", "INOTIFY", "AGENTS", "SESSIONS", "SERVER",
    ];
    let mut rows: Vec<[String; 8]> = vec![header.map(String::from)];
    for host in &report.hosts {
        let state = match (host.reachable, host.ready) {
            (false, _) => "unreachable",
            (true, true) => "ready",
            (true, false) => "not ready",
        };
        let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let agents = host
            .agents
            .iter()
            .map(|a| {
                let mark = match (&a.path, a.login) {
                    (None, _) => "missing",
                    (Some(_), Some(false)) => "no login",
                    (Some(_), _) => "ok",
                };
                format!("{} {mark}", a.profile)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sessions = host.max_sessions.as_ref().map_or_else(
            || "-".to_owned(),
            |m| match m.enough {
                true => format!("{} >= {}", m.value, report.session_budget),
                false => format!("{} < {}", m.value, report.session_budget),
            },
        );
        rows.push([
            host.name.clone(),
            state.into(),
            or_dash(
                &host
                    .tmux
                    .as_ref()
                    .map(|t| t.trim_start_matches("tmux ").to_owned()),
            ),
            or_dash(
                &host
                    .git
                    .as_ref()
                    .map(|g| g.trim_start_matches("git version ").to_owned()),
            ),
            if host.inotifywait.is_some() {
                "yes"
            } else {
                "-"
            }
            .into(),
            if host.reachable { agents } else { "-".into() },
            sessions,
            host.server.clone().unwrap_or_else(|| "none".into()),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    for host in &report.hosts {
        if let Some(error) = &host.error {
            text.push_str(&format!("{}: {error}\n", host.name));
        }
        for note in host.problems.iter().filter(|p| *p != "unreachable") {
            text.push_str(&format!("{}: {note}\n", host.name));
        }
        for note in &host.warnings {
            text.push_str(&format!("{}: warning: {note}\n", host.name));
        }
    }
    text.push_str(&format!(
        "SESSIONS is sshd's MaxSessions against the sessions swarm needs; SERVER is swarm's tmux server ({}) there.\n",
        report.socket
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_sessions_lines_are_read() {
        let limit = max_sessions("64 sshd -T").unwrap();
        assert_eq!((limit.value, limit.enough), (64, true));
        let limit = max_sessions("default /etc/ssh/sshd_config").unwrap();
        assert_eq!(limit.value, SSHD_DEFAULT_MAX_SESSIONS);
        assert!(limit.source.contains("sets none"));
        let limit = max_sessions("2 /etc/ssh/sshd_config").unwrap();
        assert!(!limit.enough);
        assert!(max_sessions("").is_none());
        assert!(max_sessions("many x").is_none());
    }

    #[test]
    fn logins_are_looked_for_by_program_name() {
        assert_eq!(login_kind("claude"), Some("claude"));
        assert_eq!(login_kind("/opt/bin/codex"), Some("codex"));
        assert_eq!(login_kind("swarm"), None);
    }
}
