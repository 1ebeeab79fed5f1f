//! A person steps in during a run (issue 11): scrolls a pane, types in one, edits PLAN.md in
//! any editor and any way of saving, leaves a REPL in front of a worker, starts a second
//! orchestrator, keeps the plan behind a symlink, unchecks a task to redo it. None of it
//! may cost work: 0 tasks failed, 0 edits lost, 0 check marks dropped, 0 runs killed.

use crate::common::{
    TestEnv, finish, headless_run, sentinel_writes, sim_log, sim_run, stderr, swarm_bin,
    wait_until, worker_pane,
};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(120);
const WAIT: Duration = Duration::from_secs(30);

fn prompts(env: &TestEnv) -> Vec<String> {
    sim_log(env)
        .iter()
        .filter(|e| e["event"] == "prompt")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

fn checked(plan: &str) -> usize {
    plan.matches("- [x]").count()
}

fn jobs(n: usize) -> String {
    (1..=n).map(|i| format!("- [ ] Job {i}\n")).collect()
}

/// Asserts the run ended by itself with exit 0, every task checked and no failure note.
fn assert_all_done(env: &TestEnv, out: &std::process::Output, tasks: usize) {
    let err = stderr(out);
    let failures: Vec<&str> = err.lines().filter(|l| l.starts_with('✗')).collect();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the run failed or was killed: {failures:#?}\n{err}"
    );
    let plan = env.read("PLAN.md");
    assert_eq!(checked(&plan), tasks, "check marks dropped:\n{plan}\n{err}");
    assert!(!plan.contains("⚠ swarm"), "a task failed:\n{plan}");
}

/// A person's rename-save (what most editors do): the whole new text in a temp file, renamed
/// over the plan.
fn rename_save(env: &TestEnv, text: &str) {
    let tmp = env.path(".PLAN.md.swp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, env.path("PLAN.md")).unwrap();
}

/// A person's in-place save (`:set backupcopy=yes`, nano, many IDEs): truncate, and the
/// text arrives `gap` later.
fn in_place_save(env: &TestEnv, text: &str, gap: Duration) {
    use std::io::Write;
    let mut file = std::fs::File::options()
        .write(true)
        .truncate(true)
        .open(env.path("PLAN.md"))
        .unwrap();
    std::thread::sleep(gap);
    file.write_all(text.as_bytes()).unwrap();
}

/// The prose line a person adds at the top of the plan in edit `n`.
fn human_line(n: usize) -> String {
    format!("A person's note number {n}.")
}

/// The current plan with `line` added as a paragraph under its first line.
fn with_line(plan: &str, line: &str) -> String {
    let (head, rest) = plan.split_once('\n').unwrap();
    format!("{head}\n\n{line}\n{rest}")
}

#[test]
fn scroll_one_pane_costs_no_attempt() {
    let env = TestEnv::new();
    env.write("PLAN.md", &format!("# Plan\n{}", jobs(6)));
    let child = sim_run(&env, 1, "--think-ms 2000", &["--max-attempts", "2"]);
    // The person scrolls back in w0 as soon as it is there, before its first task, and
    // stays a while: nothing is pasted, nothing fails.
    let mut pane = None;
    wait_until("w0's pane", WAIT, || {
        pane = worker_pane(&env, "w0");
        pane.is_some()
    });
    let pane = pane.unwrap();
    env.tmux_ok(&["copy-mode", "-t", &pane]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(prompts(&env).is_empty(), "pasted into a scrolled pane");
    assert!(!env.read("PLAN.md").contains("⚠ swarm"), "a task failed");
    env.tmux_ok(&["send-keys", "-t", &pane, "-X", "cancel"]);
    // Again while its first task runs.
    wait_until("w0 working", WAIT, || prompts(&env).len() == 1);
    env.tmux_ok(&["copy-mode", "-t", &pane]);
    wait_until("the first task done", WAIT, || {
        checked(&env.read("PLAN.md")) == 1
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(prompts(&env).len(), 1, "pasted into a scrolled pane");
    env.tmux_ok(&["send-keys", "-t", &pane, "-X", "cancel"]);
    let out = finish(child, RUN, "scroll");
    assert_all_done(&env, &out, 6);
    assert_eq!(prompts(&env).len(), 6, "each task given once");
    eprintln!("human: scrolled 1 pane twice: 0 tasks failed, 0 attempts spent");
}

#[test]
fn invalid_save_keeps_the_run_going() {
    let env = TestEnv::new();
    env.write("PLAN.md", &format!("# Plan\n{}", jobs(6)));
    let child = sim_run(&env, 2, "--think-ms 1000", &[]);
    wait_until("both working", WAIT, || prompts(&env).len() >= 2);
    // `yyp` on Job 4, saved before the copy is edited: the plan does not parse for a while,
    // and a task ends meanwhile.
    let plan = env.read("PLAN.md");
    let dup = plan.replace("- [ ] Job 4\n", "- [ ] Job 4\n- [ ] Job 4\n");
    rename_save(&env, &dup);
    let sentinels = sentinel_writes(&env).len();
    wait_until("a task ends on the invalid plan", WAIT, || {
        sentinel_writes(&env).len() > sentinels
    });
    std::thread::sleep(Duration::from_millis(800));
    assert!(env.server_alive(), "the run killed its server");
    // The copy is edited into a task of its own.
    let fixed = env.read("PLAN.md").replacen(
        "- [ ] Job 4\n- [ ] Job 4\n",
        "- [ ] Job 4\n- [ ] Job 4b\n",
        1,
    );
    rename_save(&env, &fixed);
    let out = finish(child, RUN, "invalid save");
    assert_all_done(&env, &out, 7);
    let err = stderr(&out);
    assert_eq!(
        err.matches("duplicate task id `job-4`").count(),
        1,
        "said once, with its line: {err}"
    );
    assert!(err.contains("PLAN.md:6: duplicate task id"), "{err}");
    eprintln!("human: 1 invalid save: 0 runs killed, 0 check marks dropped");
}

#[test]
fn edited_pending_task_is_what_the_agent_gets() {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "# Plan\n- [ ] First\n- [ ] Delete the staging database\n- [ ] Last\n",
    );
    let child = sim_run(&env, 1, "--think-ms 2000", &[]);
    wait_until("First given", WAIT, || prompts(&env).len() == 1);
    // One pending task edited, and the running one too: it is not run again for that, and
    // its check mark goes on its line as it is now.
    let edited = env
        .read("PLAN.md")
        .replace(
            "Delete the staging database",
            "Do NOT delete the staging database",
        )
        .replace("- [ ] First\n", "- [ ] First, carefully\n");
    rename_save(&env, &edited);
    let out = finish(child, RUN, "edited task");
    assert_all_done(&env, &out, 3);
    let given = prompts(&env);
    assert!(
        given
            .iter()
            .any(|p| p.starts_with("Task: Do NOT delete the staging database")),
        "{given:?}"
    );
    assert!(
        !given
            .iter()
            .any(|p| p.starts_with("Task: Delete the staging")),
        "the agent got the old text: {given:?}"
    );
    assert_eq!(given.len(), 3, "a task ran twice: {given:?}");
    assert_eq!(
        env.read("PLAN.md"),
        "# Plan\n- [x] First, carefully\n- [x] Do NOT delete the staging database\n- [x] Last\n"
    );
    eprintln!("human: 2 tasks edited, 1 pending and 1 running: 0 edits lost, 0 done twice");
}

#[test]
fn in_place_save_loses_no_check_mark() {
    let env = TestEnv::new();
    env.write("PLAN.md", &format!("# Plan\n{}", jobs(16)));
    let child = sim_run(&env, 2, "--think-ms 300", &[]);
    wait_until("work under way", WAIT, || !prompts(&env).is_empty());
    // Saves while sentinels arrive, 50 to 150 ms apart: in place with a 50 ms gap (every
    // sixth with a 600 ms one), and rename-saves between them.
    let mut edits = 0;
    while edits < 24 && env.server_alive() {
        let text = with_line(&env.read("PLAN.md"), &human_line(edits));
        match edits % 6 {
            5 => in_place_save(&env, &text, Duration::from_millis(600)),
            n if n % 2 == 0 => in_place_save(&env, &text, Duration::from_millis(50)),
            _ => rename_save(&env, &text),
        }
        edits += 1;
        std::thread::sleep(Duration::from_millis(50 + (edits as u64 * 37) % 100));
    }
    let out = finish(child, RUN, "in-place saves");
    assert_all_done(&env, &out, 16);
    let plan = env.read("PLAN.md");
    let lost: Vec<usize> = (0..edits)
        .filter(|&n| !plan.contains(&human_line(n)))
        .collect();
    assert!(lost.is_empty(), "edits lost: {lost:?}\n{plan}");
    let writes = sentinel_writes(&env);
    assert!(writes.values().all(|&n| n == 1), "{writes:?}");
    eprintln!("human: {edits} saves in place and by rename: 0 edits lost, 0 check marks dropped");
}

#[test]
fn half_typed_text_is_never_erased() {
    let env = TestEnv::new();
    env.write("PLAN.md", &format!("# Plan\n{}", jobs(4)));
    let child = sim_run(&env, 2, "--think-ms 1500", &[]);
    wait_until("both working", WAIT, || prompts(&env).len() >= 2);
    let pane = worker_pane(&env, "w0").unwrap();
    let typed = "my half typed thought";
    env.tmux_ok(&["send-keys", "-t", &pane, "-l", typed]);
    // Watch w0 until the run ends: once the text is in its box, it stays there. A capture
    // can catch the sim mid-redraw, without its box: gone means gone from several
    // captures in a row, not from one frame.
    let mut seen = false;
    let mut missing = 0;
    let mut erased = false;
    while env.server_alive() {
        let out = env.tmux(&["capture-pane", "-p", "-t", &pane]);
        if !out.status.success() {
            break;
        }
        let screen = String::from_utf8_lossy(&out.stdout);
        let there = screen.contains(&format!("sim> {typed}"));
        seen |= there;
        // An empty capture is the server going down at the end of the run.
        missing = if seen && !there && !screen.trim().is_empty() {
            missing + 1
        } else {
            0
        };
        erased |= missing >= 4;
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = finish(child, RUN, "typing");
    assert_all_done(&env, &out, 4);
    assert!(seen, "the typed text never showed");
    assert!(!erased, "the person's text was erased");
    assert!(
        !prompts(&env).iter().any(|p| p.contains(typed)),
        "the person's text was submitted"
    );
    eprintln!("human: typed in a working pane: 0 keystrokes lost, 0 tasks failed");
}

#[test]
fn repl_in_front_of_a_worker_is_never_pasted_into() {
    let env = TestEnv::new();
    env.write("PLAN.md", &format!("# Plan\n{}", jobs(6)));
    let log = env.dir.path().join("sim.jsonl");
    // w0's agent leaves a REPL in front when it ends: python3, writing down every line it
    // is given.
    let repl_log = env.dir.path().join("REPL.log");
    let script = env.dir.path().join("agent.sh");
    std::fs::write(
        &script,
        format!(
            "set -m\n{} sim-agent --think-ms 1200 --log {}\nexec python3 -c 'import sys\nfor line in sys.stdin: open(\"{}\", \"a\").write(line)'\n",
            swarm_bin(),
            log.display(),
            repl_log.display()
        ),
    )
    .unwrap();
    let agent_cmd = format!("sh {}", script.display());
    let child = headless_run(&env, 2, &agent_cmd, &[]);
    wait_until("both working", WAIT, || prompts(&env).len() >= 2);
    let pid = sim_log(&env)
        .iter()
        .find(|e| e["event"] == "start")
        .map(|e| e["pid"].as_u64().unwrap().to_string())
        .unwrap();
    Command::new("kill").args([&pid]).status().unwrap();
    wait_until("python3 in front", WAIT, || {
        let out = env.tmux(&["list-panes", "-a", "-F", "#{pane_current_command}"]);
        String::from_utf8_lossy(&out.stdout).contains("python3")
    });
    let out = finish(child, RUN, "repl");
    assert_all_done(&env, &out, 6);
    let ran = std::fs::read_to_string(&repl_log).unwrap_or_default();
    assert!(ran.is_empty(), "text ran in the REPL:\n{ran}");
    eprintln!("human: a REPL in front of w0: 0 pastes into it, 0 tasks failed");
}

#[test]
fn repl_in_front_refuses_swarm_send() {
    use swarm::tmux::{Mux, SpawnSpec, Tmux};
    let env = TestEnv::new();
    env.write(
        "swarm.toml",
        &format!("socket = \"{}\"\nagent = \"sim\"\n", env.socket),
    );
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
    // python3 in front, writing down every line it is given: in a sim worker's pane, and
    // in a generic worker's pane whose agent was started through `sh`.
    let repl_log = env.dir.path().join("REPL.log");
    let repl = format!(
        "python3 -c 'import sys\nfor line in sys.stdin: open(\"{}\", \"a\").write(line)'",
        repl_log.display()
    );
    let mut window = None;
    for (label, profile) in [("w0", "sim"), ("w1", "generic")] {
        let spec = SpawnSpec {
            window: window.clone(),
            window_name: "workers-1".into(),
            label: label.into(),
            profile: profile.into(),
            argv: vec!["sh".into(), "-c".into(), format!("set -m; {repl}; exit")],
            cwd: env.ws(),
            env: BTreeMap::new(),
            host: None,
        };
        let spawned = tmux.spawn(&spec).unwrap();
        window = Some(spawned.window);
    }
    wait_until("python3 in front of both", WAIT, || {
        let panes = tmux.worker_panes().unwrap();
        panes.len() == 2 && panes.iter().all(|p| p.info.current_command == "python3")
    });
    for worker in ["w0", "w1"] {
        let out = env
            .swarm()
            .args(["send", worker, "open('PWNED', 'w')"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{worker}: {err}");
        assert!(
            err.contains("`python3` is in front, not the agent"),
            "{err}"
        );
    }
    let ran = std::fs::read_to_string(&repl_log).unwrap_or_default();
    assert!(ran.is_empty(), "text ran in the REPL:\n{ran}");
    assert!(!env.path("PWNED").exists());
    eprintln!("human: swarm send to 2 REPLs: 0 pastes into them");
}

/// Two `swarm run --headless` on the same plan, `delay` apart, the second through `plan`
/// (a path to the same file) on its own default socket. Exactly one runs, to the end; the
/// other exits 2 with the usual message and touches nothing.
fn race(env: &TestEnv, delay: Duration, plan: &str) {
    let first = sim_run(env, 1, "--think-ms 700", &[]);
    std::thread::sleep(delay);
    let log = env.dir.path().join("sim.jsonl");
    let second = env
        .swarm()
        .args(["run", "--headless", "--plan", plan, "--agent", "sim"])
        .args(["--workers", "1", "--agent-cmd"])
        .arg(format!(
            "swarm sim-agent --think-ms 700 --log {}",
            log.display()
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let second = finish(second, RUN, "the second run");
    let first = finish(first, RUN, "the first run");
    let (won, lost) = match second.status.code() {
        Some(2) => (first, second),
        _ => (second, first),
    };
    let err = stderr(&lost);
    assert_eq!(lost.status.code(), Some(2), "both ran: {err}");
    assert!(err.contains("a swarm is already running for"), "{err}");
    assert!(!err.contains("new-session"), "a raw tmux dump: {err}");
    assert_all_done(env, &won, 3);
    let writes = sentinel_writes(env);
    assert!(writes.values().all(|&n| n == 1), "done twice: {writes:?}");
}

#[test]
fn second_orchestrator_never_touches_the_first() {
    for delay in [0, 10, 50, 130] {
        let env = TestEnv::new();
        env.write("PLAN.md", &format!("# Plan\n{}", jobs(3)));
        race(&env, Duration::from_millis(delay), "PLAN.md");
    }
    // The same file through a symlink, and through a hard link, in another directory.
    for link in ["symlink", "hard link"] {
        let env = TestEnv::new();
        let plan = env.write("PLAN.md", &format!("# Plan\n{}", jobs(3)));
        let other = env.dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        let alias = other.join("PLAN.md");
        match link {
            "symlink" => std::os::unix::fs::symlink(&plan, &alias).unwrap(),
            _ => std::fs::hard_link(&plan, &alias).unwrap(),
        }
        race(&env, Duration::from_millis(300), alias.to_str().unwrap());
    }
    eprintln!("human: 6 second orchestrators: 0 runs killed, 0 tasks done twice");
}

#[test]
fn symlinked_plan_stays_a_link_and_gets_the_marks() {
    let env = TestEnv::new();
    let real = env.dir.path().join("notes").join("real-plan.md");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(&real, format!("# Plan\n{}", jobs(3))).unwrap();
    std::os::unix::fs::symlink(&real, env.path("PLAN.md")).unwrap();
    let child = sim_run(&env, 1, "--think-ms 700", &[]);
    wait_until("a check mark in the target", WAIT, || {
        checked(&std::fs::read_to_string(&real).unwrap()) >= 1
    });
    // The person edits the target itself (as editors that follow links do): a task added.
    let text = std::fs::read_to_string(&real).unwrap() + "- [ ] Added through the target\n";
    let tmp = real.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &real).unwrap();
    let out = finish(child, RUN, "symlinked plan");
    assert_all_done(&env, &out, 4);
    let meta = std::fs::symlink_metadata(env.path("PLAN.md")).unwrap();
    assert!(meta.is_symlink(), "PLAN.md was replaced by a regular file");
    assert_eq!(checked(&std::fs::read_to_string(&real).unwrap()), 4);
    eprintln!("human: a symlinked plan: 0 check marks dropped, the link kept");
}

#[test]
fn redo_mid_run_works() {
    let env = TestEnv::new();
    env.write("PLAN.md", &format!("# Plan\n{}", jobs(4)));
    let child = sim_run(&env, 1, "--think-ms 800", &[]);
    wait_until("Job 1 checked", WAIT, || {
        env.read("PLAN.md").contains("- [x] Job 1\n")
    });
    // The documented redo: uncheck it and delete its sentinel.
    let plan = env
        .read("PLAN.md")
        .replace("- [x] Job 1\n", "- [ ] Job 1\n");
    rename_save(&env, &plan);
    std::fs::remove_file(env.path(".swarm/done/job-1.done")).unwrap();
    let out = finish(child, RUN, "redo");
    assert_all_done(&env, &out, 4);
    let given = prompts(&env);
    let job1 = given
        .iter()
        .filter(|p| p.starts_with("Task: Job 1\n"))
        .count();
    assert_eq!(job1, 2, "Job 1 was not redone: {given:?}");
    eprintln!("human: 1 redo mid-run: done again, 0 tasks failed");
}

/// What the soak's person does, in a shuffled order.
#[derive(Debug, Clone, Copy)]
enum Act {
    Scroll,
    Type,
    Kill,
    RenameSave,
    InPlaceSave,
    InvalidSave,
}

#[test]
fn soak_a_person_at_work_costs_nothing() {
    let env = TestEnv::new();
    let tasks = 60;
    env.write("PLAN.md", &format!("# Plan\n{}", jobs(tasks)));
    let child = sim_run(&env, 4, "--think-ms 1500", &[]);
    wait_until("work under way", WAIT, || !prompts(&env).is_empty());
    let mut acts = Vec::new();
    acts.extend([Act::Scroll; 10]);
    acts.extend([Act::Type; 5]);
    acts.extend([Act::Kill; 10]);
    acts.extend([Act::RenameSave; 20]);
    acts.extend([Act::InPlaceSave; 20]);
    acts.extend([Act::InvalidSave; 20]);
    // A fixed shuffle: the same soak every time.
    let mut seed = 0x2545_f491_u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for i in (1..acts.len()).rev() {
        acts.swap(i, next(i + 1));
    }
    let mut edits = 0;
    let mut done = BTreeMap::<String, usize>::new();
    let started = Instant::now();
    for act in &acts {
        if !env.server_alive() {
            break;
        }
        // A worker whose agent was just killed may have no pane for a moment: another's.
        let first = next(4);
        let pane = (0..4).find_map(|k| worker_pane(&env, &format!("w{}", (first + k) % 4)));
        match (act, pane) {
            (Act::Scroll, Some(pane)) => {
                env.tmux(&["copy-mode", "-t", &pane]);
                std::thread::sleep(Duration::from_millis(400));
                env.tmux(&["send-keys", "-t", &pane, "-X", "cancel"]);
            }
            (Act::Type, Some(pane)) => {
                // Typed, thought better of, and erased by the person.
                let text = "wait, one more thing";
                env.tmux(&["send-keys", "-t", &pane, "-l", text]);
                std::thread::sleep(Duration::from_millis(700));
                for _ in 0..text.len() {
                    env.tmux(&["send-keys", "-t", &pane, "BSpace"]);
                }
            }
            (Act::Kill, _) => {
                let pids: Vec<String> = sim_log(&env)
                    .iter()
                    .filter(|e| e["event"] == "start")
                    .map(|e| e["pid"].as_u64().unwrap().to_string())
                    .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
                    .collect();
                if !pids.is_empty() {
                    let pid = &pids[next(pids.len())];
                    Command::new("kill").args(["-9", pid]).status().unwrap();
                }
            }
            (Act::RenameSave, _) => {
                rename_save(&env, &with_line(&env.read("PLAN.md"), &human_line(edits)));
                edits += 1;
            }
            (Act::InPlaceSave, _) => {
                let text = with_line(&env.read("PLAN.md"), &human_line(edits));
                in_place_save(&env, &text, Duration::from_millis(50));
                edits += 1;
            }
            (Act::InvalidSave, _) => {
                // A task line duplicated for a moment, then the copy turned into a note.
                let plan = env.read("PLAN.md");
                let line = plan
                    .lines()
                    .find(|l| l.starts_with("- ["))
                    .unwrap()
                    .to_string();
                let dup = plan.replacen(&line, &format!("{line}\n{line}"), 1);
                rename_save(&env, &dup);
                std::thread::sleep(Duration::from_millis(300));
                let fixed = env
                    .read("PLAN.md")
                    .replacen(&format!("{line}\n{line}"), &line, 1);
                rename_save(&env, &with_line(&fixed, &human_line(edits)));
                edits += 1;
            }
            (act, None) => panic!("no worker pane for {act:?}"),
        }
        *done.entry(format!("{act:?}")).or_default() += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = finish(child, Duration::from_secs(300), "soak");
    assert_all_done(&env, &out, tasks);
    assert_eq!(
        acts.len(),
        done.values().sum::<usize>(),
        "the run ended before the person did everything: {done:?}"
    );
    let plan = env.read("PLAN.md");
    let lost: Vec<usize> = (0..edits)
        .filter(|&n| !plan.contains(&human_line(n)))
        .collect();
    assert!(lost.is_empty(), "edits lost: {lost:?}");
    let writes = sentinel_writes(&env);
    assert_eq!(writes.len(), tasks);
    assert!(writes.values().all(|&n| n == 1), "done twice: {writes:?}");
    eprintln!(
        "human soak: {done:?} over {:.0?}: 0 tasks failed, 0 edits lost, 0 check marks dropped, 0 runs killed",
        started.elapsed()
    );
}
