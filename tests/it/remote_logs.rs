//! `swarm logs` of tasks that ran on fake ssh hosts (tests/multihost/fakehosts.sh): each
//! attempt's transcript is written on its host by `pipe-pane` and pulled into
//! `.swarm/logs/` here, at its end, after a partition and when a person asks. Each test
//! ends with every task checked exactly once and one `done` per task. Only with
//! `SWARM_MULTIHOST=1` (root and openssh-server).

use crate::common::fakehosts::{FakeHosts, enabled};
use crate::common::remote::*;
use crate::common::{TestEnv, stderr, stdout, wait_until};
use std::time::{Duration, Instant};

/// What the sim prints as it finishes task `tN`'s first attempt on a host.
fn finished_line(task: &str) -> String {
    format!("created wt/{task}.1/notes/{task}.md.done")
}

/// The host that recorded `task`'s first attempt, and its copy there.
fn host_copy(hosts: &FakeHosts, task: &str) -> (usize, std::path::PathBuf) {
    let on: Vec<usize> = (1..=hosts.count)
        .filter(|&i| hosts.disk(i, &format!("work/logs/{task}.1.log")).exists())
        .collect();
    assert_eq!(
        on.len(),
        1,
        "{task}'s transcript on exactly one host: {on:?}"
    );
    (on[0], hosts.disk(on[0], &format!("work/logs/{task}.1.log")))
}

/// The local copy's bytes after its opening (`origin.json` says how long that is).
fn pulled_bytes(env: &TestEnv, task: &str) -> Vec<u8> {
    let origin: serde_json::Value =
        serde_json::from_str(&env.read(&format!(".swarm/logs/{task}.1.origin.json"))).unwrap();
    let opening = origin["opening"].as_u64().unwrap() as usize;
    let local = std::fs::read(env.path(&format!(".swarm/logs/{task}.1.log"))).unwrap();
    assert!(local.len() >= opening, "the opening is there");
    local[opening..].to_vec()
}

fn logs(env: &TestEnv, args: &[&str]) -> std::process::Output {
    env.swarm().arg("logs").args(args).output().unwrap()
}

/// The copy here holds every byte of the host's once, in order: the host's copy as read
/// before `swarm logs` pulled is a prefix of it, and it is a prefix of the host's copy
/// read after (the pane may still print).
fn assert_pulled_exactly(env: &TestEnv, hosts: &FakeHosts, task: &str) {
    let (_, there) = host_copy(hosts, task);
    let before = std::fs::read(&there).unwrap();
    let out = logs(env, &[task]);
    assert!(out.status.success(), "{}", stderr(&out));
    let here = pulled_bytes(env, task);
    let after = std::fs::read(&there).unwrap();
    assert!(
        here.starts_with(&before) && after.starts_with(&here),
        "{task}: {} bytes here; the host had {} before the pull and {} after",
        here.len(),
        before.len(),
        after.len()
    );
}

#[test]
fn swarm_logs_shows_what_the_agent_on_a_host_did() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 4, 1, 300, "2m");
    let started = Instant::now();
    let out = ended(&env, run(&env), Duration::from_secs(60));
    let run_took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 4);
    let mut per_host = [0; 2];
    for i in 1..=4 {
        let task = format!("t{i}");
        per_host[host_copy(&hosts, &task).0 - 1] += 1;
        let started = Instant::now();
        let out = logs(&env, &[&task]);
        let took = started.elapsed();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(&format!("task:    {task} ")), "{text}");
        assert!(text.contains("task received"), "{text}");
        assert!(text.contains(&finished_line(&task)), "{text}");
        eprintln!("swarm logs {task}: {took:?}");
        assert_pulled_exactly(&env, &hosts, &task);
    }
    eprintln!("run of 4 tasks on 2 hosts: {run_took:?}");
    // What starting each transcript adds to a dispatch shows in its receipts: from
    // queued to pasted (the attempt's folder made, the transcript begun, the paste).
    let receipts = records(&env, "receipt");
    for (task, stages) in &receipts {
        let at = |stage: &str| {
            stages
                .iter()
                .find(|r| r["stage"] == stage)
                .and_then(|r| r["at"].as_i64())
        };
        if let (Some(queued), Some(pasted)) = (at("queued"), at("pasted")) {
            eprintln!("{task}: queued → pasted {} ms", pasted - queued);
        }
    }
    assert!(
        per_host.iter().all(|&n| n > 0),
        "both hosts ran tasks: {per_host:?}"
    );
}

#[test]
fn a_transcript_pulled_across_a_short_partition_has_every_byte_once() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 2, 1, 5_000, "60s");
    let (child, task) = started_on_both(&env);
    // Pulled once before the cut, while the agent works.
    let out = logs(&env, &[&task]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("task received"), "{}", stdout(&out));
    hosts.act("cut", 1);
    // The agent goes on during the cut; its transcript grows on h1 alone.
    let note = hosts.disk(1, &format!("work/wt/{task}.1/notes/{task}.md.done"));
    wait_until(
        "the sentinel written on h1 during the cut",
        Duration::from_secs(30),
        || note.exists(),
    );
    // A person asking meanwhile gets the copy here, told that h1 did not answer.
    let started = Instant::now();
    let out = logs(&env, &[&task]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("h1"), "{}", stderr(&out));
    assert!(!stdout(&out).contains(&finished_line(&task)));
    eprintln!("swarm logs during the cut: {took:?}");
    hosts.act("heal", 1);
    let out = ended(&env, child, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 2);
    assert!(records(&env, "lease-expired").is_empty());
    // The run pulled what h1 wrote during the cut; nothing twice, nothing missing.
    let (_, there) = host_copy(&hosts, &task);
    let here = pulled_bytes(&env, &task);
    let finished = finished_line(&task);
    assert!(
        String::from_utf8_lossy(&here).contains(&finished),
        "the run pulled the end of the attempt"
    );
    assert!(std::fs::read(&there).unwrap().starts_with(&here));
    assert_pulled_exactly(&env, &hosts, &task);
}

#[test]
fn swarm_logs_follows_a_task_running_on_a_host() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 2, 1, 4_000, "2m");
    let (child, task) = started_on_both(&env);
    // While it runs: what the agent printed so far, from its host.
    let out = logs(&env, &[&task]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("task received"), "{text}");
    assert!(!text.contains(&finished_line(&task)), "{text}");
    // Followed: what comes next, until the attempt ends.
    let started = Instant::now();
    let follow = env
        .swarm()
        .args(["logs", "--follow", &task])
        .output()
        .unwrap();
    eprintln!(
        "swarm logs --follow ended {:?} after it began",
        started.elapsed()
    );
    assert!(follow.status.success(), "{}", stderr(&follow));
    let text = stdout(&follow);
    assert!(text.contains(&finished_line(&task)), "{text}");
    let out = ended(&env, child, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 2);
    assert_pulled_exactly(&env, &hosts, &task);
}

#[test]
fn a_new_coordinator_pulls_the_transcripts_the_killed_one_began() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 2, 1, 4_000, "2m");
    let (mut child, _) = started_on_both(&env);
    child.kill().unwrap();
    child.wait().unwrap();
    // The agents work on; the next coordinator takes them, and their transcripts, over.
    let out = ended(&env, run(&env), Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 2);
    for task in ["t1", "t2"] {
        // Pulled by the run, not by `swarm logs`: the attempts' last lines are here.
        let here = pulled_bytes(&env, task);
        let (_, there) = host_copy(&hosts, task);
        assert!(
            String::from_utf8_lossy(&here).contains(&finished_line(task)),
            "{task}: the new run pulled the end of the attempt"
        );
        assert!(std::fs::read(&there).unwrap().starts_with(&here));
    }
}
