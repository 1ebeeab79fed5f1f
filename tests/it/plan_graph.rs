//! A plan that says what waits for what and what each task touches, run on real tmux with
//! simulated agents: the order comes from the agents' own log, so a prompt that arrived
//! before the sentinel of a task it waits for is caught.

use crate::common::{TestEnv, finish, sim_log, sim_run, status, stderr, steer, wait_until};
use std::collections::BTreeMap;
use std::time::Duration;

const RUN: Duration = Duration::from_secs(120);
const WAIT: Duration = Duration::from_secs(30);

/// When each task's prompt arrived and its sentinel was written (sim-log seconds), by the
/// task's id: prompts are told apart by their first line, `Task: <id in words>`.
struct Times {
    prompt: BTreeMap<String, f64>,
    sentinel: BTreeMap<String, f64>,
}

fn times(env: &TestEnv) -> Times {
    let mut t = Times {
        prompt: BTreeMap::new(),
        sentinel: BTreeMap::new(),
    };
    for e in sim_log(env) {
        let ts = e["ts"].as_f64().unwrap();
        if e["event"] == "prompt" {
            let text = e["text"].as_str().unwrap();
            let first = text.lines().next().unwrap();
            let id = first.trim_start_matches("Task: ").to_string();
            t.prompt.entry(id).or_insert(ts);
        } else if e["event"] == "sentinel" {
            let path = e["path"].as_str().unwrap();
            let id = path
                .rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".done")
                .to_string();
            t.sentinel.insert(id, ts);
        }
    }
    t
}

/// `later`'s prompt came after `first`'s sentinel.
fn assert_after(t: &Times, later: &str, first: &str) {
    let (Some(p), Some(s)) = (t.prompt.get(later), t.sentinel.get(first)) else {
        panic!(
            "no prompt of {later} or sentinel of {first}: {:?} {:?}",
            t.prompt, t.sentinel
        );
    };
    assert!(
        p >= s,
        "{later} was given at {p}, before {first} was done at {s}"
    );
}

fn assert_all_done(env: &TestEnv, out: &std::process::Output, tasks: usize) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let plan = env.read("PLAN.md");
    assert_eq!(plan.matches("- [x]").count(), tasks, "{plan}\n{err}");
}

/// A task's row in `swarm status --json`.
fn row(env: &TestEnv, id: &str) -> serde_json::Value {
    status(env)["state"]["tasks"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|t| t["id"] == id).cloned())
        .unwrap_or_default()
}

#[test]
fn a_chain_a_fan_in_and_a_parent_run_in_order() {
    let env = TestEnv::new();
    // Ids are the tasks' words, so that a prompt's first line names its task.
    env.write(
        "PLAN.md",
        "# Plan
- [ ] a1 {#a1}
- [ ] a2 {#a2 after=a1}
- [ ] a3 {#a3} {after=a2}
- [ ] b1 {#b1}
- [ ] join {#join after=a3,b1}
- [ ] parent {#parent}
  - [ ] kid1 {#kid1}
  - [ ] kid2 {#kid2 after=kid1}
",
    );
    let child = sim_run(&env, 3, "--think-ms 200", &[]);
    let out = finish(child, RUN, "graph");
    assert_all_done(&env, &out, 8);
    let t = times(&env);
    assert_eq!(t.prompt.len(), 8, "each task once: {:?}", t.prompt);
    assert_after(&t, "a2", "a1");
    assert_after(&t, "a3", "a2");
    assert_after(&t, "join", "a3");
    assert_after(&t, "join", "b1");
    assert_after(&t, "kid2", "kid1");
    assert_after(&t, "parent", "kid1");
    assert_after(&t, "parent", "kid2");
}

#[test]
fn overlapping_scopes_never_run_at_once() {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "# Plan
- [ ] login {#login files=src/login.ts,src/session/**}
- [ ] logout {#logout files=src/logout.ts,src/session/store.ts}
- [ ] session {#session files=src/session}
- [ ] docs {#docs files=docs/**}
",
    );
    let child = sim_run(&env, 4, "--think-ms 300", &[]);
    let out = finish(child, RUN, "scopes");
    assert_all_done(&env, &out, 4);
    let t = times(&env);
    // The three that touch src/session went one after the other, in plan order; docs
    // went beside the first.
    assert_after(&t, "logout", "login");
    assert_after(&t, "session", "logout");
    assert!(
        t.prompt["docs"] < t.sentinel["login"],
        "docs waited: {:?}",
        t.prompt
    );
}

#[test]
fn a_failed_dependency_blocks_and_retry_releases_it() {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "- [ ] HANG base {#base}\n- [ ] Dependent {#dependent after=base}\n- [ ] Later {#later}\n",
    );
    let child = sim_run(
        &env,
        1,
        "--think-ms 50 --hang-on HANG",
        &["--task-timeout", "2", "--max-attempts", "1"],
    );
    wait_until("the first prompt", WAIT, || {
        sim_log(&env).iter().any(|e| e["event"] == "prompt")
    });
    // Paused, `Later` keeps the run open.
    steer(&env, &["pause"]);
    wait_until("dependent blocked", WAIT, || {
        row(&env, "dependent")["state"] == "blocked"
    });
    let blocked = row(&env, "dependent");
    assert_eq!(blocked["reason"], "`base` failed", "{blocked}");
    assert_eq!(status(&env)["state"]["counts"]["blocked"], 1);

    steer(&env, &["retry", "base"]);
    wait_until("dependent released", WAIT, || {
        row(&env, "dependent")["state"] == "pending"
    });
    let waiting = row(&env, "dependent");
    assert_eq!(waiting["waiting"]["kind"], "tasks", "{waiting}");
    assert_eq!(waiting["waiting"]["tasks"][0], "base", "{waiting}");
    assert_eq!(waiting["reason"], "waits for `base`", "{waiting}");

    // It hangs again: blocked again, and the run ends with it not done.
    steer(&env, &["resume"]);
    let out = finish(child, RUN, "blocked");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let prompts: Vec<String> = sim_log(&env)
        .iter()
        .filter(|e| e["event"] == "prompt")
        .map(|e| {
            e["text"]
                .as_str()
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        !prompts.contains(&"Task: Dependent".to_string()),
        "{prompts:?}"
    );
    assert_eq!(
        prompts.iter().filter(|p| p.contains("HANG")).count(),
        2,
        "{prompts:?}"
    );
    assert!(err.contains("blocked: `base` failed"), "{err}");
}

#[test]
fn a_cycle_saved_mid_run_is_reported_and_nothing_is_lost() {
    let env = TestEnv::new();
    let plan = "# Plan\n- [ ] one {#one}\n- [ ] two {#two}\n- [ ] three {#three after=two}\n";
    env.write("PLAN.md", plan);
    let child = sim_run(&env, 1, "--think-ms 1000", &[]);
    wait_until("one given", WAIT, || {
        sim_log(&env).iter().any(|e| e["event"] == "prompt")
    });
    // A person makes two wait for three, which waits for two.
    let cycle = plan.replace("- [ ] two {#two}", "- [ ] two {#two after=three}");
    let tmp = env.path(".PLAN.md.swp~");
    std::fs::write(&tmp, &cycle).unwrap();
    std::fs::rename(&tmp, env.path("PLAN.md")).unwrap();
    // The run goes on with the last good plan; check-offs wait for a plan that parses.
    wait_until("one done", WAIT, || {
        sim_log(&env).iter().any(|e| e["event"] == "sentinel")
    });
    wait_until("two given", WAIT, || {
        sim_log(&env)
            .iter()
            .filter(|e| e["event"] == "prompt")
            .count()
            == 2
    });
    assert_eq!(
        env.read("PLAN.md"),
        cycle,
        "the person's text stays as they saved it"
    );
    // They fix it: three no longer waits for two.
    let fixed = cycle.replace(" after=two}", "}");
    std::fs::write(&tmp, &fixed).unwrap();
    std::fs::rename(&tmp, env.path("PLAN.md")).unwrap();
    let out = finish(child, RUN, "cycle");
    assert_all_done(&env, &out, 3);
    assert_eq!(
        env.read("PLAN.md"),
        fixed.replace("- [ ]", "- [x]"),
        "their edit survives, with the check marks"
    );
    let err = stderr(&out);
    assert!(
        err.contains(
            "PLAN.md:3: tasks wait for each other in a cycle: `two` (PLAN.md:3) waits for `three` (PLAN.md:4) waits for `two`"
        ),
        "{err}"
    );
}

#[test]
fn a_task_for_a_profile_no_worker_runs_is_bad_input_at_start() {
    let env = TestEnv::new();
    let plan = "- [ ] Tests {agent=sim}\n- [ ] Docs {agent=codex}\n";
    env.write("PLAN.md", plan);
    let out = sim_run(&env, 1, "", &[]).wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("PLAN.md:2: `{agent=codex}`: no worker of this run runs the `codex` profile"),
        "{err}"
    );
    assert_eq!(env.read("PLAN.md"), plan, "nothing modified");
    assert!(!env.server_alive(), "nothing started");
}

/// swarm.toml with two pools of the simulated agent, `left` (the default) and `right`:
/// profiles built on `sim` whose agents log to `left.jsonl` and `right.jsonl`, so that
/// each log holds what its pool's agents were given.
fn two_pools(env: &TestEnv, left: usize, right: usize) {
    let command = |name: &str| {
        let log = env.dir.path().join(format!("{name}.jsonl"));
        format!(
            "[profiles.{name}]\nbase = \"sim\"\ncommand = [\"swarm\", \"sim-agent\", \"--log\", \"{}\", \"--think-ms\", \"300\"]\n",
            log.display()
        )
    };
    env.write(
        "swarm.toml",
        &format!(
            "agent = \"left\"\nworkers = {{ left = {left}, right = {right} }}\n\n{}\n{}",
            command("left"),
            command("right")
        ),
    );
}

/// The tasks the agents logging to `name.jsonl` were given, by the first line of their
/// prompts.
fn given(env: &TestEnv, name: &str) -> Vec<String> {
    let mut ids: Vec<String> =
        crate::common::read_jsonl(&env.dir.path().join(format!("{name}.jsonl")))
            .iter()
            .filter(|e| e["event"] == "prompt")
            .map(|e| {
                let first = e["text"].as_str().unwrap().lines().next().unwrap();
                first.trim_start_matches("Task: ").to_string()
            })
            .collect();
    ids.sort();
    ids
}

#[test]
fn routed_tasks_reach_only_their_pools_agents() {
    let env = TestEnv::new();
    two_pools(&env, 2, 1);
    env.write(
        "PLAN.md",
        "# Plan
- [ ] l1 {#l1}
- [ ] r1 {#r1 agent=right}
- [ ] l2 {#l2 agent=left}
- [ ] r2 {#r2 agent=right}
- [ ] l3 {#l3}
- [ ] r3 {#r3 agent=right}
",
    );
    let child = env
        .swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child, RUN, "pools");
    assert_all_done(&env, &out, 6);
    assert_eq!(given(&env, "left"), ["l1", "l2", "l3"]);
    assert_eq!(given(&env, "right"), ["r1", "r2", "r3"]);
    let workers = status(&env)["state"]["workers"].clone();
    let profiles: Vec<&str> = workers
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["profile"].as_str().unwrap())
        .collect();
    assert_eq!(profiles, ["left", "left", "right"]);
}

#[test]
fn a_task_for_a_profile_with_no_pool_is_bad_input_at_start() {
    let env = TestEnv::new();
    two_pools(&env, 1, 1);
    let plan = "- [ ] a {agent=right}\n- [ ] b {agent=codex}\n";
    env.write("PLAN.md", plan);
    let out = env
        .swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("PLAN.md:2: `{agent=codex}`: no worker of this run runs the `codex` profile")
            && err.contains("this run's workers run `left`, `right`"),
        "{err}"
    );
    assert_eq!(env.read("PLAN.md"), plan, "nothing modified");
    assert!(!env.server_alive(), "nothing started");
}
