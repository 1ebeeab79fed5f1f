//! The scheduler's dependency and write-scope decisions: what waits, what is blocked,
//! what never runs at once.

use super::*;

pub(super) fn id(s: &str) -> TaskId {
    TaskId(s.to_string())
}

pub(super) fn pane(n: usize) -> PaneId {
    PaneId(format!("%{n}"))
}

/// A task `name` that waits for `after` and may change `files`.
pub(super) fn task(name: &str, after: &[&str], files: &[&str]) -> PlanTask {
    PlanTask {
        id: id(name),
        checked: false,
        after: after.iter().map(|a| id(a)).collect(),
        scope: Scope::of(
            &files.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            ScopeDefault::None,
        ),
        agent: None,
        tags: Vec::new(),
    }
}

/// Spawns and readies every worker the state asked for; the tasks handed out.
pub(super) fn boot(state: &mut State) -> Vec<String> {
    let mut out = Vec::new();
    for action in state.start() {
        if let Action::Spawn { worker, .. } = action {
            state.handle(Event::Spawned {
                worker,
                pane: pane(worker),
            });
            out.extend(delivers(&state.handle(Event::Ready {
                worker,
                pane: pane(worker),
            })));
        }
    }
    out
}

pub(super) fn delivers(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Deliver { task, .. } => Some(task.0.clone()),
            _ => None,
        })
        .collect()
}

/// Task `name`'s sentinel came, and its worker is ready again: what goes out next.
pub(super) fn finish(state: &mut State, name: &str) -> Vec<String> {
    let worker = state.holder(&id(name)).expect("running");
    let pane = state.workers()[worker].pane().cloned().unwrap();
    state.handle(Event::Delivered {
        worker,
        pane: pane.clone(),
        task: id(name),
    });
    let mut out = delivers(&state.handle(Event::Sentinel { task: id(name) }));
    out.extend(delivers(&state.handle(Event::Ready { worker, pane })));
    out
}

pub(super) fn status(state: &State, name: &str) -> TaskStatus {
    state.task(&id(name)).unwrap().status.clone()
}

#[test]
fn a_task_waits_until_its_dependencies_are_done() {
    let plan = [
        task("collect", &[], &[]),
        task("draft", &["collect", "check"], &[]),
        task("check", &[], &[]),
    ];
    let mut state = State::new(&plan, 3, Limits::default());
    assert_eq!(boot(&mut state), ["collect", "check"]);
    assert_eq!(
        state.waiting(&id("draft")),
        Some(Waiting::Tasks {
            tasks: vec![id("collect"), id("check")]
        })
    );
    assert_eq!(finish(&mut state, "collect"), Vec::<String>::new());
    assert_eq!(finish(&mut state, "check"), ["draft"]);
}

#[test]
fn a_checked_dependency_counts_as_done() {
    let mut plan = [task("a", &[], &[]), task("b", &["a"], &[])];
    plan[0].checked = true;
    let mut state = State::new(&plan, 1, Limits::default());
    assert_eq!(boot(&mut state), ["b"]);
}

#[test]
fn a_failed_dependency_blocks_its_dependents_until_a_retry() {
    let limits = Limits {
        max_attempts: 1,
        ..Limits::default()
    };
    let plan = [
        task("a", &[], &[]),
        task("b", &["a"], &[]),
        task("c", &["b"], &[]),
    ];
    let mut state = State::new(&plan, 1, limits);
    assert_eq!(boot(&mut state), ["a"]);
    state.handle(Event::Delivered {
        worker: 0,
        pane: pane(0),
        task: id("a"),
    });
    state.handle(Event::PaneDead {
        pane: pane(0),
        status: Some(1),
        signal: None,
    });
    assert!(matches!(status(&state, "a"), TaskStatus::Failed(_)));
    assert_eq!(
        status(&state, "b"),
        TaskStatus::Blocked("`a` failed".into())
    );
    assert_eq!(
        status(&state, "c"),
        TaskStatus::Blocked("`b` is blocked".into())
    );
    assert!(
        state.is_finished(),
        "blocked tasks do not keep the run open"
    );
    assert_eq!(state.tally().blocked, 2);

    state.handle(Event::Command(Command::Retry { task: id("a") }));
    assert_eq!(status(&state, "b"), TaskStatus::Pending);
    assert_eq!(status(&state, "c"), TaskStatus::Pending);
    // The worker's new agent takes the retried task, and the rest follow.
    state.handle(Event::Spawned {
        worker: 0,
        pane: pane(9),
    });
    let out = delivers(&state.handle(Event::Ready {
        worker: 0,
        pane: pane(9),
    }));
    assert_eq!(out, ["a"]);
    assert_eq!(finish(&mut state, "a"), ["b"]);
}

#[test]
fn after_added_mid_run_holds_back_an_undispatched_task() {
    let plan = [
        task("a", &[], &[]),
        task("b", &[], &[]),
        task("c", &[], &[]),
    ];
    let mut state = State::new(&plan, 1, Limits::default());
    assert_eq!(boot(&mut state), ["a"]);
    // A person adds `{after=c}` to b while a runs.
    let edited = [
        task("a", &[], &[]),
        task("b", &["c"], &[]),
        task("c", &[], &[]),
    ];
    state.handle(Event::PlanChanged {
        tasks: edited.to_vec(),
    });
    assert_eq!(finish(&mut state, "a"), ["c"]);
    assert_eq!(finish(&mut state, "c"), ["b"]);
}

#[test]
fn overlapping_scopes_never_run_at_once() {
    let plan = [
        task("login", &[], &["src/login.ts", "src/session/**"]),
        task("logout", &[], &["src/logout.ts", "src/session/**"]),
        task("docs", &[], &["docs/**"]),
        task("free", &[], &[]),
    ];
    let mut state = State::new(&plan, 3, Limits::default());
    assert_eq!(boot(&mut state), ["login", "docs", "free"]);
    assert_eq!(
        state.waiting(&id("logout")),
        Some(Waiting::Scope {
            holder: id("login")
        })
    );
    assert_eq!(finish(&mut state, "docs"), Vec::<String>::new());
    assert_eq!(finish(&mut state, "login"), ["logout"]);
}

#[test]
fn scope_everything_runs_scoped_tasks_one_at_a_time() {
    let all = |name: &str| PlanTask {
        scope: Scope::of(&[], ScopeDefault::Everything),
        ..task(name, &[], &[])
    };
    let plan = [all("a"), all("b"), task("c", &[], &["x"])];
    let mut state = State::new(&plan, 3, Limits::default());
    assert_eq!(boot(&mut state), ["a"]);
    assert_eq!(finish(&mut state, "a"), ["b"]);
    assert_eq!(finish(&mut state, "b"), ["c"]);
}

#[test]
fn a_blocked_task_checked_by_hand_is_done_and_releases_its_dependents() {
    let limits = Limits {
        max_attempts: 1,
        ..Limits::default()
    };
    let plan = [
        task("a", &[], &[]),
        task("b", &["a"], &[]),
        task("c", &["b"], &[]),
    ];
    let mut state = State::new(&plan, 1, limits);
    boot(&mut state);
    state.handle(Event::Command(Command::Skip { task: id("a") }));
    assert_eq!(
        status(&state, "b"),
        TaskStatus::Blocked("`a` was skipped".into())
    );
    let mut edited = plan.to_vec();
    edited[1].checked = true;
    state.handle(Event::PlanChanged { tasks: edited });
    assert_eq!(status(&state, "b"), TaskStatus::Done);
    assert_ne!(
        status(&state, "c"),
        TaskStatus::Blocked("`b` is blocked".into())
    );
}

/// Regression (found by the proptest): a retried task whose own dependency is still
/// failed went back to pending, where nothing would ever take it.
#[test]
fn a_retried_task_whose_dependency_failed_is_blocked() {
    let plan = [task("a", &[], &[]), task("b", &["a"], &[])];
    let mut state = State::new(&plan, 1, Limits::default());
    state.handle(Event::Command(Command::Skip { task: id("b") }));
    state.handle(Event::Command(Command::Skip { task: id("a") }));
    state.handle(Event::Command(Command::Retry { task: id("b") }));
    assert_eq!(
        status(&state, "b"),
        TaskStatus::Blocked("`a` was skipped".into())
    );
    state.handle(Event::Command(Command::Retry { task: id("a") }));
    assert_eq!(status(&state, "b"), TaskStatus::Pending);
}
