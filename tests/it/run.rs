//! The whole loop on real tmux with the simulated agent: PLAN.md → panes → sentinels →
//! checked off.

use crate::common::{
    TestEnv, assert_only_checkboxes_flipped, expected_prompts, read_jsonl, received_prompts,
    stderr, stdout, swarm_bin, wait_until,
};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// `swarm run --headless` with `workers` simulated agents logging to `sim.jsonl`.
fn run_headless(env: &TestEnv, workers: usize, sim_flags: &str) -> Output {
    let log = env.dir.path().join("sim.jsonl");
    let agent_cmd = format!(
        "swarm sim-agent --think-ms 50 --log {} {sim_flags}",
        log.display()
    );
    env.swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .args(["--workers", &workers.to_string(), "--agent", "sim"])
        .args(["--agent-cmd", &agent_cmd])
        .output()
        .unwrap()
}

#[test]
fn a_twenty_task_plan_with_four_workers_completes_byte_exact() {
    let env = TestEnv::new();
    let mut plan = String::from("# Twenty chores\r\n\r\nSome prose that must survive.  \r\n\r\n");
    for i in 1..=20 {
        if i % 3 == 0 {
            plan.push_str(&format!(
                "- [ ] Write docs/f{i}.md about module {i} {{out=docs/f{i}.md}}\r\n"
            ));
            plan.push_str(&format!("  Mention the number {i} twice.\r\n"));
        } else {
            plan.push_str(&format!("- [ ] Chore number {i}, trailing spaces  \r\n"));
        }
    }
    plan.push_str("- [x] Already done\r\n\r\n```\r\n- [ ] not a task, in a code block\r\n```\r\n");
    env.write("PLAN.md", &plan);

    let out = run_headless(&env, 4, "");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("20 done, 0 failed"),
        "{}",
        stderr(&out)
    );

    assert_only_checkboxes_flipped(&plan, &env.read("PLAN.md"));
    for i in (3..=20).step_by(3) {
        assert!(env.path(&format!("docs/f{i}.md")).exists(), "docs/f{i}.md");
        assert!(env.path(&format!("docs/f{i}.md.done")).exists());
    }

    let mut want: Vec<String> = expected_prompts(&plan).into_values().collect();
    let mut got = received_prompts(&env);
    assert_eq!(got.len(), 20, "each task delivered exactly once");
    want.sort();
    got.sort();
    assert_eq!(got, want, "prompts arrived byte-exact");
    let absorbed = read_jsonl(&env.dir.path().join("sim.jsonl"))
        .into_iter()
        .filter(|e| e["event"] == "enter-absorbed")
        .count();
    assert_eq!(
        absorbed, 0,
        "an Enter of a prompt or a /clear came too early"
    );
    assert!(
        !env.server_alive(),
        "a headless run stops its own tmux server"
    );
}

#[test]
fn key_names_shell_syntax_and_a_100_kb_context_arrive_as_text() {
    let env = TestEnv::new();
    let mut big = String::new();
    let mut n = 0;
    while big.len() < 110 * 1024 {
        big.push_str(&format!(
            "  line {n}: Enter C-c Escape ; $(rm -rf /) `id` \"q\" 'q' \\ é 漢\n"
        ));
        n += 1;
    }
    let plan = format!(
        "- [ ] Type Enter then C-c then Escape;\n  Enter\n  C-c\n  -x starts with a dash\n  ends with a semicolon;\n- [ ] Run $(touch PWNED) and `touch PWNED2` literally\n- [ ] Huge context\n{big}"
    );
    env.write("PLAN.md", &plan);

    let out = run_headless(&env, 2, "");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let want: Vec<String> = expected_prompts(&plan).into_values().collect();
    let got = received_prompts(&env);
    assert_eq!(got.len(), 3);
    for prompt in &want {
        assert!(
            got.contains(prompt),
            "prompt not received byte-exact:\n{}",
            &prompt[..200.min(prompt.len())]
        );
    }
    let longest = want.iter().map(String::len).max().unwrap_or(0);
    assert!(
        longest > 100 * 1024,
        "the big prompt is only {longest} bytes"
    );
    assert!(!env.path("PWNED").exists() && !env.path("PWNED2").exists());
}

#[test]
fn an_agent_that_exits_never_gets_a_paste_and_its_task_fails_after_retries() {
    let env = TestEnv::new();
    let plan = "- [ ] Fine one\n- [ ] EXIT-NOW please\n- [ ] Fine two\n- [ ] Fine three\n";
    env.write("PLAN.md", plan);

    let out = run_headless(&env, 2, "--exit-on EXIT-NOW");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("3 done, 1 failed"), "{err}");
    assert!(err.contains("exit-now-please"), "{err}");

    let after = env.read("PLAN.md");
    assert!(
        after.contains("- [ ] EXIT-NOW please"),
        "a failed task stays open"
    );
    assert_eq!(after.matches("- [x]").count(), 3);

    // The exiting prompt went out once per attempt, each time to a fresh agent process:
    // never again to the pane whose agent had exited.
    let log = read_jsonl(&env.dir.path().join("sim.jsonl"));
    let exits = received_prompts(&env)
        .iter()
        .filter(|p| p.contains("EXIT-NOW"))
        .count();
    assert_eq!(exits, 3, "max_attempts deliveries");
    let starts = log.iter().filter(|e| e["event"] == "start").count();
    // An agent takes at most one exiting prompt: then it is gone. (Replacements of the
    // last ones may not start before the run ends.)
    assert!(
        starts >= exits,
        "each exit was a different agent process ({starts} starts)"
    );
}

#[test]
fn headless_progress_is_timestamped_and_ends_with_a_per_task_table_and_joblog() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] One\n- [ ] Two\n- [ ] Three\n");
    let out = run_headless(&env, 2, "");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let deliveries: Vec<&str> = err.lines().filter(|l| l.contains("→ w")).collect();
    assert_eq!(deliveries.len(), 3, "{err}");
    assert!(
        deliveries.iter().all(|l| l.starts_with("[00:")),
        "timestamped: {err}"
    );
    assert!(
        err.contains("TASK   WORKER  TRIES  TIME     RESULT"),
        "{err}"
    );
    let joblog = env.read(".swarm/joblog.tsv");
    let rows: Vec<Vec<&str>> = joblog.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows[0][..3], ["seq", "task", "worker"], "{joblog}");
    assert_eq!(rows.len(), 4, "{joblog}");
    let mut tasks: Vec<&str> = rows[1..].iter().map(|r| r[1]).collect();
    tasks.sort();
    assert_eq!(tasks, ["one", "three", "two"]);
    assert!(
        rows[1..].iter().all(|r| r[6] == "done" && r[5] == "1"),
        "{joblog}"
    );
}

#[test]
fn logs_replays_a_sim_transcript_as_a_person_saw_it_after_the_prompt_sent() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] Write the docs {#docs}\n");
    let out = run_headless(&env, 1, "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.swarm().args(["logs", "docs"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let (header, screen) = text
        .split_once("\n── the pane, as it showed")
        .unwrap_or_else(|| panic!("a header, then the pane: {text}"));
    assert!(
        header.starts_with("task:    docs (Write the docs)\nattempt: 1\n"),
        "{header}"
    );
    let prompts = received_prompts(&env);
    assert!(
        header.contains(&format!("prompt, as sent:\n{}\n", prompts[0])),
        "the prompt exactly as sent: {header}"
    );
    let lines: Vec<&str> = screen
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(lines.len() > 1, "more than one line: {screen}");
    assert!(
        lines
            .iter()
            .any(|l| l.trim_start().starts_with("✓ created") && l.trim_end().ends_with("docs.done")),
        "the sentinel's creation on its own line: {screen}"
    );
    // `--raw` is the bytes as recorded.
    let raw = env
        .swarm()
        .args(["logs", "docs", "--raw"])
        .output()
        .unwrap();
    assert_eq!(
        raw.stdout,
        std::fs::read(env.path(".swarm/logs/docs.1.log")).unwrap()
    );
}

#[test]
fn a_hostile_user_tmux_config_is_read_and_does_not_break_the_run() {
    let env = TestEnv::new();
    // The person's own config (HOME is the test's): their prefix and mouse, and options
    // that would break a server that trusted them.
    let conf = "set -g prefix C-a\nset -g mouse on\nset -g remain-on-exit off\n\
                set -g base-index 1\nset -g pane-base-index 1\nset -g renumber-windows on\n";
    std::fs::write(env.dir.path().join("home/.tmux.conf"), conf).unwrap();
    env.write("PLAN.md", "- [ ] One\n- [ ] Two\n- [ ] Three\n- [ ] Four\n");
    let log = env.dir.path().join("sim.jsonl");
    let agent_cmd = format!("swarm sim-agent --think-ms 50 --log {}", log.display());
    let mut child = env
        .swarm()
        .args([
            "run",
            "--headless",
            "--socket",
            &env.socket,
            "--workers",
            "2",
        ])
        .args(["--agent", "sim", "--agent-cmd", &agent_cmd])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While it runs, the server has the person's keys and swarm's own needs.
    let mut seen = None;
    wait_until("the server up", Duration::from_secs(60), || {
        seen = seen.take().or_else(|| {
            let prefix = env.tmux(&["show-options", "-gv", "prefix"]);
            let base = env.tmux(&["show-options", "-gv", "base-index"]);
            (prefix.status.success() && base.status.success())
                .then(|| (stdout(&prefix), stdout(&base)))
        });
        seen.is_some() || child.try_wait().unwrap().is_some()
    });
    let out = crate::common::finish(child, Duration::from_secs(120), "hostile config run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(env.read("PLAN.md").matches("- [x]").count(), 4);
    let (prefix, base) = seen.expect("the server was seen while the run went on");
    assert_eq!(prefix.trim(), "C-a", "the person's prefix");
    assert_eq!(base.trim(), "0", "swarm's base-index, after the config");
}

#[test]
fn a_tmux_conf_setting_names_the_config_and_none_reads_none() {
    let env = TestEnv::new();
    std::fs::write(
        env.dir.path().join("home/.tmux.conf"),
        "set -g prefix C-a\n",
    )
    .unwrap();
    env.write("mine.conf", "set -g prefix C-s\n");
    env.write("PLAN.md", "- [ ] One\n");
    for (setting, prefix) in [
        ("tmux_conf = 'mine.conf'\n", "C-s"),
        ("tmux_conf = 'none'\n", "C-b"),
    ] {
        env.write("swarm.toml", setting);
        let out = env
            .swarm()
            .args(["spawn", "--agent", "sim", "--socket", &env.socket])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let shown = env.tmux_ok(&["show-options", "-gv", "prefix"]);
        assert_eq!(shown.trim(), prefix, "{setting}");
        env.tmux_ok(&["kill-server"]);
    }
    env.write("swarm.toml", "tmux_conf = 'missing.conf'\n");
    let out = env
        .swarm()
        .args(["spawn", "--agent", "sim", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("swarm.toml:1"), "{}", stderr(&out));
}

/// `swarm run` with four workers in a terminal of `width`x`height` (a pane of a second
/// private server): the windows follow that terminal, the dashboard's key bar is on it, and
/// so is a readable grid: every agent pane on screen at least 80 columns wide, the grid
/// zoomed to one worker at a time (with `prefix o` to the next) where four would not fit.
fn attached_terminal_sees_the_key_bar_and_the_grid(width: u16, height: u16, zoomed: bool) {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "- [ ] One\n- [ ] Two\n- [ ] Three\n- [ ] Four\n- [ ] Five\n",
    );
    let outer = Outer::new(&env);
    let (w, h) = (width.to_string(), height.to_string());
    let ws = env.ws().display().to_string();
    let agent = "swarm sim-agent --think-ms 60000";
    let run = [
        "new-session",
        "-d",
        "-x",
        &w,
        "-y",
        &h,
        "-c",
        &ws,
        "--",
        swarm_bin(),
        "run",
        "--socket",
        &env.socket,
        "--workers",
        "4",
        "--agent",
        "sim",
        "--agent-cmd",
        agent,
    ];
    let out = outer.tmux(&run);
    assert!(out.status.success(), "{}", stderr(&out));
    let capture = || stdout(&outer.tmux(&["capture-pane", "-p"]));
    let mut screen = String::new();
    // The person is told the keys, with their prefix, and that they are nested.
    wait_until("the keys on attaching", Duration::from_secs(60), || {
        screen = capture();
        screen.contains("swarm · C-b d: detach") && screen.contains("nested tmux: C-b C-b")
    });
    // Then the dashboard, with tmux's status line back under it.
    wait_until(
        "the dashboard with the workers busy",
        Duration::from_secs(60),
        || {
            screen = capture();
            let last = screen
                .trim_end()
                .lines()
                .last()
                .unwrap_or_default()
                .to_string();
            screen.contains("q quit")
                && screen.matches("busy").count() >= 4
                && last.contains("orchestrator")
        },
    );
    // The key bar is the dashboard's last line, right above tmux's status line.
    let lines: Vec<&str> = screen.trim_end().lines().collect();
    assert_eq!(lines.len(), usize::from(height), "{screen}");
    assert!(lines[lines.len() - 2].contains("q quit"), "{screen}");
    assert!(
        lines[lines.len() - 1].contains("orchestrator"),
        "the status line: {screen}"
    );
    // The window on screen follows the terminal (less tmux's status line), and so does
    // each window the person goes to (tmux sizes a window when a client shows it).
    let size_of = |window: &str| {
        env.tmux_ok(&[
            "display",
            "-p",
            "-t",
            window,
            "#{window_width}x#{window_height}",
        ])
        .trim()
        .to_string()
    };
    let want = format!("{width}x{}", height - 1);
    assert_eq!(size_of("=swarm:0"), want);
    // The grid, in window 1: the agents' screens, readable.
    let shown = if zoomed { 1 } else { 4 };
    env.tmux_ok(&["select-window", "-t", "=swarm:1"]);
    wait_until("the grid on the terminal", Duration::from_secs(30), || {
        screen = capture();
        screen.matches("simulating").count() == shown && size_of("=swarm:1") == want
    });
    let flag = env.tmux_ok(&["display", "-p", "-t", "=swarm:1", "#{window_zoomed_flag}"]);
    assert_eq!(flag.trim() == "1", zoomed, "{screen}");
    // Each agent's pane border runs the width of its pane on screen.
    let widest_border = |screen: &str, name: &str| {
        screen
            .lines()
            .flat_map(|l| l.split(['┬', '┼', '├', '┤', '│']))
            .filter(|part| part.contains(&format!(" {name} sim")))
            .map(|part| part.chars().count())
            .max()
            .unwrap_or(0)
    };
    if zoomed {
        assert!(screen.contains(" swarm · C-b o: next worker"), "{screen}");
        // `prefix o` goes through the workers, each on the whole terminal, and after the
        // last back to the dashboard.
        for name in ["w0", "w1", "w2", "w3"] {
            wait_until(
                &format!("{name} on the terminal"),
                Duration::from_secs(30),
                || {
                    screen = capture();
                    widest_border(&screen, name) >= 80
                },
            );
            assert_eq!(screen.matches("simulating").count(), 1, "{screen}");
            outer.tmux(&["send-keys", "C-b", "o"]);
        }
        wait_until(
            "the dashboard after the last worker",
            Duration::from_secs(30),
            || capture().contains("q quit"),
        );
    } else {
        for name in ["w0", "w1", "w2", "w3"] {
            assert!(widest_border(&screen, name) >= 80, "{name}: {screen}");
        }
    }
    // Once the person detaches, the windows get the session's fixed size back.
    outer.tmux(&["send-keys", "C-b", "d"]);
    wait_until("the session's size again", Duration::from_secs(30), || {
        let sizes = env.tmux_ok(&["list-windows", "-F", "#{window_width}x#{window_height}"]);
        sizes.lines().all(|s| s == "200x50")
    });
    let _ = env.swarm().args(["stop", "--socket", &env.socket]).output();
}

#[test]
fn an_attached_100x30_terminal_sees_the_key_bar_and_the_grid() {
    attached_terminal_sees_the_key_bar_and_the_grid(100, 30, true);
}

#[test]
fn an_attached_200x50_terminal_sees_the_key_bar_and_the_grid() {
    attached_terminal_sees_the_key_bar_and_the_grid(200, 50, false);
}

#[test]
fn enter_in_a_standalone_dashboard_shows_the_pane_and_detaching_comes_back() {
    use crate::common::sim_run;
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] One\n- [ ] Two\n");
    let child = sim_run(&env, 2, "--think-ms 60000", &[]);
    wait_for_running(&env, 2);
    // `swarm dashboard` in a terminal of its own, outside swarm's session.
    let outer = Outer::new(&env);
    let ws = env.ws().display().to_string();
    let dashboard = [
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "35",
        "-c",
        &ws,
        "--",
        swarm_bin(),
        "dashboard",
        "--socket",
        &env.socket,
    ];
    assert!(outer.tmux(&dashboard).status.success());
    let capture = || stdout(&outer.tmux(&["capture-pane", "-p"]));
    let mut screen = String::new();
    wait_until("the dashboard", Duration::from_secs(30), || {
        screen = capture();
        screen.contains("q quit") && screen.matches("busy").count() >= 2
    });
    // Enter on the first task: its worker's pane, in swarm's session, on this terminal.
    outer.tmux(&["send-keys", "Enter"]);
    wait_until("the worker's pane", Duration::from_secs(30), || {
        screen = capture();
        screen.contains("simulating") && screen.contains("workers-1")
    });
    // Detaching (swarm's server has no config here: C-b d) comes back to the dashboard.
    outer.tmux(&["send-keys", "C-b", "d"]);
    wait_until("the dashboard again", Duration::from_secs(30), || {
        screen = capture();
        screen.contains("q quit") && !screen.contains("workers-1")
    });
    let _ = env.swarm().args(["stop", "--socket", &env.socket]).output();
    let _ = crate::common::finish(child, Duration::from_secs(60), "stopped run");
}

#[test]
fn status_json_reports_the_finished_run() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] One\n- [ ] Two\n");
    let out = run_headless(&env, 2, "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env
        .swarm()
        .args(["status", "--json", "--socket", &env.socket])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["running"], false);
    assert_eq!(v["state"]["finished"], true);
    assert_eq!(v["state"]["counts"]["done"], 2);
    assert_eq!(v["state"]["tasks"][0]["id"], "one");
    assert_eq!(v["state"]["tasks"][0]["state"], "done");
}

#[test]
fn attached_run_drives_the_plan_from_window_zero_and_stop_ends_only_it() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] One\n- [ ] Two\n- [ ] Three\n");
    // A terminal for `swarm run` to attach from: a pane of a second private server.
    let outer = format!("{}-outer", env.socket);
    let ws = env.ws();
    // remain-on-exit keeps the outer server up after `swarm run` returns, so that its
    // survival says something about `swarm stop`.
    let out = std::process::Command::new("tmux")
        .args([
            "-L",
            &outer,
            "-f",
            "/dev/null",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
        ])
        .args(["new-session", "-d", "-x", "120", "-y", "40", "-c"])
        .arg(&ws)
        .args([
            "--",
            swarm_bin(),
            "run",
            "--socket",
            &env.socket,
            "--workers",
            "2",
            "--agent",
            "sim",
        ])
        .args(["--agent-cmd", "swarm sim-agent --think-ms 50"])
        .env("TMUX_TMPDIR", env.dir.path().join("tmux"))
        .env("HOME", env.dir.path().join("home"))
        .env_remove("TMUX")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let kill_outer = || {
        std::process::Command::new("tmux")
            .args(["-L", &outer, "kill-server"])
            .env("TMUX_TMPDIR", env.dir.path().join("tmux"))
            .output()
            .unwrap()
    };

    wait_until("PLAN.md all checked", Duration::from_secs(30), || {
        env.read("PLAN.md").matches("- [x]").count() == 3
    });
    // The orchestrator lives in window 0 of swarm's own server, which stays up.
    let windows = env.tmux_ok(&["list-windows", "-F", "#{window_index} #{window_name}"]);
    assert!(windows.starts_with("0 orchestrator"), "{windows}");
    assert!(windows.contains("workers-1"), "{windows}");

    let out = env
        .swarm()
        .args(["stop", "--socket", &env.socket])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!env.server_alive(), "swarm stop ends swarm's server");
    let outer_alive = std::process::Command::new("tmux")
        .args(["-L", &outer, "list-sessions"])
        .env("TMUX_TMPDIR", env.dir.path().join("tmux"))
        .output()
        .unwrap()
        .status
        .success();
    kill_outer();
    assert!(outer_alive, "swarm stop touched another server");
}

#[test]
fn demo_runs_headless_off_a_terminal_and_lands_all_fourteen_tasks() {
    let env = TestEnv::new();
    let out = env
        .swarm()
        .args(["demo", "--think-ms", "50"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Twelve tasks change files; the link check and the summary change nothing.
    assert!(
        stderr(&out).contains("14 done (12 landed on swarm/main), 0 failed, 14 total"),
        "{}",
        stderr(&out)
    );
    let text = stdout(&out);
    let ws = text
        .lines()
        .find_map(|l| l.strip_prefix("swarm demo: workspace "))
        .expect("the demo prints its workspace");
    let plan = std::fs::read_to_string(Path::new(ws).join("PLAN.md")).unwrap();
    assert_eq!(plan.matches("- [x]").count(), 14, "{plan}");
    let show = |rev: &str| {
        let out = std::process::Command::new("git")
            .args(["-C", ws, "show", rev])
            .output()
            .unwrap();
        assert!(out.status.success(), "git show {rev}: {}", stderr(&out));
        stdout(&out)
    };
    assert!(show("swarm/main:docs/auth.md").contains("auth"));
    let changelog = show("swarm/main:CHANGELOG.md");
    assert!(
        changelog.contains("auth docs") && changelog.contains("billing docs"),
        "{changelog}"
    );
    let _ = std::fs::remove_dir_all(ws);
}

#[test]
fn stop_ends_a_headless_run_clearly_and_leaves_an_honest_status() {
    use crate::common::{finish, sim_run};
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] One\n- [ ] Two\n- [ ] Three\n");
    let child = sim_run(&env, 2, "--think-ms 60000", &[]);
    wait_for_running(&env, 2);

    // Window 0 of a headless run is the dashboard, as in an attached one.
    wait_until("the dashboard in window 0", Duration::from_secs(30), || {
        env.capture("=swarm:0.0").contains("q quit")
    });
    // tmux's status line shows the progress.
    let right = env.tmux_ok(&["show-options", "-gv", "status-right"]);
    assert!(right.contains("status --line"), "{right}");
    let out = env
        .swarm()
        .args(["status", "--line", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "swarm 0/3 ✓ 0 ✗\n");

    // A worker the swarm does not have is bad input, and names the ones it has.
    let out = env
        .swarm()
        .args(["pause", "w9", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no worker `w9`") && err.contains("w0, w1"),
        "{err}"
    );

    let out = env
        .swarm()
        .args(["stop", "--socket", &env.socket])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = finish(child, Duration::from_secs(60), "stopped run");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("stopped by `swarm stop`"), "{err}");
    assert!(!err.contains("went away"), "reads like a crash: {err}");

    // The server is gone, and so are its workers: nothing says they still run.
    let out = env
        .swarm()
        .args(["status", "--socket", &env.socket])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("0 running"), "{text}");
    assert!(text.contains("workers are gone"), "{text}");
    assert!(!text.contains("busy"), "{text}");
    let out = env
        .swarm()
        .args(["workers", "--socket", &env.socket])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("gone") && !text.contains("busy"), "{text}");
}

/// Waits until the status file says `n` tasks are running.
fn wait_for_running(env: &TestEnv, n: usize) {
    let state = env.path(".swarm/state.json");
    wait_until("the workers busy", Duration::from_secs(60), || {
        std::fs::read(&state)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v["counts"]["running"] == n)
    });
}

/// A person's own terminal: a second private tmux server, beside swarm's, killed when the
/// test ends however it ends.
struct Outer<'a> {
    env: &'a TestEnv,
    socket: String,
}

impl<'a> Outer<'a> {
    fn new(env: &'a TestEnv) -> Outer<'a> {
        Outer {
            env,
            socket: format!("{}-outer", env.socket),
        }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env("TMUX_TMPDIR", self.env.dir.path().join("tmux"))
            .env("HOME", self.env.dir.path().join("home"))
            .env_remove("TMUX")
            .output()
            .unwrap()
    }
}

impl Drop for Outer<'_> {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

#[test]
fn show_prints_each_stage_of_an_attempt_with_its_time_and_the_prompts_hash() {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "- [ ] Write the docs {#docs}\n- [ ] Tidy up {#tidy}\n",
    );
    let out = run_headless(&env, 1, "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = env
        .swarm()
        .args(["show", "docs", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let receipts = shown["receipts"].as_array().unwrap();
    let stages: Vec<&str> = receipts
        .iter()
        .map(|r| r["stage"].as_str().unwrap())
        .collect();
    let order = ["queued", "pasted", "submitted", "sentinel"];
    let mut at = 0;
    for stage in order {
        let i = stages[at..]
            .iter()
            .position(|s| *s == stage)
            .unwrap_or_else(|| panic!("no {stage} after {:?} in {stages:?}", &stages[..at]));
        at += i + 1;
    }
    let times: Vec<i64> = receipts.iter().map(|r| r["at"].as_i64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "in time order: {times:?}"
    );
    // The hash is of the prompt as swarm rendered it.
    let prompt = crate::common::expected_prompts(&env.read("PLAN.md").replace("[x]", "[ ]"))
        .remove("docs")
        .unwrap();
    let pasted = receipts.iter().find(|r| r["stage"] == "pasted").unwrap();
    assert_eq!(pasted["bytes"].as_u64(), Some(prompt.len() as u64));
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(prompt.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(pasted["sha256"].as_str(), Some(hex.as_str()));
    let how = receipts.iter().find(|r| r["stage"] == "submitted").unwrap()["how"].clone();
    assert!(
        ["busy", "box-cleared", "queued", "screen-moved"].contains(&how.as_str().unwrap()),
        "{how}"
    );

    // For people: each stage on a line with its time and how long it took.
    let out = env.swarm().args(["show", "docs"]).output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("attempt 1:"), "{text}");
    let pasted_line = text.lines().find(|l| l.contains(" pasted ")).unwrap();
    assert!(
        regex::Regex::new(r"^  \d\d:\d\d:\d\d\.\d{3}  pasted\s+\+\d+\.\ds  \d+ bytes into %\d+, sha256 [0-9a-f]{16}$")
            .unwrap()
            .is_match(pasted_line),
        "{pasted_line:?}"
    );

    // status --json carries the latest stage; the joblog, the stage column.
    let state = &crate::common::status(&env)["state"];
    assert_eq!(state["tasks"][0]["receipt"]["stage"], "sentinel", "{state}");
    let joblog = env.read(".swarm/joblog.tsv");
    let header: Vec<&str> = joblog.lines().next().unwrap().split('\t').collect();
    let stage = header.iter().position(|c| *c == "stage").unwrap();
    assert!(
        joblog
            .lines()
            .skip(1)
            .all(|l| l.split('\t').nth(stage) == Some("sentinel")),
        "{joblog}"
    );
}
