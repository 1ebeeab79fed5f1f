//! `swarm mcp` driven from the MCP SDK's own client, as an orchestrating agent drives it:
//! the real binary as a child process, simulated agents on a private tmux server; and the
//! `.mcp.json` that `swarm init --llm-orchestrator` writes for Claude Code.

use crate::common::{
    TestEnv, assert_only_checkboxes_flipped, expected_prompts, finish, received_prompts,
    sentinel_writes, sim_config, sim_run, stderr, swarm_bin, worker_names,
};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

type Client = RunningService<RoleClient, ()>;

/// How long the whole plan may take under a loaded machine.
const PLAN_DONE: Duration = Duration::from_secs(120);

/// `swarm mcp` in the test's workspace, as the client's child process.
async fn connect(env: &TestEnv) -> Client {
    connect_to(env, &[]).await
}

/// `swarm mcp ARGS`, as `connect`.
async fn connect_to(env: &TestEnv, args: &[&str]) -> Client {
    let mut cmd = env.swarm();
    cmd.arg("mcp").args(args);
    let transport = TokioChildProcess::new(tokio::process::Command::from(cmd)).unwrap();
    ().serve(transport).await.expect("the MCP handshake")
}

/// Calls tool `name` and returns its result, success or tool error.
async fn call(client: &Client, name: &'static str, args: Value) -> CallToolResult {
    let args = args.as_object().expect("arguments are an object").clone();
    client
        .call_tool(CallToolRequestParams::new(name).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("calling {name}: {e}"))
}

/// The JSON a tool returned; panics with its message if it failed.
async fn ok(client: &Client, name: &'static str, args: Value) -> Value {
    let result = call(client, name, args.clone()).await;
    assert_ne!(
        result.is_error,
        Some(true),
        "{name} {args}: {}",
        text(&result)
    );
    result.structured_content.expect("a structured result")
}

/// The message of a tool error; panics if the tool succeeded.
async fn refused(client: &Client, name: &'static str, args: Value) -> String {
    let result = call(client, name, args.clone()).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{name} {args}: {}",
        text(&result)
    );
    text(&result)
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_agent_works_a_four_task_plan_through_the_mcp_tools_each_task_arriving_once() {
    let env = TestEnv::new();
    sim_config(&env, "--think-ms 300");
    env.write(
        "PLAN.md",
        "# Plan\n\n\
         - [ ] Write docs/a.md about the parser {out=docs/a.md}\n\
         - [ ] Review the lexer {#review}\n\
         - [ ] Summarise the review {#summary after=review}\n",
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (before, sent) = runtime.block_on(async {
        let client = connect(&env).await;
        let tools: BTreeSet<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        let want = [
            "capture", "logs", "plan", "send", "show", "spawn", "status", "wait", "workers",
        ];
        assert_eq!(tools, want.into_iter().map(String::from).collect());

        // The fourth task comes from the agent, at the end of the plan.
        let added = ok(
            &client,
            "plan",
            json!({"action": "add", "text": "Write the changelog"}),
        )
        .await;
        assert_eq!(added["added"], "write-the-changelog");
        let before = env.read("PLAN.md");
        assert!(before.ends_with("- [ ] Write the changelog\n"), "{before}");

        let workers = ok(&client, "spawn", json!({"count": 2})).await;
        assert_eq!(worker_names(&workers), ["w0", "w1"]);
        let message = refused(&client, "send", json!({"worker": "w7", "text": "Task: hi"})).await;
        assert!(
            message.contains("there is no worker w7") && message.contains("hint:"),
            "{message}"
        );

        // The orchestrator's loop: a ready task to each idle worker, wait for sentinels in
        // bounded steps, check the finished ones off.
        let deadline = Instant::now() + PLAN_DONE;
        // (task, worker, sentinel)
        let mut in_flight: Vec<(String, String, String)> = Vec::new();
        let mut sent_prompts = BTreeMap::new();
        loop {
            assert!(
                Instant::now() < deadline,
                "the plan was not done in {PLAN_DONE:?}"
            );
            let plan = ok(&client, "plan", json!({})).await;
            if plan["open"] == 0 {
                break;
            }
            let idle = ok(&client, "workers", json!({"idle": true})).await;
            let mut idle: Vec<String> = worker_names(&idle)
                .into_iter()
                .filter(|w| in_flight.iter().all(|(_, busy, _)| busy != w))
                .collect();
            let ready: Vec<Value> = plan["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| {
                    t["done"] == false
                        && t.get("waits_for").is_none()
                        && in_flight.iter().all(|(id, _, _)| t["id"] != id.as_str())
                })
                .cloned()
                .collect();
            for task in ready {
                let Some(worker) = idle.pop() else { break };
                let delivered = ok(
                    &client,
                    "send",
                    json!({"worker": worker, "text": task["prompt"]}),
                )
                .await;
                assert_eq!(delivered["worker"], worker.as_str());
                let id = task["id"].as_str().unwrap().to_string();
                assert!(
                    sent_prompts
                        .insert(id, task["prompt"].as_str().unwrap().to_string())
                        .is_none()
                );
                in_flight.push((
                    task["id"].as_str().unwrap().into(),
                    worker,
                    task["sentinel"].as_str().unwrap().into(),
                ));
            }
            if in_flight.is_empty() {
                // Every worker is still ending its last turn.
                ok(
                    &client,
                    "wait",
                    json!({"idle": [], "any": true, "timeout_secs": 10}),
                )
                .await;
                continue;
            }
            let sentinels: Vec<&str> = in_flight.iter().map(|(_, _, s)| s.as_str()).collect();
            let waited = ok(
                &client,
                "wait",
                json!({"done": sentinels, "any": true, "timeout_secs": 10}),
            )
            .await;
            for done in strings(&waited["met"]) {
                let at = in_flight.iter().position(|(_, _, s)| *s == done).unwrap();
                let (id, _, _) = in_flight.remove(at);
                let checked = ok(&client, "plan", json!({"action": "check", "task": id})).await;
                assert_eq!(checked["outcome"], "checked");
            }
        }

        // A wait is bounded, whatever it asks for, and says when its time ran out.
        let waited = ok(
            &client,
            "wait",
            json!({"done": ["docs/a.md.done"], "timeout_secs": 3600}),
        )
        .await;
        assert_eq!(
            (waited["timeout_secs"].clone(), waited["timed_out"].clone()),
            (json!(60), json!(false))
        );
        let waited = ok(
            &client,
            "wait",
            json!({"done": ["never.done"], "timeout_secs": 1}),
        )
        .await;
        assert_eq!(waited["timed_out"], true);
        assert_eq!(strings(&waited["missing"]), ["never.done"]);
        let message = refused(&client, "wait", json!({})).await;
        assert!(message.contains("either `done`"), "{message}");

        let shown = ok(&client, "show", json!({"task": "summary"})).await;
        assert_eq!(
            (shown["done"].clone(), shown["sentinel_exists"].clone()),
            (json!(true), json!(true))
        );
        let message = refused(&client, "show", json!({"task": "nope"})).await;
        assert!(message.contains("PLAN.md"), "{message}");
        let message = refused(&client, "logs", json!({"task": "review"})).await;
        assert!(message.contains("has no transcript yet"), "{message}");
        let status = ok(&client, "status", json!({})).await;
        assert_eq!(status["running"], true);
        let screen = ok(&client, "capture", json!({"worker": "w0"})).await;
        assert!(!screen["screen"].as_str().unwrap().trim().is_empty());
        client.cancel().await.unwrap();
        (before, sent_prompts)
    });

    assert_only_checkboxes_flipped(&before, &env.read("PLAN.md"));
    let writes = sentinel_writes(&env);
    assert_eq!(writes.len(), 4, "{writes:?}");
    assert!(writes.values().all(|&n| n == 1), "{writes:?}");
    // Each task arrived once, as `plan` gave its prompt: swarm's own rendering, the
    // tasks it comes after included.
    let mut got = received_prompts(&env);
    got.sort();
    let mut want: Vec<String> = sent.values().cloned().collect();
    want.sort();
    assert_eq!(got, want);
    for (id, plain) in expected_prompts(&before) {
        if id != "summary" {
            assert_eq!(sent[&id], plain, "{id}");
        }
    }
    assert!(sent["summary"].contains("comes after these, which are done:\n- Review the lexer"));
}

#[test]
fn status_show_and_logs_follow_a_swarm_run_and_plan_add_gives_it_more_work() {
    let env = TestEnv::new();
    env.write(
        "PLAN.md",
        "- [ ] First {#first}\n- [ ] Second {#second}\n- [ ] Third {#third}\n",
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let child = runtime.block_on(async {
        let client = connect_to(&env, &["--socket", &env.socket]).await;
        let child = sim_run(&env, 2, "--think-ms 500", &[]);
        let deadline = Instant::now() + PLAN_DONE;
        loop {
            let status = ok(&client, "status", json!({})).await;
            if status["state"]["counts"]["running"].as_u64() > Some(0) {
                break;
            }
            assert!(Instant::now() < deadline, "no task started: {status}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The run's workers are its own: the primitives refuse to add to them.
        let message = refused(&client, "spawn", json!({})).await;
        assert!(message.contains("its workers are its own"), "{message}");
        // A fourth task, added while the run goes on, is taken up by it.
        let added = ok(
            &client,
            "plan",
            json!({"action": "add", "text": "Fourth {#fourth}"}),
        )
        .await;
        assert_eq!(added["added"], "fourth");
        let sentinels = [
            ".swarm/done/first.done",
            ".swarm/done/second.done",
            ".swarm/done/third.done",
            ".swarm/done/fourth.done",
        ];
        loop {
            let waited = ok(
                &client,
                "wait",
                json!({"done": sentinels, "timeout_secs": 5}),
            )
            .await;
            if waited["timed_out"] == false {
                break;
            }
            assert!(Instant::now() < deadline, "not done: {waited}");
        }
        for id in ["first", "second", "third", "fourth"] {
            let shown = ok(&client, "show", json!({"task": id})).await;
            assert_eq!(shown["sentinel_exists"], true, "{shown}");
            assert_eq!(shown["attempts"], 1, "{shown}");
            let transcripts = shown["transcripts"].as_array().unwrap();
            assert_eq!(transcripts.len(), 1, "{shown}");
            let log = ok(&client, "logs", json!({"task": id})).await;
            assert_eq!(log["path"], transcripts[0]["path"]);
            assert!(
                log["text"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("task:    {id}")),
                "{log}"
            );
        }
        client.cancel().await.unwrap();
        child
    });
    let out = finish(child, PLAN_DONE, "swarm run");
    assert!(out.status.success(), "{}", stderr(&out));
    let writes = sentinel_writes(&env);
    assert_eq!(writes.len(), 4, "{writes:?}");
    assert!(writes.values().all(|&n| n == 1), "{writes:?}");
    assert!(
        !env.read("PLAN.md").contains("[ ]"),
        "every task checked off"
    );
}

#[test]
fn init_llm_orchestrator_merges_swarms_server_into_mcp_json() {
    let env = TestEnv::new();
    env.write(
        ".mcp.json",
        "{\"mcpServers\": {\"github\": {\"command\": \"gh-mcp\"}}",
    );
    let out = env
        .swarm()
        .args(["init", "--llm-orchestrator"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(".mcp.json:1:"), "{}", stderr(&out));
    assert!(!env.path("ORCHESTRATOR.md").exists(), "nothing was written");
    assert!(!env.path("PLAN.md").exists(), "nothing was written");

    env.write(
        ".mcp.json",
        "{\"mcpServers\": {\"github\": {\"command\": \"gh-mcp\"}}}",
    );
    let out = env
        .swarm()
        .args(["init", "--llm-orchestrator"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let config: Value = serde_json::from_str(&env.read(".mcp.json")).unwrap();
    let exe = std::fs::canonicalize(swarm_bin()).unwrap();
    assert_eq!(
        config,
        json!({"mcpServers": {
            "github": {"command": "gh-mcp"},
            "swarm": {"command": exe, "args": ["mcp"]}
        }})
    );
    assert!(env.read("ORCHESTRATOR.md").contains("MCP"));
}
