//! The primitives for scripts and LLM orchestrators (`spawn`, `send`, `wait`, `workers`,
//! `capture`, `init --llm-orchestrator`) on a private tmux server with simulated agents,
//! and ORCHESTRATOR.md followed step by step by a script standing in for the LLM.

use crate::common::{
    TestEnv, assert_only_checkboxes_flipped, received_prompts, sim_config, stderr, stdout,
    wait_until, worker_names,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Output, Stdio};
use std::time::Duration;
use swarm::tmux::{Mux, SpawnSpec, Tmux};

const WAIT: Duration = Duration::from_secs(30);

/// Asserts that the command said `what` on stderr.
fn assert_says(out: &Output, what: &str) {
    let err = stderr(out);
    assert!(err.contains(what), "wanted {what:?} in: {err}");
}

fn swarm(env: &TestEnv, args: &[&str]) -> Output {
    env.swarm().args(args).output().unwrap()
}

/// Asserts the exit code, showing both streams if it is not the one expected.
fn expect(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}

fn spawn_workers(env: &TestEnv, n: u32) -> serde_json::Value {
    let out = swarm(env, &["spawn", &n.to_string(), "--json"]);
    expect(&out, 0);
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// ORCHESTRATOR.md's `sh` blocks by the name on their first line, `# step 3b: ...` → `3b`.
fn steps(doc: &str) -> BTreeMap<String, String> {
    let mut steps = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(indent) = line.strip_suffix("```sh").filter(|i| i.trim().is_empty()) else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim() != "```")
            .map(|l| l.strip_prefix(indent).unwrap_or(l))
            .collect();
        let name = body[0]
            .strip_prefix("# step ")
            .and_then(|rest| rest.split_once(':'))
            .unwrap_or_else(|| panic!("an sh block without `# step N:`: {body:?}"))
            .0;
        steps.insert(name.to_string(), body.join("\n") + "\n");
    }
    steps
}

/// Runs step `name` with its placeholders filled in, as the orchestrator would.
fn run_step(
    env: &TestEnv,
    steps: &BTreeMap<String, String>,
    name: &str,
    fill: &[(&str, &str)],
) -> Output {
    let mut script = steps
        .get(name)
        .unwrap_or_else(|| panic!("ORCHESTRATOR.md has no step {name}"))
        .clone();
    for (placeholder, value) in fill {
        script = script.replace(placeholder, value);
    }
    let left = regex::Regex::new(r"<[A-Z]+>").unwrap();
    assert!(
        !left.is_match(&script),
        "step {name} has a placeholder the test does not know:\n{script}"
    );
    env.sh(&script).output().unwrap()
}

/// What the orchestrator works out for a task (ORCHESTRATOR.md, "Placeholders").
struct Assignment {
    id: String,
    task: String,
    sentinel: String,
    worker: String,
}

fn assignment(task: &swarm::plan::Task, worker: &str) -> Assignment {
    let mut text = task.text.clone();
    if !task.context.is_empty() {
        text.push_str(&format!("\n\n{}", task.context));
    }
    if let Some(out) = &task.output {
        text.push_str(&format!("\n\nWrite the result to `{out}`."));
    }
    Assignment {
        id: task.id.to_string(),
        task: text,
        sentinel: swarm::prompt::sentinel_for(task)
            .unwrap()
            .display()
            .to_string(),
        worker: worker.to_string(),
    }
}

#[test]
fn a_script_following_orchestrator_md_finishes_the_plan_through_the_primitives() {
    let env = TestEnv::new();
    sim_config(&env, "--think-ms 300");
    let plan = "# Plan\n\n\
                - [ ] Write docs/a.md about the parser {out=docs/a.md}\n\
                - [ ] Type Enter then C-c then Escape; literally {#keys}\n\
                \x20 Enter\n\
                \x20 -x starts with a dash;\n\
                - [ ] Review $(touch PWNED) and `id` without running them\n\
                - [ ] Summarise the review {#summary}\n";
    env.write("PLAN.md", plan);
    expect(&swarm(&env, &["init", "--llm-orchestrator"]), 0);
    let steps = steps(&env.read("ORCHESTRATOR.md"));

    expect(&run_step(&env, &steps, "1", &[("<N>", "2")]), 0);
    let mut in_flight: Vec<Assignment> = Vec::new();
    let mut sent = BTreeMap::new();
    loop {
        // Steps 2 to 5: one task for each idle worker.
        loop {
            let text = env.read("PLAN.md");
            let tasks = swarm::plan::parse(&text, std::path::Path::new("PLAN.md")).unwrap();
            let Some(task) = tasks
                .iter()
                .find(|t| !t.checked && in_flight.iter().all(|a| a.id != t.id.0))
            else {
                break;
            };
            let out = run_step(&env, &steps, "3", &[]);
            expect(&out, 0);
            let listing: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
            let idle = worker_names(&listing)
                .into_iter()
                .find(|w| in_flight.iter().all(|a| &a.worker != w));
            let Some(worker) = idle else {
                if !in_flight.is_empty() {
                    break;
                }
                expect(&run_step(&env, &steps, "3b", &[]), 0);
                continue;
            };
            let a = assignment(task, &worker);
            let fill = [
                ("<ID>", a.id.as_str()),
                ("<TASK>", a.task.as_str()),
                ("<SENTINEL>", a.sentinel.as_str()),
                ("<WORKER>", a.worker.as_str()),
            ];
            expect(&run_step(&env, &steps, "4", &fill), 0);
            expect(&run_step(&env, &steps, "5", &fill), 0);
            sent.insert(
                a.id.clone(),
                env.read(&format!(".swarm/prompts/{}.md", a.id)),
            );
            in_flight.push(a);
        }
        if in_flight.is_empty() {
            break;
        }
        // Step 6, then step 7 for each finished task.
        let sentinels: Vec<&str> = in_flight.iter().map(|a| a.sentinel.as_str()).collect();
        let out = run_step(&env, &steps, "6", &[("<SENTINELS>", &sentinels.join(" "))]);
        expect(&out, 0);
        for done in stdout(&out).lines() {
            let at = in_flight.iter().position(|a| a.sentinel == done).unwrap();
            let a = in_flight.remove(at);
            let text = env.read("PLAN.md");
            let tasks = swarm::plan::parse(&text, std::path::Path::new("PLAN.md")).unwrap();
            let line = tasks
                .iter()
                .find(|t| t.id.0 == a.id)
                .unwrap()
                .line
                .to_string();
            let fill = [("<SENTINEL>", a.sentinel.as_str()), ("<LINE>", &line)];
            expect(&run_step(&env, &steps, "7", &fill), 0);
        }
    }

    assert_only_checkboxes_flipped(plan, &env.read("PLAN.md"));
    let tasks = swarm::plan::parse(plan, std::path::Path::new("PLAN.md")).unwrap();
    for task in &tasks {
        let sentinel = swarm::prompt::sentinel_for(task).unwrap();
        assert!(env.ws().join(&sentinel).exists(), "{}", sentinel.display());
    }
    assert!(
        env.path("docs/a.md").exists(),
        "the output file was written"
    );
    assert!(!env.path("PWNED").exists(), "a prompt was run by a shell");
    // Each task arrived exactly once, byte for byte as written (less the final newline).
    let mut got = received_prompts(&env);
    let mut want: Vec<String> = sent.values().map(|p| p.trim_end().to_string()).collect();
    assert_eq!(got.len(), tasks.len(), "{got:#?}");
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn spawned_workers_are_listed_live_and_captured() {
    let env = TestEnv::new();
    sim_config(&env, "--think-ms 100");
    env.write("PLAN.md", "- [ ] A task\n");
    let listing = spawn_workers(&env, 2);
    assert_eq!(listing["source"], "tmux");
    assert_eq!(worker_names(&listing), ["w0", "w1"]);
    let more = spawn_workers(&env, 1);
    assert_eq!(more["workers"][0]["worker"], "w2");

    let out = swarm(&env, &["workers", "--json"]);
    expect(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["running"], false);
    let w1 = &json["workers"][1];
    assert_eq!(
        (&w1["state"], &w1["profile"], &w1["task"], &w1["needs"]),
        (
            &"idle".into(),
            &"sim".into(),
            &serde_json::Value::Null,
            &serde_json::Value::Null
        )
    );
    let pane = w1["pane"].as_str().unwrap();
    // Worker panes sit in `workers-1`, window 0 shows the live list.
    let window = env.tmux_ok(&["display-message", "-p", "-t", pane, "#{window_name}"]);
    assert_eq!(window.trim(), "workers-1");
    wait_until("window 0 to list the workers", WAIT, || {
        env.tmux_ok(&["capture-pane", "-p", "-t", "=swarm:0"])
            .contains("w2")
    });

    let out = swarm(&env, &["capture", "w1"]);
    expect(&out, 0);
    assert!(stdout(&out).contains("sim>"), "{}", stdout(&out));
    // TestEnv sets NO_COLOR: swarm's tmux server goes without its green status line.
    let style = env.tmux_ok(&["show-options", "-gv", "status-style"]);
    assert_eq!(style.trim(), "reverse");

    // `swarm run` would start a second w0 beside these: it refuses.
    let out = swarm(&env, &["run", "--headless"]);
    expect(&out, 2);
    assert_says(&out, "were started with `swarm spawn`");
    assert_eq!(worker_names(&spawn_workers(&env, 1)), ["w3"]);
}

#[test]
fn send_refuses_a_dead_pane_and_a_shell_and_types_nothing() {
    let env = TestEnv::new();
    sim_config(&env, "");
    env.write("PLAN.md", "- [ ] A task\n");
    let tmux = Tmux::new(&env.socket, "swarm").with_tmpdir(env.dir.path().join("tmux"));
    tmux.start_session(
        "overview",
        120,
        40,
        &["cat".into()],
        &env.ws(),
        &BTreeMap::new(),
    )
    .unwrap();
    let mut window = None;
    for (label, argv) in [
        ("w0", vec!["sh", "-c", "exit 3"]),
        ("w1", vec!["bash", "--norc", "--noprofile"]),
    ] {
        let spec = SpawnSpec {
            window: window.clone(),
            window_name: "workers-1".into(),
            label: label.into(),
            profile: "sim".into(),
            argv: argv.into_iter().map(String::from).collect(),
            cwd: env.ws(),
            env: BTreeMap::new(),
            host: None,
        };
        let spawned = tmux.spawn(&spec).unwrap();
        window = Some(spawned.window);
    }
    wait_until("w0 to die and bash to start", WAIT, || {
        let panes = tmux.worker_panes().unwrap();
        panes.iter().any(|p| p.worker == "w0" && p.info.dead)
            && panes
                .iter()
                .any(|p| p.worker == "w1" && p.info.current_command == "bash")
    });

    let out = swarm(&env, &["send", "w0", "touch PWNED"]);
    expect(&out, 1);
    assert_says(&out, "exited");
    let out = swarm(&env, &["send", "w1", "touch PWNED"]);
    expect(&out, 1);
    assert_says(&out, "shell");
    assert_says(&out, "nothing was typed");

    let out = swarm(&env, &["workers", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let states: Vec<&str> = json["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["dead", "dead"]);
    let out = swarm(&env, &["wait", "--idle", "w1", "--timeout", "30"]);
    expect(&out, 1);
    assert_says(&out, "w1: its agent exited to a shell");
    let pane = tmux.worker_panes().unwrap()[1].info.id.clone();
    assert!(!tmux.capture(&pane).unwrap().contains("PWNED"));
    assert!(!env.path("PWNED").exists());
}

#[test]
fn send_refuses_foreign_input_and_sends_key_names_as_text() {
    let env = TestEnv::new();
    sim_config(&env, "--think-ms 100");
    env.write("PLAN.md", "- [ ] A task\n");
    let listing = spawn_workers(&env, 2);
    let w0 = listing["workers"][0]["pane"].as_str().unwrap().to_string();

    // A person is typing in w0's box: nothing may be glued onto their text.
    env.tmux_ok(&["send-keys", "-t", &w0, "-l", "half typed"]);
    wait_until("the typed text to show", WAIT, || {
        env.capture(&w0).contains("sim> half typed")
    });
    let out = swarm(&env, &["send", "w0", "a prompt"]);
    expect(&out, 1);
    assert_says(&out, "input box");
    assert!(env.capture(&w0).contains("sim> half typed\n"));

    let literal = "Enter C-c Escape; -x";
    let out = swarm(&env, &["send", "w1", "--", literal]);
    expect(&out, 0);
    assert!(stdout(&out).contains("delivered to w1"), "{}", stdout(&out));
    expect(
        &swarm(&env, &["wait", "--idle", "w1", "--timeout", "30"]),
        0,
    );
    let mut child = env
        .swarm()
        .args(["send", "w1", "--file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("line one\nC-c\n;\n".as_bytes())
        .unwrap();
    expect(&child.wait_with_output().unwrap(), 0);
    assert_eq!(received_prompts(&env), [literal, "line one\nC-c\n;"]);

    for (args, says) in [
        (&["send", "w7", "hi"][..], "no worker w7"),
        (&["send", "w1", " \n"][..], "the text is empty"),
        (
            &["send", "w1", "--file", "missing.md"][..],
            "missing.md: cannot read",
        ),
        (&["send", "nobody", "hi"][..], "is not a worker"),
    ] {
        let out = swarm(&env, args);
        expect(&out, 2);
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(received_prompts(&env).len(), 2, "nothing more was typed");
}

#[test]
fn wait_done_times_out_with_124_and_names_the_missing_files() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] A task\n");
    env.write("a.done", "");
    let out = swarm(
        &env,
        &["wait", "--done", "a.done", "b.done", "--timeout", "0.3"],
    );
    expect(&out, 124);
    assert_eq!(stdout(&out), "a.done\n");
    assert_says(&out, "timed out after 300ms; still waiting for: b.done\n");
    let out = swarm(
        &env,
        &[
            "wait",
            "--done",
            "a.done",
            "b.done",
            "--timeout",
            "1",
            "--json",
        ],
    );
    expect(&out, 124);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "schema": 1, "met": ["a.done"], "missing": ["b.done"], "dead": [], "timed_out": true
        })
    );
    let out = swarm(&env, &["wait", "--any", "--done", "b.done", "a.done"]);
    expect(&out, 0);
    assert_eq!(stdout(&out), "a.done\n");

    // A file (in a directory) that appears while swarm waits.
    let child = env
        .swarm()
        .args([
            "wait",
            "--done",
            "late/deep/c.done",
            "a.done",
            "--timeout",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    env.write("late/deep/c.done", "");
    let out = child.wait_with_output().unwrap();
    expect(&out, 0);
    assert_eq!(
        stdout(&out),
        "late/deep/c.done\na.done\n",
        "in the order given"
    );

    for args in [
        &["wait", "--done", "a.done", "--timeout", "soon"][..],
        &["wait"][..],
        &["wait", "--done", "a.done", "--idle"][..],
    ] {
        expect(&swarm(&env, args), 2);
    }
}

#[test]
fn wait_idle_waits_out_a_busy_worker_and_fails_on_a_dead_one() {
    let env = TestEnv::new();
    sim_config(&env, "--think-ms 3000 --crash-after 1");
    env.write("PLAN.md", "- [ ] A task\n");
    spawn_workers(&env, 1);
    expect(&swarm(&env, &["send", "w0", "first"]), 0);
    let out = swarm(&env, &["wait", "--idle", "w0", "--timeout", "0.3"]);
    expect(&out, 124);
    assert_says(&out, "w0 (busy)");
    let out = swarm(&env, &["wait", "--idle", "--timeout", "30"]);
    expect(&out, 0);
    assert_eq!(stdout(&out), "w0\n");

    // The second prompt crashes the agent halfway (`--crash-after 1`).
    expect(&swarm(&env, &["send", "w0", "second"]), 0);
    let out = swarm(&env, &["wait", "--idle", "w0", "--timeout", "30"]);
    expect(&out, 1);
    assert_says(&out, "w0: its agent exited");
    let out = swarm(&env, &["wait", "--idle", "w5"]);
    expect(&out, 2);
}

#[test]
fn the_orchestrators_workers_are_not_the_primitives_to_command() {
    let env = TestEnv::new();
    sim_config(&env, "");
    env.write("PLAN.md", "- [ ] Write the docs {#docs}\n");
    spawn_workers(&env, 1);
    // Stand in for a live orchestrator: it holds the workspace lock, and its snapshot
    // says w0 works on `docs`.
    std::fs::create_dir_all(env.path(".swarm")).unwrap();
    let lock = std::fs::File::create(env.path(".swarm/lock")).unwrap();
    lock.try_lock().unwrap();
    let state = |paused: bool| {
        serde_json::json!({
            "schema": 1, "plan": "PLAN.md", "socket": env.socket, "session": "swarm",
            "pid": 1, "started": 1.0e9, "updated": 1.0e9, "finished": false, "paused": false,
            "counts": {"total": 1, "done": 0, "running": 1, "pending": 0, "failed": 0, "skipped": 0},
            "tasks": [{"id": "docs", "text": "Write the docs", "state": "running", "worker": 0, "attempts": 1}],
            "workers": [{"id": 0, "pane": "%1", "state": "busy", "task": "docs", "restarts": 0, "paused": paused}],
        })
        .to_string()
    };
    env.write(".swarm/state.json", &state(false));

    let out = swarm(&env, &["spawn"]);
    expect(&out, 2);
    assert_says(&out, "swarm run --workers N");
    let out = swarm(&env, &["send", "w0", "hello"]);
    expect(&out, 2);
    assert_says(&out, "pause it first: `swarm pause w0`");
    env.write(".swarm/state.json", &state(true));
    expect(&swarm(&env, &["send", "w0", "hello"]), 0);
    assert_eq!(received_prompts(&env), ["hello"]);
}

#[test]
fn spawn_refuses_while_an_orchestrator_runs_and_starts_nothing() {
    let env = TestEnv::new();
    sim_config(&env, "");
    env.write("PLAN.md", "- [ ] A task\n");
    std::fs::create_dir_all(env.path(".swarm")).unwrap();
    let lock = std::fs::File::create(env.path(".swarm/lock")).unwrap();
    lock.try_lock().unwrap();
    let out = swarm(&env, &["spawn", "2"]);
    expect(&out, 2);
    assert_says(&out, "its workers are its own");
    assert!(!env.server_alive(), "a tmux server was started");
    expect(&swarm(&env, &["spawn", "0"]), 2);
}

#[test]
fn init_llm_orchestrator_writes_the_protocol_and_never_overwrites_it_unasked() {
    let env = TestEnv::new();
    let out = swarm(&env, &["init", "--llm-orchestrator"]);
    expect(&out, 0);
    let doc = env.read("ORCHESTRATOR.md");
    assert!(doc.contains("swarm send <WORKER> --file"), "{doc}");
    assert!(env.path("PLAN.md").exists(), "a sample plan");
    assert!(!env.path("swarm.toml").exists());
    let names: BTreeSet<String> = steps(&doc).into_keys().collect();
    for step in ["1", "3", "3b", "4", "5", "6", "6b", "6c", "7"] {
        assert!(names.contains(step), "no step {step} in {names:?}");
    }

    env.write("ORCHESTRATOR.md", "my own protocol\n");
    let out = swarm(&env, &["init", "--llm-orchestrator"]);
    expect(&out, 2);
    assert_says(&out, "ORCHESTRATOR.md already exists");
    assert_eq!(env.read("ORCHESTRATOR.md"), "my own protocol\n");
    expect(&swarm(&env, &["init", "--llm-orchestrator", "--force"]), 0);
    assert_eq!(env.read("ORCHESTRATOR.md"), doc);
}

#[test]
fn an_orchestrator_command_takes_window_zero_once_the_workers_are_ready() {
    let env = TestEnv::new();
    sim_config(&env, "--think-ms 100");
    env.write("PLAN.md", "- [ ] A task\n");
    // A stand-in for `claude 'Read ORCHESTRATOR.md and follow it'`: it lists the workers
    // it finds with the swarm on its PATH, from the workspace.
    let orchestrator =
        "sh -c 'swarm workers --json > seen.json 2>&1; echo ORCHESTRATING; exec sleep 60'";
    let out = swarm(&env, &["spawn", "2", "--orchestrator", orchestrator]);
    expect(&out, 0);
    wait_until("the orchestrator in window 0", WAIT, || {
        env.tmux_ok(&["capture-pane", "-p", "-t", "=swarm:0"])
            .contains("ORCHESTRATING")
    });
    let window = env.tmux_ok(&["display-message", "-p", "-t", "=swarm:0", "#{window_name}"]);
    assert_eq!(window.trim(), "orchestrator");
    let seen = env.read("seen.json");
    let seen: serde_json::Value = serde_json::from_str(&seen).expect(&seen);
    assert_eq!(
        worker_names(&seen),
        ["w0", "w1"],
        "both were ready before it started"
    );

    // Window 0 is settled when the session starts: a second one is refused, untouched.
    let out = swarm(
        &env,
        &["spawn", "1", "--orchestrator", "sh -c 'echo SECOND'"],
    );
    expect(&out, 2);
    assert_says(&out, "was not started");
    assert_eq!(worker_names(&spawn_workers(&env, 1)), ["w2"]);
    let screen = env.tmux_ok(&["capture-pane", "-p", "-t", "=swarm:0"]);
    assert!(screen.contains("ORCHESTRATING") && !screen.contains("SECOND"));
}
