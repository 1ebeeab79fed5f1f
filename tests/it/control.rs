//! The control-mode client against a real tmux on a private socket: replies matched to
//! commands, pushed pane-death subscriptions, and the end of the server.

use crate::common::TestEnv;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use swarm::tmux::Tmux;
use swarm::tmux::control::{Control, Message, Notification};

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
