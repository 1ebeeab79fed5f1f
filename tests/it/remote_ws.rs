//! A task's workspace on fake ssh hosts (tests/multihost/fakehosts.sh): the bare mirror,
//! a worktree per attempt, the branch fetched back with its trailers, and the sentinel
//! stream through a cut and a reboot. They need root and openssh-server, so they run only
//! with `SWARM_MULTIHOST=1`. The coordinator's repository is under its own /tmp, which
//! every host replaces with a tmpfs of its own: the hosts cannot see it.

use crate::common::fakehosts::{FakeHosts, enabled};
use crate::common::{stderr, wait_until};
use crossbeam_channel::{Receiver, unbounded};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarm::git::{Committed, Prepared, Trailers};
use swarm::plan::TaskId;
use swarm::remote::{Sentinel, SentinelEvent, SentinelStream, Watch, Workspace};
use swarm::ssh::{ControlPath, Host, SystemSsh};

/// The coordinator's side: a repository with one commit on `main`, and swarm's ssh with
/// sockets of its own.
struct Coordinator {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    ssh: Arc<SystemSsh>,
    config: String,
}

impl Coordinator {
    fn new(hosts: &FakeHosts) -> Coordinator {
        let dir = tempfile::Builder::new()
            .prefix("swarm-ws-")
            .tempdir()
            .unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("README"), "hello\n").unwrap();
        git(&repo, &["add", "README"]);
        git(&repo, &["commit", "-qm", "first"]);
        let sockets = dir.path().join("cm");
        std::fs::create_dir(&sockets).unwrap();
        let ssh = SystemSsh::with_program("ssh".into(), ControlPath::at(&sockets));
        Coordinator {
            _dir: dir,
            repo,
            ssh: Arc::new(ssh),
            config: hosts.ssh_config().display().to_string(),
        }
    }

    fn host(&self, i: usize) -> Host {
        let name = format!("h{i}");
        Host::new(&name, &name, vec!["-F".into(), self.config.clone()]).unwrap()
    }

    fn workspace(&self, i: usize) -> Workspace {
        Workspace::new(self.ssh.clone(), self.host(i), "~/ws", &self.repo)
            .with_timeout(Duration::from_secs(30))
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.repo, args)
    }
}

/// git in `dir`, with the configuration pinned and an identity; panics if it fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Pat", "-c", "user.email=pat@example.com"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn trailers(task: &TaskId, attempt: u32) -> Trailers {
    Trailers {
        task: task.clone(),
        attempt,
    }
}

/// The next event `want` accepts, within `within`; the others are printed and skipped.
fn expect(
    rx: &Receiver<SentinelEvent>,
    what: &str,
    within: Duration,
    want: impl Fn(&SentinelEvent) -> bool,
) -> Duration {
    let started = Instant::now();
    let deadline = started + within;
    loop {
        match rx.recv_deadline(deadline) {
            Ok(event) if want(&event) => {
                eprintln!("{what}: {event:?} after {:?}", started.elapsed());
                return started.elapsed();
            }
            Ok(event) => eprintln!("(while waiting for {what}: {event:?})"),
            Err(_) => panic!("timed out after {within:?} waiting for {what}"),
        }
    }
}

fn done(event: &SentinelEvent, host: &str, task: &str, attempt: u32) -> bool {
    matches!(event, SentinelEvent::Done { host: h, sentinel: Sentinel { task: t, attempt: a, .. } }
        if h == host && t.0 == task && *a == attempt)
}

#[test]
fn an_attempt_comes_back_with_its_trailers_and_a_retry_on_another_host_continues_it() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let c = Coordinator::new(&hosts);
    let main = c.git(&["rev-parse", "main"]);
    let task = TaskId("auth".into());

    let h1 = c.workspace(1);
    let started = Instant::now();
    let one = h1.start_attempt(&task, 1, "main").unwrap();
    eprintln!(
        "mirror made, pushed and attempt started: {:?}",
        started.elapsed()
    );
    assert_eq!(one.path, "/root/ws/wt/auth.1");
    assert_eq!(one.prepared, Prepared::Fresh { base: main.clone() });
    // The agent: a commit of its own, a file left uncommitted, its sentinels, swarm's folder.
    hosts.ssh(
        1,
        &format!(
            "cd {} && echo one > a.txt && git add a.txt && \
             git -c user.name=Agent -c user.email=agent@example.com commit -qm 'agent: a' && \
             echo left > b.txt && mkdir -p .swarm docs && echo '{{}}' > .swarm/state && \
             touch docs/auth.done && echo > auth.done.tmp && mv auth.done.tmp auth.done",
            one.path
        ),
    );
    let started = Instant::now();
    let committed = h1
        .commit_attempt(&one.path, "Add auth", &trailers(&task, 1), &main)
        .unwrap();
    eprintln!("commit_attempt: {:?}", started.elapsed());
    let Committed::Changes { head } = committed else {
        panic!("{committed:?}")
    };
    let started = Instant::now();
    assert_eq!(h1.fetch_back(&task).unwrap(), head);
    eprintln!("fetch_back: {:?}", started.elapsed());

    assert_eq!(c.git(&["rev-parse", "swarm/task/auth"]), head);
    let files = c.git(&["ls-tree", "-r", "--name-only", &head]);
    assert_eq!(files, "README\na.txt\nb.txt", "no sentinel, no .swarm/");
    assert_eq!(
        c.git(&["log", "-1", "--format=%B", &head]),
        "Add auth\n\nSwarm-Task: auth\nSwarm-Attempt: 1"
    );
    assert_eq!(
        c.git(&["log", "-1", "--format=%s", &format!("{head}^")]),
        "agent: a"
    );

    // A retry on h2 continues the branch as the coordinator has it; its path names the
    // attempt, so attempt 1 (still on h1) writes elsewhere.
    let h2 = c.workspace(2);
    let two = h2.start_attempt(&task, 2, "main").unwrap();
    assert_eq!(two.path, "/root/ws/wt/auth.2");
    assert_eq!(two.prepared, Prepared::Resumed { head: head.clone() });
    assert_eq!(
        hosts.ssh(2, &format!("cd {} && git rev-parse HEAD", two.path)),
        head
    );
    hosts.ssh(
        2,
        &format!("cd {} && echo two >> a.txt && touch auth.done", two.path),
    );
    let Committed::Changes { head: second } = h2
        .commit_attempt(&two.path, "Add auth", &trailers(&task, 2), &main)
        .unwrap()
    else {
        panic!("attempt 2 changed a.txt")
    };
    assert_eq!(h2.fetch_back(&task).unwrap(), second);
    c.git(&["merge-base", "--is-ancestor", &head, &second]);
    assert_eq!(
        c.git(&[
            "log",
            "-1",
            "--format=%(trailers:key=Swarm-Attempt,valueonly)",
            &second
        ]),
        "2"
    );

    // A third attempt, back on h1, that changes nothing.
    let three = h1.start_attempt(&task, 3, "main").unwrap();
    assert_ne!(three.path, one.path);
    assert_eq!(
        h1.commit_attempt(&three.path, "Add auth", &trailers(&task, 3), &second)
            .unwrap(),
        Committed::Nothing
    );

    // What a reconnect would clean up.
    let listed: Vec<(String, u32)> = h1
        .attempts()
        .unwrap()
        .into_iter()
        .map(|a| (a.task.0, a.attempt))
        .collect();
    assert_eq!(listed, [("auth".into(), 1), ("auth".into(), 3)]);
    assert!(h1.remove_attempt(&task, 1, false).unwrap());
    assert!(!hosts.disk(1, "ws/wt/auth.1").exists());
    h1.prune().unwrap();
}

#[test]
fn a_cut_host_gives_host_unreachable_within_the_timeout() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(1);
    let c = Coordinator::new(&hosts);
    let timeout = Duration::from_secs(5);
    let h1 = c.workspace(1).with_timeout(timeout);
    let task = TaskId("cut".into());
    let one = h1.start_attempt(&task, 1, "main").unwrap();
    let main = c.git(&["rev-parse", "main"]);

    hosts.act("cut", 1);
    let started = Instant::now();
    let err = h1
        .commit_attempt(&one.path, "m", &trailers(&task, 1), &main)
        .unwrap_err();
    let took = started.elapsed();
    eprintln!("commit_attempt while cut: {err} after {took:?}");
    assert!(err.is_unreachable(), "{err}");
    // The timeout, plus at most the few seconds `ssh -O exit` may take.
    assert!(took < timeout + Duration::from_secs(5), "{took:?}");

    let started = Instant::now();
    let err = h1.fetch_back(&task).unwrap_err();
    let took = started.elapsed();
    eprintln!("fetch_back while cut: {err} after {took:?}");
    assert!(err.is_unreachable(), "{err}");
    assert!(took < timeout + Duration::from_secs(5), "{took:?}");

    hosts.act("heal", 1);
    let healed = Instant::now();
    wait_until("h1 to commit after heal", Duration::from_secs(60), || {
        h1.commit_attempt(&one.path, "m", &trailers(&task, 1), &main)
            .inspect_err(|err| eprintln!("after heal: {err}"))
            .is_ok()
    });
    eprintln!("committing again {:?} after heal", healed.elapsed());
}

#[test]
fn the_sentinel_stream_reports_done_through_a_cut_and_a_reboot() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let c = Coordinator::new(&hosts);
    hosts.ssh(1, "mkdir -p ws/wt/t1.1 ws/wt/t2.1 ws/wt/t3.4");
    let (tx, rx) = unbounded();
    let _h1 = SentinelStream::start(c.ssh.clone(), Watch::new(c.host(1), "~/ws"), tx.clone());
    let mut polled = Watch::new(c.host(2), "~/ws");
    polled.inotify = false;
    let _h2 = SentinelStream::start(c.ssh.clone(), polled, tx);
    let up = |host: &'static str, watching: bool| move |e: &SentinelEvent| matches!(e, SentinelEvent::HostUp { host: h, watching: w } if h == host && *w == watching);
    let lost = |host: &'static str| move |e: &SentinelEvent| matches!(e, SentinelEvent::HostLost { host: h, .. } if h == host);
    expect(
        &rx,
        "h1 up, watching",
        Duration::from_secs(30),
        up("h1", true),
    );

    // Written as agents do: to a temporary name, then renamed.
    hosts.ssh(
        1,
        "echo ok > ws/wt/t1.1/t1.done.tmp && mv ws/wt/t1.1/t1.done.tmp ws/wt/t1.1/t1.done",
    );
    let seen = expect(&rx, "t1.1 done on h1", Duration::from_secs(10), |e| {
        done(e, "h1", "t1", 1)
    });
    assert!(seen < Duration::from_secs(5), "inotify is quick: {seen:?}");
    // swarm's default sentinel, in a directory made just before it.
    hosts.ssh(
        1,
        "mkdir -p ws/wt/t1.1/.swarm/done && touch ws/wt/t1.1/.swarm/done/t1.done",
    );
    expect(
        &rx,
        "t1.1's default sentinel",
        Duration::from_secs(10),
        |e| {
            matches!(e, SentinelEvent::Done { host, sentinel }
            if host == "h1" && sentinel.path == ".swarm/done/t1.done")
        },
    );
    // h2 has no watcher: its poll finds a sentinel in a worktree made after it started.
    hosts.ssh(2, "mkdir -p ws/wt/u.3/out && touch ws/wt/u.3/out/u.done");
    expect(
        &rx,
        "u.3 done on h2 (polled)",
        Duration::from_secs(15),
        |e| {
            matches!(e, SentinelEvent::Done { host, sentinel }
            if host == "h2" && sentinel.path == "out/u.done" && sentinel.attempt == 3)
        },
    );

    // A partition: the stream notices, and a sentinel written meanwhile is found by the
    // rescan after the heal.
    hosts.act("cut", 1);
    expect(&rx, "h1 lost (cut)", Duration::from_secs(60), lost("h1"));
    std::fs::write(hosts.disk(1, "ws/wt/t2.1/t2.done"), "").unwrap();
    hosts.act("heal", 1);
    expect(
        &rx,
        "h1 back after heal",
        Duration::from_secs(60),
        up("h1", true),
    );
    expect(
        &rx,
        "t2.1 done, written during the cut",
        Duration::from_secs(30),
        |e| done(e, "h1", "t2", 1),
    );

    // A reboot: the host dies, a sentinel lands on its disk, it comes back.
    hosts.act("kill", 1);
    expect(&rx, "h1 lost (killed)", Duration::from_secs(30), lost("h1"));
    std::fs::write(hosts.disk(1, "ws/wt/t3.4/t3.done"), "").unwrap();
    hosts.act("boot", 1);
    expect(
        &rx,
        "h1 back after boot",
        Duration::from_secs(60),
        up("h1", true),
    );
    expect(
        &rx,
        "t3.4 done, written while down",
        Duration::from_secs(30),
        |e| done(e, "h1", "t3", 4),
    );
    // And the new watcher works.
    hosts.ssh(1, "touch ws/wt/t1.1/again.done");
    expect(
        &rx,
        "a sentinel after the reboot",
        Duration::from_secs(10),
        |e| matches!(e, SentinelEvent::Done { host, sentinel } if host == "h1" && sentinel.path == "again.done"),
    );
}
