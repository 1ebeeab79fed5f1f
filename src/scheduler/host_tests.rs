//! Lease and fencing tests: a host that goes silent, comes back within its lease or past
//! it, restarts, or finishes a task that was fenced meanwhile.

use super::*;

fn id(s: &str) -> TaskId {
    TaskId(s.to_string())
}

fn pane(n: usize) -> PaneId {
    PaneId(format!("%{n}"))
}

const GRACE: Duration = Duration::from_secs(120);

/// One task, one worker on host `h1` (worker 0) and, with `local`, one on this machine
/// (worker 1) that starts only when there is work for it.
fn remote_state(tasks: &[&str], max_attempts: u32) -> State {
    let plan: Vec<PlanTask> = tasks
        .iter()
        .map(|t| PlanTask {
            id: id(t),
            ..PlanTask::default()
        })
        .collect();
    let limits = Limits {
        max_attempts,
        ..Limits::default()
    };
    let mut state = State::new(&plan, 0, limits);
    state.add_remote_workers("h1", &[], "", 1);
    state.set_lease_grace(GRACE);
    state
}

/// Starts and readies worker `w` on pane `%w`; returns what followed.
fn up(state: &mut State, w: WorkerId) -> Vec<Action> {
    state.handle(Event::Spawned {
        worker: w,
        pane: pane(w),
    });
    state.handle(Event::Ready {
        worker: w,
        pane: pane(w),
    })
}

fn delivered(state: &mut State, w: WorkerId, task: &str) {
    state.handle(Event::Delivered {
        worker: w,
        pane: pane(w),
        task: id(task),
    });
}

fn tick(state: &mut State, secs: u64) -> Vec<Action> {
    state.handle(Event::Tick {
        now: Duration::from_secs(secs),
    })
}

fn checkoffs(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::CheckOff { .. }))
        .count()
}

fn journaled(actions: &[Action], pred: impl Fn(&Record) -> bool) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Journal(r) if pred(r)))
}

fn deliver_of(actions: &[Action]) -> Option<(WorkerId, u32)> {
    actions.iter().find_map(|a| match a {
        Action::Deliver {
            worker, attempt, ..
        } => Some((*worker, *attempt)),
        _ => None,
    })
}

#[test]
fn a_host_back_within_its_lease_keeps_its_task_and_its_completion_counts() {
    let mut state = remote_state(&["a"], 3);
    state.start();
    assert_eq!(deliver_of(&up(&mut state, 0)), Some((0, 1)));
    delivered(&mut state, 0, "a");

    let lost = state.handle(Event::HostLost { host: "h1".into() });
    assert!(journaled(&lost, |r| matches!(r, Record::HostLost { .. })));
    assert_eq!(state.workers()[0].state().name(), "host-lost");
    // What the screen said before the link went is not news; nor is a tick in the grace.
    state.handle(Event::NotReady {
        worker: 0,
        pane: pane(0),
        reason: "unreadable".into(),
    });
    let ticked = tick(&mut state, 100);
    assert!(!journaled(&ticked, |r| matches!(
        r,
        Record::LeaseExpired { .. }
    )));
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Running);

    let back = state.handle(Event::HostBack {
        host: "h1".into(),
        rebooted: false,
    });
    assert!(
        back.iter()
            .any(|a| matches!(a, Action::Monitor { worker: 0, .. })),
        "{back:?}"
    );
    assert!(!back.iter().any(|a| matches!(a, Action::Kill { .. })));
    let done = state.handle(Event::AttemptDone {
        task: id("a"),
        attempt: 1,
    });
    assert_eq!(checkoffs(&done), 1);
    assert!(state.is_finished());
}

#[test]
fn past_its_lease_a_task_goes_elsewhere_uncharged_and_the_fenced_attempt_never_counts() {
    let mut state = remote_state(&["a"], 1);
    let local = state.add_remote_workers("h2", &[], "", 1)[0];
    state.start();
    up(&mut state, 0);
    delivered(&mut state, 0, "a");
    state.handle(Event::HostLost { host: "h1".into() });

    // The grace runs out: the task is fenced and goes to h2 as attempt 2, though one
    // attempt is all it may use: the first was its host's failure, not its own.
    let expired = tick(&mut state, 121);
    assert!(journaled(&expired, |r| matches!(
        r,
        Record::LeaseExpired { attempt: 1, .. }
    )));
    let mut after = expired;
    after.extend(up(&mut state, local));
    assert_eq!(deliver_of(&after), Some((local, 2)), "{after:?}");
    delivered(&mut state, local, "a");

    // Attempt 1 finishes on h1 after all, while attempt 2 still works: stale.
    let stale = state.handle(Event::AttemptDone {
        task: id("a"),
        attempt: 1,
    });
    assert!(journaled(&stale, |r| matches!(
        r,
        Record::Stale { attempt: 1, .. }
    )));
    assert_eq!(checkoffs(&stale), 0);
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Running);

    // h1 comes back: its pane (attempt 1's) is killed and a new agent starts there.
    let back = state.handle(Event::HostBack {
        host: "h1".into(),
        rebooted: false,
    });
    assert!(
        back.iter()
            .any(|a| matches!(a, Action::Kill { pane: p } if *p == pane(0)))
    );
    assert!(
        back.iter()
            .any(|a| matches!(a, Action::Spawn { worker: 0, .. }))
    );

    let done = state.handle(Event::AttemptDone {
        task: id("a"),
        attempt: 2,
    });
    assert_eq!(checkoffs(&done), 1);
    assert!(state.is_finished());
}

#[test]
fn a_fenced_attempt_finishing_after_the_current_one_is_stale_and_checks_nothing() {
    let mut state = remote_state(&["a"], 3);
    let other = state.add_remote_workers("h2", &[], "", 1)[0];
    state.start();
    up(&mut state, 0);
    delivered(&mut state, 0, "a");
    state.handle(Event::HostLost { host: "h1".into() });
    tick(&mut state, 130);
    up(&mut state, other);
    delivered(&mut state, other, "a");
    let done = state.handle(Event::AttemptDone {
        task: id("a"),
        attempt: 2,
    });
    assert_eq!(checkoffs(&done), 1);

    let late = state.handle(Event::AttemptDone {
        task: id("a"),
        attempt: 1,
    });
    assert_eq!(checkoffs(&late), 0);
    assert!(journaled(&late, |r| matches!(
        r,
        Record::Stale { attempt: 1, .. }
    )));
    // The current attempt's sentinel seen again (a rescan) is neither stale nor news.
    let again = state.handle(Event::AttemptDone {
        task: id("a"),
        attempt: 2,
    });
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn a_rebooted_host_loses_its_agents_and_their_tasks_go_back_at_once() {
    let mut state = remote_state(&["a"], 1);
    state.start();
    up(&mut state, 0);
    delivered(&mut state, 0, "a");
    // It restarted faster than the link noticed: no HostLost came first.
    let back = state.handle(Event::HostBack {
        host: "h1".into(),
        rebooted: true,
    });
    assert!(journaled(&back, |r| matches!(
        r,
        Record::LeaseExpired { attempt: 1, .. }
    )));
    assert!(
        back.iter()
            .any(|a| matches!(a, Action::Spawn { worker: 0, .. }))
    );
    // Not counted against the worker either.
    assert_eq!(state.workers()[0].restarts(), 0);
    // The new agent gets the task again, as attempt 2, though one attempt is its limit.
    assert_eq!(deliver_of(&up(&mut state, 0)), Some((0, 2)));
}

#[test]
fn a_delivery_that_cannot_reach_its_host_keeps_the_task_leased() {
    let mut state = remote_state(&["a"], 3);
    state.start();
    up(&mut state, 0);
    let failed = state.handle(Event::DeliveryFailed {
        worker: 0,
        pane: pane(0),
        task: id("a"),
        failure: DeliveryFailure::Unreachable("ssh exited 255".into()),
    });
    assert!(journaled(&failed, |r| matches!(r, Record::HostLost { .. })));
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Running);
    assert_eq!(state.task(&id("a")).unwrap().attempts, 1);
    // Back in time: the same prompt goes to the same pane again, as the same attempt;
    // the delivery finds out whether the first one went in.
    let back = state.handle(Event::HostBack {
        host: "h1".into(),
        rebooted: false,
    });
    assert_eq!(deliver_of(&back), Some((0, 1)), "{back:?}");
    let sent_again = back
        .iter()
        .any(|a| matches!(a, Action::Deliver { again: true, .. }));
    assert!(sent_again, "marked as sent again: {back:?}");
    delivered(&mut state, 0, "a");
    assert_eq!(state.workers()[0].state().name(), "busy");
    // Only once: a later loss and return of the host does not send it a third time.
    state.handle(Event::HostLost { host: "h1".into() });
    let again = state.handle(Event::HostBack {
        host: "h1".into(),
        rebooted: false,
    });
    assert_eq!(deliver_of(&again), None, "{again:?}");
}

#[test]
fn a_task_timeout_does_not_run_while_the_host_is_silent() {
    let mut state = remote_state(&["a"], 3);
    state.limits.task_timeout = Some(Duration::from_secs(60));
    state.start();
    up(&mut state, 0);
    delivered(&mut state, 0, "a");
    state.handle(Event::HostLost { host: "h1".into() });
    let ticked = tick(&mut state, 90);
    assert!(!ticked.iter().any(|a| matches!(a, Action::Interrupt { .. })));
}

#[test]
fn replay_carries_the_fenced_attempts_so_they_stay_uncharged() {
    let mut replay = Replay::default();
    for record in [
        Record::Assigned {
            task: id("a"),
            worker: 0,
            pane: pane(0),
            attempt: 1,
        },
        Record::HostLost { host: "h1".into() },
        Record::LeaseExpired {
            task: id("a"),
            attempt: 1,
        },
        Record::Requeued {
            task: id("a"),
            reason: "its host h1 could not be reached for 120s".into(),
        },
    ] {
        replay.apply(record);
    }
    let mut state = remote_state(&["a"], 1);
    state.restore(&replay);
    state.start();
    // Attempt 2 goes out though one attempt is the limit: the first was forgiven.
    assert_eq!(deliver_of(&up(&mut state, 0)), Some((0, 2)));
    // And compaction keeps that.
    let compacted = replay.compacted(std::path::Path::new("PLAN.md"));
    let mut again = Replay::default();
    for record in compacted {
        again.apply(record);
    }
    assert_eq!(again.tasks[&id("a")].forgiven, 1);
}

#[test]
fn a_tagged_task_goes_only_to_a_host_with_its_tags_and_others_go_anywhere() {
    let plan = vec![
        PlanTask {
            id: id("train"),
            tags: vec!["gpu".into()],
            ..PlanTask::default()
        },
        PlanTask {
            id: id("docs"),
            ..PlanTask::default()
        },
    ];
    // Worker 0 here, worker 1 on a gpu host; the untagged task comes second in the plan.
    let mut state = State::new(&plan, 1, Limits::default());
    state.add_remote_workers("gpu1", &["gpu".into()], "", 1);
    state.start();
    let here = up(&mut state, 0);
    // The first task in plan order is not this machine's to take: the next one is.
    assert_eq!(deliver_of(&here), Some((0, 1)));
    assert_eq!(state.holder(&id("docs")), Some(0));
    up(&mut state, 1);
    assert_eq!(state.holder(&id("train")), Some(1));
}
