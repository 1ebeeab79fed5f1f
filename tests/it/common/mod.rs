//! TestEnv: a temp workspace, a private tmux server, a pinned environment, and waits with
//! deadlines. No test reads the user's config or touches the user's tmux server.

#![allow(dead_code)]

pub mod fakehosts;
pub mod remote;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The `swarm` binary under test.
pub fn swarm_bin() -> &'static str {
    env!("CARGO_BIN_EXE_swarm")
}

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    /// Private tmux socket name; the server lives under `tmux_tmpdir`, never in /tmp/tmux-UID.
    pub socket: String,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("swarm-it-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("tmux")).unwrap();
        std::fs::create_dir_all(dir.path().join("ws")).unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let socket = format!("swarm-test-{}-{n}", std::process::id());
        TestEnv { dir, socket }
    }

    /// The workspace directory (where PLAN.md goes).
    pub fn ws(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.ws().join(rel)
    }

    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    fn pin(&self, cmd: &mut Command) {
        cmd.env("HOME", self.dir.path().join("home"))
            .env("TMUX_TMPDIR", self.dir.path().join("tmux"))
            // Where swarm keeps its per-plan locks: the test's own.
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env("TERM", "xterm-256color")
            .env("NO_COLOR", "1")
            .env("LANG", "C.UTF-8");
    }

    /// `swarm ARGS` in the workspace, on this test's socket environment.
    pub fn swarm(&self) -> Command {
        let mut cmd = Command::new(swarm_bin());
        cmd.current_dir(self.ws());
        self.pin(&mut cmd);
        cmd
    }

    /// `sh -c SCRIPT` in the workspace, pinned like `swarm`, with the `swarm` under test
    /// first on PATH: how a script (or an LLM orchestrator) runs the primitives.
    pub fn sh(&self, script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script).current_dir(self.ws());
        self.pin(&mut cmd);
        let bin = Path::new(swarm_bin()).parent().unwrap().to_path_buf();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::iter::once(bin).chain(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).unwrap());
        cmd
    }

    /// `tmux -L <socket> ARGS` against this test's private server.
    pub fn tmux(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("tmux");
        cmd.arg("-L").arg(&self.socket).args(args);
        self.pin(&mut cmd);
        cmd.output().expect("run tmux")
    }

    /// Like `tmux`, but panics unless it succeeds, and returns stdout.
    pub fn tmux_ok(&self, args: &[&str]) -> String {
        let out = self.tmux(args);
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn server_alive(&self) -> bool {
        self.tmux(&["list-sessions"]).status.success()
    }

    pub fn capture(&self, pane: &str) -> String {
        self.tmux_ok(&["capture-pane", "-p", "-t", pane])
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Only ever our own server: the socket lives under our private TMUX_TMPDIR. A swarm
        // still finishing can hold it up for a moment, so make sure it is gone.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.server_alive() && Instant::now() < deadline {
            let _ = self.tmux(&["kill-server"]);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Polls `cond` until it holds or `timeout` passes; panics with `what` on timeout.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Reads a sim-agent `--log` file as JSON values. A line still being written (a 100 KB
/// prompt's can be seen half-copied) has no newline yet and is left for the next read.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

/// The prompts the simulated agents of a test received (their `--log` is the test's
/// `sim.jsonl`), in arrival order.
pub fn received_prompts(env: &TestEnv) -> Vec<String> {
    read_jsonl(&env.dir.path().join("sim.jsonl"))
        .into_iter()
        .filter(|e| e["event"] == "prompt")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

/// The `worker` names in a `swarm workers --json` listing, in order.
pub fn worker_names(listing: &serde_json::Value) -> Vec<String> {
    listing["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["worker"].as_str().unwrap().to_string())
        .collect()
}

/// The prompt swarm renders (default template, first attempt) for each open task of
/// `plan`, by task id: what an agent must receive byte for byte.
pub fn expected_prompts(plan: &str) -> BTreeMap<String, String> {
    let tasks = swarm::plan::parse(plan, Path::new("PLAN.md")).unwrap();
    let template = swarm::prompt::PromptTemplate::new(None).unwrap();
    tasks
        .iter()
        .filter(|t| !t.checked)
        .map(|t| {
            let sentinel = swarm::prompt::sentinel_for(t).unwrap();
            let prompt = template.render(t, &sentinel, 1, "PLAN.md").unwrap();
            (t.id.to_string(), prompt)
        })
        .collect()
}

/// Asserts that `after` differs from `before` only by `[ ]` → `[x]` at the task boxes.
pub fn assert_only_checkboxes_flipped(before: &str, after: &str) {
    let tasks = swarm::plan::parse(before, Path::new("PLAN.md")).unwrap();
    let mut want = before.as_bytes().to_vec();
    for t in tasks.iter().filter(|t| !t.checked) {
        want[t.checkbox] = b'x';
    }
    assert!(
        want == after.as_bytes(),
        "PLAN.md changed beyond the checkboxes:\n--- want\n{}\n--- got\n{after}",
        String::from_utf8_lossy(&want)
    );
}

/// `swarm status --json` of the test's workspace, parsed.
pub fn status(env: &TestEnv) -> serde_json::Value {
    let out = env
        .swarm()
        .args(["status", "--json", "--socket", &env.socket])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// swarm.toml for simulated agents on the test's private server, logging to `sim.jsonl`:
/// what the primitives (`swarm spawn`, and `swarm mcp`'s tools) start.
pub fn sim_config(env: &TestEnv, sim_flags: &str) {
    let log = env.dir.path().join("sim.jsonl");
    env.write(
        "swarm.toml",
        &format!(
            "socket = \"{}\"\nagent = \"sim\"\nagent_cmd = \"swarm sim-agent --log {} {sim_flags}\"\n",
            env.socket,
            log.display()
        ),
    );
}

/// `swarm run --headless` with simulated agents (logging to the test's `sim.jsonl`) on the
/// test's socket, as a child process with stderr piped.
pub fn sim_run(
    env: &TestEnv,
    workers: u32,
    sim_flags: &str,
    extra: &[&str],
) -> std::process::Child {
    let log = env.dir.path().join("sim.jsonl");
    let agent_cmd = format!("swarm sim-agent --log {} {sim_flags}", log.display());
    headless_run(env, workers, &agent_cmd, extra)
}

/// `swarm run --headless` on the test's socket with the `sim` profile reading `agent_cmd`'s
/// screens, as a child process whose stderr the test reads.
pub fn headless_run(
    env: &TestEnv,
    workers: u32,
    agent_cmd: &str,
    extra: &[&str],
) -> std::process::Child {
    env.swarm()
        .args([
            "run",
            "--headless",
            "--socket",
            &env.socket,
            "--agent",
            "sim",
        ])
        .args(["--workers", &workers.to_string(), "--agent-cmd", agent_cmd])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` to exit, at most `timeout`; kills it and panics on timeout.
pub fn finish(child: std::process::Child, timeout: Duration, what: &str) -> Output {
    let pid = child.id();
    let deadline = Instant::now() + timeout;
    let watchdog = std::thread::spawn(move || {
        while Instant::now() < deadline {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        true
    });
    let out = child.wait_with_output().unwrap();
    assert!(
        !watchdog.join().unwrap() || out.status.code().is_some(),
        "{what}: still running after {timeout:?}, killed: {}",
        stderr(&out)
    );
    out
}

/// The pane of worker `name` (`w0`, ...), if it exists now.
pub fn worker_pane(env: &TestEnv, name: &str) -> Option<String> {
    let out = env.tmux(&["list-panes", "-a", "-F", "#{pane_id} #{@worker}"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let (id, worker) = line.split_once(' ')?;
            (worker == name).then(|| id.to_string())
        })
}

/// The simulated agents' log (`sim.jsonl`, as `sim_run` sets it up).
pub fn sim_log(env: &TestEnv) -> Vec<serde_json::Value> {
    read_jsonl(&env.dir.path().join("sim.jsonl"))
}

/// How many times each sentinel path was written by an agent: once each is "done exactly
/// once".
pub fn sentinel_writes(env: &TestEnv) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for e in sim_log(env).iter().filter(|e| e["event"] == "sentinel") {
        *counts
            .entry(e["path"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    counts
}

/// `swarm ARGS --socket S` (pause, resume, retry, skip), which must succeed.
pub fn steer(env: &TestEnv, args: &[&str]) {
    let out = env
        .swarm()
        .args(args)
        .args(["--socket", &env.socket])
        .output()
        .unwrap();
    assert!(out.status.success(), "swarm {args:?}: {}", stderr(&out));
}
