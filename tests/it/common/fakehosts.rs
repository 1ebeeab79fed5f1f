//! Fake ssh hosts for the multi-host tests: network, mount, pid and UTS namespaces on
//! this machine, made by tests/multihost/fakehosts.sh (root and openssh-server needed).

use super::{stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether the suite should run; says why not when it should not.
pub fn enabled() -> bool {
    let on = std::env::var("SWARM_MULTIHOST").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: set SWARM_MULTIHOST=1 (needs root and openssh-server)");
    }
    on
}

/// N fake hosts `h1`..`hN`, torn down when dropped, whether the test passed or not.
pub struct FakeHosts {
    /// The harness's files: keys, sshd configs, each host's disk. Not under /tmp, which
    /// every host replaces with a tmpfs of its own.
    pub base: tempfile::TempDir,
    pub count: usize,
    /// sshd's `MaxSessions` on each host.
    max_sessions: u32,
    /// Held while the hosts are up: their names and addresses are fixed (`swarm-hI`,
    /// `10.99.I.2`), so two test processes (two worktrees' suites) would tear down each
    /// other's. Released after the drop's teardown.
    _machine: std::fs::File,
}

impl FakeHosts {
    pub fn up(count: usize) -> FakeHosts {
        FakeHosts::up_with_sessions(count, 64)
    }

    /// N hosts whose sshd allows `max_sessions` sessions per connection (sshd's own
    /// default is 10).
    pub fn up_with_sessions(count: usize, max_sessions: u32) -> FakeHosts {
        assert!(
            rustix::process::getuid().is_root(),
            "SWARM_MULTIHOST=1 needs root: fakehosts.sh makes network namespaces"
        );
        let base = tempfile::Builder::new()
            .prefix("swarm-hosts-")
            .tempdir_in("/var/tmp")
            .expect("a scratch directory in /var/tmp");
        let machine = std::fs::File::create("/var/tmp/swarm-fakehosts.lock")
            .expect("the fake hosts' lock file in /var/tmp");
        machine.lock().expect("the fake hosts' lock");
        let hosts = FakeHosts {
            base,
            count,
            max_sessions,
            _machine: machine,
        };
        // A run killed before its drop leaves namespaces of the same names behind.
        hosts.script(&["down", &count.to_string()]);
        let out = hosts.script(&["up", &count.to_string()]);
        assert!(
            out.status.success(),
            "fakehosts.sh up {count} failed; the multi-host tests need root, `ip netns`, \
             unshare and openssh-server:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        hosts
    }

    pub fn script(&self, args: &[&str]) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/multihost/fakehosts.sh");
        Command::new("bash")
            .arg(script)
            .args(args)
            .env("BASE", self.base.path())
            .env("HIDE", "")
            .env("MAX_SESSIONS", self.max_sessions.to_string())
            .output()
            .expect("run fakehosts.sh")
    }

    /// `cut`, `heal`, `kill`, `crash` or `boot` host `i`.
    pub fn act(&self, what: &str, i: usize) {
        let out = self.script(&[what, &i.to_string()]);
        assert!(
            out.status.success(),
            "fakehosts.sh {what} {i}: {}",
            stderr(&out)
        );
    }

    /// The ssh config that reaches `h1`..`hN`.
    pub fn ssh_config(&self) -> PathBuf {
        self.base.path().join("client/config")
    }

    /// A file on host `i`'s disk (its `/root`), as the coordinator sees it.
    pub fn disk(&self, i: usize, rel: &str) -> PathBuf {
        self.base.path().join(format!("h{i}/home/{rel}"))
    }

    /// Runs `script` on host `i` through the harness's own ssh setup.
    pub fn ssh(&self, i: usize, script: &str) -> String {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(self.ssh_config())
            .arg(format!("h{i}"))
            .arg(script)
            .output()
            .expect("run ssh");
        assert!(out.status.success(), "ssh h{i} {script}: {}", stderr(&out));
        stdout(&out).trim().to_owned()
    }
}

impl Drop for FakeHosts {
    fn drop(&mut self) {
        let out = self.script(&["down", &self.count.to_string()]);
        if !out.status.success() {
            eprintln!("fakehosts.sh down: {}", stderr(&out));
        }
    }
}
