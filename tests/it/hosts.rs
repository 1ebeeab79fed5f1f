//! `swarm hosts check` and the ssh transport against fake ssh hosts: network, mount, pid
//! and UTS namespaces on this machine (tests/multihost/fakehosts.sh). They need root and
//! openssh-server, so they run only with `SWARM_MULTIHOST=1`; with it set, a machine that
//! cannot make the hosts fails the tests rather than skipping them.

use crate::common::fakehosts::{FakeHosts, enabled};
use crate::common::{TestEnv, stderr, stdout, wait_until};
use std::time::{Duration, Instant};
use swarm::ssh::{ControlPath, Host, Remote, SshError, SystemSsh};

const SOCKET: &str = "swarm-it-hosts";

/// A workspace whose swarm.toml names `h1`..`hN`, reached through the harness's config.
fn workspace(hosts: &FakeHosts) -> TestEnv {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] a task\n");
    let mut toml = format!(
        "socket = \"{SOCKET}\"\nworkers = 0\n\n[profiles.shell]\nbase = \"generic\"\ncommand = [\"sh\"]\n"
    );
    for i in 1..=hosts.count {
        let agents = match i {
            1 => "[\"shell\", \"claude\"]",
            _ => "[\"shell\"]",
        };
        toml.push_str(&format!(
            "\n[[hosts]]\nname = \"h{i}\"\nagents = {agents}\nssh_options = [\"-F\", \"{}\"]\n",
            hosts.ssh_config().display()
        ));
    }
    env.write("swarm.toml", &toml);
    env
}

/// `swarm hosts check --json`: its exit code, report, and how long it took.
fn check(env: &TestEnv) -> (i32, serde_json::Value, Duration) {
    let started = Instant::now();
    let out = env
        .swarm()
        .args(["hosts", "check", "--json"])
        .output()
        .expect("run swarm hosts check");
    let took = started.elapsed();
    let report = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|err| panic!("{err}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap_or(-1), report, took)
}

fn host<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

#[test]
fn hosts_check_reports_what_each_host_has() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts);
    hosts.ssh(
        1,
        &format!("tmux -L {SOCKET} -f /dev/null new-session -d -s s"),
    );
    let incarnation = hosts.ssh(
        1,
        &format!("tmux -L {SOCKET} display-message -p '#{{pid}}:#{{start_time}}'"),
    );

    let (code, report, took) = check(&env);
    eprintln!("hosts check, 2 hosts, masters opened: {took:?}");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["socket"], SOCKET);
    assert_eq!(report["session_budget"], 5);
    for name in ["h1", "h2"] {
        let h = host(&report, name);
        assert_eq!(h["reachable"], true, "{h:#}");
        assert_eq!(h["ready"], true, "{h:#}");
        assert!(h["tmux"].as_str().unwrap().starts_with("tmux 3."), "{h:#}");
        assert!(
            h["git"].as_str().unwrap().starts_with("git version"),
            "{h:#}"
        );
        assert!(h["inotifywait"].as_str().unwrap().ends_with("/inotifywait"));
        // The harness's sshd runs with its own config, which allows 64.
        assert_eq!(h["max_sessions"]["value"], 64, "{h:#}");
        assert_eq!(h["max_sessions"]["enough"], true);
        let shell = &h["agents"][0];
        assert_eq!(shell["profile"], "shell");
        assert!(
            shell["path"].as_str().unwrap().ends_with("/sh"),
            "{shell:#}"
        );
        assert_eq!(shell["login"], serde_json::Value::Null);
    }
    let h1 = host(&report, "h1");
    assert_eq!(h1["server"], incarnation.as_str());
    let claude = &h1["agents"][1];
    assert_eq!(claude["path"], serde_json::Value::Null, "{claude:#}");
    assert_eq!(claude["login"], false);
    assert!(
        h1["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("`claude` is not on the PATH")),
        "{h1:#}"
    );
    assert_eq!(host(&report, "h2")["server"], serde_json::Value::Null);

    // Again, over the masters the first check left open.
    let (code, _, took) = check(&env);
    eprintln!("hosts check, 2 hosts, over open masters: {took:?}");
    assert_eq!(code, 0);

    // The table people read.
    let out = env.swarm().args(["hosts", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("HOST"), "{table}");
    let h1_row = table.lines().find(|l| l.starts_with("h1 ")).unwrap();
    assert!(
        h1_row.contains("ready") && h1_row.contains(&incarnation),
        "{table}"
    );
    assert!(h1_row.contains("claude missing") && h1_row.contains("64 >= 5"));
}

#[test]
fn a_cut_host_is_reported_unreachable_in_time_and_ready_after_heal() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts);
    let (code, _, _) = check(&env);
    assert_eq!(code, 0);

    hosts.act("cut", 2);
    let (code, report, took) = check(&env);
    eprintln!("hosts check with h2 cut: {took:?}");
    assert_eq!(code, 1, "{report:#}");
    let h2 = host(&report, "h2");
    assert_eq!(h2["reachable"], false, "{h2:#}");
    assert_eq!(h2["ready"], false);
    assert!(!h2["error"].as_str().unwrap().is_empty());
    assert_eq!(host(&report, "h1")["ready"], true);
    // The call timeout is 10 s; no hang past it.
    assert!(took < Duration::from_secs(20), "{took:?}");

    hosts.act("heal", 2);
    let started = Instant::now();
    wait_until("h2 to be ready again", Duration::from_secs(30), || {
        check(&env).0 == 0
    });
    eprintln!("hosts check ready again {:?} after heal", started.elapsed());

    // A host that is down answers "refused" at once.
    hosts.act("kill", 2);
    let (code, report, took) = check(&env);
    assert_eq!(code, 1);
    assert_eq!(host(&report, "h2")["reachable"], false);
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_hung_master_gives_host_unreachable_within_the_call_timeout() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(1);
    let sockets = tempfile::Builder::new()
        .prefix("swarm-cm-")
        .tempdir()
        .unwrap();
    let ssh = SystemSsh::with_program("ssh".into(), ControlPath::at(sockets.path()));
    let config = hosts.ssh_config().display().to_string();
    let h1 = Host::new("h1", "h1", vec!["-F".into(), config]).unwrap();
    let out = ssh
        .exec(&h1, &["echo", "it's up"], Duration::from_secs(10))
        .unwrap();
    assert_eq!(out.stdout, "it's up\n");

    // Round trips over the master, for the record.
    let started = Instant::now();
    for _ in 0..10 {
        ssh.exec(&h1, &["true"], Duration::from_secs(10)).unwrap();
    }
    eprintln!("exec over the master: {:?} each", started.elapsed() / 10);

    let timeout = Duration::from_secs(6);
    let started_file = hosts.disk(1, "started");
    let call = std::thread::spawn({
        let ssh_host = h1.clone();
        move || {
            let ssh = ssh;
            let result = ssh.exec(
                &ssh_host,
                &["sh", "-c", "touch /root/started; sleep 60"],
                timeout,
            );
            (result, ssh)
        }
    });
    wait_until(
        "the remote command to start",
        Duration::from_secs(10),
        || started_file.exists(),
    );
    let cut = Instant::now();
    hosts.act("cut", 1);
    let (result, ssh) = call.join().unwrap();
    let after = cut.elapsed();
    eprintln!("hung master: HostUnreachable {after:?} after the cut");
    match result {
        Err(err @ SshError::HostUnreachable { .. }) => {
            assert!(err.to_string().contains("no answer within 6s"), "{err}");
        }
        other => panic!("want HostUnreachable, got {other:?}"),
    }
    // The timeout, plus at most the few seconds `ssh -O exit` may take.
    assert!(after < timeout + Duration::from_secs(5), "{after:?}");

    // While cut, a new call fails too, and never waits past its timeout.
    let started = Instant::now();
    wait_until("a call to fail while cut", Duration::from_secs(15), || {
        ssh.exec(&h1, &["true"], Duration::from_secs(3)).is_err()
    });
    assert!(started.elapsed() < Duration::from_secs(15));

    hosts.act("heal", 1);
    let healed = Instant::now();
    wait_until("h1 to answer after heal", Duration::from_secs(30), || {
        ssh.exec(&h1, &["true"], Duration::from_secs(5)).is_ok()
    });
    eprintln!("answering again {:?} after heal", healed.elapsed());
}

/// Bad input needs no hosts: it is refused before any ssh runs.
#[test]
fn hosts_check_refuses_bad_input_with_exit_2() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] a task\n");
    let out = env.swarm().args(["hosts", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no [[hosts]] to check"),
        "{}",
        stderr(&out)
    );

    env.write(
        "swarm.toml",
        "[[hosts]]\nname = \"gpu1\"\nssh = \"-oProxyCommand=touch /tmp/owned\"\n",
    );
    let out = env.swarm().args(["hosts", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("swarm.toml:3:") && err.contains("starts with `-`"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());

    env.write(
        "swarm.toml",
        "[[hosts]]\nname = \"a\"\n[[hosts]]\nname = \"a\"\nssh = \"b\"\n",
    );
    let out = env.swarm().args(["hosts", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("swarm.toml:4:"), "{}", stderr(&out));
}

#[test]
fn attach_to_a_host_that_is_not_declared_is_exit_2() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] a task\n");
    env.write("swarm.toml", "[[hosts]]\nname = \"gpu1\"\n");
    let out = env
        .swarm()
        .args(["attach", "--host", "gpu9", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--host gpu9: no such host"), "{err}");
    assert!(err.contains("gpu1"), "{err}");
}

#[test]
fn a_run_whose_only_workers_are_on_hosts_that_do_not_answer_is_refused_untouched() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] a task\n");
    let toml = format!(
        "socket = \"{}\"\nworkers = 0\nagent = \"sim\"\n\n[[hosts]]\nname = \"ghost\"\nssh = \"ghost.invalid\"\n",
        env.socket
    );
    env.write("swarm.toml", &toml);
    let started = Instant::now();
    let out = env
        .swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no worker can start") && err.contains("ghost"),
        "{err}"
    );
    assert!(err.contains("swarm hosts check"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // Nothing was touched: no tmux server, no journal, the plan as written.
    assert!(!env.server_alive());
    assert!(!env.path(".swarm/journal.jsonl").exists());
    assert_eq!(env.read("PLAN.md"), "- [ ] a task\n");
}
