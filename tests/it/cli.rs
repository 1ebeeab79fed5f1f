//! Bad input: a clear message naming what and where, exit code 2, and nothing modified
//! (the plan's bytes, no `.swarm/`, no tmux server).

use crate::common::{TestEnv, stderr, stdout};

const PLAN: &str = "# Plan\n- [ ] Write docs/a.md {out=docs/a.md}\n- [ ] Second task\n";

/// Runs `swarm run --headless ARGS` and checks the bad-input contract; returns stderr.
fn refused(env: &TestEnv, args: &[&str]) -> String {
    let plan_before = std::fs::read(env.path("PLAN.md")).ok();
    let out = env
        .swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .args(args)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(
        std::fs::read(env.path("PLAN.md")).ok(),
        plan_before,
        "plan modified"
    );
    assert!(!env.path(".swarm").exists(), ".swarm/ created");
    assert!(!env.server_alive(), "a tmux server was started");
    err
}

#[test]
fn a_missing_plan_is_refused() {
    let env = TestEnv::new();
    let err = refused(&env, &[]);
    assert!(err.contains("PLAN.md: no such plan"), "{err}");
    assert!(err.contains("swarm init"), "{err}");
}

#[test]
fn a_plan_that_is_not_utf8_is_refused() {
    let env = TestEnv::new();
    std::fs::write(env.path("PLAN.md"), b"- [ ] caf\xe9\n").unwrap();
    let err = refused(&env, &[]);
    assert!(err.contains("not UTF-8"), "{err}");
}

#[test]
fn duplicate_task_ids_are_refused_with_both_lines() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] One {#x}\n- [ ] Two {#x}\n");
    let err = refused(&env, &[]);
    assert!(err.contains("PLAN.md:2"), "{err}");
    assert!(err.contains("duplicate task id `x`"), "{err}");
}

#[test]
fn an_unknown_profile_is_refused_with_the_known_ones() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    let err = refused(&env, &["--agent", "nope"]);
    assert!(err.contains("nope"), "{err}");
    assert!(err.contains("sim"), "{err}");
}

#[test]
fn bad_toml_names_the_file_and_line() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    env.write("swarm.toml", "workers = 2\nagent = \n");
    let err = refused(&env, &[]);
    assert!(err.contains("swarm.toml:2"), "{err}");
}

#[test]
fn unknown_config_keys_name_the_file_and_line() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    env.write(
        "swarm.toml",
        "workers = 2\n\n[window]\nwidth = 100\nhieght = 40\n",
    );
    let err = refused(&env, &[]);
    assert!(err.contains("swarm.toml:5"), "{err}");
    assert!(err.contains("hieght"), "{err}");
}

#[test]
fn a_config_value_of_the_wrong_type_names_the_line() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    env.write("swarm.toml", "# comment\nworkers = \"four\"\n");
    let err = refused(&env, &[]);
    assert!(err.contains("swarm.toml:2"), "{err}");
}

#[test]
fn worker_counts_out_of_range_are_refused() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    for n in ["0", "257"] {
        let err = refused(&env, &["--workers", n]);
        assert!(err.contains("--workers"), "{err}");
    }
    env.write("swarm.toml", "workers = 0\n");
    let err = refused(&env, &[]);
    assert!(err.contains("swarm.toml:1"), "{err}");
}

#[test]
fn durations_take_units_wherever_a_time_is_taken() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    let err = refused(&env, &["--task-timeout", "soon"]);
    assert!(err.contains("10m"), "{err}");
    let err = refused(&env, &["--task-timeout", "30d"]);
    assert!(err.contains("out of range"), "{err}");
    // `10m` is taken: the run gets as far as wanting a terminal.
    let out = env
        .swarm()
        .args(["run", "--task-timeout", "10m"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!stderr(&out).contains("task-timeout"), "{}", stderr(&out));
}

#[test]
fn an_invalid_socket_name_is_refused() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    let out = env
        .swarm()
        .args(["run", "--headless", "--socket", "../evil"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a valid socket name"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_sentinel_outside_the_workspace_is_refused() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] Escape {out=../../etc/x}\n");
    let err = refused(&env, &[]);
    assert!(err.contains("PLAN.md:1: "), "{err}");
    assert!(err.contains("leads out of the plan's directory"), "{err}");
}

#[test]
fn missing_tmux_is_refused_with_the_install_command() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    let empty = env.dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let plan_before = env.read("PLAN.md");
    let out = env
        .swarm()
        .env("PATH", &empty)
        .args(["run", "--headless", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("apt install tmux"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.read("PLAN.md"), plan_before);
}

#[test]
fn an_old_tmux_is_refused() {
    let env = TestEnv::new();
    env.write("PLAN.md", PLAN);
    let bin = env.dir.path().join("old-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("tmux");
    std::fs::write(&fake, "#!/bin/sh\necho 'tmux 3.1c'\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env
        .swarm()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .args(["run", "--headless", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("3.1c is too old"), "{}", stderr(&out));
}

#[test]
fn a_plan_with_nothing_open_says_so_and_succeeds() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [x] Done already\n");
    let out = env
        .swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("nothing to do"));
    assert!(!env.server_alive());
}

#[test]
fn init_writes_a_config_that_parses_and_refuses_to_overwrite_it() {
    let env = TestEnv::new();
    let out = env.swarm().arg("init").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let config = env.read("swarm.toml");
    assert!(env.path("PLAN.md").exists());
    // The sample plan and config are accepted as they are.
    let out = env
        .swarm()
        .args(["status", "--json", "--socket", &env.socket])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let again = env.swarm().arg("init").output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"));
    assert_eq!(env.read("swarm.toml"), config);
}
