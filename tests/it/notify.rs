//! News without watching: the bell in window 0, and swarm.toml's `on_done`/`on_fail`
//! programs with the task in their environment, never in a shell string.

use crate::common::{TestEnv, stderr, wait_until};
use std::time::Duration;

#[test]
fn on_done_and_on_fail_get_the_task_in_their_environment_and_window_zero_rings() {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "- [ ] Echo `$(touch PWNED)`; touch PWNED2 {#risky}\n- [ ] Hang here {#hang}\n",
    );
    // The program may use a shell of its own; swarm only sets variables.
    let record = r#"["sh", "-c", "printf '%s|%s|%s|%s|%s\n' \"$SWARM_EVENT\" \"$SWARM_TASK_ID\" \"$SWARM_TASK\" \"${SWARM_TRANSCRIPT##*/}\" \"$SWARM_REASON\" >> notified.txt"]"#;
    env.write(
        "swarm.toml",
        &format!("on_done = {record}\non_fail = {record}\ntask_timeout = 5\nmax_attempts = 1\n"),
    );
    let log = env.dir.path().join("sim.jsonl");
    let agent_cmd = format!(
        "swarm sim-agent --think-ms 1500 --hang-on Hang --log {}",
        log.display()
    );
    let run = env
        .swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .args([
            "--workers",
            "2",
            "--agent",
            "sim",
            "--agent-cmd",
            &agent_cmd,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A bell in the window a client looks at rings without flagging it, and the run's
    // control client looks at window 0: look at the workers instead, as a person would.
    wait_until("the workers window", Duration::from_secs(20), || {
        env.tmux(&["select-window", "-t", ":1"]).status.success()
    });
    let notified = || std::fs::read_to_string(env.path("notified.txt")).unwrap_or_default();
    wait_until(
        "on_done for the risky task",
        Duration::from_secs(20),
        || notified().starts_with("done|"),
    );
    // The bell comes before the program, while the hung task keeps the run going.
    let flags = env.tmux_ok(&["list-windows", "-F", "#{window_index} #{window_bell_flag}"]);
    assert!(
        flags.lines().any(|l| l == "0 1"),
        "no bell in window 0:\n{flags}"
    );

    let out = run.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a task failed: {}",
        stderr(&out)
    );
    wait_until("on_fail for the hung task", Duration::from_secs(10), || {
        notified().lines().count() == 2
    });
    let lines: Vec<String> = notified().lines().map(String::from).collect();
    assert_eq!(
        lines[0],
        "done|risky|Echo `$(touch PWNED)`; touch PWNED2|risky.1.log|"
    );
    assert!(
        lines[1].starts_with("failed|hang|Hang here|hang.1.log|timed out after 5s"),
        "{}",
        lines[1]
    );
    assert!(!env.path("PWNED").exists() && !env.path("PWNED2").exists());
}

#[test]
fn an_empty_on_done_is_bad_input_with_its_line() {
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] One\n");
    env.write("swarm.toml", "workers = 1\non_done = []\n");
    let out = env
        .swarm()
        .args([
            "run",
            "--headless",
            "--socket",
            &env.socket,
            "--agent",
            "sim",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("swarm.toml:2: on_done is empty"), "{err}");
    assert!(!env.path(".swarm").exists(), "nothing may be written");
}
