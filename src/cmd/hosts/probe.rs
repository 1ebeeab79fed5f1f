//! What `swarm hosts check` runs on a host, and how its answer becomes a report: one `sh`
//! script, so that a host costs one ssh call.

use serde::Serialize;

/// The ssh sessions swarm keeps open on one host's master: a control client, a sentinel
/// watcher and up to three commands at once (git, rsync, checks).
pub(super) const SESSION_BUDGET: u32 = 5;

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
while [ "$n" -gt 0 ]; do printf 'agent=%s\t%s\n' "$1" "$(command -v "$1" 2>/dev/null)"; shift; n=$((n - 1)); done
for kind; do
  case $kind in
    claude) { [ -s "$HOME/.claude/.credentials.json" ] || [ -n "${ANTHROPIC_API_KEY:-}" ]; } ;;
    codex) { [ -s "$HOME/.codex/auth.json" ] || [ -n "${OPENAI_API_KEY:-}" ]; } ;;
  esac && printf 'login=%s\tyes\n' "$kind" || printf 'login=%s\tno\n' "$kind"
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

/// The probe's argv on the host: `sh -c PROBE sh SOCKET N PROGRAMS... LOGINS...`.
pub(super) fn argv(socket: &str, agents: &[(String, String)]) -> Vec<String> {
    let programs: Vec<String> = agents
        .iter()
        .map(|(_, p)| p.clone())
        .filter(|p| !p.is_empty())
        .collect();
    let mut argv: Vec<String> = ["sh", "-c", PROBE, "sh", socket].map(String::from).into();
    argv.push(programs.len().to_string());
    argv.extend(programs);
    argv.extend(
        agents
            .iter()
            .filter_map(|(_, program)| login_kind(program))
            .map(String::from),
    );
    argv
}

/// What one host has.
#[derive(Debug, Default, Serialize)]
pub(super) struct Report {
    pub(super) name: String,
    pub(super) ssh: String,
    pub(super) dir: String,
    pub(super) reachable: bool,
    /// Why it is unreachable.
    pub(super) error: Option<String>,
    /// `tmux -V`, e.g. `tmux 3.4`.
    pub(super) tmux: Option<String>,
    pub(super) git: Option<String>,
    /// Where inotifywait is; without it, sentinels are polled every 2 s.
    pub(super) inotifywait: Option<String>,
    pub(super) agents: Vec<Agent>,
    pub(super) max_sessions: Option<MaxSessions>,
    /// swarm's tmux server there: `<pid>:<start time>`, which changes when it restarts.
    pub(super) server: Option<String>,
    /// No tmux 3.2 or later, no git, or unreachable.
    pub(super) ready: bool,
    /// What makes it not ready.
    pub(super) problems: Vec<String>,
    /// What works but should be looked at.
    pub(super) warnings: Vec<String>,
    pub(super) seconds: f64,
}

#[derive(Debug, Serialize)]
pub(super) struct Agent {
    pub(super) profile: String,
    pub(super) program: String,
    /// Where the program is on the host.
    pub(super) path: Option<String>,
    /// For claude and codex: whether a login or API key is there.
    pub(super) login: Option<bool>,
}

#[derive(Debug, Serialize)]
pub(super) struct MaxSessions {
    pub(super) value: u32,
    /// `sshd -T`, the config file read, or that file with no MaxSessions (sshd's default).
    pub(super) source: String,
    pub(super) enough: bool,
}

/// Fills `report` from the probe's output, for the agents (profile, program) asked about.
pub(super) fn read(report: &mut Report, stdout: &str, agents: &[(String, String)]) {
    let value = |key: &str| -> Vec<String> {
        stdout
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
        .map(|line| match line.split_once('\t') {
            Some((program, path)) if !path.is_empty() => (program.into(), Some(path.into())),
            Some((program, _)) => (program.into(), None),
            None => (line.clone(), None),
        })
        .collect();
    let logged_in: Vec<(String, bool)> = value("login")
        .iter()
        .filter_map(|line| line.split_once('\t'))
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

    fn agents(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_host_s_answer_is_read_into_problems_and_warnings() {
        let asked = agents(&[("claude", "claude"), ("mine", "my-agent"), ("bare", "")]);
        let answer = "tmux=tmux 3.1c\ngit=\ninotifywait=\n\
                      agent=claude\t/usr/local/bin/claude\nagent=my-agent\t\n\
                      login=claude\tno\nmaxsessions=3 sshd -T\nserver=4711:1733030000\n";
        let mut report = Report::default();
        read(&mut report, answer, &asked);
        assert_eq!(report.tmux.as_deref(), Some("tmux 3.1c"));
        assert_eq!(report.git, None);
        assert_eq!(report.server.as_deref(), Some("4711:1733030000"));
        assert_eq!(report.problems, ["tmux 3.1c is older than 3.2", "no git"]);
        assert!(!report.ready);
        let claude = &report.agents[0];
        assert_eq!(claude.path.as_deref(), Some("/usr/local/bin/claude"));
        assert_eq!(claude.login, Some(false));
        assert_eq!(report.agents[1].path, None);
        assert_eq!(report.agents[1].login, None);
        assert_eq!(
            report.warnings,
            [
                "claude: no login or API key found",
                "mine: `my-agent` is not on the PATH there",
                "the `bare` profile has no command",
                "sshd allows 3 sessions per connection, swarm needs 5: raise MaxSessions",
                "no inotify-tools: sentinels would be polled every 2 s",
            ]
        );
    }

    /// The script itself, run here with `sh` as a host would run it.
    #[test]
    fn the_probe_script_runs_under_sh() {
        let asked = agents(&[("shell", "sh"), ("nope", "swarm-no-such-program")]);
        let socket = format!("swarm-probe-{}", std::process::id());
        let argv = argv(&socket, &asked);
        assert_eq!(&argv[..2], ["sh", "-c"]);
        assert_eq!(
            &argv[3..],
            ["sh", socket.as_str(), "2", "sh", "swarm-no-such-program"]
        );
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut report = Report::default();
        read(&mut report, &String::from_utf8_lossy(&out.stdout), &asked);
        assert!(report.git.as_deref().unwrap().starts_with("git version"));
        assert!(report.tmux.as_deref().unwrap().starts_with("tmux "));
        assert!(report.agents[0].path.as_deref().unwrap().ends_with("/sh"));
        assert_eq!(report.agents[1].path, None);
        assert_eq!(report.server, None, "no server runs on {socket}");
    }

    #[test]
    fn logins_are_looked_for_by_program_name() {
        assert_eq!(login_kind("claude"), Some("claude"));
        assert_eq!(login_kind("/opt/bin/codex"), Some("codex"));
        assert_eq!(login_kind("swarm"), None);
    }
}
