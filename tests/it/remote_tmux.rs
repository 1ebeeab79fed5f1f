//! A `Tmux` on another host (`Tmux::over_ssh`) against fake ssh hosts
//! (tests/multihost/fakehosts.sh): a worker session there, prompts pasted over the
//! control link byte-exact, and the link through a partition, a host kill and a reboot.
//! Only with `SWARM_MULTIHOST=1` (root and openssh-server).

use crate::common::fakehosts::{FakeHosts, enabled};
use crate::common::wait_until;
use crossbeam_channel::Receiver;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarm::ssh::{ControlPath, Host, SystemSsh};
use swarm::tmux::{Mux, PaneId, PaneNews, PasteOutcome, SpawnSpec, Tmux, TmuxError};

/// A handle on swarm's server on host `i` of `hosts`, over one ssh of the test's own.
fn remote(hosts: &FakeHosts, ssh: &Arc<SystemSsh>, i: usize, socket: &str) -> Tmux {
    let config = hosts.ssh_config().display().to_string();
    let host = Host::new(
        &format!("h{i}"),
        &format!("h{i}"),
        vec!["-F".into(), config],
    )
    .unwrap();
    Tmux::new(socket, "swarm")
        .over_ssh(ssh.clone(), host)
        .with_timeout(Duration::from_secs(5))
}

fn spec(argv: &[&str]) -> SpawnSpec {
    SpawnSpec {
        window: None,
        window_name: "workers".into(),
        label: "w1".into(),
        profile: "cat".into(),
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
        cwd: PathBuf::from("/root"),
        env: BTreeMap::new(),
        host: None,
    }
}

/// A pane that writes what it is typed to `/root/<file>` on its host: no echo, and no
/// line editing, whose 4 KiB line limit would cut a long line short.
fn receiver(tmux: &Tmux, file: &str) -> PaneId {
    let script = format!("stty -echo -icanon; exec cat > /root/{file}");
    let pane = tmux.spawn(&spec(&["sh", "-c", &script])).unwrap().pane;
    wait_until("the receiver to run cat", Duration::from_secs(20), || {
        tmux.panes()
            .unwrap()
            .iter()
            .any(|p| p.id == pane && p.current_command == "cat")
    });
    pane
}

/// About 200 KB of what a prompt may hold: quotes, `$`, `;`, formats, backslashes,
/// tabs, unicode, and a leading `~`, which tmux would expand.
fn prompt(tag: &str) -> String {
    let mut text = format!("~{tag} starts here\n");
    let mut n = 0;
    while text.len() < 200_000 {
        text.push_str(&format!(
            "{n:05} it's \"quoted\" $HOME ${{PATH}} ; \\; #{{pane_id}} #(touch /tmp/x) %d \\ \
             back\\\\slash\ttab é 𝄞 `id` ~/x {{}}\n"
        ));
        n += 1;
    }
    text
}

/// Runs `script` on host `i` over a connection of its own: the harness's shared master
/// was seen to fail a call while it was being opened.
fn on_host(hosts: &FakeHosts, i: usize, script: &str) -> String {
    let out = std::process::Command::new("ssh")
        .arg("-F")
        .arg(hosts.ssh_config())
        .args(["-o", "ControlMaster=no", "-o", "ControlPath=none"])
        .arg(format!("h{i}"))
        .arg(script)
        .output()
        .expect("run ssh");
    assert!(
        out.status.success(),
        "ssh h{i} {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads news until `want` matches one, failing on `ServerGone` unless `gone_ok`;
/// returns the matching one.
fn await_news(
    news: &Receiver<PaneNews>,
    what: &str,
    timeout: Duration,
    gone_ok: bool,
    want: impl Fn(&PaneNews) -> bool,
) -> PaneNews {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let item = news
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("timed out after {timeout:?} waiting for {what}"));
        if want(&item) {
            return item;
        }
        assert!(
            gone_ok || !matches!(item, PaneNews::ServerGone),
            "ServerGone while waiting for {what}"
        );
    }
}

fn unreachable<T>(result: &Result<T, TmuxError>) -> bool {
    matches!(result, Err(TmuxError::HostUnreachable { .. }))
}

#[test]
fn prompts_reach_a_remote_pane_whole_through_a_partition_and_a_reboot() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let sockets = tempfile::Builder::new()
        .prefix("swarm-cm-")
        .tempdir()
        .unwrap();
    let ssh = Arc::new(SystemSsh::with_program(
        "ssh".into(),
        ControlPath::at(sockets.path()),
    ));
    let socket = format!("swarm-it-rtmux-{}", std::process::id());

    // The session on each host: started once, the same when asked again.
    let h1 = remote(&hosts, &ssh, 1, &socket);
    let h2 = remote(&hosts, &ssh, 2, &socket);
    let incarnation = h1.start_host_session(200, 50).unwrap();
    assert_eq!(h1.start_host_session(200, 50).unwrap(), incarnation);
    assert_ne!(h2.start_host_session(200, 50).unwrap(), "");
    let (h1, news) = h1.linked();
    let (h2, _h2_news) = h2.linked();

    // A 200 KB prompt, byte-exact on h1's disk, and in one piece: never twice.
    let pane = receiver(&h1, "recv.txt");
    assert!(h1.panes().unwrap().iter().any(|p| p.id == pane && !p.dead));
    let first = prompt("first");
    let started = Instant::now();
    assert_eq!(h1.paste(&pane, &first).unwrap(), PasteOutcome::Pasted);
    eprintln!(
        "a {} byte paste over the ssh control link: {:?}",
        first.len(),
        started.elapsed()
    );
    let recv = hosts.disk(1, "recv.txt");
    let size = |n: usize| {
        let recv = recv.clone();
        move || std::fs::metadata(&recv).is_ok_and(|m| m.len() as usize >= n)
    };
    wait_until(
        "the prompt to arrive",
        Duration::from_secs(30),
        size(first.len()),
    );
    assert_eq!(
        on_host(&hosts, 1, "sha256sum < /root/recv.txt")
            .split(' ')
            .next(),
        Some(sha256(first.as_bytes()).as_str())
    );

    // Screens over the link, for the record.
    let mut took: Vec<Duration> = (0..50)
        .map(|_| {
            let started = Instant::now();
            h1.capture(&pane).unwrap();
            started.elapsed()
        })
        .collect();
    took.sort();
    eprintln!(
        "capture-pane over the ssh control link: median {:?}, max {:?}",
        took[25], took[49]
    );

    // h1 partitioned: its calls fail as unreachable within their timeout, the link says
    // HostLost and never ServerGone, and h2 goes on.
    // A control client of swarm's (attached with `ignore-size`) that the link does not
    // own, as the link's own client of before a partition can linger on a host; and a
    // person's own control client, which must stay.
    on_host(
        &hosts,
        1,
        &format!(
            "nohup sh -c 'sleep 600 | tmux -L {socket} -C attach -t =swarm -f ignore-size' \
             >/dev/null 2>&1 &
             nohup sh -c 'sleep 600 | tmux -L {socket} -C attach -t =swarm' >/dev/null 2>&1 &"
        ),
    );
    let clients = format!(
        "tmux -L {socket} list-clients -F '#{{client_control_mode}}#{{?#{{m:*ignore-size*,#{{client_flags}}}},s,p}}' | sort"
    );
    wait_until("the lingering clients", Duration::from_secs(20), || {
        on_host(&hosts, 1, &clients) == "1p\n1s\n1s"
    });

    hosts.act("cut", 1);
    let cut = Instant::now();
    // Sent before the link knows: no answer, so its outcome is in doubt until the retry.
    let second = prompt("second");
    let lost = h1.paste(&pane, &second);
    eprintln!("a paste into a cut host: {:?}", cut.elapsed());
    assert!(unreachable(&lost), "{lost:?}");
    let listing = Instant::now();
    let listed = h1.panes();
    let took = listing.elapsed();
    eprintln!("list-panes on a cut host: {took:?}");
    assert!(unreachable(&listed), "{listed:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    await_news(&news, "HostLost", Duration::from_secs(60), false, |n| {
        matches!(n, PaneNews::HostLost)
    });
    eprintln!("HostLost {:?} after the cut", cut.elapsed());
    let refused = h1.paste(&pane, "while cut\n");
    assert!(unreachable(&refused), "{refused:?}");
    let other = receiver(&h2, "recv2.txt");
    assert_eq!(
        h2.paste(&other, "h2 works\n").unwrap(),
        PasteOutcome::Pasted
    );
    wait_until("h2's paste", Duration::from_secs(30), || {
        std::fs::read_to_string(hosts.disk(2, "recv2.txt")).is_ok_and(|t| t == "h2 works\n")
    });

    // Healed: the same server is back with the pane still running, and pastes work again.
    hosts.act("heal", 1);
    let healed = Instant::now();
    let back = await_news(&news, "HostBack", Duration::from_secs(90), false, |n| {
        matches!(n, PaneNews::HostBack { .. })
    });
    eprintln!("HostBack {:?} after the heal", healed.elapsed());
    let PaneNews::HostBack { incarnation: again } = back else {
        unreachable!()
    };
    assert_eq!(again, incarnation);
    // Back, the link ended the lingering client of swarm's: its own is swarm's only one,
    // and the person's stays.
    assert_eq!(on_host(&hosts, 1, &clients), "1p\n1s");
    assert!(h1.panes().unwrap().iter().any(|p| p.id == pane && !p.dead));
    // The retry finds that the lost paste never ran, and pastes it once.
    assert_eq!(h1.paste(&pane, &second).unwrap(), PasteOutcome::Pasted);
    let both = format!("{first}{second}");
    wait_until(
        "the second prompt",
        Duration::from_secs(30),
        size(both.len()),
    );
    assert_eq!(
        on_host(&hosts, 1, "sha256sum < /root/recv.txt")
            .split(' ')
            .next(),
        Some(sha256(both.as_bytes()).as_str())
    );

    // A paste that ran but whose answer was lost (a timeout far too short to hear it):
    // the retry finds it went in, and does not paste it again.
    let third = prompt("third");
    let hasty = h1.clone().with_timeout(Duration::from_millis(1));
    let lost = hasty.paste(&pane, &third);
    assert!(unreachable(&lost), "{lost:?}");
    let mut retried = None;
    wait_until("the retry to be answered", Duration::from_secs(60), || {
        retried = h1.paste(&pane, &third).ok();
        retried.is_some()
    });
    assert_eq!(retried, Some(PasteOutcome::Pasted));
    // Pastes arrive in order: once this one is there, a double would be too.
    assert_eq!(h1.paste(&pane, "end\n").unwrap(), PasteOutcome::Pasted);
    let all = format!("{first}{second}{third}end\n");
    wait_until("the last paste", Duration::from_secs(30), size(all.len()));
    assert_eq!(
        on_host(&hosts, 1, "sha256sum < /root/recv.txt")
            .split(' ')
            .next(),
        Some(sha256(all.as_bytes()).as_str())
    );

    // A dead pane is refused, and the server lives on.
    let dead = h1.spawn(&spec(&["true"])).unwrap().pane;
    wait_until("the pane to die", Duration::from_secs(20), || {
        h1.panes().unwrap().iter().any(|p| p.id == dead && p.dead)
    });
    assert_eq!(
        h1.paste(&dead, "into the void\n").unwrap(),
        PasteOutcome::Refused("dead".into())
    );
    assert_eq!(h1.incarnation().unwrap(), incarnation);
    assert_eq!(
        on_host(&hosts, 1, &format!("tmux -L {socket} list-buffers | wc -l")),
        "0"
    );

    // The host dies and reboots: a new server, told apart by its incarnation.
    hosts.act("kill", 1);
    await_news(
        &news,
        "HostLost after the kill",
        Duration::from_secs(60),
        false,
        |n| matches!(n, PaneNews::HostLost),
    );
    hosts.act("boot", 1);
    // Until ssh's backoff after the failures ends, calls fail at once.
    let mut started = None;
    wait_until(
        "a session on the rebooted h1",
        Duration::from_secs(60),
        || {
            started = h1.start_host_session(200, 50).ok();
            started.is_some()
        },
    );
    let rebooted = started.unwrap();
    assert_ne!(rebooted, incarnation);
    await_news(
        &news,
        "HostBack after the reboot",
        Duration::from_secs(90),
        true,
        |n| matches!(n, PaneNews::HostBack { incarnation } if *incarnation == rebooted),
    );
    assert!(!h1.panes().unwrap().iter().any(|p| p.id == pane));
}

#[test]
fn a_killed_remote_server_is_gone_not_lost_and_the_hosts_other_servers_live() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let sockets = tempfile::Builder::new()
        .prefix("swarm-cm-")
        .tempdir()
        .unwrap();
    let ssh = Arc::new(SystemSsh::with_program(
        "ssh".into(),
        ControlPath::at(sockets.path()),
    ));
    let socket = format!("swarm-it-rtmux-kill-{}", std::process::id());
    on_host(
        &hosts,
        2,
        "tmux -L persons -f /dev/null new-session -d -s mine",
    );
    let h2 = remote(&hosts, &ssh, 2, &socket);
    let first = h2.start_host_session(120, 40).unwrap();
    let (h2, news) = h2.linked();
    assert!(h2.has_session().unwrap());
    // Only the host's window, which idles.
    let panes = h2.panes().unwrap();
    assert_eq!(panes.len(), 1, "{panes:?}");
    assert_eq!(panes[0].current_command, "tail");
    let started = Instant::now();
    h2.kill_server().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!h2.has_session().unwrap());
    on_host(&hosts, 2, "tmux -L persons has-session -t mine");

    // The host answers and its server is gone: ServerGone, never HostLost. The link
    // keeps watching, and a new session brings it back with a new incarnation.
    await_news(&news, "ServerGone", Duration::from_secs(30), true, |n| {
        assert!(
            !matches!(n, PaneNews::HostLost),
            "HostLost for a host that answers"
        );
        matches!(n, PaneNews::ServerGone)
    });
    let second = h2.start_host_session(120, 40).unwrap();
    assert_ne!(second, first);
    await_news(
        &news,
        "HostBack",
        Duration::from_secs(60),
        true,
        |n| matches!(n, PaneNews::HostBack { incarnation } if *incarnation == second),
    );
    h2.kill_server().unwrap();
    // A handle on a host that is down answers at once, as unreachable.
    hosts.act("kill", 2);
    let started = Instant::now();
    assert!(unreachable(&h2.has_session()));
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Pastes `text` until one is answered: while the link reattaches, a paste is
/// `HostUnreachable`, and a retry settles a paste whose answer was lost.
fn paste_until_answered(tmux: &Tmux, pane: &PaneId, text: &str) -> PasteOutcome {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut errors = Vec::new();
    loop {
        match tmux.paste(pane, text) {
            Ok(answer) => return answer,
            Err(err @ TmuxError::HostUnreachable { .. }) => errors.push(err.to_string()),
            Err(err) => panic!("{err}"),
        }
        assert!(
            Instant::now() < deadline,
            "no paste answered in 60 s: {} tries, the first and last: {:?} {:?}",
            errors.len(),
            errors.first(),
            errors.last()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_paste_cut_off_by_a_dropped_ssh_goes_in_whole_and_once() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let sockets = tempfile::Builder::new()
        .prefix("swarm-cm-")
        .tempdir()
        .unwrap();
    let ssh = Arc::new(SystemSsh::with_program(
        "ssh".into(),
        ControlPath::at(sockets.path()),
    ));
    let socket = format!("swarm-it-rtmux-drop-{}", std::process::id());
    let h1 = remote(&hosts, &ssh, 1, &socket);
    h1.start_host_session(200, 50).unwrap();
    let (h1, _news) = h1.linked();
    let pane = receiver(&h1, "recv.txt");
    let host = h1.host().unwrap().clone();
    let text = prompt("dropped");
    let mut expected = String::new();
    let mut cut_off = 0;
    // The master, which carries the link's session, is closed at different points of
    // the paste: before, during, and after it.
    for delay in [0, 1, 2, 5, 10, 20, 40, 80] {
        let dropper = std::thread::spawn({
            let (ssh, host) = (ssh.clone(), host.clone());
            move || {
                std::thread::sleep(Duration::from_millis(delay));
                ssh.exit_master(&host);
            }
        });
        let first = h1.paste(&pane, &text);
        dropper.join().unwrap();
        match first {
            Ok(outcome) => assert_eq!(outcome, PasteOutcome::Pasted),
            Err(TmuxError::HostUnreachable { .. }) => {
                cut_off += 1;
                assert_eq!(
                    paste_until_answered(&h1, &pane, &text),
                    PasteOutcome::Pasted
                );
            }
            Err(err) => panic!("{err}"),
        }
        expected.push_str(&text);
        // Pastes arrive in order: once this one is there, a part or a double would be too.
        let end = format!("end {delay}\n");
        assert_eq!(paste_until_answered(&h1, &pane, &end), PasteOutcome::Pasted);
        expected.push_str(&end);
        let recv = hosts.disk(1, "recv.txt");
        wait_until("the end mark", Duration::from_secs(30), || {
            std::fs::read_to_string(&recv).is_ok_and(|t| t.len() >= expected.len())
        });
        let got = std::fs::read_to_string(&recv).unwrap();
        assert!(
            got == expected,
            "after a drop at {delay} ms: {} bytes, want {}",
            got.len(),
            expected.len()
        );
    }
    eprintln!("pastes answered HostUnreachable by a dropped master: {cut_off} of 8");
}

#[test]
fn a_host_found_silent_by_a_call_is_said_lost_then_back_and_its_paste_remembered() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(1);
    let sockets = tempfile::Builder::new()
        .prefix("swarm-cm-")
        .tempdir()
        .unwrap();
    let ssh = Arc::new(SystemSsh::with_program(
        "ssh".into(),
        ControlPath::at(sockets.path()),
    ));
    let socket = format!("swarm-it-rtmux-silent-{}", std::process::id());
    let h1 = remote(&hosts, &ssh, 1, &socket);
    let first = h1.start_host_session(120, 40).unwrap();
    let (h1, news) = h1.linked();
    let pane = receiver(&h1, "silent.txt");
    assert!(!h1.pasted_last(&pane, "one").unwrap(), "nothing pasted yet");
    assert_eq!(h1.paste(&pane, "one").unwrap(), PasteOutcome::Pasted);
    assert!(h1.pasted_last(&pane, "one").unwrap());
    assert!(!h1.pasted_last(&pane, "two").unwrap(), "another text");
    // A call of another channel found the host silent: the link, whose ssh is fine,
    // says so and then that it is back, the same server.
    h1.host_silent(&pane);
    await_news(&news, "HostLost", Duration::from_secs(10), false, |n| {
        matches!(n, PaneNews::HostLost)
    });
    let back = await_news(&news, "HostBack", Duration::from_secs(30), false, |n| {
        matches!(n, PaneNews::HostBack { .. })
    });
    assert!(matches!(back, PaneNews::HostBack { incarnation } if incarnation == first));
    // The paste is still known, and the pane's mark says it went in.
    assert!(h1.pasted_last(&pane, "one").unwrap());
    h1.kill_server().unwrap();
}
