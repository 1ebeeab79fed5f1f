//! Routing tests: pools of workers per profile, tasks that ask for one, and rate limits
//! that hold one pool and not the others.

use super::*;

fn id(s: &str) -> TaskId {
    TaskId(s.to_string())
}

fn pane(n: usize) -> PaneId {
    PaneId(format!("%{n}"))
}

/// Tasks by name; `name@profile` asks for a profile.
fn plan(names: &[&str]) -> Vec<PlanTask> {
    names
        .iter()
        .map(|name| {
            let (name, agent) = match name.split_once('@') {
                Some((name, agent)) => (name, Some(agent.to_string())),
                None => (*name, None),
            };
            PlanTask {
                id: id(name),
                agent,
                ..PlanTask::default()
            }
        })
        .collect()
}

/// `claude` workers (the default pool) first, then `codex` ones.
fn pools(claude: usize, codex: usize) -> Vec<Pool> {
    vec![
        Pool {
            profile: "claude".into(),
            workers: claude,
        },
        Pool {
            profile: "codex".into(),
            workers: codex,
        },
    ]
}

fn state(claude: usize, codex: usize, tasks: &[&str], limits: Limits) -> State {
    State::with_pools(&plan(tasks), &pools(claude, codex), "claude", limits)
}

/// Spawns and readies every worker the actions ask for; returns what followed.
fn boot(state: &mut State, actions: Vec<Action>) -> Vec<Action> {
    let mut out = Vec::new();
    for action in actions {
        if let Action::Spawn { worker, .. } = action {
            state.handle(Event::Spawned {
                worker,
                pane: pane(worker),
            });
            out.extend(state.handle(Event::Ready {
                worker,
                pane: pane(worker),
            }));
        }
    }
    out
}

fn spawned(actions: &[Action]) -> Vec<WorkerId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Spawn { worker, .. } => Some(*worker),
            _ => None,
        })
        .collect()
}

fn delivers(actions: &[Action]) -> Vec<(WorkerId, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Deliver { worker, task, .. } => Some((*worker, task.0.clone())),
            _ => None,
        })
        .collect()
}

/// Reports the task of worker `w` done and its agent ready again; returns what followed.
fn finish(state: &mut State, w: WorkerId) -> Vec<Action> {
    let task = state.workers()[w].task().cloned().unwrap();
    state.handle(Event::Delivered {
        worker: w,
        pane: pane(w),
        task: task.clone(),
    });
    state.handle(Event::Sentinel { task });
    state.handle(Event::Ready {
        worker: w,
        pane: pane(w),
    })
}

#[test]
fn workers_are_numbered_pool_after_pool_and_know_their_profile() {
    let state = state(2, 1, &["a"], Limits::default());
    let profiles: Vec<&str> = (0..3).map(|w| state.profile(w)).collect();
    assert_eq!(profiles, ["claude", "claude", "codex"]);
    assert_eq!(state.workers()[2].pool(), 1);
}

#[test]
fn each_pool_starts_as_many_agents_as_it_has_tasks() {
    let mut state = state(3, 2, &["a", "b@codex", "c@claude"], Limits::default());
    let start = state.start();
    // Two claude tasks (one by default), one codex task.
    assert_eq!(spawned(&start), [0, 1, 3]);
    assert_eq!(state.workers()[2].state().name(), "retired");
    assert_eq!(state.workers()[4].state().name(), "retired");
}

#[test]
fn routed_tasks_go_only_to_their_pools_workers() {
    let tasks = ["x@codex", "a", "y@codex", "b", "c"];
    let mut state = state(2, 1, &tasks, Limits::default());
    let start = state.start();
    let first = boot(&mut state, start);
    assert_eq!(
        delivers(&first),
        [(0, "a".into()), (1, "b".into()), (2, "x".into())]
    );
    // The codex worker finishes first: the next codex task is its, not `c`.
    assert_eq!(delivers(&finish(&mut state, 2)), [(2, "y".into())]);
    assert_eq!(delivers(&finish(&mut state, 0)), [(0, "c".into())]);
}

#[test]
fn a_routed_task_waits_for_its_pool_while_other_pools_idle() {
    let mut state = state(1, 1, &["x@codex", "y@codex"], Limits::default());
    let start = state.start();
    assert_eq!(spawned(&start), [1], "no claude agent: it has no work");
    let first = boot(&mut state, start);
    assert_eq!(delivers(&first), [(1, "x".into())]);
    assert_eq!(state.task(&id("y")).unwrap().status, TaskStatus::Pending);
    assert_eq!(delivers(&finish(&mut state, 1)), [(1, "y".into())]);
}

#[test]
fn a_plan_edit_routes_new_tasks_and_wakes_only_their_pool() {
    let mut state = state(1, 2, &["a"], Limits::default());
    let start = state.start();
    boot(&mut state, start);
    let woken = state.handle(Event::PlanChanged {
        tasks: plan(&["a", "b@codex"]),
    });
    assert_eq!(spawned(&woken), [1]);
    let ready = boot(&mut state, woken);
    assert_eq!(delivers(&ready), [(1, "b".into())]);
}

#[test]
fn a_rate_limit_holds_its_own_pool_only() {
    let tasks = ["a", "b", "x@codex", "y@codex", "z@codex"];
    let mut state = state(2, 1, &tasks, Limits::default());
    let start = state.start();
    boot(&mut state, start);
    state.handle(Event::Delivered {
        worker: 0,
        pane: pane(0),
        task: id("a"),
    });
    state.handle(Event::RateLimited {
        worker: 0,
        pane: pane(0),
        until: Some("3pm".into()),
        resets_in: Some(Duration::from_secs(600)),
    });
    // The other claude worker comes free and is parked with its pool: same account.
    state.handle(Event::Delivered {
        worker: 1,
        pane: pane(1),
        task: id("b"),
    });
    state.handle(Event::Sentinel { task: id("b") });
    state.handle(Event::Ready {
        worker: 1,
        pane: pane(1),
    });
    assert_eq!(state.workers()[1].state().name(), "rate-limited");
    // Codex runs on another account: it goes on.
    assert_eq!(delivers(&finish(&mut state, 2)), [(2, "y".into())]);
    assert_eq!(delivers(&finish(&mut state, 2)), [(2, "z".into())]);
    assert_eq!(state.workers()[2].state().name(), "delivering");
    // Claude's agent went on by itself: its pool is free again.
    state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(state.workers()[1].state().name(), "idle");
}

#[test]
fn a_pool_whose_agents_keep_failing_fails_its_tasks_and_the_others_go_on() {
    let limits = Limits {
        max_restarts: 0,
        ..Limits::default()
    };
    let mut state = state(1, 1, &["a", "x@codex"], limits);
    let start = state.start();
    boot(&mut state, start);
    let retired = state.handle(Event::NotReady {
        worker: 1,
        pane: pane(1),
        reason: "codex: command not found".into(),
    });
    assert!(matches!(
        &state.task(&id("x")).unwrap().status,
        TaskStatus::Failed(why) if why.starts_with("no workers left for the `codex` profile")
    ));
    assert!(!retired.contains(&Action::Finished));
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Running);
}

#[test]
fn a_task_for_a_profile_without_workers_fails_rather_than_hang() {
    // The edges refuse such a plan; the core must still end the run.
    let mut state = state(1, 0, &["a", "x@gemini"], Limits::default());
    let start = state.start();
    boot(&mut state, start);
    assert!(matches!(
        &state.task(&id("x")).unwrap().status,
        TaskStatus::Failed(why) if why == "no worker of this run runs the `gemini` profile"
    ));
}
