//! The report of `swarm hosts check` as people read it: one row per host, then what to
//! look at.

use super::Checked;

/// The human report: one row per host, then what to look at.
pub(super) fn table(report: &Checked) -> String {
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
    use crate::cmd::hosts::probe::{Agent, MaxSessions, Report};

    #[test]
    fn one_row_per_host_then_what_to_look_at() {
        let ready = Report {
            name: "gpu1".into(),
            reachable: true,
            ready: true,
            tmux: Some("tmux 3.4".into()),
            git: Some("git version 2.43.0".into()),
            inotifywait: Some("/usr/bin/inotifywait".into()),
            agents: vec![Agent {
                profile: "claude".into(),
                program: "claude".into(),
                path: Some("/usr/bin/claude".into()),
                login: Some(false),
            }],
            max_sessions: Some(MaxSessions {
                value: 10,
                source: "sshd -T".into(),
                enough: true,
            }),
            server: Some("4711:1733030000".into()),
            warnings: vec!["claude: no login or API key found".into()],
            ..Report::default()
        };
        let gone = Report {
            name: "box2".into(),
            error: Some("no answer within 10s".into()),
            problems: vec!["unreachable".into()],
            ..Report::default()
        };
        let text = table(&Checked {
            socket: "swarm-abc".into(),
            session_budget: 5,
            seconds: 0.3,
            hosts: vec![ready, gone],
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..3],
            [
                "HOST  STATE        TMUX  GIT     INOTIFY  AGENTS           SESSIONS  SERVER",
                "gpu1  ready        3.4   2.43.0  yes      claude no login  10 >= 5   4711:1733030000",
                "box2  unreachable  -     -       -        -                -         none",
            ]
        );
        assert_eq!(lines[3], "gpu1: warning: claude: no login or API key found");
        assert_eq!(lines[4], "box2: no answer within 10s");
        assert!(lines[5].contains("swarm-abc"));
    }
}
