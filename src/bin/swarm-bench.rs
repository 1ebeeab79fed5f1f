//! swarm-bench: the whole-system benchmark. It drives the real `swarm` binary and the
//! simulated agent on private tmux servers, runs each scenario beside a baseline in the
//! same run (the figures are noisy on a shared machine), and prints medians and ratios.
//!
//! `cargo run --release --features bench --bin swarm-bench -- --quick [--json FILE]`

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use swarm::tmux::{Mux, PaneId, Tmux};

const USAGE: &str = "\
usage: swarm-bench [--quick] [--json FILE] [--only P1,P3,...] [--swarm PATH]

  --quick       scaled-down runs that fit in a few minutes on 2 cores
  --json FILE   also write every figure as JSON
  --only LIST   run only these scenarios (P1 and P2 come from the P3 run; P9 needs root
                and GNU parallel, for its fake ssh hosts)
  --swarm PATH  the swarm binary to measure (default: the one beside this executable)";

struct Opts {
    quick: bool,
    json: Option<PathBuf>,
    only: Option<Vec<String>>,
    swarm: PathBuf,
}

impl Opts {
    fn parse() -> anyhow::Result<Opts> {
        let mut args = std::env::args().skip(1);
        let (mut quick, mut json, mut only, mut swarm) = (false, None, None, None);
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--quick" => quick = true,
                "--json" => json = Some(PathBuf::from(value()?)),
                "--swarm" => swarm = Some(PathBuf::from(value()?)),
                "--only" => {
                    let list = value()?
                        .split(',')
                        .map(|s| s.trim().to_uppercase())
                        .collect();
                    only = Some(list);
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        let swarm = match swarm {
            Some(path) => std::fs::canonicalize(&path)
                .with_context(|| format!("no swarm binary at {}", path.display()))?,
            None => sibling_swarm()?,
        };
        Ok(Opts {
            quick,
            json,
            only,
            swarm,
        })
    }

    fn wants(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == scenario))
    }
}

/// `swarm` beside this executable, built first when `cargo run` started us: cargo builds
/// only the binary it runs, and a stale `swarm` would measure old code.
fn sibling_swarm() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name("swarm");
    if let Ok(cargo) = std::env::var("CARGO") {
        let release = me.parent().is_some_and(|d| d.ends_with("release"));
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "--bin", "swarm", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        if release {
            build.arg("--release");
        }
        ensure!(build.status()?.success(), "building swarm failed");
    }
    ensure!(
        path.exists(),
        "no swarm binary at {}: run `cargo build --release` or pass --swarm",
        path.display()
    );
    Ok(path)
}

/// Seconds since the epoch, the clock the simulated agent stamps its log with.
fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// A private tmux server in a temp dir of its own, with a pinned environment; the
/// server is killed on drop. Never the default server.
struct Lab {
    dir: tempfile::TempDir,
    socket: String,
}

static NEXT_LAB: AtomicUsize = AtomicUsize::new(0);

impl Lab {
    fn new() -> anyhow::Result<Lab> {
        let dir = tempfile::Builder::new().prefix("swarm-bench-").tempdir()?;
        for sub in ["home", "tmux", "ws", "logs"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let socket = format!("swarm-bench-{}-{n}", std::process::id());
        Ok(Lab { dir, socket })
    }

    fn ws(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    fn tmux_dir(&self) -> PathBuf {
        self.dir.path().join("tmux")
    }

    fn pin(&self, cmd: &mut Command) {
        cmd.env("HOME", self.dir.path().join("home"))
            .env("TMUX_TMPDIR", self.tmux_dir())
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8");
    }

    fn tmux(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"]).args(args);
        self.pin(&mut cmd);
        let out = cmd.output()?;
        ensure!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The library's handle on this lab's server.
    fn handle(&self, session: &str) -> Tmux {
        Tmux::new(&self.socket, session).with_tmpdir(self.tmux_dir())
    }

    /// A sim agent that logs to `logs/agent-<worker>.jsonl`; through `sh -c … exec` only
    /// because swarm passes the worker number in the environment.
    fn agent_cmd(&self, swarm: &Path, flags: &str) -> String {
        let inner = format!(
            "exec {} sim-agent {flags} --log {}/agent-$SWARM_WORKER.jsonl",
            shell_words::quote(&swarm.display().to_string()),
            shell_words::quote(&self.logs().display().to_string()),
        );
        shell_words::join(["sh", "-c", &inner])
    }

    /// `swarm run --headless` on this lab's server; the orchestrator is this child.
    fn swarm_run(&self, swarm: &Path, workers: usize, agent_cmd: &str) -> anyhow::Result<Child> {
        let mut cmd = Command::new(swarm);
        cmd.current_dir(self.ws())
            .args([
                "run",
                "--headless",
                "--agent",
                "sim",
                "--socket",
                &self.socket,
            ])
            .args(["--workers", &workers.to_string(), "--agent-cmd", agent_cmd])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("swarm.err"))?);
        self.pin(&mut cmd);
        Ok(cmd.spawn()?)
    }

    fn swarm_stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("swarm.err")).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// A plan of `n` tasks with ids `t00000…`, whose sentinels are `.swarm/done/<id>.done`.
fn write_plan(ws: &Path, n: usize) -> anyhow::Result<()> {
    let mut text = String::from("# Benchmark plan\n\n");
    for i in 0..n {
        text.push_str(&format!("- [ ] Benchmark task number {i} {{#t{i:05}}}\n"));
    }
    Ok(std::fs::write(ws.join("PLAN.md"), text)?)
}

/// One event of a sim agent's `--log`.
#[derive(Debug, Clone)]
struct SimEvent {
    event: String,
    ts: f64,
    path: Option<String>,
    text: Option<String>,
}

fn read_log(path: &Path) -> Vec<SimEvent> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|v| SimEvent {
            event: v["event"].as_str().unwrap_or_default().to_string(),
            ts: v["ts"].as_f64().unwrap_or_default(),
            path: v["path"].as_str().map(String::from),
            text: v["text"].as_str().map(String::from),
        })
        .collect()
}

/// Every `agent-*.jsonl` under `dir`, by file name.
fn read_logs(dir: &Path) -> BTreeMap<String, Vec<SimEvent>> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("agent-"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                read_log(&e.path()),
            )
        })
        .collect()
}

/// Task id of a sentinel path like `.swarm/done/t00012.done`.
fn sentinel_task(path: &str) -> Option<String> {
    let name = Path::new(path).file_name()?.to_str()?;
    name.strip_suffix(".done").map(String::from)
}

/// Each worker's gaps from a sentinel to the next prompt it received, in ms.
fn dispatch_gaps(logs: &BTreeMap<String, Vec<SimEvent>>) -> Vec<f64> {
    let mut gaps = Vec::new();
    for events in logs.values() {
        let mut done_at = None;
        for e in events {
            match e.event.as_str() {
                "sentinel" => done_at = Some(e.ts),
                "prompt" => {
                    if let Some(done) = done_at.take() {
                        gaps.push((e.ts - done) * 1000.0);
                    }
                }
                _ => {}
            }
        }
    }
    gaps
}

/// When each sentinel was written, by task id (seconds since the epoch).
fn sentinel_times(logs: &BTreeMap<String, Vec<SimEvent>>) -> HashMap<String, f64> {
    logs.values()
        .flatten()
        .filter(|e| e.event == "sentinel")
        .filter_map(|e| Some((sentinel_task(e.path.as_deref()?)?, e.ts)))
        .collect()
}

/// Watches PLAN.md (inotify on its directory: swarm renames a new file over it) and
/// notes when each task id first shows as checked.
struct CheckOffWatch {
    seen: Arc<Mutex<HashMap<String, f64>>>,
    _watcher: notify::RecommendedWatcher,
}

impl CheckOffWatch {
    fn start(ws: &Path) -> anyhow::Result<CheckOffWatch> {
        use notify::Watcher;
        let plan = ws.join("PLAN.md");
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let record = {
            let seen = seen.clone();
            move |event: notify::Result<notify::Event>| {
                // Only a new PLAN.md can hold a new mark: reading all 10,000 lines on
                // every other event (swarm's temp files) made this watcher lag behind,
                // and its lag counted as swarm's.
                let replaced = event.is_ok_and(|e| e.paths.iter().any(|p| p == &plan));
                if !replaced {
                    return;
                }
                let at = now_secs();
                let Ok(text) = std::fs::read_to_string(&plan) else {
                    return;
                };
                let mut seen = seen.lock().unwrap();
                for line in text.lines().filter(|l| l.starts_with("- [x]")) {
                    if let Some(id) = line.rsplit("{#").next().and_then(|s| s.strip_suffix('}')) {
                        seen.entry(id.to_string()).or_insert(at);
                    }
                }
            }
        };
        let mut watcher = notify::recommended_watcher(record)?;
        watcher.watch(ws, notify::RecursiveMode::NonRecursive)?;
        Ok(CheckOffWatch {
            seen,
            _watcher: watcher,
        })
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Sentinel → checked off, in ms, for every task seen both ways.
    fn latencies(&self, sentinels: &HashMap<String, f64>) -> Vec<f64> {
        let seen = self.seen.lock().unwrap();
        sentinels
            .iter()
            .filter_map(|(id, done)| seen.get(id).map(|checked| (checked - done) * 1000.0))
            .collect()
    }
}

/// Median, 90th percentile and count of a sample.
#[derive(Debug, Clone, Copy)]
struct Stats {
    median: f64,
    p90: f64,
    n: usize,
}

fn stats(mut xs: Vec<f64>) -> Option<Stats> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    Some(Stats {
        median: at(0.5),
        p90: at(0.9),
        n: xs.len(),
    })
}

/// One row of the report.
struct Figure {
    id: &'static str,
    name: String,
    unit: &'static str,
    value: Option<Stats>,
    baseline: Option<Stats>,
    baseline_name: String,
    target: String,
    /// Whether the target holds, when that can be judged.
    met: Option<bool>,
}

impl Figure {
    fn json(&self) -> Value {
        let s = |st: &Option<Stats>| {
            st.map(|s| json!({ "median": s.median, "p90": s.p90, "n": s.n }))
                .unwrap_or(Value::Null)
        };
        json!({
            "id": self.id, "figure": self.name, "unit": self.unit,
            "value": s(&self.value), "baseline": s(&self.baseline),
            "baseline_is": self.baseline_name, "ratio": self.ratio(),
            "target": self.target, "met": self.met,
        })
    }

    fn ratio(&self) -> Option<f64> {
        match (self.value, self.baseline) {
            (Some(v), Some(b)) if b.median > 0.0 => Some(v.median / b.median),
            _ => None,
        }
    }
}

fn wait_until(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !cond()? {
        ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Waits for a `swarm run` to end, killing it (SIGKILL) after `timeout`.
fn finish(child: &mut Child, timeout: Duration) -> anyhow::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.success());
        }
        if Instant::now() > deadline {
            child.kill()?;
            child.wait()?;
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asks a `swarm run` to stop as a person would (SIGINT) and waits for it.
fn interrupt(child: &mut Child) -> anyhow::Result<()> {
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    finish(child, Duration::from_secs(20))?;
    Ok(())
}

/// P1, P2 and P3 from one run: `tasks` tasks of 1 s on 8 workers, against `xargs -P 8`.
fn throughput(opts: &Opts, tasks: usize) -> anyhow::Result<Vec<Figure>> {
    const WORKERS: usize = 8;
    let lab = Lab::new()?;
    write_plan(&lab.ws(), tasks)?;
    let watch = CheckOffWatch::start(&lab.ws())?;
    let agent = lab.agent_cmd(&opts.swarm, "--think-ms 1000");
    let started = Instant::now();
    let mut child = lab.swarm_run(&opts.swarm, WORKERS, &agent)?;
    let ok = finish(&mut child, Duration::from_secs(60 + tasks as u64))?;
    let makespan = started.elapsed().as_secs_f64();
    ensure!(ok, "swarm run failed:\n{}", lab.swarm_stderr());
    wait_until("every check-off", Duration::from_secs(5), || {
        Ok(watch.count() >= tasks)
    })?;
    let logs = read_logs(&lab.logs());
    let gaps = dispatch_gaps(&logs);
    let latencies = watch.latencies(&sentinel_times(&logs));

    let started = Instant::now();
    let done = lab.dir.path().join("xargs-done");
    std::fs::create_dir_all(&done)?;
    let mut xargs = Command::new("xargs")
        .args(["-P", &WORKERS.to_string(), "-n", "1", "sh", "-c"])
        .arg("sleep 1; : > \"$0/$1.done\"")
        .arg(&done)
        .stdin(Stdio::piped())
        .spawn()?;
    let ids: String = (0..tasks).map(|i| format!("t{i:05}\n")).collect();
    xargs
        .stdin
        .take()
        .context("xargs stdin")?
        .write_all(ids.as_bytes())?;
    ensure!(xargs.wait()?.success(), "xargs failed");
    let xargs_makespan = started.elapsed().as_secs_f64();

    let (floor_gaps, floor_checkoff) = direct_driver(opts, if opts.quick { 15 } else { 40 })?;
    let one = |x: f64| {
        Some(Stats {
            median: x,
            p90: x,
            n: 1,
        })
    };
    let p1 = stats(gaps);
    let p2 = stats(latencies);
    let ratio = makespan / xargs_makespan;
    Ok(vec![
        Figure {
            id: "P1",
            name: "dispatch gap: sentinel → next prompt".into(),
            unit: "ms",
            met: p1.map(|s| s.median <= 300.0),
            value: p1,
            baseline: stats(floor_gaps),
            baseline_name: "bench pastes the next prompt itself on the sentinel".into(),
            target: "≤ 300 ms".into(),
        },
        Figure {
            id: "P2",
            name: "completion: sentinel → PLAN.md checked".into(),
            unit: "ms",
            met: p2.map(|s| s.median <= 25.0),
            value: p2,
            baseline: stats(floor_checkoff),
            baseline_name: "bench sees the sentinel and calls plan::check_off".into(),
            target: "≤ 25 ms".into(),
        },
        Figure {
            id: "P3",
            name: format!("makespan, {tasks} tasks × 1 s, 8 workers"),
            unit: "s",
            value: one(makespan),
            baseline: one(xargs_makespan),
            baseline_name: "xargs -P 8, same tasks".into(),
            target: "ratio ≤ 1.10".into(),
            met: Some(ratio <= 1.10),
        },
    ])
}

/// P8: isolated runs against plain ones, on the same plan of `tasks` tasks of 1 s on 8
/// workers, each writing a file of its own: sentinel → checked off (the work committed,
/// queued, rebased and landed in between), and the makespan ratio.
fn landing(opts: &Opts, tasks: usize) -> anyhow::Result<Vec<Figure>> {
    const WORKERS: usize = 8;
    let run = |isolated: bool| -> anyhow::Result<(f64, Vec<f64>)> {
        let lab = Lab::new()?;
        let ws = lab.ws();
        let mut text = String::from("# Benchmark plan\n\n");
        for i in 0..tasks {
            text.push_str(&format!(
                "- [ ] Benchmark task number {i} {{out=out/t{i:05}}} {{#t{i:05}}}\n"
            ));
        }
        std::fs::write(ws.join("PLAN.md"), text)?;
        if isolated {
            std::fs::write(ws.join("swarm.toml"), "isolation = \"worktree\"\n")?;
        }
        for args in [
            &["init", "-q", "-b", "main"][..],
            &["add", "-A"],
            &[
                "-c",
                "user.name=bench",
                "-c",
                "user.email=bench@localhost",
                "commit",
                "-q",
                "-m",
                "plan",
            ],
        ] {
            let mut git = Command::new("git");
            git.arg("-C").arg(&ws).args(args);
            lab.pin(&mut git);
            ensure!(git.status()?.success(), "git {args:?} failed");
        }
        let watch = CheckOffWatch::start(&ws)?;
        let agent = lab.agent_cmd(&opts.swarm, "--think-ms 1000");
        let started = Instant::now();
        let mut child = lab.swarm_run(&opts.swarm, WORKERS, &agent)?;
        let ok = finish(&mut child, Duration::from_secs(90 + tasks as u64))?;
        let makespan = started.elapsed().as_secs_f64();
        ensure!(ok, "swarm run failed:\n{}", lab.swarm_stderr());
        wait_until("every check-off", Duration::from_secs(5), || {
            Ok(watch.count() >= tasks)
        })?;
        // Sentinels here are `out/tNNNNN.done`: the id is the file stem.
        let sentinels = sentinel_times(&read_logs(&lab.logs()));
        Ok((makespan, watch.latencies(&sentinels)))
    };
    let (isolated, landed) = run(true)?;
    let (plain, checked) = run(false)?;
    let one = |x: f64| {
        Some(Stats {
            median: x,
            p90: x,
            n: 1,
        })
    };
    let p8 = stats(landed);
    Ok(vec![
        Figure {
            id: "P8",
            name: "isolated: sentinel → landed and checked".into(),
            unit: "ms",
            met: p8.map(|s| s.median <= 150.0),
            value: p8,
            baseline: stats(checked),
            baseline_name: "the same run without isolation: sentinel → checked".into(),
            target: "≤ 150 ms".into(),
        },
        Figure {
            id: "P8",
            name: format!("isolated makespan, {tasks} tasks × 1 s, 8 workers"),
            unit: "s",
            value: one(isolated),
            baseline: one(plain),
            baseline_name: "the same run without isolation".into(),
            target: "ratio ≤ 1.10".into(),
            met: Some(isolated / plain <= 1.10),
        },
    ])
}

/// The floor for P1 and P2: one sim agent driven straight from here. On each sentinel
/// (polled every 5 ms) the plan is checked off, then the next prompt is pasted at once
/// One simulated agent as the only pane of a session in `lab`, logging to its own file.
fn lone_agent(opts: &Opts, lab: &Lab, think_ms: u64) -> anyhow::Result<(Tmux, PaneId, PathBuf)> {
    let log = lab.logs().join("agent-0.jsonl");
    let tmux = lab.handle("bench");
    let argv: Vec<String> = vec![
        opts.swarm.display().to_string(),
        "sim-agent".into(),
        "--think-ms".into(),
        think_ms.to_string(),
        "--log".into(),
        log.display().to_string(),
    ];
    let pane = tmux
        .start_session("agent", 200, 50, &argv, &lab.ws(), &BTreeMap::new())?
        .pane;
    Ok((tmux, pane, log))
}

/// (Enter 10 ms later, docs/tmux-facts.md §1). Returns (gaps, sentinel → checked) in ms.
fn direct_driver(opts: &Opts, tasks: usize) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let lab = Lab::new()?;
    write_plan(&lab.ws(), tasks)?;
    std::fs::create_dir_all(lab.ws().join(".swarm/done"))?;
    let (tmux, pane, _) = lone_agent(opts, &lab, 200)?;
    let profile = swarm::agent::builtin("sim").context("the sim profile")?;
    wait_until(
        "the sim agent's ready screen",
        Duration::from_secs(10),
        || Ok(profile.classify(&tmux.capture(&pane)?) == swarm::agent::ScreenState::Ready),
    )?;
    let plan = lab.ws().join("PLAN.md");
    let mut checkoffs = Vec::new();
    for i in 0..=tasks {
        if i > 0 {
            let sentinel = lab.ws().join(format!(".swarm/done/t{:05}.done", i - 1));
            wait_until("a sentinel", Duration::from_secs(10), || {
                Ok(sentinel.exists())
            })?;
            let id = swarm::plan::TaskId(format!("t{:05}", i - 1));
            swarm::plan::check_off(&plan, &id)?;
            checkoffs.push((id.0, now_secs()));
        }
        if i < tasks {
            paste_raw(
                &lab,
                &pane,
                &format!(
                    "Task {i}. When you have finished, create the empty file `.swarm/done/t{i:05}.done`."
                ),
            )?;
        }
    }
    let logs = read_logs(&lab.logs());
    let sentinels = sentinel_times(&logs);
    let latencies = checkoffs
        .iter()
        .filter_map(|(id, at)| sentinels.get(id).map(|done| (at - done) * 1000.0))
        .collect();
    Ok((dispatch_gaps(&logs), latencies))
}

/// The plainest correct delivery: a bracketed paste from a buffer, Enter 10 ms later.
fn paste_raw(lab: &Lab, pane: &PaneId, text: &str) -> anyhow::Result<()> {
    let mut cmd = Command::new("tmux");
    cmd.args(["-L", &lab.socket, "-f", "/dev/null"])
        .args(["load-buffer", "-b", "raw", "-", ";"])
        .args(["paste-buffer", "-p", "-d", "-b", "raw", "-t", &pane.0])
        .stdin(Stdio::piped());
    lab.pin(&mut cmd);
    let mut child = cmd.spawn()?;
    child
        .stdin
        .take()
        .context("tmux stdin")?
        .write_all(text.as_bytes())?;
    ensure!(child.wait()?.success(), "raw paste failed");
    std::thread::sleep(Duration::from_millis(10));
    lab.tmux(&["send-keys", "-t", &pane.0, "Enter"])?;
    Ok(())
}

/// P6: a 256 KB prompt through `swarm::deliver`, against a raw paste.
fn big_prompt(opts: &Opts) -> anyhow::Result<Vec<Figure>> {
    let runs = if opts.quick { 3 } else { 7 };
    let lab = Lab::new()?;
    let (tmux, pane, log) = lone_agent(opts, &lab, 20)?;
    let profile = swarm::agent::builtin("sim").context("the sim profile")?;
    let ready = || -> anyhow::Result<()> {
        wait_until("a ready sim agent", Duration::from_secs(20), || {
            Ok(profile.classify(&tmux.capture(&pane)?) == swarm::agent::ScreenState::Ready)
        })
    };
    let prompts = || {
        read_log(&log)
            .into_iter()
            .filter(|e| e.event == "prompt")
            .count()
    };
    let (mut swarm_ms, mut raw_ms, mut exact) = (Vec::new(), Vec::new(), true);
    for run in 0..runs * 2 {
        ready()?;
        let text = prompt_of_size(256 * 1024, run);
        let before = prompts();
        let t0 = now_secs();
        if run % 2 == 0 {
            swarm::deliver::deliver(
                &tmux,
                &swarm::clock::SystemClock::new(),
                &pane,
                &text,
                &profile,
            )?;
        } else {
            paste_raw(&lab, &pane, &text)?;
        }
        wait_until("the prompt in the agent", Duration::from_secs(20), || {
            Ok(prompts() > before)
        })?;
        let got = read_log(&log)
            .into_iter()
            .rfind(|e| e.event == "prompt")
            .context("prompt")?;
        exact &= got.text.as_deref() == Some(text.as_str());
        let ms = (got.ts - t0) * 1000.0;
        if run % 2 == 0 {
            swarm_ms.push(ms)
        } else {
            raw_ms.push(ms)
        }
    }
    let value = stats(swarm_ms);
    Ok(vec![Figure {
        id: "P6",
        name: format!(
            "256 KB prompt delivered ({})",
            if exact { "byte-exact" } else { "NOT exact" }
        ),
        unit: "ms",
        met: value.map(|s| exact && s.median <= 1000.0),
        value,
        baseline: stats(raw_ms),
        baseline_name: "raw load-buffer + paste-buffer -p, Enter after 10 ms".into(),
        target: "byte-exact, ≤ 1000 ms".into(),
    }])
}

/// Printable text of exactly `size` bytes with the hazards of docs/tmux-facts.md §1:
/// unicode, tabs, quotes, `;` line ends, key names, tmux formats, leading dashes.
fn prompt_of_size(size: usize, seed: usize) -> String {
    let lines = [
        "Refactor the parser; keep the offsets é ü ✓ 漢字",
        "\tindented with a tab, then \"quotes\" and 'single' ones;",
        "Enter",
        "C-c",
        "-flag-looking line $(not a command) #{pane_id}",
        "ends with a semicolon;",
    ];
    let mut text = format!("run {seed}\n");
    let mut i = 0;
    while text.len() < size {
        text.push_str(lines[i % lines.len()]);
        text.push('\n');
        i += 1;
    }
    while text.len() > size {
        text.pop();
    }
    text.trim_end().to_string()
}

/// CPU ticks (self, children) and resident KB of a process, from /proc.
fn proc_sample(pid: u32) -> Option<(u64, u64, u64)> {
    let ticks = stat_ticks(&format!("/proc/{pid}/stat"))?;
    let own = ticks[0] + ticks[1];
    let children = ticks[2] + ticks[3];
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())?;
    Some((own, children, rss))
}

/// CPU ticks (user + system) of one thread of a process.
fn thread_ticks(pid: u32, tid: u32) -> Option<u64> {
    let ticks = stat_ticks(&format!("/proc/{pid}/task/{tid}/stat"))?;
    Some(ticks[0] + ticks[1])
}

/// utime, stime, cutime and cstime from a `/proc/.../stat` file.
fn stat_ticks(path: &str) -> Option<[u64; 4]> {
    let stat = std::fs::read_to_string(path).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    // After the comm: state is field 0, utime 11, stime 12, cutime 13, cstime 14.
    Some([tick(11)?, tick(12)?, tick(13)?, tick(14)?])
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Samples `pid` for `window`: (% of a core for itself, % with its reaped children, peak RSS MB).
fn sample_cpu(pid: u32, window: Duration) -> anyhow::Result<(f64, f64, f64)> {
    let (own0, kids0, mut rss) = proc_sample(pid).context("the process is gone")?;
    let started = Instant::now();
    while started.elapsed() < window {
        std::thread::sleep(Duration::from_millis(500));
        rss = rss.max(proc_sample(pid).context("the process is gone")?.2);
    }
    let (own1, kids1, _) = proc_sample(pid).context("the process is gone")?;
    let secs = started.elapsed().as_secs_f64() * clock_ticks();
    let own = (own1 - own0) as f64 / secs * 100.0;
    let all = (own1 + kids1 - own0 - kids0) as f64 / secs * 100.0;
    Ok((own, all, rss as f64 / 1024.0))
}

/// Prompts received so far, over all agents' logs, and by how many distinct agents.
fn prompt_count(logs: &Path) -> (usize, usize) {
    let logs = read_logs(logs);
    let agents = logs
        .values()
        .filter(|events| events.iter().any(|e| e.event == "prompt"))
        .count();
    let prompts = logs
        .values()
        .flatten()
        .filter(|e| e.event == "prompt")
        .count();
    (prompts, agents)
}

/// P4: the orchestrator while 16 agents hang on their prompts, against the tmux server.
fn quiet_overhead(opts: &Opts) -> anyhow::Result<Vec<Figure>> {
    const WORKERS: usize = 16;
    let window = Duration::from_secs(if opts.quick { 10 } else { 30 });
    let lab = Lab::new()?;
    write_plan(&lab.ws(), WORKERS)?;
    let agent = lab.agent_cmd(&opts.swarm, "--hang-on .");
    let mut child = lab.swarm_run(&opts.swarm, WORKERS, &agent)?;
    wait_until("16 busy agents", Duration::from_secs(60), || {
        Ok(prompt_count(&lab.logs()).1 >= WORKERS)
    })?;
    // Let delivery threads finish before the quiet window starts.
    std::thread::sleep(Duration::from_secs(2));
    let server: u32 = lab
        .tmux(&["display-message", "-p", "#{pid}"])?
        .trim()
        .parse()?;
    let server_before = proc_sample(server).context("tmux server")?;
    let (own, all, rss) = sample_cpu(child.id(), window)?;
    let server_after = proc_sample(server).context("tmux server")?;
    let server_cpu =
        (server_after.0 - server_before.0) as f64 / (window.as_secs_f64() * clock_ticks()) * 100.0;
    interrupt(&mut child)?;
    let one = |x: f64| {
        Some(Stats {
            median: x,
            p90: x,
            n: 1,
        })
    };
    Ok(vec![
        Figure {
            id: "P4",
            name: format!(
                "orchestrator CPU, 16 busy quiet agents (own {own:.2}%, with tmux clients)"
            ),
            unit: "% core",
            value: one(all),
            baseline: one(server_cpu),
            baseline_name: "the tmux server itself, same window".into(),
            target: "≤ 1 %".into(),
            met: Some(all <= 1.0),
        },
        Figure {
            id: "P4",
            name: "orchestrator RSS, 16 agents".into(),
            unit: "MB",
            value: one(rss),
            baseline: None,
            baseline_name: String::new(),
            target: "≤ 30 MB".into(),
            met: Some(rss <= 30.0),
        },
    ])
}

/// P5: 64 workers on a 10,000-task plan, until `completions` tasks are checked off.
fn scale(opts: &Opts) -> anyhow::Result<Vec<Figure>> {
    const WORKERS: usize = 64;
    const TASKS: usize = 10_000;
    let completions = if opts.quick { 128 } else { 512 };
    let lab = Lab::new()?;
    write_plan(&lab.ws(), TASKS)?;
    let watch = CheckOffWatch::start(&lab.ws())?;
    let agent = lab.agent_cmd(&opts.swarm, "--think-ms 4000");
    let started = Instant::now();
    let mut child = lab.swarm_run(&opts.swarm, WORKERS, &agent)?;
    let pid = child.id();
    let peak = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some((_, _, rss)) = proc_sample(pid) {
                    peak.fetch_max(rss as usize, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };
    let mut all_ready = None;
    // Once every worker is busy (the steady state): the check-offs so far, and the CPU
    // ticks of the orchestrator's loop thread (the bookkeeping: events, scheduler,
    // journal, plan, status file) and of the whole process with its tmux clients (also
    // the threads and processes that drive the agents).
    let mut steady: Option<(u64, u64, usize)> = None;
    let cpu = |pid: u32| {
        let (own, kids, _) = proc_sample(pid)?;
        let main = thread_ticks(pid, pid)?;
        Some((main, own + kids))
    };
    let result = wait_until("the completions", Duration::from_secs(600), || {
        if all_ready.is_none() && prompt_count(&lab.logs()).1 >= WORKERS {
            all_ready = Some(started.elapsed().as_secs_f64());
            steady = cpu(pid).map(|(main, all)| (main, all, watch.count()));
        }
        if child.try_wait()?.is_some() {
            bail!("swarm run ended early:\n{}", lab.swarm_stderr());
        }
        std::thread::sleep(Duration::from_millis(100));
        Ok(watch.count() >= completions)
    });
    let end = cpu(pid).map(|(main, all)| (main, all, watch.count()));
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    interrupt(&mut child)?;
    result?;
    let (loop_ms, all_ms) = match (steady, end) {
        (Some((m0, a0, n0)), Some((m1, a1, n1))) if n1 > n0 => {
            let per = |ticks: u64| ticks as f64 / clock_ticks() * 1000.0 / (n1 - n0) as f64;
            (per(m1 - m0), per(a1 - a0))
        }
        _ => (f64::NAN, f64::NAN),
    };
    let latencies = watch.latencies(&sentinel_times(&read_logs(&lab.logs())));
    let rss = peak.load(Ordering::Relaxed) as f64 / 1024.0;
    let raw_ready = raw_spawn(opts, WORKERS)?;
    let one = |x: f64| {
        Some(Stats {
            median: x,
            p90: x,
            n: 1,
        })
    };
    let ready = all_ready.unwrap_or(f64::NAN);
    let p2 = stats(latencies);
    Ok(vec![
        Figure {
            id: "P5",
            name: "64 workers: launch → every worker has its first prompt".into(),
            unit: "s",
            value: one(ready),
            baseline: one(raw_ready),
            baseline_name: "raw tmux: 64 sim panes started and logging".into(),
            target: "≤ 10 s".into(),
            met: Some(ready <= 10.0),
        },
        Figure {
            id: "P5",
            name: "10,000-task plan: bookkeeping CPU per completion (the loop thread)".into(),
            unit: "ms",
            value: one(loop_ms),
            baseline: one(all_ms),
            baseline_name: "whole orchestrator with its tmux clients, driving the agents too"
                .into(),
            target: "≤ 5 ms".into(),
            met: Some(loop_ms <= 5.0),
        },
        Figure {
            id: "P5",
            name: "10,000-task plan: sentinel → checked".into(),
            unit: "ms",
            met: p2.map(|p2| p2.median <= 25.0),
            value: p2,
            baseline: None,
            baseline_name: String::new(),
            target: "≤ 25 ms (as P2)".into(),
        },
        Figure {
            id: "P5",
            name: "orchestrator peak RSS, 64 workers, 10,000 tasks".into(),
            unit: "MB",
            value: one(rss),
            baseline: None,
            baseline_name: String::new(),
            target: "≤ 100 MB".into(),
            met: Some(rss <= 100.0),
        },
    ])
}

/// Seconds for raw tmux to start `n` sim agents, 8 to a window, until each has logged.
fn raw_spawn(opts: &Opts, n: usize) -> anyhow::Result<f64> {
    let lab = Lab::new()?;
    let started = Instant::now();
    let sim = |i: usize| {
        vec![
            opts.swarm.display().to_string(),
            "sim-agent".to_string(),
            "--log".to_string(),
            lab.logs()
                .join(format!("agent-{i}.jsonl"))
                .display()
                .to_string(),
        ]
    };
    lab.tmux(&["new-session", "-d", "-s", "raw", "-x", "200", "-y", "50"])?;
    for window in 0..n.div_ceil(8) {
        let name = format!("w{window}");
        let mut args: Vec<String> = vec![
            "new-window".into(),
            "-d".into(),
            "-n".into(),
            name.clone(),
            "--".into(),
        ];
        args.extend(sim(window * 8));
        for i in window * 8 + 1..(window * 8 + 8).min(n) {
            args.extend([
                ";".into(),
                "split-window".into(),
                "-d".into(),
                "-t".into(),
                format!("raw:{name}"),
                "--".into(),
            ]);
            args.extend(sim(i));
            args.extend([
                ";".into(),
                "select-layout".into(),
                "-t".into(),
                format!("raw:{name}"),
                "tiled".into(),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lab.tmux(&args)?;
    }
    wait_until("raw agents", Duration::from_secs(60), || {
        Ok(read_logs(&lab.logs())
            .values()
            .filter(|e| !e.is_empty())
            .count()
            >= n)
    })?;
    Ok(started.elapsed().as_secs_f64())
}

/// The real-agent harness of `tests/it/real_agents.rs` (found as there, or at
/// `$SWARM_REAL_AGENTS`) serving a fake Anthropic API on loopback for the real Claude Code
/// CLI (`run_demo.sh --serve`); stopped, with its fake server, on drop.
struct ClaudeHarness {
    child: Child,
    /// The harness's launcher, passing on swarm's arguments (`--settings` with its hooks)
    /// and `SWARM_*` variables, which its own `env -i` drops.
    launcher: PathBuf,
    /// The fake API's `requests.jsonl`.
    requests: PathBuf,
    /// Where the bench's own `UserPromptSubmit` hook notes when Claude took each prompt.
    taken: PathBuf,
}

impl ClaudeHarness {
    /// Starts the harness with the workspaces `trusted`, or says why it cannot
    /// (`Ok(None)`): no harness, or no Claude Code installed by it.
    fn start(trusted: &[PathBuf]) -> anyhow::Result<Option<ClaudeHarness>> {
        let dir = std::env::var_os("SWARM_REAL_AGENTS").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/real-agents"),
            PathBuf::from,
        );
        let prefix = std::env::var_os("REAL_AGENTS_NPM_PREFIX")
            .map_or_else(|| PathBuf::from("/tmp/real-agents-npm"), PathBuf::from);
        let claude = std::env::var_os("CLAUDE_BIN")
            .map_or_else(|| prefix.join("node_modules/.bin/claude"), PathBuf::from);
        if !dir.join("run_demo.sh").is_file() {
            eprintln!(
                "swarm-bench: P7 skipped: no real-agent harness at {} (set SWARM_REAL_AGENTS)",
                dir.display()
            );
            return Ok(None);
        }
        if !claude.exists() {
            eprintln!(
                "swarm-bench: P7 skipped: Claude Code is not installed at {} (run `bash {}`)",
                claude.display(),
                dir.join("install.sh").display()
            );
            return Ok(None);
        }
        let mut child = Command::new("bash")
            .arg(dir.join("run_demo.sh"))
            .args(["--serve", "--rm", "--agent", "claude"])
            .args(trusted.iter().flat_map(|ws| [Path::new("--trust-dir"), ws]))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        // It prints its usage block, then blocks until it is stopped.
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
            child.stdout.take().context("run_demo.sh stdout")?,
        ));
        let (mut launcher, mut requests) = (None, None);
        while launcher.is_none() || requests.is_none() {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                bail!("run_demo.sh --serve ended before it was ready");
            };
            if let Some(rest) = line.strip_prefix("launcher   : ") {
                launcher = rest.split_whitespace().next().map(PathBuf::from);
            }
            if let Some(log) = line.split("; log ").nth(1) {
                requests = log.split(',').next().map(PathBuf::from);
            }
        }
        // Drained, so that the script never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let (launcher, requests) = (launcher.unwrap_or_default(), requests.unwrap_or_default());
        let mut harness = ClaudeHarness {
            child,
            taken: launcher.with_file_name("taken.log"),
            launcher: launcher.clone(),
            requests,
        };
        harness.launcher = harness.pass_through(&launcher)?;
        harness.hook_taken(&launcher)?;
        Ok(Some(harness))
    }

    /// A copy of the launcher that passes on what swarm adds.
    fn pass_through(&self, launcher: &Path) -> anyhow::Result<PathBuf> {
        let text = std::fs::read_to_string(launcher)?;
        let passing = text.replacen(
            "exec env -i \\\n",
            "exec env -i SWARM_WORKER=\"$SWARM_WORKER\" SWARM_WORKSPACE=\"$SWARM_WORKSPACE\" \\\n",
            1,
        );
        ensure!(passing != text, "the harness's launcher changed:\n{text}");
        let path = launcher.with_file_name("launch_agent_swarm.sh");
        std::fs::write(&path, passing.trim_end().to_string() + " \"${@:2}\"\n")?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        Ok(path)
    }

    /// A `UserPromptSubmit` hook in the agent's user settings (Claude merges it with
    /// swarm's): the time Claude took a prompt, and the prompt, one line each.
    fn hook_taken(&self, launcher: &Path) -> anyhow::Result<()> {
        let path = launcher
            .with_file_name("home")
            .join(".claude/settings.json");
        let mut settings: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        let log = shell_words::quote(&self.taken.display().to_string()).into_owned();
        let command =
            format!("t=$(date +%s.%N); p=$(cat); printf '%s %s\\n' \"$t\" \"$p\" >> {log}");
        settings["hooks"] = json!({
            "UserPromptSubmit": [{ "hooks": [{ "type": "command", "command": command }] }]
        });
        std::fs::write(&path, settings.to_string())?;
        Ok(())
    }

    /// How far its two logs have come: where the lines of a run to come begin.
    fn marks(&self) -> (usize, usize) {
        let len = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len() as usize);
        (len(&self.taken), len(&self.requests))
    }

    /// When Claude took the prompt naming `sentinel` (first, past the mark).
    fn taken_at(&self, sentinel: &str, mark: usize) -> Option<f64> {
        std::fs::read_to_string(&self.taken)
            .ok()?
            .get(mark..)?
            .lines()
            .filter_map(|line| line.split_once(' '))
            .filter(|(_, payload)| {
                serde_json::from_str::<Value>(payload)
                    .is_ok_and(|v| v["prompt"].as_str().is_some_and(|p| p.contains(sentinel)))
            })
            .find_map(|(at, _)| at.parse().ok())
    }

    /// When the fake API first heard of `sentinel` (its log's `done_path`), past the mark.
    fn requested_at(&self, sentinel: &str, mark: usize) -> Option<f64> {
        std::fs::read_to_string(&self.requests)
            .ok()?
            .get(mark..)?
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|v| {
                v["done_path"]
                    .as_str()
                    .is_some_and(|d| d.ends_with(sentinel))
            })
            .find_map(|v| v["ts"].as_f64())
    }
}

impl Drop for ClaudeHarness {
    fn drop(&mut self) {
        // Its trap stops the fake server and removes its files.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = finish(&mut self.child, Duration::from_secs(10));
    }
}

/// The gaps of one `swarm run` of `tasks` tasks on one Claude worker in `lab`, in ms:
/// from each sentinel to Claude taking the next prompt, and to the next prompt's first
/// API request. `config` is the workspace's swarm.toml.
fn claude_run(
    opts: &Opts,
    lab: &Lab,
    harness: &ClaudeHarness,
    tasks: usize,
    config: &str,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut plan = String::from("# Claude's dispatch gap\n\n");
    for i in 0..tasks {
        plan.push_str(&format!(
            "- [ ] Write notes/t{i}.md about topic {i} {{out=notes/t{i}.md}}\n"
        ));
    }
    std::fs::write(lab.ws().join("PLAN.md"), plan)?;
    std::fs::write(lab.ws().join("swarm.toml"), config)?;
    let agent_cmd = format!(
        "{} {}",
        shell_words::quote(&harness.launcher.display().to_string()),
        shell_words::quote(&lab.ws().display().to_string())
    );
    let mut cmd = Command::new(&opts.swarm);
    cmd.current_dir(lab.ws())
        .args(["run", "--headless", "--agent", "claude", "--socket"])
        .arg(&lab.socket)
        .args(["--workers", "1", "--agent-cmd", &agent_cmd])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(lab.dir.path().join("swarm.err"))?);
    lab.pin(&mut cmd);
    let (taken_mark, requests_mark) = harness.marks();
    let mut child = cmd.spawn()?;
    let ok = finish(&mut child, Duration::from_secs(60 + 10 * tasks as u64))?;
    ensure!(ok, "swarm run failed:\n{}", lab.swarm_stderr());
    let sentinel = |i: usize| format!("t{i}.md.done");
    let mut done: Vec<(f64, usize)> = (0..tasks)
        .filter_map(|i| {
            let path = lab.ws().join("notes").join(sentinel(i));
            let modified = std::fs::metadata(path).ok()?.modified().ok()?;
            Some((modified.duration_since(UNIX_EPOCH).ok()?.as_secs_f64(), i))
        })
        .collect();
    done.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut taken, mut requested) = (Vec::new(), Vec::new());
    for pair in done.windows(2) {
        let ((at, _), (_, next)) = (pair[0], pair[1]);
        let next = format!("notes/{}", sentinel(next));
        let took = harness.taken_at(&next, taken_mark);
        taken.extend(took.map(|t| (t - at) * 1000.0));
        let asked = harness.requested_at(&next, requests_mark);
        requested.extend(asked.map(|t| (t - at) * 1000.0));
    }
    ensure!(
        !taken.is_empty(),
        "Claude's UserPromptSubmit hook noted no prompt in {}",
        harness.taken.display()
    );
    Ok((taken, requested))
}

/// P7: the dispatch gap of the real Claude Code CLI, against the fake API of the
/// real-agent harness: from a task's sentinel to Claude taking the next prompt (its own
/// `UserPromptSubmit` hook says when), one worker, tasks that each write a file and then
/// their sentinel. Beside it, in the same run: the same gap of the sim agent, and Claude's
/// with its reset typed only after the turn's end and a 200 ms settle, as before.
fn claude_gap(opts: &Opts) -> anyhow::Result<Vec<Figure>> {
    let tasks = if opts.quick { 12 } else { 30 };
    let (lab, before) = (Lab::new()?, Lab::new()?);
    let Some(harness) = ClaudeHarness::start(&[lab.ws(), before.ws()])? else {
        return Ok(Vec::new());
    };
    let (taken, requested) = claude_run(opts, &lab, &harness, tasks, "")?;
    let old = "[profiles.claude]\nreset_queues = false\nsettle_ms = 200\n";
    let (taken_before, _) = claude_run(opts, &before, &harness, tasks, old)?;
    drop(harness);

    // The sim agent, on as many tasks and one worker.
    let sim = Lab::new()?;
    write_plan(&sim.ws(), tasks)?;
    let agent = sim.agent_cmd(&opts.swarm, "--think-ms 500");
    let mut child = sim.swarm_run(&opts.swarm, 1, &agent)?;
    let ok = finish(&mut child, Duration::from_secs(60 + tasks as u64))?;
    ensure!(ok, "swarm run (sim) failed:\n{}", sim.swarm_stderr());
    let sim_gaps = stats(dispatch_gaps(&read_logs(&sim.logs())));

    let gap = stats(taken);
    Ok(vec![
        Figure {
            id: "P7",
            name: "Claude Code dispatch gap: sentinel → next prompt taken (its hook)".into(),
            unit: "ms",
            met: gap.map(|s| s.median <= 1000.0),
            value: gap,
            baseline: sim_gaps,
            baseline_name: "sim agent, same gap".into(),
            target: "≤ 1000 ms".into(),
        },
        Figure {
            id: "P7",
            name: "the same, reset after the turn's end, settle 200 ms (as before)".into(),
            unit: "ms",
            met: None,
            value: stats(taken_before),
            baseline: gap,
            baseline_name: "as built".into(),
            target: String::new(),
        },
        Figure {
            id: "P7",
            name: "Claude Code: sentinel → next prompt's first API request".into(),
            unit: "ms",
            met: None,
            value: stats(requested),
            baseline: None,
            baseline_name: String::new(),
            target: String::new(),
        },
    ])
}

fn print_table(figures: &[Figure]) {
    println!(
        "\n| # | figure | swarm (median) | p90 | n | baseline (median) | ratio | target | met |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let num = |x: f64| {
        if x.abs() >= 100.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.2}")
        }
    };
    for f in figures {
        let value = f
            .value
            .map_or("–".into(), |s| format!("{} {}", num(s.median), f.unit));
        let p90 = f
            .value
            .filter(|s| s.n > 1)
            .map_or("".into(), |s| num(s.p90));
        let n = f.value.map_or(0, |s| s.n);
        let baseline = f.baseline.map_or("–".into(), |s| {
            format!("{} {} ({})", num(s.median), f.unit, f.baseline_name)
        });
        let ratio = f.ratio().map_or("–".into(), |r| format!("{r:.2}"));
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "?",
        };
        println!(
            "| {} | {} | {value} | {p90} | {n} | {baseline} | {ratio} | {} | {met} |",
            f.id, f.name, f.target
        );
    }
}

/// A scenario: its runs, its baselines, its rows of the report.
type Scenario = fn(&Opts) -> anyhow::Result<Vec<Figure>>;

fn main() -> anyhow::Result<()> {
    let opts = Opts::parse()?;
    eprintln!(
        "swarm-bench: measuring {} ({})",
        opts.swarm.display(),
        if opts.quick { "quick" } else { "full" }
    );
    let mut figures = Vec::new();
    let scenarios: [(&str, Scenario); 7] = [
        ("P3", |o| throughput(o, if o.quick { 64 } else { 200 })),
        ("P8", |o| landing(o, if o.quick { 64 } else { 200 })),
        ("P6", big_prompt),
        ("P4", quiet_overhead),
        ("P5", scale),
        ("P7", claude_gap),
        ("P9", |o| {
            hosts_throughput(o, if o.quick { 48 } else { 120 })
        }),
    ];
    for (id, scenario) in scenarios {
        let wanted = opts.wants(id) || (id == "P3" && (opts.wants("P1") || opts.wants("P2")));
        if !wanted {
            continue;
        }
        eprintln!("swarm-bench: {id}…");
        let started = Instant::now();
        match scenario(&opts) {
            Ok(rows) => figures.extend(rows),
            // One broken scenario should not cost the figures of the others.
            Err(err) => eprintln!("swarm-bench: {id} failed: {err:#}"),
        }
        eprintln!(
            "swarm-bench: {id} took {:.0}s",
            started.elapsed().as_secs_f64()
        );
    }
    print_table(&figures);
    if let Some(path) = &opts.json {
        let doc = json!({
            "quick": opts.quick,
            "swarm": opts.swarm,
            "figures": figures.iter().map(Figure::json).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(())
}

/// Fake ssh hosts for P9, made by tests/multihost/fakehosts.sh (network namespaces on this
/// machine; root and openssh-server needed), torn down when dropped.
struct FakeHosts {
    base: tempfile::TempDir,
    count: usize,
    /// The hosts' names and addresses are fixed: held against a test suite's at once.
    _machine: std::fs::File,
}

impl FakeHosts {
    fn up(count: usize) -> anyhow::Result<FakeHosts> {
        let base = tempfile::Builder::new()
            .prefix("swarm-bench-hosts-")
            .tempdir_in("/var/tmp")?;
        let machine = std::fs::File::create("/var/tmp/swarm-fakehosts.lock")?;
        machine.lock()?;
        let hosts = FakeHosts {
            base,
            count,
            _machine: machine,
        };
        hosts.script(&["down", &count.to_string()])?;
        let out = hosts.script(&["up", &count.to_string()])?;
        ensure!(
            out.status.success(),
            "fakehosts.sh up {count}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(hosts)
    }

    fn script(&self, args: &[&str]) -> anyhow::Result<std::process::Output> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/multihost/fakehosts.sh");
        Ok(Command::new("bash")
            .arg(script)
            .args(args)
            .env("BASE", self.base.path())
            .env("HIDE", "")
            .output()?)
    }

    fn ssh_config(&self) -> PathBuf {
        self.base.path().join("client/config")
    }

    /// Host `i`'s home directory, as this machine sees it.
    fn home(&self, i: usize) -> PathBuf {
        self.base.path().join(format!("h{i}/home"))
    }
}

impl Drop for FakeHosts {
    fn drop(&mut self) {
        let _ = self.script(&["down", &self.count.to_string()]);
    }
}

/// P9: `tasks` tasks of 1 s on 3 fake ssh hosts with 4 sim workers each, against GNU
/// `parallel --sshlogin` running the same sleeps on the same hosts (over ssh masters, as
/// swarm's); and the dispatch gap and sentinel → checked on hosts against the same run
/// on this machine with 12 workers. Skipped without root or GNU parallel.
fn hosts_throughput(opts: &Opts, tasks: usize) -> anyhow::Result<Vec<Figure>> {
    const HOSTS: usize = 3;
    const PER_HOST: usize = 4;
    if !rustix::process::getuid().is_root() || which::which("parallel").is_err() {
        eprintln!("swarm-bench: P9 skipped: it needs root (fake hosts) and GNU parallel");
        return Ok(Vec::new());
    }
    let hosts = FakeHosts::up(HOSTS)?;
    let config = hosts.ssh_config();

    let lab = Lab::new()?;
    write_plan(&lab.ws(), tasks)?;
    // swarm installed on each host: they do not see this machine's /tmp.
    for i in 1..=HOSTS {
        let bin = hosts.home(i).join("bin/swarm");
        std::fs::create_dir_all(hosts.home(i).join("bin"))?;
        if std::fs::hard_link(&opts.swarm, &bin).is_err() {
            std::fs::copy(&opts.swarm, &bin)?;
        }
    }
    let inner =
        "exec /root/bin/swarm sim-agent --think-ms 1000 --log /root/agent-$SWARM_WORKER.jsonl";
    let mut toml = format!(
        "workers = 0\nagent = \"sim\"\nagent_cmd = {}\n",
        toml::Value::String(shell_words::join(["sh", "-c", inner]))
    );
    for i in 1..=HOSTS {
        toml.push_str(&format!(
            "\n[[hosts]]\nname = \"h{i}\"\nworkers = {PER_HOST}\ndir = \"~/bench\"\nssh_options = [\"-F\", \"{}\"]\n",
            config.display()
        ));
    }
    std::fs::write(lab.ws().join("swarm.toml"), toml)?;
    let watch = CheckOffWatch::start(&lab.ws())?;
    let started = Instant::now();
    let mut cmd = Command::new(&opts.swarm);
    cmd.current_dir(lab.ws())
        .args(["run", "--headless", "--socket", &lab.socket])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(lab.dir.path().join("swarm.err"))?);
    lab.pin(&mut cmd);
    let mut child = cmd.spawn()?;
    let ok = finish(&mut child, Duration::from_secs(90 + tasks as u64))?;
    let makespan = started.elapsed().as_secs_f64();
    ensure!(ok, "swarm run on hosts failed:\n{}", lab.swarm_stderr());
    wait_until("every check-off", Duration::from_secs(5), || {
        Ok(watch.count() >= tasks)
    })?;
    let mut logs = BTreeMap::new();
    for i in 1..=HOSTS {
        logs.extend(read_logs(&hosts.home(i)));
    }
    let remote_gaps = dispatch_gaps(&logs);
    let remote_latencies = watch.latencies(&sentinel_times(&logs));

    // GNU parallel: the same sleeps, 4 at a time on each host, one ssh master per host.
    let started = Instant::now();
    let sshlogin: Vec<String> = (1..=HOSTS).map(|i| format!("{PER_HOST}/h{i}")).collect();
    let mut parallel = Command::new("parallel")
        .args(["--controlmaster", "--ssh"])
        .arg(format!("ssh -F {}", config.display()))
        .args(["--sshlogin", &sshlogin.join(","), "sleep 1; : {}"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let ids: String = (0..tasks).map(|i| format!("t{i:05}\n")).collect();
    parallel
        .stdin
        .take()
        .context("parallel stdin")?
        .write_all(ids.as_bytes())?;
    let out = parallel.wait_with_output()?;
    ensure!(
        out.status.success(),
        "parallel failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parallel_makespan = started.elapsed().as_secs_f64();
    drop(hosts);

    // The same run on this machine, for the gap and the check-off side by side.
    let local = Lab::new()?;
    write_plan(&local.ws(), tasks)?;
    let local_watch = CheckOffWatch::start(&local.ws())?;
    let agent = local.agent_cmd(&opts.swarm, "--think-ms 1000");
    let mut child = local.swarm_run(&opts.swarm, HOSTS * PER_HOST, &agent)?;
    let ok = finish(&mut child, Duration::from_secs(60 + tasks as u64))?;
    ensure!(ok, "the local run failed:\n{}", local.swarm_stderr());
    wait_until("every local check-off", Duration::from_secs(5), || {
        Ok(local_watch.count() >= tasks)
    })?;
    let local_logs = read_logs(&local.logs());
    let one = |x: f64| {
        Some(Stats {
            median: x,
            p90: x,
            n: 1,
        })
    };
    Ok(vec![
        Figure {
            id: "P9",
            name: format!("makespan on 3 hosts × 4 workers, {tasks} tasks × 1 s"),
            unit: "s",
            value: one(makespan),
            baseline: one(parallel_makespan),
            baseline_name: "GNU parallel --sshlogin 4/h1,4/h2,4/h3, same sleeps".into(),
            target: "ratio ≤ 1.10".into(),
            met: Some(makespan / parallel_makespan <= 1.10),
        },
        Figure {
            id: "P9",
            name: "on hosts: dispatch gap, sentinel → next prompt".into(),
            unit: "ms",
            value: stats(remote_gaps),
            baseline: stats(dispatch_gaps(&local_logs)),
            baseline_name: "the same run on this machine, 12 workers".into(),
            target: "side by side".into(),
            met: None,
        },
        Figure {
            id: "P9",
            name: "on hosts: sentinel → PLAN.md checked".into(),
            unit: "ms",
            value: stats(remote_latencies),
            baseline: stats(local_watch.latencies(&sentinel_times(&local_logs))),
            baseline_name: "the same run on this machine, 12 workers".into(),
            target: "side by side".into(),
            met: None,
        },
    ])
}
