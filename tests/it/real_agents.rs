//! End to end with the real Claude Code and Codex CLIs, offline: each talks to a scripted
//! fake API on 127.0.0.1 (`../shared/real-agents/run_demo.sh --serve`). These prove the
//! built-in profiles against the real screens, so they run only with `SWARM_E2E=1` and
//! the CLIs installed (`bash ../shared/real-agents/install.sh --codex`).

use crate::common::{TestEnv, expected_prompts, status, stderr, wait_until};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wait_timeout::ChildExt;

/// Whether the suite should run; says why not when it should not.
fn enabled() -> bool {
    let on = std::env::var("SWARM_E2E").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: set SWARM_E2E=1");
    }
    on
}

/// The harness folder: `$SWARM_REAL_AGENTS`, or `../shared/real-agents` beside the repo.
fn harness_dir() -> PathBuf {
    std::env::var_os("SWARM_REAL_AGENTS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/real-agents"),
        PathBuf::from,
    )
}

/// `run_demo.sh --serve`: a fake API on loopback, a pre-answered config and a launcher.
struct FakeApi {
    child: Child,
    /// `launch_agent.sh`: `cd`s into its argument and starts the agent offline.
    launcher: PathBuf,
    /// The fake server's logs: `requests.jsonl` and `prompts/`.
    logs: PathBuf,
}

impl FakeApi {
    /// Starts the harness for `agent`; `trusted` is pre-trusted (nothing is when `None`,
    /// beyond the harness's own folder).
    fn start(agent: &str, trusted: Option<&Path>) -> FakeApi {
        FakeApi::start_with(agent, trusted, &[])
    }

    /// As `start`, with more of `run_demo.sh`'s options (`--subscription`, ...).
    fn start_with(agent: &str, trusted: Option<&Path>, options: &[&str]) -> FakeApi {
        let mut cmd = Command::new("bash");
        cmd.arg(harness_dir().join("run_demo.sh"))
            .args(["--serve", "--rm", "--agent", agent])
            .args(options)
            // Every request body, to check what context a request carries.
            .env("FAKE_DUMP_BODIES", "1");
        if let Some(dir) = trusted {
            cmd.arg("--trust-dir").arg(dir);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run_demo.sh");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut launcher, mut logs) = (None, None);
        // The script prints its usage block, then blocks until it is stopped.
        while launcher.is_none() || logs.is_none() {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("run_demo.sh --serve ended early; is the agent installed?");
            };
            let word = |prefix: &str| {
                line.strip_prefix(prefix)
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(PathBuf::from)
            };
            launcher = launcher.or(word("launcher   : "));
            if let Some(log) = line.split("; log ").nth(1) {
                let requests = PathBuf::from(log.split(',').next().unwrap());
                logs = requests.parent().map(Path::to_path_buf);
            }
        }
        // Keep draining stdout so that the script never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        FakeApi {
            child,
            launcher: pass_through(&launcher.unwrap()),
            logs: logs.unwrap(),
        }
    }

    /// The `--agent-cmd` that starts Claude in `dir` asking before each tool
    /// (`--permission-mode default`) instead of skipping every permission.
    fn asking_agent_cmd(&self, dir: &Path) -> String {
        let text = std::fs::read_to_string(&self.launcher).unwrap();
        assert!(text.contains("--dangerously-skip-permissions"), "{text}");
        let asking = self.launcher.with_file_name("launch_agent_asking.sh");
        let text = text.replace(
            "--dangerously-skip-permissions",
            "--permission-mode default",
        );
        std::fs::write(&asking, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&asking, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!("{} {}", asking.display(), dir.display())
    }

    /// The `--agent-cmd` that starts the agent in `dir` with `vars` set in its (otherwise
    /// scrubbed) environment, as a person would export them.
    fn agent_cmd_with_env(&self, dir: &Path, vars: &[(&str, &str)]) -> String {
        let text = std::fs::read_to_string(&self.launcher).unwrap();
        let set: String = vars.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        let with = text.replacen("exec env -i ", &format!("exec env -i {set}"), 1);
        assert_ne!(with, text, "the launcher changed:\n{text}");
        let path = self.launcher.with_file_name("launch_agent_env.sh");
        std::fs::write(&path, with).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!("{} {}", path.display(), dir.display())
    }

    /// The `--agent-cmd` that starts the agent in `dir`.
    fn agent_cmd(&self, dir: &Path) -> String {
        format!("{} {}", self.launcher.display(), dir.display())
    }

    /// The main-loop prompts the API received, in order: (sequence number, text).
    fn prompts(&self) -> Vec<(u64, String)> {
        let Ok(dir) = std::fs::read_dir(self.logs.join("prompts")) else {
            return Vec::new();
        };
        let mut prompts: Vec<(u64, String)> = dir
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                let seq = name.strip_suffix("-main.txt")?.parse().ok()?;
                let text = std::fs::read_to_string(self.logs.join("prompts").join(&name)).ok()?;
                Some((seq, text))
            })
            .collect();
        prompts.sort();
        prompts
    }

    /// Sets the fault rules (`faults.json`), written aside and renamed in, as the fake
    /// server reads them.
    fn faults(&self, rules: serde_json::Value) {
        let tmp = self.logs.join("faults.json.tmp");
        std::fs::write(&tmp, serde_json::json!({ "rules": rules }).to_string()).unwrap();
        std::fs::rename(tmp, self.logs.join("faults.json")).unwrap();
    }

    /// The logged requests, as the fake server wrote them.
    fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.logs.join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Every request body the fake server kept (`FAKE_DUMP_BODIES`), in order.
    fn bodies(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.logs.join("bodies")) else {
            return Vec::new();
        };
        let mut names: Vec<PathBuf> = dir.filter_map(|e| Some(e.ok()?.path())).collect();
        names.sort();
        names
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .collect()
    }

    /// When the API received each request, by sequence number (Unix seconds).
    fn request_times(&self) -> BTreeMap<u64, f64> {
        std::fs::read_to_string(self.logs.join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|v| Some((v["seq"].as_u64()?, v["ts"].as_f64()?)))
            .collect()
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        // The script's trap stops the fake server and removes its files.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        if self
            .child
            .wait_timeout(Duration::from_secs(10))
            .ok()
            .flatten()
            .is_none()
        {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A copy of the harness's launcher (which starts the agent under `env -i` and ignores
/// its arguments past the project folder) that passes on what swarm adds: the arguments
/// (Claude's `--settings` with swarm's hooks) and the `SWARM_*` variables, so that hooks
/// are on in the suite, as they are for users.
fn pass_through(launcher: &Path) -> PathBuf {
    let text = std::fs::read_to_string(launcher).unwrap();
    let text = text.replacen(
        "exec env -i \\\n",
        "exec env -i SWARM_WORKER=\"$SWARM_WORKER\" SWARM_WORKSPACE=\"$SWARM_WORKSPACE\" \\\n",
        1,
    );
    assert!(
        text.contains("SWARM_WORKER"),
        "the launcher changed:\n{text}"
    );
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let last = lines.iter().rposition(|l| !l.trim().is_empty()).unwrap();
    lines[last].push_str(" \"${@:2}\"");
    let path = launcher.with_file_name("launch_agent_swarm.sh");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// What `harness_util.py check-prompt` calls equal: Claude wraps a paste in
/// `<pasted_content>` (and the first turn in a `<system-reminder>`), and types tabs as 4
/// spaces; line ends and trailing blanks do not count. After a reset, Claude also sends
/// its record of the `/clear` that swarm typed (`<command-name>` and friends) in front of
/// the next prompt, which is not the prompt's either.
fn arrived_whole(want: &str, got: &str) -> bool {
    let pasted =
        regex::Regex::new(r"(?s)<pasted_content[^>]*>\n?(.*?)\n?</pasted_content[^>]*>").unwrap();
    let blocks: Vec<&str> = pasted
        .captures_iter(got)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    let inner = if blocks.is_empty() {
        const TAGS: &str = "system-reminder|local-command-caveat|local-command-stdout|\
                            command-name|command-message|command-args";
        regex::Regex::new(&format!(r"(?s)<(?:{TAGS})>.*?</(?:{TAGS})>"))
            .unwrap()
            .replace_all(got, "")
            .into_owned()
    } else {
        blocks.join("\n")
    };
    let norm = |s: &str| {
        s.replace("\r\n", "\n")
            .replace('\r', "\n")
            .replace('\t', "    ")
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
            .trim_matches('\n')
            .to_owned()
    };
    norm(&inner) == norm(want)
}

/// Six tasks: three write a file named in `{out=...}`, three only signal. Each carries the
/// fake API's directive to write a file and then its sentinel (fake_openai.py does nothing
/// without one); one context line holds a tab, which Claude turns into spaces.
fn six_task_plan() -> String {
    let mut plan = String::from("# Six chores for real agents\n\n");
    for i in 1..=6 {
        if i % 2 == 1 {
            plan.push_str(&format!(
                "- [ ] Write notes/n{i}.md about topic {i} {{out=notes/n{i}.md}}\n  \
                 Keep it short;\tmention {i} and \"quotes\" and $HOME.\n  \
                 SWARM-TEST: write notes/n{i}.md then done notes/n{i}.md.done\n"
            ));
        } else {
            plan.push_str(&format!(
                "- [ ] Chore {i}: tidy module {i} {{#c{i}}}\n  \
                 SWARM-TEST: write notes/c{i}.txt then done .swarm/done/c{i}.done\n"
            ));
        }
    }
    plan
}

fn swarm_run(env: &TestEnv, api: &FakeApi, agent: &str, workers: u32, extra: &[&str]) -> Command {
    let mut cmd = env.swarm();
    cmd.args([
        "run",
        "--headless",
        "--socket",
        &env.socket,
        "--agent",
        agent,
    ])
    .args(["--agent-cmd", &api.agent_cmd(&env.ws())])
    .args(["--workers", &workers.to_string()])
    .args(extra);
    cmd
}

fn mtime(path: &Path) -> f64 {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    modified.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Runs the six-task plan on three real agents and checks every prompt and every task.
fn six_tasks_complete_with(agent: &str) {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start(agent, Some(&env.ws()));
    let plan = six_task_plan();
    env.write("PLAN.md", &plan);

    let started = SystemTime::now();
    let out = swarm_run(&env, &api, agent, 3, &["--task-timeout", "120"])
        .output()
        .unwrap();
    let wall = started.elapsed().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("6 done, 0 failed"),
        "{}",
        stderr(&out)
    );

    let after = env.read("PLAN.md");
    assert_eq!(
        after,
        plan.replace("- [ ]", "- [x]"),
        "PLAN.md beyond its checkboxes"
    );
    for file in ["n1.md", "c2.txt", "n3.md", "c4.txt", "n5.md", "c6.txt"] {
        assert!(env.path(&format!("notes/{file}")).exists(), "notes/{file}");
    }
    if agent == "claude" {
        // The hooks reached the agent through the launcher, and fired.
        assert!(env.path(".swarm/hooks/0.json").exists(), "no hook fired");
    }

    // Every prompt arrived whole, once per task, and no other main-loop prompt carried it.
    let prompts = api.prompts();
    let times = api.request_times();
    let tasks = swarm::plan::parse(&plan, Path::new("PLAN.md")).unwrap();
    let mut figures = Vec::new();
    for (id, want) in expected_prompts(&plan) {
        let first_line = want.lines().next().unwrap().replace('\t', "    ");
        let (seq, got) = prompts
            .iter()
            .find(|(_, text)| text.replace('\t', "    ").contains(&first_line))
            .unwrap_or_else(|| panic!("task {id}: no request carried {first_line:?}"));
        assert!(
            arrived_whole(&want, got),
            "task {id} arrived changed:\n--- sent\n{want}\n--- got\n{got}"
        );
        let task = tasks.iter().find(|t| t.id.to_string() == id).unwrap();
        let sentinel = env.ws().join(swarm::prompt::sentinel_for(task).unwrap());
        figures.push((times[seq], mtime(&sentinel), id));
    }

    // The figures for the report: first request of a turn to its sentinel, and how long a
    // freed worker waited for its next task (the i-th start after the (i-3)-th finish).
    figures.sort_by(|a, b| a.0.total_cmp(&b.0));
    let turns: Vec<f64> = figures
        .iter()
        .map(|(start, done, _)| done - start)
        .collect();
    let mut finishes: Vec<f64> = figures.iter().map(|f| f.1).collect();
    finishes.sort_by(f64::total_cmp);
    let gaps: Vec<f64> = figures[3..]
        .iter()
        .zip(&finishes)
        .map(|(next, freed)| next.0 - freed)
        .collect();
    eprintln!(
        "{agent}: 6 tasks, 3 workers, wall {:.1}s; request→sentinel {}; sentinel→next request {}",
        wall.as_secs_f64(),
        seconds(&turns),
        seconds(&gaps),
    );
}

fn seconds(values: &[f64]) -> String {
    let list: Vec<String> = values.iter().map(|v| format!("{v:.2}")).collect();
    format!("[{}]s", list.join(", "))
}

#[test]
fn claude_completes_six_tasks_with_three_workers() {
    six_tasks_complete_with("claude");
}

#[test]
fn codex_completes_six_tasks_with_three_workers() {
    six_tasks_complete_with("codex");
}

/// The six-task plan again, with `isolation = "worktree"`: each task's work is committed
/// in its worker's worktree and lands on `swarm/main`, and the person's checkout is left
/// as it was, but for PLAN.md's checkboxes.
fn six_tasks_land_from_worktrees_with(agent: &str) {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start(agent, Some(&env.ws()));
    let plan = six_task_plan();
    env.write("PLAN.md", &plan);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(env.ws())
            .args(["-c", "user.name=Pat", "-c", "user.email=pat@example.com"])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", env.dir.path().join("home"))
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        crate::common::stdout(&out)
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "the plan"]);

    // The launcher `cd`s into its argument: `.` keeps the worktree swarm starts it in.
    let agent_cmd = format!("{} .", api.launcher.display());
    let out = env
        .swarm()
        .args([
            "run",
            "--headless",
            "--socket",
            &env.socket,
            "--agent",
            agent,
        ])
        .args(["--agent-cmd", &agent_cmd, "--workers", "3"])
        .args(["--isolate", "worktree", "--task-timeout", "120"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    assert!(err.contains("6 done (6 landed on swarm/main)"), "{err}");
    assert_eq!(env.read("PLAN.md"), plan.replace("- [ ]", "- [x]"));

    // Each task's file is on the landing branch, in a commit that names the task, and
    // none is in the person's own working tree.
    let landed = git(&[
        "log",
        "--format=%(trailers:key=Swarm-Task,valueonly)",
        "main..swarm/main",
    ]);
    assert_eq!(
        landed.lines().filter(|l| !l.trim().is_empty()).count(),
        6,
        "{landed}"
    );
    for file in ["n1.md", "c2.txt", "n3.md", "c4.txt", "n5.md", "c6.txt"] {
        git(&["cat-file", "-e", &format!("swarm/main:notes/{file}")]);
        assert!(
            !env.path(&format!("notes/{file}")).exists(),
            "notes/{file} in the checkout"
        );
    }
    let names = git(&["log", "--all", "--name-only", "--format="]);
    assert!(
        !names
            .lines()
            .any(|n| n.contains(".swarm") || n.ends_with(".done")),
        "{names}"
    );
    let status = git(&["status", "--porcelain"]);
    assert_eq!(status.trim(), "M PLAN.md", "{status}");
}

#[test]
fn claude_lands_six_tasks_from_worktrees() {
    six_tasks_land_from_worktrees_with("claude");
}

#[test]
fn codex_lands_six_tasks_from_worktrees() {
    six_tasks_land_from_worktrees_with("codex");
}

fn worker_states(status: &serde_json::Value) -> Vec<String> {
    status["state"]["workers"]
        .as_array()
        .map(|workers| {
            workers
                .iter()
                .map(|w| w["state"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits for a running swarm to end, and returns its exit code.
fn finish(mut child: Child, within: Duration) -> Option<i32> {
    match child.wait_timeout(within).unwrap() {
        Some(status) => status.code(),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("swarm did not end within {within:?}");
        }
    }
}

#[test]
fn a_hanging_turn_is_busy_never_idle_and_done() {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start("claude", Some(&env.ws()));
    let plan = "# Hang\n\n- [ ] Wait forever {#stuck}\n  SWARM-TEST: hang\n";
    env.write("PLAN.md", plan);
    let child = swarm_run(
        &env,
        &api,
        "claude",
        1,
        &["--task-timeout", "12", "--max-attempts", "1"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();

    // Once the hanging prompt reached the API, the worker must read busy (or be
    // interrupted once the timeout passes), never idle with the task done.
    wait_until(
        "the hanging prompt reaches the API",
        Duration::from_secs(60),
        || {
            api.prompts()
                .iter()
                .any(|(_, text)| text.contains("SWARM-TEST: hang"))
        },
    );
    let mut seen = Vec::new();
    wait_until(
        "the task times out and fails",
        Duration::from_secs(60),
        || {
            let status = status(&env);
            let task = status["state"]["tasks"][0]["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            seen.extend(worker_states(&status));
            assert_ne!(task, "done", "a hanging task was taken for done");
            task == "failed"
        },
    );
    assert!(
        seen.iter().any(|s| s == "busy"),
        "never seen busy: {seen:?}"
    );
    let code = finish(child, Duration::from_secs(60));
    assert_eq!(code, Some(1));
    let after = env.read("PLAN.md");
    assert!(
        after.contains("- [ ] Wait forever"),
        "a failed task stays unchecked:\n{after}"
    );
    assert!(
        after.contains("timed out"),
        "the failure note says why:\n{after}"
    );
    assert!(!env.path(".swarm/done/stuck.done").exists());
}

#[test]
fn an_untrusted_workspace_needs_a_person_and_no_enter_is_pressed() {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    // No --trust-dir: Claude opens in an untrusted folder and asks, defaulting to "No, exit".
    let api = FakeApi::start("claude", None);
    env.write("PLAN.md", "# Trust\n\n- [ ] Anything at all {#t1}\n");
    let child = swarm_run(&env, &api, "claude", 1, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    wait_until(
        "the worker reports needs-human",
        Duration::from_secs(60),
        || worker_states(&status(&env)) == ["needs-human"],
    );
    let pane = status(&env)["state"]["workers"][0]["pane"]
        .as_str()
        .unwrap()
        .to_owned();
    // Still on the dialog, alive: an Enter would have picked "No, exit" and killed it.
    let screen = env.capture(&pane);
    assert!(screen.contains("Yes, I trust this folder"), "{screen}");
    assert_eq!(
        env.tmux_ok(&["display", "-p", "-t", &pane, "#{pane_dead}"])
            .trim(),
        "0"
    );
    assert!(
        api.prompts().is_empty(),
        "a prompt reached the API past the dialog"
    );

    let out = env
        .swarm()
        .args(["stop", "--socket", &env.socket])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    finish(child, Duration::from_secs(30));
}

/// Pastes `text` into a fresh `agent` pane the way swarm pastes a prompt (bracketed, then
/// Enter once the box shows it), but with no guard line, and waits until `happened`: what
/// the CLI itself does with a paste that starts with `!` or `/`.
fn paste_raw(env: &TestEnv, api: &FakeApi, agent: &str, text: &str, happened: impl Fn() -> bool) {
    let pane = "raw:0.0";
    let launch = api.agent_cmd(&env.ws());
    env.tmux_ok(&[
        "new-session",
        "-d",
        "-s",
        "raw",
        "-x",
        "160",
        "-y",
        "45",
        &launch,
    ]);
    env.tmux_ok(&["set-option", "-g", "remain-on-exit", "on"]);
    let input_box = if agent == "claude" { "❯" } else { "›" };
    wait_until("the agent's input box", Duration::from_secs(60), || {
        env.capture(pane).contains(input_box)
    });
    let file = env.dir.path().join("raw-prompt.txt");
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();
    env.tmux_ok(&["load-buffer", "-b", "raw", &file]);
    env.tmux_ok(&["paste-buffer", "-p", "-d", "-b", "raw", "-t", pane]);
    let first = text.lines().next().unwrap()[1..].to_owned();
    // As swarm does: Enter once the screen shows the paste and has stopped changing for
    // a while, since Codex takes an Enter too soon after a paste as a newline
    // (docs/tmux-facts.md §1); and again, as swarm's Enter retries do, if nothing happens.
    let (mut last, mut since) = (String::new(), std::time::Instant::now());
    wait_until(
        "the paste settled in the box",
        Duration::from_secs(20),
        || {
            let screen = env.capture(pane);
            if screen != last {
                (last, since) = (screen, std::time::Instant::now());
            }
            last.contains(&first) && since.elapsed() >= Duration::from_millis(800)
        },
    );
    for _ in 0..3 {
        env.tmux_ok(&["send-keys", "-t", pane, "Enter"]);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if happened() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("{agent} did not act on the paste:\n{}", env.capture(pane));
}

/// The finding behind the `Task:` guard (issue 12): both CLIs read a bracketed paste that
/// starts with `!` as a shell command and run it (the rest of the paste too), and one that
/// starts with `/exit` as that command, with text after it or not.
fn a_raw_paste_starting_with_a_command_runs_it(agent: &str) {
    if !enabled() {
        return;
    }
    let tail = "\n\nWhen you have finished, create the empty file `.swarm/done/x.done`.";
    let env = TestEnv::new();
    let api = FakeApi::start(agent, Some(&env.ws()));
    paste_raw(&env, &api, agent, &format!("!touch PWNED{tail}"), || {
        env.path("PWNED").exists()
    });
    drop((api, env));

    let env = TestEnv::new();
    let api = FakeApi::start(agent, Some(&env.ws()));
    let dead = || {
        env.tmux_ok(&["display", "-p", "-t", "raw:0.0", "#{pane_dead}"])
            .trim()
            == "1"
    };
    paste_raw(&env, &api, agent, &format!("/exit{tail}"), dead);
    assert!(api.prompts().is_empty(), "{:?}", api.prompts());
}

#[test]
fn claude_runs_a_raw_paste_that_starts_with_a_command() {
    a_raw_paste_starting_with_a_command_runs_it("claude");
}

#[test]
fn codex_runs_a_raw_paste_that_starts_with_a_command() {
    a_raw_paste_starting_with_a_command_runs_it("codex");
}

/// Tasks whose text is a command (`!touch`, `/exit`, `/clear`) reach the model as
/// messages through swarm: nothing runs, no agent exits, every task is done.
fn command_tasks_are_messages_to(agent: &str) {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start(agent, Some(&env.ws()));
    let plan = "# Commands\n\n- [ ] !touch PWNED {#bang}\n- [ ] /exit {#exit}\n\
                - [ ] /clear the cache {#clear}\n";
    env.write("PLAN.md", plan);
    let out = swarm_run(
        &env,
        &api,
        agent,
        1,
        &["--task-timeout", "60", "--max-attempts", "1"],
    )
    .output()
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("3 done, 0 failed"), "{err}");
    assert!(!env.path("PWNED").exists(), "the shell escape ran");
    let prompts = api.prompts();
    for (id, want) in expected_prompts(plan) {
        assert!(want.starts_with("Task: "), "{want}");
        assert!(
            prompts.iter().any(|(_, got)| arrived_whole(&want, got)),
            "task {id} never reached the model as a message:\n{want}\n{prompts:?}"
        );
    }
}

#[test]
fn claude_gets_command_tasks_as_messages() {
    command_tasks_are_messages_to("claude");
}

#[test]
fn codex_gets_command_tasks_as_messages() {
    command_tasks_are_messages_to("codex");
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `HH:MM` of Unix time `at`, in the zone swarm shows times in.
fn clock_time(at: u64) -> String {
    let at = jiff::Timestamp::from_second(at as i64).unwrap();
    at.to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%H:%M")
        .to_string()
}

/// A usage limit on every main-loop request from now until the first whole minute at
/// least 60 s away (agents print reset times in minutes), over the six-task run: all six
/// done, none charged an attempt, the workers shown rate-limited until the time the agent
/// printed, and work resumed within 10 s of the reset.
fn a_usage_limit_is_waited_out(agent: &str, mode: &str, options: &[&str]) {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start_with(agent, Some(&env.ws()), options);
    let plan = six_task_plan();
    env.write("PLAN.md", &plan);
    let reset = (unix_now() + 60).div_ceil(60) * 60;
    api.faults(serde_json::json!([{
        "mode": mode, "until": reset, "reset_at": reset, "reset_in": reset - unix_now(),
        "claim": "five_hour", "scope": "main"
    }]));
    let child = swarm_run(&env, &api, agent, 3, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let want = format!("rate-limited until {}", clock_time(reset));
    let mut needs = Vec::new();
    wait_until(
        "the workers are shown rate-limited",
        Duration::from_secs(60),
        || {
            let status = status(&env);
            let workers = status["state"]["workers"].as_array().cloned();
            needs = workers
                .unwrap_or_default()
                .iter()
                .filter_map(|w| w["needs"].as_str().map(str::to_owned))
                .collect();
            needs.iter().any(|n| n == &want)
        },
    );
    assert!(unix_now() < reset, "the limit was seen only after it ended");
    let code = finish(child, Duration::from_secs(240));
    assert_eq!(code, Some(0));
    let after = env.read("PLAN.md");
    assert_eq!(
        after,
        plan.replace("- [ ]", "- [x]"),
        "6 of 6 done, no notes"
    );
    let journal = std::fs::read_to_string(env.path(".swarm/journal.jsonl")).unwrap_or_default();
    let charged: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("\"assigned\"") && !l.contains("\"attempt\":1"))
        .collect();
    assert!(charged.is_empty(), "attempts charged: {charged:?}");
    // Nothing accepted the limit's offer to switch models (Codex's popup picks its first
    // option, "Switch to gpt-6-luna", on Enter).
    let models: std::collections::BTreeSet<String> = api
        .requests()
        .iter()
        .filter_map(|r| r["model"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(models.len(), 1, "the model changed: {models:?}");
    // The first request that went through after the reset came within 10 s of it.
    let resumed = api
        .requests()
        .iter()
        .filter(|r| r["fault"].is_null() && r["action"] != "fault")
        .filter_map(|r| r["ts"].as_f64())
        .find(|&ts| ts >= reset as f64)
        .expect("a request after the reset");
    assert!(
        resumed - (reset as f64) <= 10.0,
        "resumed {:.1}s after the reset",
        resumed - reset as f64
    );
}

#[test]
fn claude_waits_out_a_five_hour_limit_without_charging_a_task() {
    a_usage_limit_is_waited_out("claude", "429-unified", &["--subscription"]);
}

#[test]
fn codex_waits_out_its_usage_limit_and_never_accepts_the_model_switch() {
    a_usage_limit_is_waited_out("codex", "429-usage", &[]);
}

/// An API error past Codex's own retries (none, in the harness) ends its turn with a `■`
/// line: the worker backs off, gets a fresh context and the task goes out again, with no
/// attempt charged and no note in PLAN.md; the worker is never stranded.
#[test]
fn codex_api_error_past_its_retries_is_waited_out_and_the_task_sent_again() {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start("codex", Some(&env.ws()));
    let plan = "# Errors\n\n- [ ] Write notes/e1.md about errors {out=notes/e1.md}\n  \
                SWARM-TEST: fault 500 times=1\n";
    env.write("PLAN.md", plan);
    let child = swarm_run(&env, &api, "codex", 1, &["--max-attempts", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut needs = String::new();
    wait_until(
        "the worker shows the API error",
        Duration::from_secs(60),
        || {
            needs = status(&env)["state"]["workers"][0]["needs"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            needs.starts_with("API error: ")
        },
    );
    let code = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{needs}");
    assert_eq!(env.read("PLAN.md"), plan.replace("- [ ]", "- [x]"));
    assert!(env.path("notes/e1.md").exists());
}

/// An API error past Claude's own retries: `● API Error: 500 …` and the dimmed
/// `❯ Resend your message to try again` in the box, with a `StopFailure` hook. Claude
/// retries 10 times over about 3 minutes by default; `CLAUDE_CODE_MAX_RETRIES=1` (read by
/// 2.1.331, as seen) makes it give up after one retry, the same screen in half a second.
/// The worker shows the error and backs off, the agent gets a fresh context, and the task
/// goes out again with no attempt charged and no note in PLAN.md; the task queued behind
/// it is done by the same worker, which is never stranded.
#[test]
fn claude_api_error_past_its_retries_is_waited_out_and_the_task_sent_again() {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start("claude", Some(&env.ws()));
    let plan = "# Errors\n\n- [ ] Write notes/e1.md about errors {out=notes/e1.md}\n\
                - [ ] Write notes/e2.md afterwards {out=notes/e2.md}\n";
    env.write("PLAN.md", plan);
    // The first attempt and Claude's one retry fail; the task sent again goes through.
    api.faults(serde_json::json!([{
        "mode": "500", "scope": "main", "match": r"\be1\.md\.done", "times": 2
    }]));
    let child = env
        .swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .args(["--agent", "claude", "--workers", "1", "--max-attempts", "1"])
        .args([
            "--agent-cmd",
            &api.agent_cmd_with_env(&env.ws(), &[("CLAUDE_CODE_MAX_RETRIES", "1")]),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut needs = String::new();
    wait_until(
        "the worker shows the API error",
        Duration::from_secs(60),
        || {
            needs = status(&env)["state"]["workers"][0]["needs"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            needs.starts_with("API error: ")
        },
    );
    assert!(needs.contains("500 Internal server error"), "{needs}");
    let code = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{needs}");
    assert_eq!(env.read("PLAN.md"), plan.replace("- [ ]", "- [x]"));
    assert!(env.path("notes/e1.md").exists() && env.path("notes/e2.md").exists());
    let faulted = api
        .requests()
        .iter()
        .filter(|r| r["action"] == "fault")
        .count();
    assert_eq!(faulted, 2, "the fault did not end Claude's turn as planned");
    let journal = std::fs::read_to_string(env.path(".swarm/journal.jsonl")).unwrap_or_default();
    let charged: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("\"assigned\"") && !l.contains("\"attempt\":1"))
        .collect();
    assert!(charged.is_empty(), "attempts charged: {charged:?}");
    assert!(
        journal.contains("API error: "),
        "the journal does not say why the task went out again:\n{journal}"
    );
}

/// A turn interrupted at its timeout is followed by a fresh context: the next task's
/// requests carry nothing of the one before.
#[test]
fn after_an_interrupt_the_next_tasks_requests_carry_no_earlier_task() {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start("claude", Some(&env.ws()));
    let plan = "# Interrupted\n\n- [ ] Wait forever {#stuck}\n  SWARM-TEST: hang\n\
                - [ ] Write notes/after.md afterwards {out=notes/after.md}\n";
    env.write("PLAN.md", plan);
    let child = swarm_run(
        &env,
        &api,
        "claude",
        1,
        &["--task-timeout", "10", "--max-attempts", "1"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let code = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(1), "the hanging task fails");
    assert!(env.path("notes/after.md").exists());
    let after: Vec<String> = api
        .bodies()
        .into_iter()
        .filter(|body| body.contains("after.md.done"))
        .collect();
    assert!(!after.is_empty(), "no request for the second task");
    for body in after {
        assert!(
            !body.contains("SWARM-TEST: hang"),
            "the next task's request carried the interrupted one"
        );
    }
}

/// Claude asking before a tool runs: the worker needs a person, with the question shown,
/// nothing is pasted meanwhile (no nudge), and work goes on once the person answers.
#[test]
fn a_permission_question_needs_a_person_and_nothing_is_pasted_until_answered() {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start("claude", Some(&env.ws()));
    env.write(
        "PLAN.md",
        "# Ask\n\n- [ ] Write notes/p.md about asking {out=notes/p.md}\n",
    );
    let child = env
        .swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .args(["--agent", "claude", "--workers", "1"])
        .args(["--agent-cmd", &api.asking_agent_cmd(&env.ws())])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut asked = Vec::new();
    wait_until(
        "the person answers every question and the task is done",
        Duration::from_secs(150),
        || {
            let status = status(&env);
            if status["state"]["tasks"][0]["state"] == "done" {
                return true;
            }
            let worker = &status["state"]["workers"][0];
            if worker["state"] == "needs-human" {
                let pane = worker["pane"].as_str().unwrap_or_default().to_owned();
                let screen = env.capture(&pane);
                // The person reads the question, and picks "1. Yes".
                if screen.contains("Do you want to") {
                    asked.push(worker["needs"].as_str().unwrap_or_default().to_owned());
                    env.tmux_ok(&["send-keys", "-t", &pane, "Enter"]);
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
            status["state"]["tasks"][0]["state"] == "done"
        },
    );
    let code = finish(child, Duration::from_secs(60));
    assert!(!asked.is_empty(), "never shown as needing a person");
    assert!(
        asked.iter().all(|n| !n.is_empty()),
        "the question is not shown: {asked:?}"
    );
    assert_eq!(code, Some(0));
    assert!(
        api.prompts()
            .iter()
            .all(|(_, text)| !text.contains("Continue with the task")),
        "a nudge went into a question"
    );
}

/// The model each fake API names, and the prices the cost tests give it in swarm.toml
/// (dollars per million tokens: input, output, cache read, cache write).
fn priced_model(agent: &str) -> (&'static str, [f64; 4]) {
    match agent {
        "claude" => ("claude-opus-5-5", [3.0, 15.0, 0.5, 4.0]),
        _ => ("gpt-5.5-codex", [2.0, 8.0, 0.25, 0.0]),
    }
}

/// swarm.toml pricing the fake API's model at `prices`, with more keys (`budget = …`).
fn priced_config(env: &TestEnv, agent: &str, prices: [f64; 4], more: &str) {
    let (model, _) = priced_model(agent);
    let [input, output, cache_read, cache_write] = prices;
    env.write(
        "swarm.toml",
        &format!(
            "{more}\n[prices.\"{model}\"]\ninput = {input}\noutput = {output}\n\
             cache_read = {cache_read}\ncache_write = {cache_write}\n"
        ),
    );
}

/// `swarm run` for the cost tests: Codex's sessions are under the harness's own
/// `CODEX_HOME`, which swarm reads as Codex does.
fn costed_run(env: &TestEnv, api: &FakeApi, agent: &str, workers: u32, extra: &[&str]) -> Command {
    let mut cmd = swarm_run(env, api, agent, workers, extra);
    cmd.env("CODEX_HOME", codex_home(api));
    cmd
}

/// The harness's `CODEX_HOME`, beside its launcher.
fn codex_home(api: &FakeApi) -> PathBuf {
    api.launcher.parent().unwrap().join("codex-home")
}

/// What the fake API reported for each task's requests (by its sentinel, the `done_path`
/// the API logs): input, output, cache read, cache write, as swarm counts them. Responses
/// cut short, and Codex's side queries (which it does not record), are left out.
fn api_tokens(api: &FakeApi, agent: &str) -> BTreeMap<String, [u64; 4]> {
    let requests = api.requests();
    let cut: Vec<u64> = requests
        .iter()
        .filter(|r| r["action"] == "client-disconnected")
        .filter_map(|r| r["seq"].as_u64())
        .collect();
    let mut sums: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for r in &requests {
        let (Some(done), Some(usage), Some(seq)) = (
            r["done_path"].as_str(),
            r["usage"].as_object(),
            r["seq"].as_u64(),
        ) else {
            continue;
        };
        if cut.contains(&seq) || (agent == "codex" && r["kind"] != "main") {
            continue;
        }
        let n = |key: &str| usage.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
        let row = match agent {
            "claude" => [
                n("input_tokens"),
                n("output_tokens"),
                n("cache_read_input_tokens"),
                n("cache_creation_input_tokens"),
            ],
            _ => {
                let cached = usage["input_tokens_details"]["cached_tokens"]
                    .as_u64()
                    .unwrap_or(0);
                [n("input_tokens") - cached, n("output_tokens"), cached, 0]
            }
        };
        let sum = sums.entry(done.to_string()).or_default();
        for (s, v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    sums
}

/// `swarm show TASK --json`, parsed; `codex_home` is where Codex keeps its sessions.
fn show(env: &TestEnv, task: &str, codex_home: &Path) -> serde_json::Value {
    let out = env
        .swarm()
        .args(["show", task, "--json"])
        .env("CODEX_HOME", codex_home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&crate::common::stdout(&out)).unwrap()
}

fn shown_tokens(shown: &serde_json::Value) -> [u64; 4] {
    let t = &shown["total"]["tokens"];
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    [n("input"), n("output"), n("cache_read"), n("cache_write")]
}

/// Each task's tokens, read from the agent's own records, equal what the fake API
/// returned for that task's requests, and its cost is those tokens times the prices.
fn tokens_and_cost_match_the_api(agent: &str) {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start(agent, Some(&env.ws()));
    let plan = six_task_plan();
    env.write("PLAN.md", &plan);
    let (_, prices) = priced_model(agent);
    priced_config(&env, agent, prices, "");
    let out = costed_run(&env, &api, agent, 3, &["--task-timeout", "120"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("swarm: spent "),
        "no cost in the summary: {err}"
    );

    let tasks = swarm::plan::parse(&plan, Path::new("PLAN.md")).unwrap();
    let mut run_total = [0u64; 4];
    for task in &tasks {
        let sentinel = swarm::prompt::sentinel_for(task).unwrap();
        let id = task.id.to_string();
        // The agent may still be writing its last reply to its records.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let (want, got) = loop {
            let want = api_tokens(&api, agent)
                .get(&sentinel.display().to_string())
                .copied();
            let got = shown_tokens(&show(&env, &id, &codex_home(&api)));
            if want == Some(got) {
                break (want, got);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "task {id}: the API returned {want:?} (input, output, cache read, cache write), swarm read {got:?}\n{}",
                api.requests()
                    .iter()
                    .filter(|r| r["done_path"].as_str() == Some(&sentinel.display().to_string()))
                    .map(|r| format!("{} {} {}", r["seq"], r["action"], r["usage"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        eprintln!("{agent}: task {id}: API {want:?}, swarm {got:?}");
        let shown = show(&env, &id, &codex_home(&api));
        let cost = shown["total"]["cost"]
            .as_f64()
            .expect("a priced model has a cost");
        let priced: f64 = got
            .iter()
            .zip(prices)
            .map(|(&n, p)| n as f64 * p / 1e6)
            .sum();
        assert!(
            (cost - priced).abs() < 1e-9,
            "task {id}: cost {cost}, tokens × prices {priced}"
        );
        for (t, g) in run_total.iter_mut().zip(got) {
            *t += g;
        }
        // Its receipts: every stage of a plain run, in order, with the prompt's hash.
        let stages: Vec<&str> = shown["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["stage"].as_str().unwrap())
            .collect();
        for stage in ["queued", "pasted", "submitted", "sentinel"] {
            assert!(
                stages.contains(&stage),
                "task {id}: no {stage} in {stages:?}"
            );
        }
        let pasted = shown["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["stage"] == "pasted")
            .unwrap();
        assert_eq!(pasted["sha256"].as_str().unwrap().len(), 64);
        assert!(pasted["bytes"].as_u64().unwrap() > 100);
    }
    eprintln!("{agent}: run total {run_total:?} tokens");
    let state = &status(&env)["state"];
    let task = &state["tasks"][0];
    assert_eq!(task["receipt"]["stage"], "sentinel", "{task}");
    assert!(
        task["spent"]["tokens"]["input"].as_u64().unwrap() > 0,
        "{task}"
    );
    let run = &state["spent"]["tokens"];
    let summed = [
        run["input"].as_u64(),
        run["output"].as_u64(),
        run["cache_read"].as_u64(),
        run["cache_write"].as_u64(),
    ];
    assert_eq!(
        summed,
        run_total.map(Some),
        "the run's tokens are its tasks'"
    );
}

#[test]
fn claude_tokens_and_cost_match_what_the_api_returned() {
    tokens_and_cost_match_the_api("claude");
}

#[test]
fn codex_tokens_and_cost_match_what_the_api_returned() {
    tokens_and_cost_match_the_api("codex");
}

/// Four tasks whose agents take a few seconds each (their last tool sleeps), so that what
/// the first response cost is read while the task still runs.
fn slow_plan(n: usize) -> String {
    let mut plan = String::from("# Slow chores\n\n");
    for i in 1..=n {
        plan.push_str(&format!(
            "- [ ] Chore {i} {{#s{i}}}\n  SWARM-TEST: bash-sleep 4\n"
        ));
    }
    plan
}

/// Prices that make one response of the fake API cost dollars, for budgets of a dollar.
const DEAR: [f64; 4] = [100.0, 100.0, 100.0, 100.0];

#[test]
fn a_run_budget_stops_dispatch_and_running_tasks_finish() {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start("claude", Some(&env.ws()));
    let plan = slow_plan(4);
    env.write("PLAN.md", &plan);
    priced_config(&env, "claude", DEAR, "budget = \"$1\"");
    let out = costed_run(&env, &api, "claude", 1, &["--task-timeout", "120"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "open tasks are not success: {err}"
    );
    assert!(err.contains("the budget was reached"), "{err}");
    assert!(err.contains("(budget $1.00)"), "{err}");
    let after = env.read("PLAN.md");
    assert!(
        after.contains("- [x] Chore 1"),
        "the running task finished:\n{after}"
    );
    for i in 2..=4 {
        assert!(after.contains(&format!("- [ ] Chore {i}")), "{after}");
    }
    // Nothing went out after the limit: the API only ever saw the first task.
    let asked: Vec<String> = api
        .requests()
        .iter()
        .filter_map(|r| r["done_path"].as_str().map(str::to_string))
        .collect();
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|d| d.ends_with("s1.done")), "{asked:?}");
}

#[test]
fn a_task_over_its_budget_is_interrupted_and_failed_with_its_note() {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start("claude", Some(&env.ws()));
    let plan = slow_plan(1);
    env.write("PLAN.md", &plan);
    priced_config(&env, "claude", DEAR, "task_budget = \"$1\"");
    let out = costed_run(&env, &api, "claude", 1, &["--task-timeout", "120"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let after = env.read("PLAN.md");
    assert!(after.contains("- [ ] Chore 1"), "{after}");
    let note = after
        .lines()
        .find(|l| l.contains("over its budget"))
        .unwrap_or_else(|| panic!("no budget note:\n{after}"));
    assert!(
        note.contains("it spent $") && note.contains(" of $1.00"),
        "{note}"
    );
    eprintln!("the note: {}", note.trim());
    assert!(
        !env.path(".swarm/done/s1.done").exists(),
        "the agent was stopped before its sentinel"
    );
    let shown = show(&env, "s1", &codex_home(&api));
    let stages: Vec<&str> = shown["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages.last(), Some(&"failed"), "{stages:?}");
}

#[test]
fn a_hard_run_budget_interrupts_the_running_tasks_too() {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start("claude", Some(&env.ws()));
    let plan = slow_plan(3);
    env.write("PLAN.md", &plan);
    priced_config(&env, "claude", DEAR, "budget = \"$1\"\nbudget_hard = true");
    let started = SystemTime::now();
    let out = costed_run(&env, &api, "claude", 2, &["--task-timeout", "120"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the budget was reached"), "{err}");
    // Both running agents were stopped in their 4-second tools: no sentinel, nothing
    // checked, and the third task never went out.
    assert_eq!(env.read("PLAN.md"), plan, "nothing checked");
    for i in 1..=3 {
        assert!(
            !env.path(&format!(".swarm/done/s{i}.done")).exists(),
            "s{i}"
        );
    }
    let asked: Vec<String> = api
        .requests()
        .iter()
        .filter_map(|r| r["done_path"].as_str().map(str::to_string))
        .collect();
    assert!(!asked.iter().any(|d| d.ends_with("s3.done")), "{asked:?}");
    eprintln!(
        "hard budget: stopped after {:.1}s",
        started.elapsed().unwrap().as_secs_f64()
    );
}

/// `swarm logs` of a task Claude did: the header with the prompt as it was sent, then the
/// pane as a person saw it, line by line, the sentinel's creation on a line of its own.
/// Claude Code draws only the cells that change, onto the screen it had: replayed onto a
/// blank one, rows came out half old, half new.
#[test]
fn claude_logs_read_as_the_pane_showed_them() {
    if !enabled() {
        return;
    }
    let env = TestEnv::new();
    let api = FakeApi::start("claude", Some(&env.ws()));
    let plan = "- [ ] Write notes/n1.md about topic 1 {out=notes/n1.md}\n  \
                Keep it short.\n  \
                SWARM-TEST: write notes/n1.md then done notes/n1.md.done\n";
    env.write("PLAN.md", plan);
    let out = swarm_run(&env, &api, "claude", 1, &["--task-timeout", "120"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let (id, prompt) = expected_prompts(plan).into_iter().next().unwrap();
    let out = env.swarm().args(["logs", &id]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = crate::common::stdout(&out);
    assert!(
        text.starts_with(&format!(
            "task:    {id} (Write notes/n1.md about topic 1)\nattempt: 1\n"
        )),
        "{text}"
    );
    let (head, pane) = text.split_once("── the pane, as it showed ──\n").unwrap();
    assert!(
        head.contains(&format!("prompt, as sent:\n{}", prompt.trim_end())),
        "the prompt as sent:\n{head}\n--- want\n{prompt}"
    );
    let lines: Vec<&str> = pane.lines().collect();
    assert!(lines.len() > 10, "{pane}");
    // The paste as the box showed it, the file written, the sentinel made: each a line.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with('❯') && l.contains("[Pasted text #1")),
        "{pane}"
    );
    assert!(
        lines.iter().any(|l| l.contains("Write(notes/n1.md)")),
        "{pane}"
    );
    let sentinel =
        regex::Regex::new(r"^\W*\$? ?mkdir -p '?notes'? && touch '?notes/n1\.md\.done'?$").unwrap();
    assert!(
        lines.iter().any(|l| sentinel.is_match(l.trim())),
        "the sentinel's creation on a line of its own:\n{pane}"
    );
    // No row half redrawn: the footer once a line, never glued to the paste's hint.
    for line in &lines {
        assert!(
            line.matches("for agents").count() <= 1
                && !(line.contains("paste again") && line.contains("shift+tab")),
            "a half-drawn row {line:?} in\n{pane}"
        );
    }
}
