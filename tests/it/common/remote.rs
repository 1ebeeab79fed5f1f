//! Running `swarm run` on fake ssh hosts: the workspace, the run, and the checks every
//! multi-host test ends with (each task checked exactly once, one `done` per task).

use super::fakehosts::FakeHosts;
use super::{TestEnv, read_jsonl, stderr, swarm_bin, wait_until};
use std::collections::BTreeMap;
use std::time::Duration;

/// A plan of `n` tasks, each writing `notes/tN.md`.
pub fn plan(n: usize) -> String {
    (1..=n)
        .map(|i| format!("- [ ] Write note {i} {{#t{i}}} {{out=notes/t{i}.md}}\n"))
        .collect()
}

/// A workspace whose agents run on `hosts`, `per_host` sim workers each (none here), the
/// sim working `think_ms` on each task.
pub fn workspace(
    hosts: &FakeHosts,
    tasks: usize,
    per_host: usize,
    think_ms: u64,
    grace: &str,
) -> TestEnv {
    let env = TestEnv::new();
    env.write("PLAN.md", &plan(tasks));
    // swarm installed on each host, as a person would: the hosts do not see this
    // machine's /tmp, where a checkout (and so this binary) may well be.
    for i in 1..=hosts.count {
        let bin = hosts.disk(i, "bin/swarm");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        // A link where the file systems allow it: the debug binary is large.
        if std::fs::hard_link(swarm_bin(), &bin).is_err() {
            std::fs::copy(swarm_bin(), &bin).unwrap();
        }
    }
    let mut toml = format!(
        "socket = \"{}\"\nworkers = 0\nagent = \"sim\"\nagent_cmd = \"/root/bin/swarm sim-agent --think-ms {think_ms} --log /root/sim.jsonl\"\n\n[remote]\nlease_grace = \"{grace}\"\n",
        env.socket
    );
    for i in 1..=hosts.count {
        toml.push_str(&format!(
            "\n[[hosts]]\nname = \"h{i}\"\nworkers = {per_host}\ndir = \"~/work\"\nssh_options = [\"-F\", \"{}\"]\n",
            hosts.ssh_config().display()
        ));
    }
    env.write("swarm.toml", &toml);
    env
}

pub fn run(env: &TestEnv) -> std::process::Child {
    env.swarm()
        .args(["run", "--headless", "--socket", &env.socket])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the run to end, at most `within`; on a hang, says what the journal holds.
pub fn ended(
    env: &TestEnv,
    mut child: std::process::Child,
    within: Duration,
) -> std::process::Output {
    let deadline = std::time::Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            let journal: Vec<String> = journal(env).iter().map(|r| r.to_string()).collect();
            panic!(
                "the run did not end in {within:?}\n{}\njournal:\n{}",
                stderr(&out),
                journal.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

pub fn journal(env: &TestEnv) -> Vec<serde_json::Value> {
    read_jsonl(&env.path(".swarm/journal.jsonl"))
}

/// The journal's records of kind `event`, by task.
pub fn records(env: &TestEnv, event: &str) -> BTreeMap<String, Vec<serde_json::Value>> {
    let mut by_task: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for record in journal(env) {
        if record["event"] == event {
            let task = record["task"].as_str().unwrap_or_default().to_owned();
            by_task.entry(task).or_default().push(record);
        }
    }
    by_task
}

/// Every task checked exactly once, and one `done` per task in the journal (`landed` in
/// an isolated run).
pub fn assert_each_done_once(env: &TestEnv, tasks: usize) {
    let plan = env.read("PLAN.md");
    for i in 1..=tasks {
        let line = format!("Write note {i} ");
        let checked = plan
            .lines()
            .filter(|l| l.contains(&line) && l.starts_with("- [x]"))
            .count();
        assert_eq!(checked, 1, "t{i} checked once:\n{plan}");
    }
    let mut done = records(env, "done");
    done.extend(records(env, "landed"));
    assert_eq!(done.len(), tasks, "{done:?}");
    assert!(done.values().all(|d| d.len() == 1), "{done:?}");
}

/// Starts the run and waits until each of the two hosts works on a task; returns the run
/// and h1's task.
pub fn started_on_both(env: &TestEnv) -> (std::process::Child, String) {
    let child = run(env);
    wait_until("a task busy on each host", Duration::from_secs(60), || {
        running_on(env).len() == 2
    });
    let task = running_on(env)["h1"][0].clone();
    (child, task)
}

/// The running tasks by host, from `swarm status --json`.
pub fn running_on(env: &TestEnv) -> BTreeMap<String, Vec<String>> {
    let status = crate::common::status(env);
    let mut on: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let workers = status["state"]["workers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for w in workers {
        if let (Some(host), Some(task)) = (w["host"].as_str(), w["task"].as_str())
            && w["state"] == "busy"
        {
            on.entry(host.to_owned()).or_default().push(task.to_owned());
        }
    }
    on
}

/// Every prompt the sim agents on `hosts` took, from their logs on the hosts' disks.
pub fn prompts_on_hosts(hosts: &FakeHosts) -> Vec<String> {
    (1..=hosts.count)
        .flat_map(|i| {
            let log = hosts.disk(i, "sim.jsonl");
            match log.exists() {
                true => read_jsonl(&log),
                false => Vec::new(),
            }
        })
        .filter(|e| e["event"] == "prompt")
        .map(|e| e["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}
