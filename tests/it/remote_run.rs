//! `swarm run` with its agents on fake ssh hosts (tests/multihost/fakehosts.sh): the sim
//! agent in swarm's tmux session on each host, prompts over the control links, sentinels
//! from each host's stream. Each test ends by checking that every task is checked exactly
//! once in PLAN.md and that the journal has exactly one `done` per task. Only with
//! `SWARM_MULTIHOST=1` (root and openssh-server).

use crate::common::fakehosts::{FakeHosts, enabled};
use crate::common::remote::*;
use crate::common::{stderr, steer, wait_until};
use std::time::Duration;

#[test]
fn tasks_run_on_two_hosts_and_each_is_checked_once() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 6, 2, 300, "2m");
    let out = ended(&env, run(&env), Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 6);
    // Each attempt's sentinel is on the host that ran it, in a folder of its own.
    let assigned = records(&env, "assigned");
    let mut per_host = [0; 2];
    for i in 1..=6 {
        let task = format!("t{i}");
        let found: Vec<usize> = (1..=2)
            .filter(|&h| {
                let sentinel = format!("work/wt/{task}.1/notes/{task}.md.done");
                hosts.disk(h, &sentinel).exists()
            })
            .collect();
        let listing = std::process::Command::new("find")
            .arg(hosts.base.path())
            .args(["-path", "*home/work*"])
            .output()
            .unwrap();
        assert_eq!(
            found.len(),
            1,
            "{task}'s sentinel on exactly one host:\n{}",
            crate::common::stdout(&listing)
        );
        per_host[found[0] - 1] += 1;
        assert_eq!(assigned[&task].len(), 1, "{task} assigned once");
    }
    assert!(
        per_host.iter().all(|&n| n > 0),
        "both hosts worked: {per_host:?}"
    );
}

#[test]
fn a_host_killed_mid_task_loses_it_to_the_other_after_the_grace() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 2, 1, 8_000, "4s");
    let (child, lost) = started_on_both(&env);
    hosts.act("kill", 1);
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 2);
    // The lost task's first attempt was fenced, not charged, and its second ran on h2.
    let expired = records(&env, "lease-expired");
    assert_eq!(expired[&lost].len(), 1, "{expired:?}");
    let attempt = |h: usize| hosts.disk(h, &format!("work/wt/{lost}.2/notes/{lost}.md.done"));
    assert!(attempt(2).exists(), "attempt 2 of {lost} on h2");
}

#[test]
fn a_short_partition_keeps_the_task_where_it_runs() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 2, 1, 5_000, "60s");
    let (child, kept) = started_on_both(&env);
    hosts.act("cut", 1);
    // The sentinel is written during the cut; the rescan after the heal finds it.
    let note = hosts.disk(1, &format!("work/wt/{kept}.1/notes/{kept}.md.done"));
    wait_until(
        "the sentinel written on h1 during the cut",
        Duration::from_secs(30),
        || note.exists(),
    );
    hosts.act("heal", 1);
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 2);
    assert!(records(&env, "lease-expired").is_empty());
    assert_eq!(records(&env, "assigned")[&kept].len(), 1);
}

#[test]
fn a_long_partition_fences_the_attempt_and_its_late_finish_is_stale() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 2, 1, 6_000, "3s");
    let (child, fenced) = started_on_both(&env);
    hosts.act("cut", 1);
    // Past the grace the task goes to h2 as attempt 2; attempt 1 finishes on h1 meanwhile.
    let late = hosts.disk(1, &format!("work/wt/{fenced}.1/notes/{fenced}.md.done"));
    wait_until(
        "attempt 1 finishing during the cut",
        Duration::from_secs(30),
        || late.exists(),
    );
    wait_until("the task fenced", Duration::from_secs(30), || {
        records(&env, "lease-expired").contains_key(&fenced)
    });
    hosts.act("heal", 1);
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 2);
    let attempt2 = hosts.disk(2, &format!("work/wt/{fenced}.2/notes/{fenced}.md.done"));
    assert!(attempt2.exists(), "attempt 2 ran on h2");
}

#[test]
fn the_coordinator_killed_with_hosts_busy_loses_nothing_and_does_nothing_twice() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 4, 1, 3_000, "2m");
    let (mut child, _) = started_on_both(&env);
    child.kill().unwrap();
    child.wait().unwrap();
    // The agents on the hosts work on; a new coordinator takes them over.
    let out = ended(&env, run(&env), Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 4);
    // Nothing was sent twice: each task's prompt reached one agent once, as attempt 1.
    let prompts = prompts_on_hosts(&hosts);
    for i in 1..=4 {
        let task = format!("t{i}");
        let sent: Vec<&String> = prompts
            .iter()
            .filter(|p| p.contains(&format!("wt/{task}.")))
            .collect();
        assert_eq!(sent.len(), 1, "{task}: {sent:?}");
        assert!(sent[0].contains(&format!("wt/{task}.1/")), "{}", sent[0]);
    }
}

#[test]
fn a_host_that_loses_power_and_boots_again_has_its_task_sent_again_at_once() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    // A grace far longer than the test: only the new server's incarnation sends the
    // task again.
    let env = workspace(&hosts, 2, 1, 6_000, "10m");
    let (child, lost) = started_on_both(&env);
    hosts.act("crash", 1);
    wait_until("h1 seen unreachable", Duration::from_secs(60), || {
        let status = crate::common::status(&env);
        let hosts = status["state"]["hosts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        hosts
            .iter()
            .any(|h| h["name"] == "h1" && h["state"] == "unreachable")
    });
    hosts.act("heal", 1);
    hosts.act("boot", 1);
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 2);
    let expired = records(&env, "lease-expired");
    assert_eq!(expired[&lost].len(), 1, "{expired:?}");
    let rebooted = journal(&env)
        .into_iter()
        .any(|r| r["event"] == "host-back" && r["rebooted"] == true);
    assert!(rebooted, "the journal says h1 came back restarted");
}

#[test]
fn a_sentinel_watcher_that_dies_alone_is_replaced_and_nothing_is_missed() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 4, 1, 3_000, "2m");
    let (child, _) = started_on_both(&env);
    // The watcher on h1 ends on its own (the OOM killer, a person): its host is still up.
    let killed = hosts.ssh(1, "pkill -x inotifywait && echo killed || echo none");
    assert_eq!(killed, "killed", "h1's sentinel watcher ran");
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 4);
    let lost = journal(&env)
        .into_iter()
        .filter(|r| r["event"] == "host-lost")
        .count();
    assert_eq!(lost, 0, "a dead watcher is not a lost host");
}

#[test]
fn tasks_tagged_for_a_host_run_only_there() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 4, 2, 300, "2m");
    let toml = env.read("swarm.toml");
    env.write(
        "swarm.toml",
        &toml.replace("name = \"h2\"\n", "name = \"h2\"\ntags = [\"gpu\"]\n"),
    );
    let plan = env.read("PLAN.md");
    let tagged = plan
        .replace("{#t1}", "{#t1} {tags=gpu}")
        .replace("{#t3}", "{#t3} {tags=gpu}");
    env.write("PLAN.md", &tagged);
    let out = ended(&env, run(&env), Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 4);
    for task in ["t1", "t3"] {
        let sentinel = format!("work/wt/{task}.1/notes/{task}.md.done");
        assert!(
            hosts.disk(2, &sentinel).exists(),
            "{task} ran on the gpu host"
        );
        assert!(!hosts.disk(1, &sentinel).exists(), "{task} never ran on h1");
    }
}

#[test]
fn isolated_tasks_on_hosts_come_back_as_branches_and_land_here() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 3, 1, 300, "2m");
    let toml = env.read("swarm.toml");
    env.write("swarm.toml", &format!("isolation = \"worktree\"\n{toml}"));
    crate::land::repo(&env, &[]);
    let out = ended(&env, run(&env), Duration::from_secs(180));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 3);
    // Each task's work is one commit on the landing branch, with its trailers, made on
    // the host that ran it and fetched back; no sentinel went into it.
    let landed = crate::land::landed(&env, "swarm/main");
    assert_eq!(landed.len(), 3, "{landed:?}");
    assert!(landed.values().all(|&n| n == 1), "{landed:?}");
    let files = crate::land::git_ok(&env, &["ls-tree", "-r", "--name-only", "swarm/main"]);
    for i in 1..=3 {
        assert!(files.contains(&format!("notes/t{i}.md")), "{files}");
    }
    assert!(
        !files.contains(".done") && !files.contains(".swarm"),
        "{files}"
    );
    // The person's own branch did not move.
    let main = crate::land::git_ok(&env, &["log", "--format=%s", "main"]);
    assert_eq!(main.trim(), "the start");
}

#[test]
fn eight_workers_on_one_host_fit_a_default_sshd() {
    if !enabled() {
        return;
    }
    // sshd's default MaxSessions is 10: swarm keeps its link, its sentinel stream and its
    // calls to a host within it however many workers run there.
    let hosts = FakeHosts::up_with_sessions(1, 10);
    let sshd = std::fs::read_to_string(hosts.base.path().join("h1/etc/sshd_config")).unwrap();
    assert!(sshd.contains("MaxSessions 10\n"), "{sshd}");
    let env = workspace(&hosts, 16, 8, 500, "2m");
    let out = ended(&env, run(&env), Duration::from_secs(180));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 16);
    let lost = journal(&env)
        .into_iter()
        .filter(|r| r["event"] == "host-lost")
        .count();
    assert_eq!(lost, 0, "the host was never lost");
}

#[test]
fn a_person_reads_and_types_into_a_paused_worker_on_a_host() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(1);
    let env = workspace(&hosts, 2, 1, 2_000, "2m");
    let child = run(&env);
    wait_until("a task busy on h1", Duration::from_secs(60), || {
        running_on(&env).contains_key("h1")
    });
    let worker = worker_on(&env, "h1");
    steer(&env, &["pause", &worker]);
    wait_until("the paused worker idle", Duration::from_secs(60), || {
        let status = crate::common::status(&env);
        status["state"]["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|w| w["host"] == "h1" && w["state"] == "idle" && w["paused"] == true)
    });
    let shown = env
        .swarm()
        .args(["capture", &worker, "--socket", &env.socket])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", stderr(&shown));
    // The sim agent's idle screen, read from h1's server.
    assert!(
        crate::common::stdout(&shown).contains("ready"),
        "{}",
        crate::common::stdout(&shown)
    );
    let sent = env
        .swarm()
        .args([
            "send",
            &worker,
            "a word from a person",
            "--socket",
            &env.socket,
        ])
        .output()
        .unwrap();
    assert!(sent.status.success(), "{}", stderr(&sent));
    assert!(crate::common::stdout(&sent).contains("h1:%"));
    wait_until(
        "the sim on h1 took the text",
        Duration::from_secs(30),
        || {
            prompts_on_hosts(&hosts)
                .iter()
                .any(|p| p == "a word from a person")
        },
    );
    steer(&env, &["resume", &worker]);
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 2);
    let typed = prompts_on_hosts(&hosts)
        .iter()
        .filter(|p| p.as_str() == "a word from a person")
        .count();
    assert_eq!(typed, 1, "the text went in once");
}

/// The name (`wN`) of a worker on `host`, from `swarm status --json`.
fn worker_on(env: &crate::common::TestEnv, host: &str) -> String {
    let status = crate::common::status(env);
    let id = status["state"]["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["host"] == host)
        .and_then(|w| w["id"].as_u64())
        .expect("a worker on the host");
    format!("w{id}")
}
