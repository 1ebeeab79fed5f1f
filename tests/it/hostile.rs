//! Hostile and mistaken input (issue 12): workspace paths that tmux would read as formats,
//! outputs that name what an agent must not write, plans that look right but hold no
//! task, a missing agent program, secrets' file modes, and huge task texts.

use crate::common::{TestEnv, received_prompts, sim_run, stderr, wait_until};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// What tmux would run if it read the workspace path as a format.
const PAYLOAD: &str = "PWNED";

/// `swarm run --headless` of `plan` (relative to `cwd`) with two simulated agents that
/// log to `sim.jsonl`, failing a task fast instead of retrying it.
fn run_sim(env: &TestEnv, cwd: &Path, plan: &str, extra: &[&str]) -> Output {
    let log = env.dir.path().join("sim.jsonl");
    let agent_cmd = format!("swarm sim-agent --think-ms 50 --log {}", log.display());
    env.swarm()
        .current_dir(cwd)
        .args(["run", "--headless", "--plan", plan, "--socket", &env.socket])
        .args([
            "--workers",
            "2",
            "--agent",
            "sim",
            "--agent-cmd",
            &agent_cmd,
        ])
        .args(["--task-timeout", "30", "--max-attempts", "1"])
        .args(extra)
        .output()
        .unwrap()
}

/// Every file under `dir` whose name is `name`.
fn find(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name() == name {
            found.push(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(find(&path, name));
        }
    }
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A plan in the directory `name` (below the test's temp dir), run from that directory's
/// parent as `swarm run --plan 'NAME/PLAN.md'`: it finishes, the agents worked in the
/// workspace, the transcripts are there (0600), and tmux ran nothing.
fn a_workspace_named(name: &str) {
    let env = TestEnv::new();
    let parent = env.dir.path();
    let ws = parent.join(name);
    std::fs::create_dir_all(&ws).unwrap();
    let plan =
        "# Plan\n\n- [ ] Write the notes {#notes out=docs/notes.md}\n- [ ] Tidy up {#tidy}\n";
    std::fs::write(ws.join("PLAN.md"), plan).unwrap();
    let out = run_sim(&env, parent, &format!("{name}/PLAN.md"), &[]);
    assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
    let after = std::fs::read_to_string(ws.join("PLAN.md")).unwrap();
    assert_eq!(after, plan.replace("[ ]", "[x]"), "{name}");
    assert!(
        ws.join("docs/notes.md").exists(),
        "{name}: the agent worked elsewhere"
    );
    assert!(
        !parent.join("docs").exists(),
        "{name}: the agent worked in the parent"
    );
    for id in ["notes", "tidy"] {
        let log = ws.join(format!(".swarm/logs/{id}.1.log"));
        assert!(log.exists(), "{name}: no transcript {}", log.display());
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("sim"), "{name}: empty transcript {text:?}");
        assert_eq!(mode(&log), 0o600, "{name}: {}", log.display());
    }
    assert_eq!(
        find(parent, PAYLOAD),
        Vec::<PathBuf>::new(),
        "{name}: tmux ran a format"
    );
}

#[test]
fn a_workspace_path_with_a_format_command_runs_nothing() {
    a_workspace_named("ws#(touch PWNED)");
}

#[test]
fn a_workspace_path_with_a_hash_keeps_the_agents_in_it() {
    a_workspace_named("C#Proj");
}

#[test]
fn a_workspace_path_with_a_format_variable_is_taken_literally() {
    a_workspace_named("ws#{pane_id}#{session_name}");
}

#[test]
fn a_workspace_path_with_percent_escapes_keeps_its_transcripts() {
    a_workspace_named("ws %d %H%%");
}

#[test]
fn a_workspace_path_with_spaces_and_quotes_works() {
    a_workspace_named("my work 'space' \"x\"");
}

/// `swarm run --headless` that must refuse before starting anything: exit 2, the plan as
/// it was, no `.swarm/` and no tmux server. Returns stderr.
fn refused(env: &TestEnv, extra: &[&str]) -> String {
    let before = std::fs::read_to_string(env.path("PLAN.md")).unwrap_or_default();
    let out = run_sim(env, &env.ws(), "PLAN.md", extra);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        std::fs::read_to_string(env.path("PLAN.md")).unwrap_or_default(),
        before
    );
    assert!(!env.path(".swarm").exists(), "{err}");
    assert!(!env.server_alive(), "{err}");
    assert!(err.contains("\nhint: "), "no hint: {err}");
    err
}

#[test]
fn outputs_that_name_the_plan_swarm_git_or_a_way_out_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    for (out, why) in [
        ("PLAN.md", "is the plan itself"),
        (".swarm/journal.jsonl", "is under .swarm/"),
        (".git/hooks/pre-commit", "is under .git/"),
        (
            "linked/escape.md",
            "leads out of the plan's directory through a symlink",
        ),
    ] {
        let env = TestEnv::new();
        std::fs::create_dir(env.path(".git")).unwrap();
        std::os::unix::fs::symlink(outside.path(), env.path("linked")).unwrap();
        env.write(
            "PLAN.md",
            &format!("# Plan\n\n- [ ] Fine {{out=docs/a.md}}\n- [ ] Bad one {{out={out}}}\n"),
        );
        let err = refused(&env, &[]);
        assert!(
            err.contains(&format!("PLAN.md:4: `{{out={out}}}` {why}")),
            "{out}: {err}"
        );
        assert!(!env.path(".git/hooks").exists());
    }
}

#[test]
fn plans_without_tasks_are_refused_with_the_syntax() {
    for (plan, lines) in [
        ("", vec![]),
        ("# Plan\n\nSome prose, no list.\n", vec![]),
        ("# Plan\n- [] Write the docs\n", vec![2]),
        (
            "# Plan\n-[ ] Write the docs\n* [ ]x Fix the build\n",
            vec![2, 3],
        ),
    ] {
        let env = TestEnv::new();
        env.write("PLAN.md", plan);
        let err = refused(&env, &[]);
        assert!(err.contains("PLAN.md: no tasks found"), "{plan:?}: {err}");
        assert!(err.contains("hint: a task is a list item"), "{err}");
        assert!(err.contains("`- [ ] Write docs/auth.md"), "{err}");
        for line in lines {
            assert!(
                err.contains(&format!("PLAN.md:{line}: `")),
                "{plan:?}: line {line}: {err}"
            );
        }
    }
}

#[test]
fn a_mistyped_checkbox_beside_real_tasks_is_a_warning_with_its_line() {
    let env = TestEnv::new();
    env.write("PLAN.md", "# Plan\n- [ ] Real task\n- [] Typo task\n");
    let out = run_sim(&env, &env.ws(), "PLAN.md", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: ") && err.contains("PLAN.md:3: `- [] Typo task` looks like a task"),
        "{err}"
    );
    assert_eq!(
        env.read("PLAN.md"),
        "# Plan\n- [x] Real task\n- [] Typo task\n"
    );
}

/// A PATH with tmux on it and nothing else.
fn path_with_only_tmux(env: &TestEnv) -> String {
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tmux = which::which("tmux").unwrap();
    if !bin.join("tmux").exists() {
        std::os::unix::fs::symlink(tmux, bin.join("tmux")).unwrap();
    }
    bin.display().to_string()
}

#[test]
fn a_missing_agent_program_is_named_before_anything_starts() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] One\n- [ ] Two\n");
    // The default agent is claude.
    let out = env
        .swarm()
        .env("PATH", path_with_only_tmux(&env))
        .args(["run", "--headless", "--socket", &env.socket])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`claude` not found on PATH"), "{err}");
    assert!(
        err.contains("npm install -g @anthropic-ai/claude-code"),
        "{err}"
    );
    assert_eq!(env.read("PLAN.md"), "- [ ] One\n- [ ] Two\n");
    assert!(!env.path(".swarm").exists() && !env.server_alive());

    // `swarm spawn` checks the same way.
    let out = env
        .swarm()
        .env("PATH", path_with_only_tmux(&env))
        .args(["spawn", "1", "--socket", &env.socket])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`claude` not found on PATH"), "{err}");
    assert!(!env.server_alive(), "{err}");

    let out = env
        .swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .args(["--agent-cmd", "swarm-sim-agnet --think-ms 5"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`swarm-sim-agnet` not found on PATH"), "{err}");
    assert!(
        err.contains("hint: ") && err.contains("--agent-cmd"),
        "{err}"
    );
    assert!(!env.path(".swarm").exists() && !env.server_alive());
}

#[test]
fn on_done_gets_a_200_kb_task_text_through_a_file_and_logs_are_private() {
    let env = TestEnv::new();
    let text: String = "Do the long thing. ".repeat(200 * 1024 / 19);
    env.write("PLAN.md", &format!("- [ ] {} {{#long}}\n", text.trim_end()));
    let record = r#"["sh", "-c", "wc -c < \"$SWARM_TASK_FILE\" > got.txt; printf %s \"$SWARM_TASK\" | wc -c >> got.txt; echo hook ran"]"#;
    env.write("swarm.toml", &format!("on_done = {record}\n"));
    let out = run_sim(&env, &env.ws(), "PLAN.md", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = || std::fs::read_to_string(env.path("got.txt")).unwrap_or_default();
    wait_until("on_done ran", Duration::from_secs(20), || {
        got().lines().count() == 2
    });
    let sizes: Vec<usize> = got().lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(sizes, [text.trim_end().len(), 32 * 1024], "{}", got());
    let log = env.path(".swarm/logs/notify.log");
    wait_until("the hook's output", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("hook ran"))
    });
    assert_eq!(mode(&log), 0o600);
    assert_eq!(mode(&env.path(".swarm/notify/long.txt")), 0o600);
    assert_eq!(mode(&env.path(".swarm/logs/long.1.log")), 0o600);
}

#[test]
fn a_full_width_indent_and_a_lone_cr_reach_the_agent() {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "- [ ] Keep the carriage\rreturn apart {#cr}\n- [ ] Read the context {#ctx}\n  \u{3000}全角の字下げ\n",
    );
    let out = run_sim(&env, &env.ws(), "PLAN.md", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let prompts = received_prompts(&env);
    assert!(
        prompts
            .iter()
            .any(|p| p.contains("## Context\n\n\u{3000}全角の字下げ\n")),
        "{prompts:?}"
    );
    assert!(
        prompts.iter().any(|p| p.contains("carriage\nreturn apart")),
        "{prompts:?}"
    );
}

#[test]
fn a_task_that_reads_as_an_agent_command_is_pasted_as_a_message() {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "- [ ] /clear {#slash}\n- [ ] !touch PWNED {#bang}\n",
    );
    let out = run_sim(&env, &env.ws(), "PLAN.md", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let prompts = received_prompts(&env);
    assert_eq!(prompts.len(), 2);
    for prompt in prompts {
        assert!(prompt.starts_with("Task: "), "{prompt}");
    }
}

/// A command that shows `swarm run`'s usage error for `flag value`.
fn usage_error(env: &TestEnv, flag: &str, value: &str) -> String {
    let out = Command::new(crate::common::swarm_bin())
        .current_dir(env.ws())
        .args(["run", "--headless", flag, value])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    stderr(&out)
}

#[test]
fn negative_numbers_are_out_of_range_not_unknown_flags() {
    let env = TestEnv::new();
    let err = usage_error(&env, "--workers", "-1");
    assert!(
        err.contains("invalid value '-1' for '--workers <N>': -1 is not in 1..=256"),
        "{err}"
    );
    let err = usage_error(&env, "--max-attempts", "-3");
    assert!(err.contains("'--max-attempts <N>'"), "{err}");
}

#[test]
fn a_task_added_during_a_run_with_a_forbidden_output_is_never_delivered() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] First\n- [ ] Second\n");
    let child = sim_run(&env, 1, "--think-ms 800", &[]);
    wait_until("the first prompt", Duration::from_secs(20), || {
        !received_prompts(&env).is_empty()
    });
    let plan = env.read("PLAN.md") + "- [ ] Overwrite the plan {out=PLAN.md}\n";
    env.write("PLAN.md", &plan);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let prompts = received_prompts(&env);
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    assert!(prompts.iter().all(|p| !p.contains("Overwrite the plan")));
    assert_eq!(
        env.read("PLAN.md"),
        "- [x] First\n- [x] Second\n- [ ] Overwrite the plan {out=PLAN.md}\n"
    );
}

#[test]
fn an_unreadable_plan_is_explained_once_with_a_hint() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("plans")).unwrap();
    std::os::unix::fs::symlink(env.path("loop.md"), env.path("loop.md")).unwrap();
    for (plan, why, hint) in [
        (
            "plans",
            "Is a directory",
            "hint: --plan takes the plan file",
        ),
        (
            "loop.md",
            "symbolic links",
            "hint: a symlink on the way leads back",
        ),
    ] {
        let out = env
            .swarm()
            .args(["run", "--headless", "--plan", plan, "--socket", &env.socket])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("{plan}: cannot read the plan: ")),
            "{err}"
        );
        assert!(err.contains(why) && err.contains(hint), "{err}");
        assert!(!err.contains("caused by"), "{err}");
    }
}
