//! The control-mode client against a real tmux on a private socket: replies matched to
//! commands, pushed pane-death subscriptions, and the end of the server.

use crate::common::{TestEnv, wait_until};
use crossbeam_channel::Receiver;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use swarm::tmux::control::{Control, Message, Notification};
use swarm::tmux::{Mux, PaneNews, Tmux};

const WAIT: Duration = Duration::from_secs(10);

/// The next message that `pick` accepts, skipping others, within `WAIT`.
fn next<T>(control: &Control, mut pick: impl FnMut(Message) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = control
            .messages
            .recv_timeout(left)
            .expect("a message in time");
        if let Some(found) = pick(message) {
            return found;
        }
    }
}

#[test]
fn replies_subscriptions_and_the_end_of_the_server() {
    let env = TestEnv::new();
    let tmux = Tmux::new(&env.socket, "swarm").with_tmpdir(env.dir.path().join("tmux"));
    let argv = ["sh", "-c", "read line; exit 7"].map(String::from);
    let pane = tmux
        .start_session("orch", 100, 30, &argv, &env.ws(), &BTreeMap::new())
        .unwrap()
        .pane;
    let mut control = Control::attach(&tmux, "no-output,ignore-size").unwrap();

    control.send("display-message -p 'hello ; there'").unwrap();
    let lines = next(&control, |m| match m {
        Message::Reply {
            ok: true, lines, ..
        } if !lines.is_empty() => Some(lines),
        _ => None,
    });
    assert_eq!(lines, ["hello ; there"]);

    control
        .send("refresh-client -B 'dead:%*:#{pane_dead} #{pane_dead_status}'")
        .unwrap();
    env.tmux_ok(&["send-keys", "-t", &pane.0, "Enter"]);
    let value = next(&control, |m| match m {
        Message::Notification(Notification::Subscription {
            pane: Some(p),
            value,
            ..
        }) if p == pane && value.starts_with('1') => {
            if value.trim_end() == "1" {
                // tmux 3.3a can leave the dead child unreaped, its status empty, until
                // another child of the server exits: give it one, and the value changes.
                env.tmux(&["run-shell", "true"]);
                return None;
            }
            Some(value)
        }
        _ => None,
    });
    assert_eq!(value, "1 7");

    env.tmux_ok(&["kill-server"]);
    next(&control, |m| {
        matches!(m, Message::Notification(Notification::Exit(_))).then_some(())
    });
    // Nothing follows %exit: the reader closes the channel.
    let deadline = Instant::now() + WAIT;
    while control.messages.recv_timeout(WAIT).is_ok() {
        assert!(Instant::now() < deadline, "messages after %exit");
    }
}

/// A pane running `cat` on a linked handle, for the link's tests.
fn linked_cat(env: &TestEnv) -> (Tmux, swarm::tmux::PaneId, Receiver<PaneNews>) {
    let tmux = Tmux::new(&env.socket, "swarm").with_tmpdir(env.dir.path().join("tmux"));
    let argv = ["cat"].map(String::from);
    let pane = tmux
        .start_session("orch", 100, 30, &argv, &env.ws(), &BTreeMap::new())
        .unwrap()
        .pane;
    let (tmux, news) = tmux.linked();
    (tmux, pane, news)
}

#[test]
fn a_linked_handle_sends_awkward_text_literally_and_counts_output() {
    let env = TestEnv::new();
    let (tmux, pane, _news) = linked_cat(&env);
    // Before the client is up, calls go out as processes; after, over the client. Both
    // must keep tmux syntax out of the text.
    let awkward = [
        "it's; -x #{pane_id} $HOME ~ \"q\" a\\b;",
        "Enter",
        "-t",
        ";",
        "C-c",
    ];
    let mut seen = 0;
    for text in awkward {
        tmux.set_label(&pane, text).unwrap();
        // Posted: a moment later when it went as a process, before the link was up.
        wait_until("the label", WAIT, || {
            tmux.display(&pane, "#{@task}").unwrap() == text
        });
        let before = tmux.output_count(&pane).unwrap();
        tmux.send_text(&pane, text).unwrap();
        tmux.send_key(&pane, "Enter").unwrap();
        // cat echoes the line, then prints it: the output count moves without polling.
        let after = tmux.await_output(&pane, before, WAIT).unwrap();
        assert_ne!(after, before, "no %output for {text:?}");
        seen += 2;
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let screen = tmux.capture(&pane).unwrap();
        let lines = screen.lines().filter(|l| awkward.contains(l)).count();
        if lines == seen {
            break;
        }
        assert!(Instant::now() < deadline, "screen:\n{screen}");
        tmux.await_output(
            &pane,
            tmux.output_count(&pane).unwrap(),
            Duration::from_millis(200),
        );
    }
}

#[test]
fn a_quiet_pane_wakes_nobody_and_the_link_reports_death_and_the_end() {
    let env = TestEnv::new();
    let (tmux, pane, news) = linked_cat(&env);
    let count = tmux.output_count(&pane).unwrap();
    let started = Instant::now();
    let after = tmux
        .await_output(&pane, count, Duration::from_millis(300))
        .unwrap();
    assert_eq!(after, count, "cat wrote nothing");
    assert!(started.elapsed() >= Duration::from_millis(300));

    tmux.send_key(&pane, "C-d").unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match news.recv_timeout(left).expect("news of the death in time") {
            PaneNews::Changed(info) if info.id == pane && info.dead => break,
            _ => {}
        }
    }
    env.tmux_ok(&["kill-server"]);
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if let PaneNews::ServerGone = news.recv_timeout(left).expect("news of the end in time") {
            break;
        }
    }
}

#[test]
fn a_link_whose_client_is_killed_attaches_again_and_keeps_counting() {
    let env = TestEnv::new();
    let (tmux, pane, _news) = linked_cat(&env);
    let control_clients = || -> Vec<String> {
        env.tmux_ok(&["list-clients", "-F", "#{client_control_mode} #{client_pid}"])
            .lines()
            .filter_map(|l| l.strip_prefix("1 ").map(String::from))
            .collect()
    };
    let deadline = Instant::now() + WAIT;
    let first = loop {
        if let [pid] = &control_clients()[..] {
            break pid.clone();
        }
        assert!(Instant::now() < deadline, "the link never attached");
        std::thread::sleep(Duration::from_millis(20));
    };
    let killed = std::process::Command::new("kill")
        .args(["-9", &first])
        .status()
        .unwrap();
    assert!(killed.success());
    // Calls go on meanwhile (as processes), and the link comes back with a new client.
    tmux.set_label(&pane, "still here").unwrap();
    wait_until("the label", WAIT, || {
        tmux.display(&pane, "#{@task}").unwrap() == "still here"
    });
    let deadline = Instant::now() + WAIT;
    while !matches!(&control_clients()[..], [pid] if *pid != first) {
        assert!(Instant::now() < deadline, "the link never attached again");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = tmux.output_count(&pane).unwrap();
    tmux.send_text(&pane, "again").unwrap();
    tmux.send_key(&pane, "Enter").unwrap();
    let after = tmux.await_output(&pane, before, WAIT).unwrap();
    assert_ne!(
        after, before,
        "no %output counted after the new client attached"
    );
}
