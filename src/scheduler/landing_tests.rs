//! The scheduler in an isolated run: a task is done once its work has landed, its worker
//! goes on at once, and what fails to land comes back as a new attempt.

use super::graph_tests::{boot, delivers, id, pane, status, task};
use super::*;

fn isolated(plan: &[PlanTask], workers: usize, limits: Limits) -> State {
    let mut state = State::new(plan, workers, limits);
    state.set_lands(true);
    state
}

/// Task `name`'s agent finished: the actions that follow its sentinel.
fn sentinel(state: &mut State, name: &str) -> Vec<Action> {
    let worker = state.holder(&id(name)).expect("running");
    let pane = state.workers()[worker].pane().cloned().unwrap();
    state.handle(Event::Delivered {
        worker,
        pane,
        task: id(name),
    });
    state.handle(Event::Sentinel { task: id(name) })
}

fn checks(actions: &[Action]) -> Vec<(WorkerId, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Check { worker, task, .. } => Some((*worker, task.0.clone())),
            _ => None,
        })
        .collect()
}

fn lands(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Land { task, .. } => Some(task.0.clone()),
            _ => None,
        })
        .collect()
}

fn checked_off(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::CheckOff { .. }))
}

#[test]
fn a_task_is_done_only_once_its_work_has_landed() {
    let mut state = isolated(&[task("a", &[], &[])], 1, Limits::default());
    assert_eq!(boot(&mut state), ["a"]);
    let actions = sentinel(&mut state, "a");
    assert_eq!(checks(&actions), [(0, "a".to_string())]);
    assert!(!checked_off(&actions), "not before it lands");
    assert_eq!(status(&state, "a"), TaskStatus::Landing);
    assert!(!state.is_finished());

    let actions = state.handle(Event::Checked {
        worker: 0,
        task: id("a"),
        outcome: Checked::ToLand,
    });
    assert_eq!(lands(&actions), ["a"]);
    let actions = state.handle(Event::Landed {
        task: id("a"),
        commit: Some("c0ffee".into()),
    });
    assert!(checked_off(&actions));
    assert!(actions.contains(&Action::Journal(Record::Landed {
        task: id("a"),
        commit: Some("c0ffee".into()),
    })));
    assert_eq!(status(&state, "a"), TaskStatus::Done);
    assert!(state.is_finished());
}

#[test]
fn the_worker_takes_no_task_until_its_worktree_is_checked() {
    let plan = [task("a", &[], &[]), task("b", &[], &[])];
    let mut state = isolated(&plan, 1, Limits::default());
    assert_eq!(boot(&mut state), ["a"]);
    sentinel(&mut state, "a");
    // Its agent is ready again, but its worktree still holds a's work.
    let ready = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&ready), Vec::<String>::new());
    let checked = state.handle(Event::Checked {
        worker: 0,
        task: id("a"),
        outcome: Checked::ToLand,
    });
    assert_eq!(delivers(&checked), ["b"], "b goes while a waits to land");
    assert_eq!(status(&state, "a"), TaskStatus::Landing);
}

#[test]
fn a_task_that_failed_to_land_is_a_new_attempt_until_attempts_run_out() {
    let limits = Limits {
        max_attempts: 2,
        ..Limits::default()
    };
    let mut state = isolated(&[task("a", &[], &[])], 1, limits);
    boot(&mut state);
    sentinel(&mut state, "a");
    // Its agent has its fresh context while the work lands.
    state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    state.handle(Event::Checked {
        worker: 0,
        task: id("a"),
        outcome: Checked::ToLand,
    });
    let actions = state.handle(Event::LandFailed {
        task: id("a"),
        reason: "it conflicts with `swarm/main` in `shared.txt`".into(),
    });
    assert!(!checked_off(&actions));
    assert_eq!(status(&state, "a"), TaskStatus::Running, "attempt 2 went out");
    assert_eq!(state.task(&id("a")).unwrap().attempts, 2);

    sentinel(&mut state, "a");
    state.handle(Event::Checked {
        worker: 0,
        task: id("a"),
        outcome: Checked::Failed("verify `make check` failed (exit status: 1)".into()),
    });
    assert!(matches!(status(&state, "a"), TaskStatus::Failed(why) if why.contains("verify")));
}

#[test]
fn a_task_that_changed_nothing_is_done_with_nothing_to_land() {
    let mut state = isolated(&[task("a", &[], &[])], 1, Limits::default());
    boot(&mut state);
    sentinel(&mut state, "a");
    let actions = state.handle(Event::Checked {
        worker: 0,
        task: id("a"),
        outcome: Checked::Nothing,
    });
    assert!(lands(&actions).is_empty());
    assert!(checked_off(&actions));
    assert_eq!(status(&state, "a"), TaskStatus::Done);
}

#[test]
fn a_landing_task_keeps_its_files_and_its_dependents_wait_for_the_landing() {
    let plan = [
        task("a", &[], &["src/login.ts"]),
        task("b", &[], &["src/login.ts"]),
        task("c", &["a"], &[]),
    ];
    let mut state = isolated(&plan, 3, Limits::default());
    assert_eq!(boot(&mut state), ["a"]);
    sentinel(&mut state, "a");
    let actions = state.handle(Event::Checked {
        worker: 0,
        task: id("a"),
        outcome: Checked::ToLand,
    });
    assert_eq!(delivers(&actions), Vec::<String>::new(), "b and c wait on a's landing");
    let actions = state.handle(Event::Landed {
        task: id("a"),
        commit: Some("c0ffee".into()),
    });
    let mut out = delivers(&actions);
    out.sort();
    assert_eq!(out, ["b", "c"]);
}

#[test]
fn a_run_after_a_crash_checks_again_what_was_landing() {
    let plan = [task("a", &[], &[]), task("b", &[], &[])];
    let mut replay = Replay::default();
    replay.apply(Record::Assigned {
        task: id("a"),
        worker: 1,
        pane: pane(1),
        attempt: 1,
    });
    replay.apply(Record::Landing {
        task: id("a"),
        worker: 1,
        attempt: 1,
    });
    let mut state = isolated(&plan, 2, Limits::default());
    state.restore(&replay);
    assert_eq!(status(&state, "a"), TaskStatus::Landing);
    let actions = state.start();
    assert_eq!(checks(&actions), [(1, "a".to_string())]);
    // Only b needs an agent.
    let spawns = actions
        .iter()
        .filter(|a| matches!(a, Action::Spawn { .. }))
        .count();
    assert_eq!(spawns, 1);
}
