//! Fault injection on real tmux with the simulated agent: the orchestrator killed with
//! SIGKILL mid-run and restarted, agents killed, hung, or exiting to a shell with a canary
//! prompt waiting, and PLAN.md edited during the run. Nothing may be lost, nothing done
//! twice, and no canary may run.

use crate::common::{
    TestEnv, sentinel_writes, sim_log, sim_run, status, stderr, steer, swarm_bin, wait_until,
};
use std::process::Command;
use std::time::Duration;

/// `swarm run --headless` with the simulated agent on the test's socket.
fn headless(env: &TestEnv) -> Command {
    let mut cmd = env.swarm();
    cmd.args([
        "run",
        "--headless",
        "--socket",
        &env.socket,
        "--agent",
        "sim",
    ]);
    cmd
}

/// What the swarm looked like, for a failure message: status and every pane's screen.
fn diagnose(env: &TestEnv) -> String {
    let status = env
        .swarm()
        .args(["status", "--socket", &env.socket])
        .output()
        .unwrap();
    let mut out = String::from_utf8_lossy(&status.stdout).into_owned();
    // Who has the workspace lock open, should a restart have been refused.
    let lock = env.path(".swarm/lock");
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let fds = entry.path().join("fd");
        for fd in std::fs::read_dir(&fds).into_iter().flatten().flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|target| target == lock) {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                out.push_str(&format!(
                    "--- lock open in {:?}: {}\n",
                    entry.file_name(),
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                ));
            }
        }
    }
    let panes = env.tmux(&[
        "list-panes",
        "-a",
        "-F",
        "#{pane_id} #{pane_dead} #{pane_current_command}",
    ]);
    for line in String::from_utf8_lossy(&panes.stdout).lines() {
        let id = line.split(' ').next().unwrap_or_default();
        out.push_str(&format!("\n--- {line}\n{}", env.capture(id)));
    }
    out.push_str(&format!(
        "\n--- journal\n{}",
        std::fs::read_to_string(env.path(".swarm/journal.jsonl")).unwrap_or_default()
    ));
    out
}

/// Waits until an agent has received its first prompt.
fn first_prompt(env: &TestEnv) {
    wait_until("a prompt received", Duration::from_secs(20), || {
        sim_log(env).iter().any(|e| e["event"] == "prompt")
    });
}

fn checked(env: &TestEnv) -> usize {
    env.read("PLAN.md").matches("- [x]").count()
}

#[test]
fn orchestrator_killed_again_and_again_loses_nothing_and_repeats_nothing() {
    let env = TestEnv::new();
    let tasks = 16;
    let plan: String = (1..=tasks).map(|i| format!("- [ ] Chore {i}\n")).collect();
    env.write("PLAN.md", &plan);

    let mut kills = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        let mut child = sim_run(&env, 3, "--think-ms 400", &[]);
        let before = checked(&env);
        if before + 3 >= tasks || kills >= 5 {
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            break;
        }
        // Kill it once it has made progress, at varying moments.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while checked(&env) <= before {
            if std::time::Instant::now() > deadline {
                let ended = child.try_wait().unwrap();
                panic!(
                    "no progress after restart {runs} (run ended: {ended:?}): {}",
                    diagnose(&env)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(37 * (kills as u64 % 5)));
        child.kill().unwrap(); // SIGKILL: no cleanup runs
        child.wait().unwrap();
        kills += 1;
    }

    let writes = sentinel_writes(&env);
    let lost = tasks - checked(&env);
    let duplicated = writes.values().filter(|&&n| n > 1).count();
    eprintln!(
        "fault suite: {runs} runs, {kills} orchestrator kills (SIGKILL), {lost} tasks lost, {duplicated} tasks done twice"
    );
    assert_eq!(lost, 0, "PLAN.md:\n{}", env.read("PLAN.md"));
    assert_eq!(
        writes.len(),
        tasks,
        "every task done by an agent: {writes:?}"
    );
    assert_eq!(duplicated, 0, "tasks done twice: {writes:?}");
    assert!(
        kills >= 2,
        "the suite must actually kill the orchestrator ({kills})"
    );
}

#[test]
fn an_agent_exiting_to_a_shell_never_runs_the_canary() {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "- [ ] EXIT-NOW, leaving a shell behind\n- [ ] Canary\n  touch CANARY\n- [ ] Another\n",
    );
    let log = env.dir.path().join("sim.jsonl");
    // Started through a shell that takes over the pane when the agent exits: exactly the
    // trap of pasting the next prompt into a shell. `set -m` gives the agent the terminal.
    let agent = format!(
        "sh -c 'set -m; {} sim-agent --think-ms 50 --exit-on EXIT-NOW --log {}; exec bash --norc -i'",
        swarm_bin(),
        log.display()
    );
    let out = env
        .swarm()
        .args([
            "run",
            "--headless",
            "--socket",
            &env.socket,
            "--workers",
            "1",
        ])
        .args([
            "--agent",
            "sim",
            "--agent-cmd",
            &agent,
            "--max-attempts",
            "1",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("2 done, 1 failed"), "{err}");
    assert!(!env.path("CANARY").exists(), "the canary ran in a shell");
    let plan = env.read("PLAN.md");
    assert!(
        plan.contains("- [ ] EXIT-NOW, leaving a shell behind\n  ⚠ swarm: failed: agent exited"),
        "{plan}"
    );
    eprintln!("fault suite: 1 agent exit to a shell, 0 canaries run");
}

#[test]
fn killed_agents_are_replaced_and_their_tasks_redone_once() {
    let env = TestEnv::new();
    let plan: String = (1..=6).map(|i| format!("- [ ] Job {i}\n")).collect();
    env.write("PLAN.md", &plan);
    let child = sim_run(&env, 2, "--think-ms 1500", &[]);
    // Kill both agents while they work on their first tasks.
    let mut killed = 0;
    wait_until("two agents working", Duration::from_secs(20), || {
        sim_log(&env)
            .iter()
            .filter(|e| e["event"] == "prompt")
            .count()
            >= 2
    });
    for e in sim_log(&env).iter().filter(|e| e["event"] == "start") {
        let pid = e["pid"].as_u64().unwrap().to_string();
        if Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
        {
            killed += 1;
        }
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(checked(&env), 6);
    let writes = sentinel_writes(&env);
    assert_eq!(writes.len(), 6);
    assert!(writes.values().all(|&n| n == 1), "{writes:?}");
    eprintln!("fault suite: {killed} agents killed, 0 tasks lost, 0 done twice");
    assert_eq!(killed, 2);
}

#[test]
fn a_hung_agent_is_interrupted_retried_and_failed_with_a_note() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] Fine\n- [ ] HANG here\n");
    let child = sim_run(
        &env,
        1,
        "--think-ms 50 --hang-on HANG",
        &["--task-timeout", "1", "--max-attempts", "2"],
    );
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("timed out after 1s (after 2 attempts)"),
        "{err}"
    );
    let log = sim_log(&env);
    let hung = log
        .iter()
        .filter(|e| e["event"] == "prompt" && e["text"].as_str().unwrap().starts_with("Task: HANG"))
        .count();
    assert_eq!(hung, 2, "two attempts");
    // The first attempt's interrupt must land before the retry; after the last one the
    // run ends and takes its tmux server with it.
    let interrupts = log.iter().filter(|e| e["event"] == "interrupted").count();
    assert!(interrupts >= 1, "the hung turn was interrupted");
    let plan = env.read("PLAN.md");
    let note = plan.lines().nth(2).unwrap_or_default();
    assert!(
        note.starts_with("  ⚠ swarm: failed: timed out after 1s"),
        "{plan}"
    );
    let transcript = note.split("transcript ").nth(1).unwrap();
    assert!(
        env.path(transcript).exists(),
        "the note points at a transcript: {transcript}"
    );
    eprintln!("fault suite: 2 hangs injected, 2 interrupted");
}

#[test]
fn plan_edits_during_a_run_are_picked_up_and_kept() {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "# Plan\n\n- [ ] First\n- [ ] Second\n- [ ] Third\n",
    );
    let child = sim_run(&env, 1, "--think-ms 600", &[]);
    wait_until("first done", Duration::from_secs(20), || checked(&env) >= 1);
    // A person adds a task, rewrites the prose and removes a pending one, all at once.
    let edited = env
        .read("PLAN.md")
        .replace("# Plan\n", "# Plan, edited by hand\n")
        .replace("- [ ] Third\n", "- [ ] Added later\n");
    env.write("PLAN.md", &edited);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        env.read("PLAN.md"),
        "# Plan, edited by hand\n\n- [x] First\n- [x] Second\n- [x] Added later\n"
    );
    let prompts: Vec<String> = sim_log(&env)
        .iter()
        .filter(|e| e["event"] == "prompt")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    assert!(
        prompts.iter().all(|p| !p.starts_with("Task: Third")),
        "a removed task ran"
    );
}

#[test]
fn skip_interrupts_a_running_task_and_the_run_ends() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] HANG forever\n");
    let child = sim_run(&env, 1, "--hang-on HANG", &[]);
    first_prompt(&env);
    steer(&env, &["skip", "hang-forever"]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0 done, 0 failed, 1 skipped"),
        "{}",
        stderr(&out)
    );
    assert!(
        env.read("PLAN.md").starts_with("- [ ] HANG forever"),
        "a skipped task stays open"
    );
}

#[test]
fn steering_a_workspace_with_no_swarm_is_refused() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] One\n");
    let out = env
        .swarm()
        .args(["pause", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no swarm is running"),
        "{}",
        stderr(&out)
    );
    let out = env
        .swarm()
        .args(["retry", "nope", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no task `nope`"), "{}", stderr(&out));
}

#[test]
fn a_corrupt_journal_is_refused_before_anything_starts() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] One\n");
    env.write(".swarm/journal.jsonl", "not a journal\n{}\n");
    let out = headless(&env).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("journal.jsonl:1: the run journal is corrupt"),
        "{err}"
    );
    assert!(
        err.contains("mv "),
        "the message says how to recover: {err}"
    );
    assert_eq!(env.read("PLAN.md"), "- [ ] One\n");
    assert_eq!(env.read(".swarm/journal.jsonl"), "not a journal\n{}\n");
    assert!(!env.server_alive());
}

#[test]
fn a_lost_tmux_server_stops_the_run_cleanly_and_the_next_run_finishes() {
    let env = TestEnv::new();
    let plan: String = (1..=6).map(|i| format!("- [ ] Step {i}\n")).collect();
    env.write("PLAN.md", &plan);
    let child = sim_run(&env, 2, "--think-ms 700", &[]);
    wait_until("a first check-off", Duration::from_secs(20), || {
        checked(&env) >= 1
    });
    env.tmux_ok(&["kill-server"]);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the tmux server went away"), "{err}");
    let out = sim_run(&env, 2, "--think-ms 50", &[])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(checked(&env), 6);
}

/// A terminal to run attached swarms from: a second private tmux server.
struct Outer<'a> {
    env: &'a TestEnv,
    socket: String,
}

impl<'a> Outer<'a> {
    fn new(env: &'a TestEnv) -> Outer<'a> {
        let outer = Outer {
            env,
            socket: format!("{}-outer", env.socket),
        };
        // Keep the outer server up whatever its panes do.
        outer.tmux(&[
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
        ]);
        outer
    }

    fn tmux(&self, args: &[&str]) {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env("TMUX_TMPDIR", self.env.dir.path().join("tmux"))
            .env("HOME", self.env.dir.path().join("home"))
            .env_remove("TMUX")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "outer tmux {args:?}: {}",
            stderr(&out)
        );
    }

    /// `swarm run` (attached) in a new window of the outer server.
    fn swarm_run(&self, agent_cmd: &str) {
        let ws = self.env.ws();
        self.tmux(&[
            "new-window",
            "-d",
            "-c",
            ws.to_str().unwrap(),
            "--",
            swarm_bin(),
            "run",
            "--socket",
            &self.env.socket,
            "--workers",
            "2",
            "--agent",
            "sim",
            "--agent-cmd",
            agent_cmd,
        ]);
    }
}

impl Drop for Outer<'_> {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .env("TMUX_TMPDIR", self.env.dir.path().join("tmux"))
            .output();
    }
}

#[test]
fn an_attached_orchestrator_killed_in_window_zero_is_resumed_by_the_next_run() {
    let env = TestEnv::new();
    let plan: String = (1..=8).map(|i| format!("- [ ] Piece {i}\n")).collect();
    env.write("PLAN.md", &plan);
    let outer = Outer::new(&env);
    let log = env.dir.path().join("sim.jsonl");
    let agent = format!("swarm sim-agent --think-ms 500 --log {}", log.display());
    outer.swarm_run(&agent);
    wait_until("two check-offs", Duration::from_secs(30), || {
        checked(&env) >= 2
    });

    // While it runs, a second headless run reports on it instead of starting another.
    let out = headless(&env).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("already running"), "{}", stderr(&out));

    let pid = env.tmux_ok(&["display-message", "-p", "-t", "=swarm:0.0", "#{pane_pid}"]);
    assert!(
        Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap()
            .success()
    );
    wait_until("window 0 dead", Duration::from_secs(10), || {
        env.tmux_ok(&["display-message", "-p", "-t", "=swarm:0.0", "#{pane_dead}"])
            .trim()
            == "1"
    });
    outer.swarm_run(&agent);
    wait_until("all checked", Duration::from_secs(60), || {
        checked(&env) == 8
    });
    // The sim logs a sentinel just after writing it, so the check-off can come first.
    wait_until(
        "every sentinel in the sim's log",
        Duration::from_secs(10),
        || sentinel_writes(&env).len() >= 8,
    );
    let writes = sentinel_writes(&env);
    assert_eq!(writes.len(), 8);
    assert!(writes.values().all(|&n| n == 1), "done twice: {writes:?}");
}

#[test]
fn pause_stops_dispatch_until_resume() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] Alpha\n- [ ] Beta\n- [ ] Gamma\n");
    let child = sim_run(&env, 1, "--think-ms 600", &[]);
    first_prompt(&env);
    steer(&env, &["pause"]);
    // Alpha finishes, and then the worker sits idle: nothing is handed out while paused.
    wait_until("paused and idle", Duration::from_secs(20), || {
        let s = status(&env);
        s["state"]["paused"] == true
            && s["state"]["counts"]["done"] == 1
            && s["state"]["workers"][0]["state"] == "idle"
    });
    let prompts = sim_log(&env)
        .iter()
        .filter(|e| e["event"] == "prompt")
        .count();
    assert_eq!(prompts, 1, "a task was handed out while paused");
    steer(&env, &["resume"]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(checked(&env), 3);
}

#[test]
fn retry_gives_a_failed_task_fresh_attempts() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] HANG once\n- [ ] Later\n");
    let child = sim_run(
        &env,
        1,
        "--think-ms 50 --hang-on HANG",
        &["--task-timeout", "2", "--max-attempts", "1"],
    );
    first_prompt(&env);
    // Paused, the run cannot end while `Later` waits: time to retry the failed task.
    steer(&env, &["pause"]);
    wait_until("the hung task failed", Duration::from_secs(20), || {
        status(&env)["state"]["counts"]["failed"] == 1
    });
    steer(&env, &["retry", "hang-once"]);
    steer(&env, &["resume"]);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("1 done, 1 failed"), "{err}");
    let hung = sim_log(&env)
        .iter()
        .filter(|e| e["event"] == "prompt" && e["text"].as_str().unwrap().starts_with("Task: HANG"))
        .count();
    assert_eq!(hung, 2, "the retry delivered the task again");
}
