//! `swarm run` on fake ssh hosts through the failures of docs/multihost.md's table that
//! hit a run between its calls: ssh dropped mid-paste and between a paste and its Enter,
//! the coordinator killed with three hosts busy, a hung master, a host rebooted between
//! tasks, a long partition whose fenced attempt finishes last, and a stale control
//! client. Each test ends by checking that every task is checked exactly once and that
//! the journal has one `done` per task. Only with `SWARM_MULTIHOST=1` (root and
//! openssh-server).

use crate::common::fakehosts::{FakeHosts, enabled};
use crate::common::remote::*;
use crate::common::{TestEnv, read_jsonl, stderr, wait_until};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Each host's agent is `sh /root/agent.sh`, which runs the sim with `args(host)` after
/// its usual ones: a host of its own pace, or with a hook.
fn agents(hosts: &FakeHosts, env: &TestEnv, args: impl Fn(usize) -> String) {
    for i in 1..=hosts.count {
        let script = format!(
            "exec /root/bin/swarm sim-agent --log /root/sim.jsonl {}\n",
            args(i)
        );
        std::fs::write(hosts.disk(i, "agent.sh"), script).unwrap();
    }
    let toml: String = env
        .read("swarm.toml")
        .lines()
        .map(|l| match l.starts_with("agent_cmd = ") {
            true => "agent_cmd = \"sh /root/agent.sh\"\n".to_owned(),
            false => format!("{l}\n"),
        })
        .collect();
    env.write("swarm.toml", &toml);
}

/// Every paste and every prompt the sims on `hosts` took, from their logs.
fn sim_events(hosts: &FakeHosts, event: &str) -> Vec<String> {
    (1..=hosts.count)
        .flat_map(|i| {
            let log = hosts.disk(i, "sim.jsonl");
            match log.exists() {
                true => read_jsonl(&log),
                false => Vec::new(),
            }
        })
        .filter(|e| e["event"] == event)
        .map(|e| e["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Each task pasted once and submitted once, as `attempt`, the paste whole: the prompt
/// the agent took is the text that was pasted, byte for byte.
fn assert_each_prompt_once(hosts: &FakeHosts, tasks: usize, attempt: u32) {
    let pastes = sim_events(hosts, "paste");
    let prompts = sim_events(hosts, "prompt");
    for i in 1..=tasks {
        let of = |texts: &[String]| -> Vec<String> {
            texts
                .iter()
                .filter(|p| p.contains(&format!("wt/t{i}.")))
                .cloned()
                .collect()
        };
        let (pasted, took) = (of(&pastes), of(&prompts));
        let short = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|t| match t.len() > 600 {
                    true => format!("{} bytes: {}…", t.len(), &t[..t.floor_char_boundary(300)]),
                    false => t.clone(),
                })
                .collect()
        };
        assert_eq!(pasted.len(), 1, "t{i} pasted once: {:#?}", short(&pasted));
        assert_eq!(took.len(), 1, "t{i} submitted once: {:#?}", short(&took));
        assert_eq!(pasted[0], took[0], "t{i}: the prompt taken is the paste");
        assert!(
            took[0].contains(&format!("wt/t{i}.{attempt}/")),
            "t{i} as attempt {attempt}"
        );
    }
    // Nothing else was pasted: no part of a prompt on its own.
    assert_eq!(
        pastes.len(),
        tasks,
        "{:?}",
        pastes.iter().map(String::len).collect::<Vec<_>>()
    );
}

/// The names of the paste buffers left on host `i`'s swarm server.
fn buffers_left(hosts: &FakeHosts, env: &TestEnv, i: usize) -> Vec<String> {
    let script = format!(
        "tmux -L {} list-buffers -F '#{{buffer_name}}' 2>/dev/null || true",
        env.socket
    );
    hosts
        .ssh(i, &script)
        .lines()
        .filter(|b| b.starts_with("swarm-"))
        .map(str::to_owned)
        .collect()
}

/// The control clients (tmux `-C`) registered on host `i`'s swarm server.
fn control_clients(hosts: &FakeHosts, env: &TestEnv, i: usize) -> usize {
    let script = format!(
        "tmux -L {} list-clients -F '#{{client_control_mode}} #{{client_name}}' 2>/dev/null || true",
        env.socket
    );
    hosts
        .ssh(i, &script)
        .lines()
        .filter(|l| l.starts_with("1 "))
        .count()
}

/// The pids of the run's control-mode ssh to host `name`: children of the run.
fn control_ssh(run: u32, name: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let parent = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|p| p.trim().parse::<u32>().ok());
        if parent != Some(run) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let to_host = args.windows(2).any(|w| w[0] == "--" && w[1] == name);
        if to_host && args.iter().any(|a| a.contains("attach-session")) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether the run's ssh master to host `name` is up (`ssh -O check`).
fn master_up(hosts: &FakeHosts, env: &TestEnv, name: &str) -> bool {
    std::process::Command::new("ssh")
        .arg("-F")
        .arg(hosts.ssh_config())
        .arg("-o")
        .arg(format!(
            "ControlPath={}/run/swarm/cm-%C",
            env.dir.path().display()
        ))
        .args(["-O", "check", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn events(env: &TestEnv, event: &str) -> Vec<serde_json::Value> {
    journal(env)
        .into_iter()
        .filter(|r| r["event"] == event)
        .collect()
}

fn host_events(env: &TestEnv, event: &str, host: &str) -> usize {
    events(env, event)
        .iter()
        .filter(|r| r["host"] == host)
        .count()
}

/// A prompt template of about 200 KB: the task, then padding, then the sentinel.
fn big_prompts(env: &TestEnv) {
    let pad: String = (0..2500)
        .map(|n| format!("padding line {n:04}: the quick brown fox jumps over the lazy dog; $HOME #{{x}} \"q\"\n"))
        .collect();
    assert!(pad.len() > 190_000, "{}", pad.len());
    env.write(
        "prompt.md.j2",
        &format!("{{{{ task }}}}\n\n{pad}\nWhen you have finished, create the empty file `{{{{ sentinel }}}}`.\n"),
    );
    let toml = env.read("swarm.toml");
    env.write(
        "swarm.toml",
        &format!("prompt_file = \"prompt.md.j2\"\n{toml}"),
    );
}

#[test]
fn ssh_dropped_mid_paste_delivers_each_prompt_whole_and_once() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 8, 1, 300, "2m");
    big_prompts(&env);
    // Half the tasks are h1's alone, so that it gets its share of cuts.
    let toml = env.read("swarm.toml");
    env.write(
        "swarm.toml",
        &toml.replace("name = \"h1\"\n", "name = \"h1\"\ntags = [\"a\"]\n"),
    );
    let mut plan = env.read("PLAN.md");
    for i in 1..=4 {
        plan = plan.replace(&format!("{{#t{i}}}"), &format!("{{#t{i}}} {{tags=a}}"));
    }
    env.write("PLAN.md", &plan);
    // 2 Mbit/s to h1: a 200 KB prompt takes about 0.8 s over the link, a window the
    // cuts below fall in.
    let slow = hosts.script(&["slow", "1", "2mbit"]);
    assert!(slow.status.success(), "{}", stderr(&slow));
    let child = run(&env);
    // At each prompt for h1, while its 200 KB go over the link (0.15 to 0.6 s after its
    // assignment), the link's ssh is killed or the master closed, in turn.
    let stop = Arc::new(AtomicBool::new(false));
    let cutter = {
        let (stop, pid) = (stop.clone(), child.id());
        let journal_path = env.path(".swarm/journal.jsonl");
        let control = env.dir.path().join("run/swarm");
        let config = hosts.ssh_config();
        std::thread::spawn(move || {
            let delays = [150u64, 300, 450, 600];
            let mut seen = 0;
            let mut cuts = 0;
            while !stop.load(Ordering::Relaxed) {
                let assigned = match journal_path.exists() {
                    true => read_jsonl(&journal_path)
                        .into_iter()
                        .filter(|r| r["event"] == "assigned")
                        .filter(|r| r["pane"].as_str().is_some_and(|p| p.starts_with("h1:")))
                        .count(),
                    false => 0,
                };
                if assigned == seen {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                seen = assigned;
                std::thread::sleep(Duration::from_millis(delays[cuts % delays.len()]));
                if cuts % 2 == 0 {
                    for ssh in control_ssh(pid, "h1") {
                        let _ = rustix::process::kill_process(
                            rustix::process::Pid::from_raw(ssh as i32).unwrap(),
                            rustix::process::Signal::KILL,
                        );
                    }
                } else {
                    let _ = std::process::Command::new("ssh")
                        .arg("-F")
                        .arg(&config)
                        .arg("-o")
                        .arg(format!("ControlPath={}/cm-%C", control.display()))
                        .args(["-O", "exit", "h1"])
                        .output();
                }
                cuts += 1;
            }
            cuts
        })
    };
    let out = ended(&env, child, Duration::from_secs(150));
    stop.store(true, Ordering::Relaxed);
    let cuts = cutter.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        cuts >= 4,
        "h1 was cut during each of its deliveries: {cuts}"
    );
    let lost = host_events(&env, "host-lost", "h1");
    assert!(lost >= 1, "a cut took a delivery down with it");
    assert_each_done_once(&env, 8);
    assert_each_prompt_once(&hosts, 8, 1);
    for i in 1..=2 {
        assert_eq!(buffers_left(&hosts, &env, i), Vec::<String>::new(), "h{i}");
    }
    eprintln!("{cuts} cuts during deliveries to h1, {lost} of them seen as a lost host");
}

#[test]
fn ssh_dropped_between_paste_and_enter_presses_enter_once_on_reconnect() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 2, 1, 1_000, "2m");
    // h1's sim, at its first paste, says so and waits for the test to cut the link
    // before it shows the paste: swarm, which presses Enter once the paste shows, cannot
    // have pressed it yet.
    std::fs::write(
        hosts.disk(1, "hook.sh"),
        "[ -e /root/gate ] && exit 0\n: > /root/pasted\nwhile [ ! -e /root/gate ]; do sleep 0.02; done\n",
    )
    .unwrap();
    agents(&hosts, &env, |_| {
        "--think-ms 1000 --on-paste 'sh /root/hook.sh 2>/dev/null'".to_owned()
    });
    let child = run(&env);
    wait_until("the paste on h1", Duration::from_secs(60), || {
        hosts.disk(1, "pasted").exists()
    });
    hosts.act("cut", 1);
    std::fs::write(hosts.disk(1, "gate"), "").unwrap();
    wait_until("h1 lost", Duration::from_secs(60), || {
        host_events(&env, "host-lost", "h1") > 0
    });
    hosts.act("heal", 1);
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 2);
    assert_each_prompt_once(&hosts, 2, 1);
    assert!(records(&env, "lease-expired").is_empty());
    let enters = read_jsonl(&hosts.disk(1, "sim.jsonl"))
        .into_iter()
        .filter(|e| e["event"] == "enter-absorbed")
        .count();
    assert_eq!(enters, 0, "no Enter taken as a newline");
}

#[test]
fn the_coordinator_killed_with_three_hosts_busy_loses_nothing_and_does_nothing_twice() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(3);
    let env = workspace(&hosts, 6, 1, 3_000, "2m");
    let mut child = run(&env);
    wait_until("a task busy on each host", Duration::from_secs(60), || {
        running_on(&env).len() == 3
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let out = ended(&env, run(&env), Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 6);
    assert_each_prompt_once(&hosts, 6, 1);
    assert!(records(&env, "lease-expired").is_empty());
    for (task, assigned) in records(&env, "assigned") {
        assert_eq!(assigned.len(), 1, "{task} assigned once: {assigned:?}");
    }
}

#[test]
fn a_hung_master_fails_calls_in_time_and_the_run_goes_on_elsewhere() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 6, 1, 1_500, "2m");
    let (child, held) = started_on_both(&env);
    assert!(master_up(&hosts, &env, "h1"), "the run's master to h1");
    let done_before = events(&env, "done").len();
    let cut = Instant::now();
    hosts.act("cut", 1);
    // The master's network is silent: swarm's calls time out, and it closes the master
    // rather than queue more calls behind it.
    wait_until("h1's master closed", Duration::from_secs(40), || {
        !master_up(&hosts, &env, "h1")
    });
    let closed = cut.elapsed();
    // A call's timeout is 8 s; the master's own keepalive would end it only after 15 s
    // (ServerAliveInterval 5 × 3).
    assert!(
        closed < Duration::from_secs(14),
        "closed {closed:?} after the cut"
    );
    wait_until("h1 lost", Duration::from_secs(40), || {
        host_events(&env, "host-lost", "h1") > 0
    });
    // Meanwhile h2 goes on: its tasks are checked while h1 is cut.
    wait_until(
        "h2 working on during the cut",
        Duration::from_secs(60),
        || events(&env, "done").len() >= done_before + 2,
    );
    hosts.act("heal", 1);
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 6);
    // Not a server gone, nor a reboot: h1's task went on there, as attempt 1.
    assert!(records(&env, "lease-expired").is_empty());
    let back = events(&env, "host-back");
    assert!(back.iter().all(|r| r["rebooted"] == false), "{back:?}");
    let sentinel = format!("work/wt/{held}.1/notes/{held}.md.done");
    assert!(hosts.disk(1, &sentinel).exists(), "{held} finished on h1");
    eprintln!("h1's master closed {closed:?} after the cut");
}

#[test]
fn a_host_rebooted_between_tasks_gets_new_agents_and_keeps_its_old_folders() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 4, 1, 4_000, "10m");
    let toml = env.read("swarm.toml");
    env.write(
        "swarm.toml",
        &toml
            .replace("name = \"h1\"\n", "name = \"h1\"\ntags = [\"a\"]\n")
            .replace("name = \"h2\"\n", "name = \"h2\"\ntags = [\"b\"]\n"),
    );
    // h2 takes t1, then idles while h1 runs t2 and t3; t4 is h2's again after t3.
    let plan = env
        .read("PLAN.md")
        .replace("{#t1}", "{#t1} {tags=b}")
        .replace("{#t2}", "{#t2} {tags=a}")
        .replace("{#t3}", "{#t3} {tags=a after=t2}")
        .replace("{#t4}", "{#t4} {tags=b after=t3}");
    env.write("PLAN.md", &plan);
    let child = run(&env);
    wait_until("t1 checked on h2", Duration::from_secs(60), || {
        records(&env, "done").contains_key("t1")
    });
    assert!(
        !records(&env, "done").contains_key("t3"),
        "h2 idles while t3 runs"
    );
    hosts.act("kill", 2);
    hosts.act("boot", 2);
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 4);
    let rebooted = events(&env, "host-back")
        .into_iter()
        .any(|r| r["host"] == "h2" && r["rebooted"] == true);
    assert!(rebooted, "the journal says h2 came back restarted");
    assert!(records(&env, "lease-expired").is_empty(), "h2 held no task");
    let t4 = hosts.disk(2, "work/wt/t4.1/notes/t4.md.done");
    assert!(t4.exists(), "t4 ran on the rebooted h2");
    let old = hosts.disk(2, "work/wt/t1.1/notes/t1.md.done");
    assert!(old.exists(), "t1's folder on h2 is kept");
}

#[test]
fn a_fenced_attempt_that_finishes_after_the_current_one_is_stale() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 3, 1, 1_000, "3s");
    // h1's first agent works far longer than the test; t3 is for h1 only, once t1 and
    // t2 are done, so the run lasts until h1 is back.
    let toml = env.read("swarm.toml");
    env.write(
        "swarm.toml",
        &toml.replace("name = \"h1\"\n", "name = \"h1\"\ntags = [\"a\"]\n"),
    );
    let plan = env
        .read("PLAN.md")
        .replace("{#t3}", "{#t3} {tags=a after=t1,t2}");
    env.write("PLAN.md", &plan);
    agents(&hosts, &env, |i| {
        let think = if i == 1 { 600_000 } else { 1_000 };
        format!("--think-ms {think}")
    });
    let (child, fenced) = started_on_both(&env);
    assert_ne!(fenced, "t3");
    // Its next agent, after the heal, is quick.
    std::fs::write(
        hosts.disk(1, "agent.sh"),
        "exec /root/bin/swarm sim-agent --log /root/sim.jsonl --think-ms 500\n",
    )
    .unwrap();
    hosts.act("cut", 1);
    wait_until("attempt 2 done elsewhere", Duration::from_secs(60), || {
        records(&env, "done").contains_key(&fenced)
    });
    assert!(
        hosts
            .disk(2, &format!("work/wt/{fenced}.2/notes/{fenced}.md.done"))
            .exists()
    );
    // Attempt 1 finishes now, late, and is found at the heal.
    let late = hosts.disk(1, &format!("work/wt/{fenced}.1/notes/{fenced}.md.done"));
    std::fs::write(&late, "").unwrap();
    hosts.act("heal", 1);
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 3);
    let stale = records(&env, "stale");
    let of_fenced = stale.get(&fenced).map_or(0, Vec::len);
    assert_eq!(
        of_fenced, 1,
        "attempt 1's sentinel journaled stale: {stale:?}"
    );
    assert_eq!(stale[&fenced][0]["attempt"], 1);
    assert_eq!(records(&env, "lease-expired")[&fenced].len(), 1);
}

#[test]
fn a_quick_cut_and_heal_leaves_one_control_client_on_the_host() {
    if !enabled() {
        return;
    }
    let hosts = FakeHosts::up(2);
    let env = workspace(&hosts, 2, 1, 6_000, "60s");
    // h1's task outlasts the cut and the heal, so that the run sees h1 back.
    agents(&hosts, &env, |i| {
        let think = if i == 1 { 30_000 } else { 1_000 };
        format!("--think-ms {think}")
    });
    let (child, _) = started_on_both(&env);
    assert_eq!(control_clients(&hosts, &env, 1), 1, "one client before");
    hosts.act("cut", 1);
    // swarm gives up the connection and makes a new one at the heal, while h1's sshd may
    // still hold the old one.
    wait_until("h1 lost", Duration::from_secs(60), || {
        host_events(&env, "host-lost", "h1") > 0
    });
    hosts.act("heal", 1);
    wait_until("h1 back", Duration::from_secs(60), || {
        host_events(&env, "host-back", "h1") > 0
    });
    // swarm detaches the stale client as it comes back, but the client's own process on
    // the host ends a moment later. The deadline is well inside the 15 s after which the
    // host's sshd would drop the dead connection itself (ClientAliveInterval 5 × 3), so
    // only swarm's detaching can pass it.
    wait_until(
        "one control client on h1 once it is back",
        Duration::from_secs(3),
        || control_clients(&hosts, &env, 1) == 1,
    );
    let out = ended(&env, child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_done_once(&env, 2);
    assert!(records(&env, "lease-expired").is_empty());
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for r in events(&env, "host-lost") {
        *by.entry(r["host"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    assert_eq!(by.get("h2"), None, "h2 was never lost");
}
