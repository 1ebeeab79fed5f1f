//! The commands for people and scripts around a run: `logs`, `workers`, `capture`,
//! `completions` and `man`, on hand-written state files and a real private tmux pane.

use crate::common::{TestEnv, stderr, stdout, wait_until, worker_names};
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

const PLAN: &str = "- [ ] Write the docs {#docs}\n- [ ] Refactor login {#login}\n";

/// A `.swarm/state.json` as the orchestrator writes it, with the given workers and one
/// task, `docs`, in `docs_state` at attempt 1.
fn write_state(env: &TestEnv, docs_state: &str, workers: serde_json::Value) {
    let state = serde_json::json!({
        "schema": 1, "plan": "PLAN.md", "socket": env.socket, "session": "swarm",
        "pid": 1, "started": 1.0e9, "updated": 1.0e9, "finished": false, "paused": false,
        "counts": {"total": 2, "done": 0, "running": 1, "pending": 1, "failed": 0, "skipped": 0},
        "tasks": [
            {"id": "docs", "text": "Write the docs", "state": docs_state, "worker": 0, "attempts": 1},
            {"id": "login", "text": "Refactor login", "state": "pending", "worker": null, "attempts": 0}
        ],
        "workers": workers,
    });
    env.write(".swarm/state.json", &state.to_string());
}

fn worker(id: usize, pane: &str, state: &str, task: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "id": id, "pane": pane, "state": state, "task": task, "restarts": 0, "paused": false
    })
}

/// What an agent's pane sends: colors, cursor moves, a title, carriage returns.
const TRANSCRIPT: &str = "\x1b]0;claude\x07\x1b[?25l\x1b[1;32mdone:\x1b[0m wrote docs\r\n\
                          \x1b[2K\x1b[3;1Hsecond line\r\n";

#[test]
fn once_the_server_is_gone_status_and_workers_say_the_workers_are_gone() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    write_state(
        &env,
        "running",
        serde_json::json!([
            worker(0, "%3", "resetting", Some("docs")),
            worker(1, "%4", "busy", None)
        ]),
    );
    let out = env.swarm().args(["status"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("0 running"), "{text}");
    assert!(text.contains("workers are gone"), "{text}");
    assert!(
        !text.contains("resetting") && !text.contains("busy"),
        "{text}"
    );
    assert!(
        text.contains("stopped "),
        "the running task reads as stopped: {text}"
    );

    let out = env.swarm().args(["workers"]).output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("w0") && text.contains("gone"), "{text}");
    assert!(
        !text.contains("resetting") && !text.contains("busy"),
        "{text}"
    );
    let out = env.swarm().args(["workers", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["workers"][0]["state"], "gone");
}

#[test]
fn tasks_are_named_by_a_prefix_or_their_number_and_typos_get_suggestions() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    env.write(".swarm/logs/docs.1.log", "the docs transcript\n");
    write_state(&env, "running", serde_json::json!([]));
    // `status` numbers the tasks; the number and a prefix name them as the id does.
    let out = env.swarm().args(["status"]).output().unwrap();
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("  2  pending  0      login")),
        "numbered: {text}"
    );
    for typed in ["docs", "do", "1", "#1"] {
        let out = env.swarm().args(["logs", typed]).output().unwrap();
        assert!(out.status.success(), "{typed}: {}", stderr(&out));
        assert!(stdout(&out).contains("the docs transcript"), "{typed}");
    }
    for command in ["logs", "retry", "skip"] {
        let out = env.swarm().args([command, "dcos"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = stderr(&out);
        assert!(err.contains("did you mean `docs`?"), "{command}: {err}");
    }
    let out = env.swarm().args(["logs", "7"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the plan has 2 tasks"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_plan_is_found_upward_from_a_subdirectory_as_git_finds_its_repository() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    env.write(".swarm/logs/docs.1.log", "the docs transcript\n");
    let deep = env.path("src/deep");
    std::fs::create_dir_all(&deep).unwrap();
    let out = env
        .swarm()
        .current_dir(&deep)
        .args(["logs", "docs"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).ends_with("\nthe docs transcript\n"));
    // A plan named by a path is taken as named.
    let out = env
        .swarm()
        .current_dir(&deep)
        .args(["logs", "docs", "--plan", "./PLAN.md"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn logs_prints_the_latest_transcript_without_escapes() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    env.write(".swarm/logs/docs.1.log", "first attempt\n");
    env.write(".swarm/logs/docs.2.log", TRANSCRIPT);
    let out = env.swarm().args(["logs", "docs"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // A header, then the screen as the cursor moves left it: the cleared row stays.
    let text = stdout(&out);
    assert!(
        text.starts_with("task:    docs (Write the docs)\nattempt: 2\n"),
        "{text}"
    );
    assert!(
        text.contains("This is attempt 2"),
        "the prompt of attempt 2: {text}"
    );
    assert!(
        text.ends_with("── the pane, as it showed ──\ndone: wrote docs\n\nsecond line\n"),
        "{text}"
    );

    let out = env
        .swarm()
        .args(["logs", "docs", "--attempt", "1"])
        .output()
        .unwrap();
    assert!(
        stdout(&out).ends_with("showed ──\nfirst attempt\n"),
        "{}",
        stdout(&out)
    );

    let out = env
        .swarm()
        .args(["logs", "docs", "--raw"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), TRANSCRIPT);
}

#[test]
fn logs_refuses_unknown_tasks_and_attempts_with_a_hint() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    env.write(".swarm/logs/docs.1.log", "x\n");
    for (args, says) in [
        (&["logs", "nope"][..], "no task `nope`"),
        (&["logs", "login"][..], "has no transcript yet"),
        (&["logs", "docs", "--attempt", "3"][..], "of attempts 1"),
    ] {
        let out = env.swarm().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(says) && err.contains("hint:"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn logs_follow_prints_appended_output_until_the_task_stops_running() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    let log = env.write(".swarm/logs/docs.1.log", "started\n");
    write_state(&env, "running", serde_json::json!([]));
    // Stand in for a live orchestrator: it holds the workspace lock.
    let lock = std::fs::File::create(env.path(".swarm/lock")).unwrap();
    lock.try_lock().unwrap();

    let mut child = env
        .swarm()
        .args(["logs", "docs", "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0; 256];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    let mut seen = String::new();
    let mut read_until = |want: &str| {
        wait_until(
            &format!("{want:?} on stdout"),
            Duration::from_secs(10),
            || {
                seen.extend(rx.try_iter());
                seen.contains(want)
            },
        )
    };
    read_until("started\n");
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    // Written in two parts, so that the reader may see the escape sequence cut in two.
    file.write_all(b"\x1b[1;3").unwrap();
    file.flush().unwrap();
    file.write_all(b"2mappended\x1b[0m\n").unwrap();
    read_until("started\nappended\n");

    write_state(&env, "done", serde_json::json!([]));
    wait_until("logs --follow to exit", Duration::from_secs(10), || {
        child.try_wait().unwrap().is_some()
    });
    assert!(child.wait().unwrap().success());
}

#[test]
fn workers_json_lists_workers_with_a_stable_schema() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    let mut paused = worker(2, "%5", "idle", None);
    paused["paused"] = true.into();
    let mut stuck = worker(3, "%6", "needs-human", None);
    stuck["needs"] = "a blocking dialog".into();
    write_state(
        &env,
        "running",
        serde_json::json!([
            worker(0, "%3", "busy", Some("docs")),
            worker(1, "%4", "idle", None),
            paused,
            stuck
        ]),
    );
    // The run's server still answers (its orchestrator is gone): the workers are as the
    // snapshot says.
    env.tmux_ok(&["new-session", "-d", "-s", "swarm", "sleep 600"]);
    let socket = ["--socket", env.socket.as_str()];
    let out = env
        .swarm()
        .args(["workers", "--json"])
        .args(socket)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["running"], false);
    assert_eq!(json["source"], "snapshot");
    assert_eq!(
        json["workers"][0],
        serde_json::json!({
            "worker": "w0", "id": 0, "pane": "%3", "state": "busy", "task": "docs",
            "paused": false, "needs": null, "restarts": 0, "profile": null
        })
    );
    assert_eq!(json["workers"][3]["needs"], "a blocking dialog");

    let out = env
        .swarm()
        .args(["workers", "--idle", "--json"])
        .args(socket)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(worker_names(&json), ["w1"]);
}

#[test]
fn workers_json_is_empty_before_any_run() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    let out = env.swarm().args(["workers", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"schema": 1, "running": false, "source": "none", "workers": []})
    );
}

#[test]
fn capture_prints_what_the_worker_pane_shows() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    let pane = env.tmux_ok(&[
        "new-session",
        "-d",
        "-P",
        "-F",
        "#{pane_id}",
        "-s",
        "swarm",
        "-x",
        "80",
        "-y",
        "24",
        "--",
        "sh",
        "-c",
        "echo hello-from-w1; exec cat",
    ]);
    let pane = pane.trim();
    wait_until("the pane to show its text", Duration::from_secs(10), || {
        env.capture(pane).contains("hello-from-w1")
    });
    write_state(
        &env,
        "running",
        serde_json::json!([
            worker(0, "%999", "busy", Some("docs")),
            worker(1, pane, "idle", None)
        ]),
    );
    for name in ["w1", "1"] {
        let out = env
            .swarm()
            .args(["capture", name, "--socket", &env.socket])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).starts_with("hello-from-w1\n"),
            "{}",
            stdout(&out)
        );
    }

    let out = env
        .swarm()
        .args(["capture", "w7", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no worker w7"), "{}", stderr(&out));
}

#[test]
fn completions_and_man_page_are_generated() {
    let env = TestEnv::new();
    let out = env.swarm().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = stdout(&out);
    assert!(
        script.contains("swarm") && script.contains("complete"),
        "{script}"
    );

    let out = env.swarm().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie") || page.contains(".TH swarm"),
        "{page}"
    );
    assert!(
        page.contains(".SH \"EXIT STATUS\"") && page.contains(".SH FILES"),
        "{page}"
    );

    // A page per subcommand, with its own options and the same EXIT STATUS and FILES.
    let out = env.swarm().args(["man", "run"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH swarm-run 1"), "{page}");
    assert!(page.contains("task\\-timeout"), "{page}");
    assert!(
        page.contains(".SH \"EXIT STATUS\"") && page.contains("joblog.tsv"),
        "{page}"
    );
    let out = env.swarm().args(["man", "rnu"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`run`"), "{}", stderr(&out));
}

/// What the shell's completion function gets back for `words` (the line so far, the word
/// being completed last), asked as the script of `swarm completions bash` asks.
fn complete(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let out = env
        .swarm()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", words.len().to_string())
        .args(["--", "swarm"])
        .args(words)
        .output()
        .unwrap();
    assert!(out.status.success(), "{words:?}: {}", stderr(&out));
    stdout(&out).lines().map(String::from).collect()
}

#[test]
fn completion_names_the_workspaces_tasks_workers_and_profiles() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    env.write(
        "swarm.toml",
        "[profiles.mine]\nbase = \"claude\"\n\n[[hosts]]\nname = \"gpu1\"\n\n[[hosts]]\nname = \"gpu2\"\n",
    );
    write_state(
        &env,
        "running",
        serde_json::json!([
            worker(0, "%3", "busy", Some("docs")),
            worker(1, "%4", "idle", None)
        ]),
    );
    // The script calls this swarm back with the words typed so far.
    let out = env.swarm().args(["completions", "bash"]).output().unwrap();
    let script = stdout(&out);
    assert!(
        script.contains("COMPLETE=\"bash\"") && script.contains("complete -o nospace"),
        "{script}"
    );
    for command in ["retry", "skip", "logs", "diff", "show"] {
        let ids = complete(&env, &[command, ""]);
        assert!(
            ids.starts_with(&["docs".to_string(), "login".to_string()]),
            "{command}: {ids:?}"
        );
        assert_eq!(complete(&env, &[command, "lo"]), ["login"], "{command}");
    }
    for command in ["pause", "resume", "send", "capture"] {
        let names = complete(&env, &[command, "w"]);
        assert_eq!(names, ["w0", "w1"], "{command}");
    }
    let profiles = complete(&env, &["run", "--agent", ""]);
    for name in ["claude", "codex", "sim", "mine"] {
        assert!(profiles.contains(&name.to_string()), "{profiles:?}");
    }
    assert_eq!(complete(&env, &["profiles", "show", "mi"]), ["mine"]);
    assert_eq!(complete(&env, &["attach", "--host", "g"]), ["gpu1", "gpu2"]);
    // From a subdirectory, as every command finds the plan.
    std::fs::create_dir_all(env.path("src")).unwrap();
    let out = env
        .swarm()
        .current_dir(env.path("src"))
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .args(["--", "swarm", "logs", "d"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "docs");
    // Subcommands and flags complete as before, and the script that needs no swarm at
    // each Tab is still there.
    assert!(complete(&env, &["ret"]).contains(&"retry".to_string()));
    assert!(complete(&env, &["logs", "--ra"]).contains(&"--raw".to_string()));
    let out = env
        .swarm()
        .args(["completions", "bash", "--static"])
        .output()
        .unwrap();
    let script = stdout(&out);
    assert!(
        script.contains("_swarm()") && script.contains("--task-timeout"),
        "{script}"
    );
}

#[test]
fn jump_to_makes_a_pane_and_its_window_current() {
    let env = TestEnv::new();
    env.tmux_ok(&["new-session", "-d", "-s", "swarm", "--", "cat"]);
    let pane = env.tmux_ok(&["new-window", "-d", "-P", "-F", "#{pane_id}", "--", "cat"]);
    let pane = pane.trim();
    // Without -d the new pane becomes the active one of window 1.
    env.tmux_ok(&["split-window", "-t", pane, "--", "cat"]);
    let current = || env.tmux_ok(&["display-message", "-p", "#{window_index} #{pane_id}"]);
    assert!(current().starts_with("0 "), "{}", current());
    let tmux =
        swarm::tmux::Tmux::new(&env.socket, "swarm").with_tmpdir(env.dir.path().join("tmux"));
    tmux.jump_to(&swarm::tmux::PaneId(pane.to_string()))
        .unwrap();
    assert_eq!(current().trim(), format!("1 {pane}"));
}

#[test]
fn a_reader_that_stops_early_ends_printing_commands_quietly() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] Talk a lot {#chatty}\n");
    // Far more than a pipe holds, so that swarm is still writing when `head` has gone.
    env.write(
        ".swarm/logs/chatty.1.log",
        &"line of transcript\n".repeat(100_000),
    );
    for args in ["logs chatty", "logs chatty --raw", "man", "profiles"] {
        let line = format!("'{}' {args} | head -n 1", crate::common::swarm_bin());
        let out = std::process::Command::new("sh")
            .args(["-c", &line])
            .current_dir(env.ws())
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(stdout(&out).lines().count(), 1, "{args}");
        assert_eq!(stderr(&out), "", "{args}");
    }
}
