//! The scheduler's unit tests: decisions, regressions, and a proptest over random runs.

use super::*;
use proptest::prelude::*;

fn id(s: &str) -> TaskId {
    TaskId(s.to_string())
}

fn pane(n: usize) -> PaneId {
    PaneId(format!("%{n}"))
}

fn plan(ids: &[&str]) -> Vec<PlanTask> {
    ids.iter()
        .map(|s| PlanTask {
            id: id(s),
            checked: false,
            ..PlanTask::default()
        })
        .collect()
}

/// Spawns and readies every worker the state asked for, returning the later actions.
fn boot(state: &mut State) -> Vec<Action> {
    let mut out = Vec::new();
    for action in state.start() {
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

/// Reports worker `w`'s prompt delivered, so that its attempt counts if its agent dies.
fn delivered(state: &mut State, w: WorkerId) -> Vec<Action> {
    let worker = &state.workers()[w];
    let event = Event::Delivered {
        worker: w,
        pane: worker.pane().cloned().unwrap(),
        task: worker.task().cloned().unwrap(),
    };
    state.handle(event)
}

/// The actions that change the world, without bookkeeping (journal, labels).
fn effects(actions: Vec<Action>) -> Vec<Action> {
    actions
        .into_iter()
        .filter(|a| !matches!(a, Action::Journal(_) | Action::Label { .. }))
        .collect()
}

fn delivers(actions: &[Action]) -> Vec<(WorkerId, String, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Deliver {
                worker,
                task,
                attempt,
                ..
            } => Some((*worker, task.0.clone(), *attempt)),
            _ => None,
        })
        .collect()
}

#[test]
fn spawns_no_more_workers_than_tasks() {
    let mut state = State::new(&plan(&["a", "b"]), 4, Limits::default());
    let spawns = state
        .start()
        .into_iter()
        .filter(|a| matches!(a, Action::Spawn { .. }))
        .count();
    assert_eq!(spawns, 2);
}

#[test]
fn checked_tasks_are_never_dispatched() {
    let tasks = vec![
        PlanTask {
            id: id("a"),
            checked: true,
            ..PlanTask::default()
        },
        PlanTask {
            id: id("b"),
            checked: false,
            ..PlanTask::default()
        },
    ];
    let mut state = State::new(&tasks, 2, Limits::default());
    let actions = boot(&mut state);
    assert_eq!(delivers(&actions), vec![(0, "b".to_string(), 1)]);
}

#[test]
fn nothing_to_do_finishes_at_once() {
    let tasks = vec![PlanTask {
        id: id("a"),
        checked: true,
        ..PlanTask::default()
    }];
    let mut state = State::new(&tasks, 2, Limits::default());
    assert_eq!(
        effects(state.start()),
        vec![
            Action::Finished,
            Action::Notify(Notice::Finished { done: 1, failed: 0 })
        ]
    );
}

#[test]
fn tasks_go_out_in_plan_order_and_complete() {
    let mut state = State::new(&plan(&["a", "b", "c"]), 2, Limits::default());
    let actions = boot(&mut state);
    assert_eq!(
        delivers(&actions),
        vec![(0, "a".into(), 1), (1, "b".into(), 1)]
    );
    for w in 0..2 {
        let task = state.workers()[w].task().cloned().unwrap();
        state.handle(Event::Delivered {
            worker: w,
            pane: pane(w),
            task,
        });
    }
    let actions = state.handle(Event::Sentinel { task: id("b") });
    assert!(actions.contains(&Action::CheckOff { task: id("b") }));
    assert!(actions.contains(&Action::Reset {
        worker: 1,
        pane: pane(1)
    }));
    assert!(
        delivers(&actions).is_empty(),
        "no dispatch before the reset"
    );
    let actions = state.handle(Event::Ready {
        worker: 1,
        pane: pane(1),
    });
    assert_eq!(delivers(&actions), vec![(1, "c".into(), 1)]);
}

#[test]
fn people_hear_of_agents_work_failures_and_dialogs_but_not_of_old_sentinels() {
    let limits = Limits {
        max_attempts: 1,
        ..Limits::default()
    };
    let mut state = State::new(&plan(&["a", "b", "c"]), 1, limits);
    let notices = |actions: Vec<Action>| -> Vec<Notice> {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Notify(n) => Some(n),
                _ => None,
            })
            .collect()
    };
    // A sentinel that was there before anyone worked on the task is no news.
    assert_eq!(notices(state.handle(Event::Sentinel { task: id("c") })), []);
    boot(&mut state);
    delivered(&mut state, 0);
    let what = "a blocking dialog".to_string();
    let actions = state.handle(Event::NeedsHuman {
        worker: 0,
        pane: pane(0),
        what: what.clone(),
    });
    assert_eq!(
        notices(actions),
        [Notice::NeedsPerson {
            worker: 0,
            what: what.clone()
        }]
    );
    let actions = state.handle(Event::PaneDead {
        pane: pane(0),
        status: Some(1),
        signal: None,
    });
    let [Notice::Failed { task, attempt, .. }] = &notices(actions)[..] else {
        panic!("one failure notice");
    };
    assert_eq!((task, *attempt), (&id("a"), 1));
}

#[test]
fn sentinel_before_delivered_resets_after_delivery() {
    let mut state = State::new(&plan(&["a", "b"]), 1, Limits::default());
    boot(&mut state);
    let actions = effects(state.handle(Event::Sentinel { task: id("a") }));
    assert_eq!(
        actions,
        vec![
            Action::CheckOff { task: id("a") },
            Action::Notify(Notice::Done {
                task: id("a"),
                attempt: 1
            })
        ]
    );
    let actions = state.handle(Event::Delivered {
        worker: 0,
        pane: pane(0),
        task: id("a"),
    });
    assert!(actions.contains(&Action::Reset {
        worker: 0,
        pane: pane(0)
    }));
}

#[test]
fn a_task_found_done_when_its_prompt_was_due_frees_its_worker() {
    // The sentinel was there already: nothing goes out, and the edge says so.
    let mut state = State::new(&plan(&["a", "b"]), 1, Limits::default());
    boot(&mut state);
    state.handle(Event::Sentinel { task: id("a") });
    let actions = state.handle(Event::DeliveryFailed {
        worker: 0,
        pane: pane(0),
        task: id("a"),
        failure: DeliveryFailure::NotSubmitted("its sentinel was already there".into()),
    });
    assert!(actions.contains(&Action::Reset {
        worker: 0,
        pane: pane(0)
    }));
    let ready = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&ready), [(0, "b".into(), 1)]);
}

#[test]
fn a_repeated_sentinel_checks_off_once() {
    let mut state = State::new(&plan(&["a"]), 1, Limits::default());
    boot(&mut state);
    let first = state.handle(Event::Sentinel { task: id("a") });
    let second = state.handle(Event::Sentinel { task: id("a") });
    assert!(first.contains(&Action::CheckOff { task: id("a") }));
    assert!(second.is_empty());
}

#[test]
fn a_dead_agent_requeues_its_task_and_is_replaced_with_backoff() {
    let mut state = State::new(&plan(&["a"]), 1, Limits::default());
    boot(&mut state);
    delivered(&mut state, 0);
    let actions = effects(state.handle(Event::PaneDead {
        pane: pane(0),
        status: Some(3),
        signal: None,
    }));
    assert_eq!(
        actions,
        vec![
            Action::Kill { pane: pane(0) },
            Action::Spawn {
                worker: 0,
                delay: Duration::from_millis(250)
            }
        ]
    );
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Pending);
    state.handle(Event::Spawned {
        worker: 0,
        pane: pane(7),
    });
    let actions = state.handle(Event::Ready {
        worker: 0,
        pane: pane(7),
    });
    assert_eq!(delivers(&actions), vec![(0, "a".into(), 2)]);
}

#[test]
fn an_agent_killed_from_outside_at_work_costs_its_task_no_attempt() {
    let limits = Limits {
        max_attempts: 2,
        max_restarts: 10,
        ..Limits::default()
    };
    let mut state = State::new(&plan(&["a"]), 1, limits);
    boot(&mut state);
    // Killed three times while at work (kill -9, the OOM killer): more than its attempts.
    for n in 0..3 {
        let current = state.workers()[0].pane().cloned().unwrap();
        if n > 0 {
            state.handle(Event::Ready {
                worker: 0,
                pane: current.clone(),
            });
        }
        state.handle(Event::Delivered {
            worker: 0,
            pane: current.clone(),
            task: id("a"),
        });
        state.handle(Event::PaneDead {
            pane: current,
            status: None,
            signal: Some(9),
        });
        assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Pending);
        assert_eq!(state.task(&id("a")).unwrap().attempts, 0, "kill {n}");
        state.handle(Event::Spawned {
            worker: 0,
            pane: pane(10 + n),
        });
    }
    // An agent that dies of its own accord (a crash, an exit) is charged as before.
    let current = state.workers()[0].pane().cloned().unwrap();
    state.handle(Event::Ready {
        worker: 0,
        pane: current.clone(),
    });
    state.handle(Event::Delivered {
        worker: 0,
        pane: current.clone(),
        task: id("a"),
    });
    state.handle(Event::PaneDead {
        pane: current,
        status: None,
        signal: Some(11),
    });
    assert_eq!(state.task(&id("a")).unwrap().attempts, 1);
}

#[test]
fn events_about_an_old_pane_are_ignored() {
    let mut state = State::new(&plan(&["a"]), 1, Limits::default());
    boot(&mut state);
    delivered(&mut state, 0);
    state.handle(Event::PaneDead {
        pane: pane(0),
        status: None,
        signal: None,
    });
    let actions = state.handle(Event::DeliveryFailed {
        worker: 0,
        pane: pane(0),
        task: id("a"),
        failure: DeliveryFailure::PaneGone,
    });
    assert!(actions.is_empty());
    assert!(
        state
            .handle(Event::PaneDead {
                pane: pane(0),
                status: None,
                signal: None,
            })
            .is_empty()
    );
}

#[test]
fn a_task_fails_after_max_attempts() {
    let limits = Limits {
        max_attempts: 2,
        max_restarts: 10,
        ..Limits::default()
    };
    let mut state = State::new(&plan(&["a"]), 1, limits);
    boot(&mut state);
    let mut current = pane(0);
    for n in 1..=2 {
        delivered(&mut state, 0);
        let actions = state.handle(Event::PaneDead {
            pane: current.clone(),
            status: Some(1),
            signal: None,
        });
        if n == 2 {
            assert!(actions.contains(&Action::Finished));
        }
        current = pane(100 + n);
        state.handle(Event::Spawned {
            worker: 0,
            pane: current.clone(),
        });
        state.handle(Event::Ready {
            worker: 0,
            pane: current.clone(),
        });
    }
    assert!(matches!(
        state.task(&id("a")).unwrap().status,
        TaskStatus::Failed(ref r) if r.contains("after 2 attempts")
    ));
}

#[test]
fn restarts_are_bounded_and_the_run_still_ends() {
    let limits = Limits {
        max_attempts: 100,
        max_restarts: 2,
        ..Limits::default()
    };
    let mut state = State::new(&plan(&["a"]), 1, limits);
    state.start();
    let mut last = Vec::new();
    for n in 0..3 {
        state.handle(Event::Spawned {
            worker: 0,
            pane: pane(n),
        });
        last = state.handle(Event::NotReady {
            worker: 0,
            pane: pane(n),
            reason: "no prompt".into(),
        });
    }
    assert!(matches!(
        state.workers()[0].state(),
        WorkerState::Retired {
            why: Retirement::KeptFailing(_)
        }
    ));
    assert!(last.contains(&Action::Finished));
    assert!(matches!(
        state.task(&id("a")).unwrap().status,
        TaskStatus::Failed(_)
    ));
}

#[test]
fn refused_delivery_requeues_uncounted_and_waits_for_the_pane_to_be_free() {
    let mut state = State::new(&plan(&["a", "b"]), 1, Limits::default());
    boot(&mut state);
    let actions = effects(state.handle(Event::DeliveryFailed {
        worker: 0,
        pane: pane(0),
        task: id("a"),
        failure: DeliveryFailure::Refused("pane is in copy mode".into()),
    }));
    assert_eq!(
        actions,
        vec![Action::AwaitFree {
            worker: 0,
            pane: pane(0)
        }]
    );
    assert_eq!(state.workers()[0].state().name(), "waiting");
    let a = state.task(&id("a")).unwrap();
    assert_eq!((&a.status, a.attempts), (&TaskStatus::Pending, 0));
    let actions = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&actions), vec![(0, "a".into(), 1)]);
}

#[test]
fn plan_edits_add_tasks_and_drop_removed_pending_ones() {
    let mut state = State::new(&plan(&["a", "b", "c"]), 1, Limits::default());
    boot(&mut state);
    let mut tasks = plan(&["a", "c", "d"]);
    tasks[1].checked = true;
    state.handle(Event::PlanChanged { tasks });
    let ids: Vec<_> = state.tasks().iter().map(|t| t.id.0.as_str()).collect();
    assert_eq!(ids, ["a", "c", "d"]);
    assert_eq!(state.task(&id("c")).unwrap().status, TaskStatus::Done);
    assert_eq!(state.task(&id("d")).unwrap().status, TaskStatus::Pending);
}

#[test]
fn a_running_task_removed_from_the_plan_finishes() {
    let mut state = State::new(&plan(&["a"]), 1, Limits::default());
    boot(&mut state);
    state.handle(Event::PlanChanged { tasks: vec![] });
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Running);
    let actions = state.handle(Event::Sentinel { task: id("a") });
    assert!(actions.contains(&Action::Finished));
}

#[test]
fn plan_growth_wakes_workers_that_had_no_work() {
    let mut state = State::new(&plan(&["a"]), 3, Limits::default());
    boot(&mut state);
    let actions = state.handle(Event::PlanChanged {
        tasks: plan(&["a", "b", "c"]),
    });
    let spawns = actions
        .iter()
        .filter(|a| matches!(a, Action::Spawn { .. }))
        .count();
    assert_eq!(spawns, 2);
}

/// Boots one worker and delivers `a` to it, so it is busy.
fn busy_with_a(limits: Limits, ids: &[&str]) -> State {
    let mut state = State::new(&plan(ids), 1, limits);
    boot(&mut state);
    state.handle(Event::Delivered {
        worker: 0,
        pane: pane(0),
        task: id("a"),
    });
    state
}

#[test]
fn a_turn_past_the_timeout_is_interrupted_and_retried() {
    let limits = Limits {
        task_timeout: Some(Duration::from_secs(10)),
        ..Limits::default()
    };
    let mut state = busy_with_a(limits, &["a"]);
    assert!(
        effects(state.handle(Event::Tick {
            now: Duration::from_secs(5)
        }))
        .is_empty()
    );
    let actions = effects(state.handle(Event::Tick {
        now: Duration::from_secs(11),
    }));
    assert_eq!(
        actions,
        vec![Action::Interrupt {
            worker: 0,
            pane: pane(0)
        }]
    );
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Pending);
    // The cut turn holds the old task: a fresh context first, then the retry.
    let actions = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert!(delivers(&actions).is_empty());
    let actions = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&actions), vec![(0, "a".into(), 2)]);
}

#[test]
fn an_idle_agent_without_its_sentinel_is_nudged_then_its_task_fails() {
    let limits = Limits {
        max_nudges: 1,
        ..Limits::default()
    };
    let mut state = busy_with_a(limits, &["a"]);
    let idle = Event::IdleWithoutSentinel {
        worker: 0,
        pane: pane(0),
    };
    let actions = effects(state.handle(idle.clone()));
    assert_eq!(
        actions,
        vec![Action::Nudge {
            worker: 0,
            pane: pane(0),
            task: id("a")
        }]
    );
    state.handle(Event::Delivered {
        worker: 0,
        pane: pane(0),
        task: id("a"),
    });
    let actions = effects(state.handle(idle));
    assert!(matches!(actions[0], Action::NoteFailure { ref task, .. } if task == &id("a")));
    assert!(actions.contains(&Action::Reset {
        worker: 0,
        pane: pane(0)
    }));
    assert!(actions.contains(&Action::Finished));
}

#[test]
fn pause_holds_back_new_work_until_resume() {
    let mut state = busy_with_a(Limits::default(), &["a", "b"]);
    state.handle(Event::Command(Command::Pause { worker: None }));
    state.handle(Event::Sentinel { task: id("a") });
    let actions = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert!(delivers(&actions).is_empty(), "dispatched while paused");
    let actions = state.handle(Event::Command(Command::Resume { worker: None }));
    assert_eq!(delivers(&actions), vec![(0, "b".into(), 1)]);
}

#[test]
fn skip_interrupts_a_running_task_and_retry_brings_it_back() {
    let mut state = busy_with_a(Limits::default(), &["a"]);
    let actions = effects(state.handle(Event::Command(Command::Skip { task: id("a") })));
    assert!(actions.contains(&Action::Interrupt {
        worker: 0,
        pane: pane(0)
    }));
    assert!(actions.contains(&Action::Finished));
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Skipped);
    let mut state = busy_with_a(
        Limits {
            max_attempts: 1,
            ..Limits::default()
        },
        &["a", "b"],
    );
    state.handle(Event::PaneDead {
        pane: pane(0),
        status: Some(1),
        signal: None,
    });
    assert!(matches!(
        state.task(&id("a")).unwrap().status,
        TaskStatus::Failed(_)
    ));
    let actions = state.handle(Event::Command(Command::Retry { task: id("a") }));
    assert!(actions.contains(&Action::Journal(Record::Retried { task: id("a") })));
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Pending);
    assert_eq!(state.task(&id("a")).unwrap().attempts, 0);
}

#[test]
fn a_restored_run_keeps_attempts_and_failures_and_adopts_live_panes() {
    let mut replay = Replay::default();
    replay.apply(Record::Assigned {
        task: id("a"),
        worker: 0,
        pane: pane(5),
        attempt: 2,
    });
    replay.apply(Record::Failed {
        task: id("b"),
        reason: "hung".into(),
    });
    let mut state = State::new(&plan(&["a", "b", "c"]), 2, Limits::default());
    state.restore(&replay);
    assert_eq!(state.task(&id("a")).unwrap().attempts, 2);
    assert_eq!(
        state.task(&id("b")).unwrap().status,
        TaskStatus::Failed("hung".into())
    );
    // Worker 0 still works on `a`; worker 1's pane is idle and gets a fresh context.
    let busy = state.adopt(0, pane(5), Some(id("a")));
    assert_eq!(
        busy,
        vec![Action::Monitor {
            worker: 0,
            pane: pane(5)
        }]
    );
    let idle = state.adopt(1, pane(6), None);
    assert_eq!(
        idle,
        vec![Action::Reset {
            worker: 1,
            pane: pane(6)
        }]
    );
    let start = effects(state.start());
    assert!(
        start.is_empty(),
        "no new agents besides the adopted ones: {start:?}"
    );
    let actions = state.handle(Event::Ready {
        worker: 1,
        pane: pane(6),
    });
    assert_eq!(delivers(&actions), vec![(1, "c".into(), 1)]);
}

#[test]
fn every_decision_is_journaled_before_it_is_acted_on() {
    let mut state = State::new(&plan(&["a"]), 1, Limits::default());
    state.start();
    let spawned = state.handle(Event::Spawned {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(
        spawned[0],
        Action::Journal(Record::Spawned {
            worker: 0,
            pane: pane(0)
        })
    );
    let ready = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    let journal = ready
        .iter()
        .position(|a| matches!(a, Action::Journal(Record::Assigned { .. })));
    let deliver = ready
        .iter()
        .position(|a| matches!(a, Action::Deliver { .. }));
    assert!(journal < deliver, "{ready:?}");
    let done = state.handle(Event::Sentinel { task: id("a") });
    assert_eq!(done[0], Action::Journal(Record::Done { task: id("a") }));
    assert_eq!(done[1], Action::CheckOff { task: id("a") });
}

/// Lets worker `w` finish its task and become ready again, `n` times: the tasks (and
/// attempts) it is handed.
fn handed_out(state: &mut State, w: WorkerId, n: usize) -> Vec<(String, u32)> {
    let current = state.workers()[w].pane().cloned().unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let task = state.workers()[w].task().cloned().unwrap();
        state.handle(Event::Delivered {
            worker: w,
            pane: current.clone(),
            task: task.clone(),
        });
        state.handle(Event::Sentinel { task });
        let actions = state.handle(Event::Ready {
            worker: w,
            pane: current.clone(),
        });
        out.extend(delivers(&actions).into_iter().map(|(_, t, a)| (t, a)));
    }
    out
}

#[test]
fn a_requeued_task_goes_out_before_later_ones() {
    let mut state = State::new(&plan(&["a", "b", "c", "d"]), 2, Limits::default());
    boot(&mut state);
    assert_eq!(handed_out(&mut state, 1, 1), [("c".into(), 1)]);
    // Worker 0's agent dies at work: `a` is pending again, ahead of `d`.
    delivered(&mut state, 0);
    state.handle(Event::PaneDead {
        pane: pane(0),
        status: None,
        signal: None,
    });
    assert_eq!(
        handed_out(&mut state, 1, 2),
        [("a".into(), 2), ("d".into(), 1)]
    );
}

#[test]
fn a_retried_task_goes_out_before_later_ones() {
    let mut state = busy_with_a(Limits::default(), &["a", "b", "c"]);
    state.handle(Event::Command(Command::Skip { task: id("a") }));
    // Interrupted, then reset.
    for _ in 0..2 {
        state.handle(Event::Ready {
            worker: 0,
            pane: pane(0),
        });
    }
    assert_eq!(worker_is(&state, 0), ("delivering", Some("b".into())));
    state.handle(Event::Command(Command::Retry { task: id("a") }));
    assert_eq!(
        handed_out(&mut state, 0, 2),
        [("a".into(), 1), ("c".into(), 1)]
    );
}

#[test]
fn after_a_plan_edit_tasks_go_out_in_the_order_they_first_appeared() {
    let mut state = busy_with_a(Limits::default(), &["a", "b", "c", "d", "e"]);
    // A person removes `a` (running: it stays) and `b`, adds `new` at the top and
    // checks `c` off by hand. Tasks already known keep their place, and new ones queue
    // behind them.
    let mut tasks = plan(&["new", "c", "d", "e"]);
    tasks[1].checked = true;
    state.handle(Event::PlanChanged { tasks });
    let ids: Vec<_> = state.tasks().iter().map(|t| t.id.0.as_str()).collect();
    assert_eq!(ids, ["a", "c", "d", "e", "new"]);
    assert_eq!(
        handed_out(&mut state, 0, 3),
        [("d".into(), 1), ("e".into(), 1), ("new".into(), 1)]
    );
    assert_counts_are_true(&state);
}

/// Worker `w` as `State` sees it: its state's name and the task it holds.
fn worker_is(state: &State, w: WorkerId) -> (&'static str, Option<String>) {
    let worker = &state.workers()[w];
    (worker.state().name(), worker.task().map(|t| t.0.clone()))
}

#[test]
fn a_second_ready_while_delivering_does_not_deliver_again() {
    // Spawned(w0); Ready(w0) → Deliver a; Ready(w0) once delivered a second prompt, b, into
    // the same pane, and a stayed Running for ever.
    let mut state = State::new(&plan(&["a", "b"]), 1, Limits::default());
    assert_eq!(delivers(&boot(&mut state)), [(0, "a".into(), 1)]);
    let again = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&again), []);
    assert_eq!(worker_is(&state, 0), ("delivering", Some("a".into())));
    // Nor once it is busy: a pause in the agent's output is not the end of its task.
    delivered(&mut state, 0);
    let busy = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&busy), []);
    assert_eq!(worker_is(&state, 0), ("busy", Some("a".into())));
    assert_links_hold(&state);
}

/// Spawned; Ready; Delivered a; then `hold` (a dialog, a rate limit) on w0; then Ready.
fn paused_mid_task_then_ready(hold: Event, name: &str) {
    let mut state = busy_with_a(Limits::default(), &["a", "b"]);
    let actions = state.handle(hold);
    assert!(delivers(&actions).is_empty());
    assert_eq!(worker_is(&state, 0), (name, Some("a".into())));
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Running);
    let actions = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(
        delivers(&actions),
        [],
        "b went into the pane that works on a"
    );
    assert!(actions.contains(&Action::Monitor {
        worker: 0,
        pane: pane(0)
    }));
    assert_eq!(worker_is(&state, 0), ("busy", Some("a".into())));
    assert_links_hold(&state);
    // And a finishes there as usual.
    let done = state.handle(Event::Sentinel { task: id("a") });
    assert!(done.contains(&Action::Reset {
        worker: 0,
        pane: pane(0)
    }));
}

#[test]
fn needs_human_in_the_middle_of_a_task_does_not_orphan_it() {
    // Spawned; Ready; Delivered a; NeedsHuman(w0); Ready(w0) delivered b, and orphaned a.
    let hold = Event::NeedsHuman {
        worker: 0,
        pane: pane(0),
        what: "a permission dialog".into(),
    };
    paused_mid_task_then_ready(hold, "needs-human");
}

#[test]
fn rate_limited_in_the_middle_of_a_task_does_not_orphan_it() {
    let hold = Event::RateLimited {
        worker: 0,
        pane: pane(0),
        until: Some("15:00".into()),
        resets_in: Some(Duration::from_secs(600)),
    };
    paused_mid_task_then_ready(hold, "rate-limited");
}

#[test]
fn an_api_error_in_the_middle_of_a_task_does_not_orphan_it() {
    let hold = Event::ApiError {
        worker: 0,
        pane: pane(0),
        what: "API Error: 529 Overloaded".into(),
    };
    paused_mid_task_then_ready(hold, "api-error");
}

fn unparks(actions: &[Action]) -> Vec<WorkerId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Unpark { worker, .. } => Some(*worker),
            _ => None,
        })
        .collect()
}

#[test]
fn a_rate_limit_parks_every_worker_until_the_reset_and_charges_no_attempt() {
    let mut state = State::new(&plan(&["a", "b", "c", "d"]), 2, Limits::default());
    boot(&mut state);
    delivered(&mut state, 0);
    delivered(&mut state, 1);
    // w0 hits the limit; w1 finishes b and comes free while the limit holds.
    let limit = state.handle(Event::RateLimited {
        worker: 0,
        pane: pane(0),
        until: Some("21:20".into()),
        resets_in: Some(Duration::from_secs(60)),
    });
    assert!(limit.iter().any(|a| matches!(
        a,
        Action::Notify(Notice::NeedsPerson { worker: 0, what }) if what == "rate-limited until 21:20"
    )));
    state.handle(Event::Sentinel { task: id("b") });
    let free = state.handle(Event::Ready {
        worker: 1,
        pane: pane(1),
    });
    assert_eq!(delivers(&free), [], "no prompt goes into a limit");
    assert_eq!(worker_is(&state, 1), ("rate-limited", None));
    assert_eq!(
        state.workers()[1].needs().as_deref(),
        Some("rate-limited until 21:20")
    );
    // Nothing happens before the reset plus its margin.
    let early = state.handle(Event::Tick {
        now: Duration::from_secs(64),
    });
    assert!(unparks(&early).is_empty());
    // Then each worker gets a fresh context; the task the limit cut goes back in line with
    // its attempt given back, and goes out again as the same attempt.
    let due = state.handle(Event::Tick {
        now: Duration::from_secs(66),
    });
    assert_eq!(unparks(&due), [0, 1]);
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Pending);
    assert_eq!(state.task(&id("a")).unwrap().attempts, 0);
    assert_links_hold(&state);
    let again = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&again), [(0, "a".into(), 1)]);
    let next = state.handle(Event::Ready {
        worker: 1,
        pane: pane(1),
    });
    assert_eq!(delivers(&next), [(1, "c".into(), 1)]);
}

#[test]
fn a_limit_the_agent_goes_on_from_by_itself_frees_the_fleet() {
    let mut state = State::new(&plan(&["a", "b", "c"]), 2, Limits::default());
    boot(&mut state);
    delivered(&mut state, 0);
    delivered(&mut state, 1);
    state.handle(Event::RateLimited {
        worker: 0,
        pane: pane(0),
        until: None,
        resets_in: None,
    });
    state.handle(Event::Sentinel { task: id("b") });
    state.handle(Event::Ready {
        worker: 1,
        pane: pane(1),
    });
    state.handle(Event::Ready {
        worker: 1,
        pane: pane(1),
    });
    assert_eq!(worker_is(&state, 1), ("rate-limited", None));
    // Claude went on at the reset: its screen no longer shows the limit.
    let on = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(worker_is(&state, 0), ("busy", Some("a".into())));
    assert_eq!(delivers(&on), [(1, "c".into(), 1)]);
    assert_eq!(state.task(&id("a")).unwrap().attempts, 1);
}

#[test]
fn a_limit_without_a_time_is_looked_at_again_not_waited_on_for_ever() {
    let mut state = busy_with_a(Limits::default(), &["a"]);
    state.handle(Event::RateLimited {
        worker: 0,
        pane: pane(0),
        until: Some("soon".into()),
        resets_in: None,
    });
    let due = state.handle(Event::Tick {
        now: Duration::from_secs(61),
    });
    assert_eq!(unparks(&due), [0]);
}

#[test]
fn api_errors_back_off_and_never_charge_the_task() {
    let mut state = busy_with_a(Limits::default(), &["a"]);
    let mut now = 0;
    for (round, wait) in [30u64, 60, 120].into_iter().enumerate() {
        state.handle(Event::ApiError {
            worker: 0,
            pane: pane(0),
            what: "API Error: 500 Internal server error".into(),
        });
        assert_eq!(
            state.workers()[0].needs().as_deref(),
            Some("API Error: 500 Internal server error")
                .map(|w| format!("API error: {w}"))
                .as_deref()
        );
        let early = state.handle(Event::Tick {
            now: Duration::from_secs(now + wait - 1),
        });
        assert!(unparks(&early).is_empty(), "round {round}");
        now += wait;
        let due = state.handle(Event::Tick {
            now: Duration::from_secs(now),
        });
        assert_eq!(unparks(&due), [0], "round {round}");
        assert_eq!(state.task(&id("a")).unwrap().attempts, 0);
        let again = state.handle(Event::Ready {
            worker: 0,
            pane: pane(0),
        });
        assert_eq!(delivers(&again), [(0, "a".into(), 1)]);
        delivered(&mut state, 0);
    }
    // Done at last: the next error starts the backoff over.
    state.handle(Event::Sentinel { task: id("a") });
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Done);
}

#[test]
fn an_interrupted_turn_is_followed_by_a_fresh_context() {
    let limits = Limits {
        task_timeout: Some(Duration::from_secs(10)),
        ..Limits::default()
    };
    let mut state = busy_with_a(limits, &["a", "b"]);
    state.handle(Event::Tick {
        now: Duration::from_secs(11),
    });
    let after = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(
        effects(after),
        [Action::Reset {
            worker: 0,
            pane: pane(0)
        }]
    );
    let ready = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&ready), [(0, "a".into(), 2)]);
}

#[test]
fn a_paused_task_does_not_time_out_while_a_person_answers() {
    let limits = Limits {
        task_timeout: Some(Duration::from_secs(10)),
        ..Limits::default()
    };
    let mut state = busy_with_a(limits, &["a"]);
    state.handle(Event::Tick {
        now: Duration::from_secs(5),
    });
    state.handle(Event::NeedsHuman {
        worker: 0,
        pane: pane(0),
        what: "a dialog".into(),
    });
    let held = state.handle(Event::Tick {
        now: Duration::from_secs(60),
    });
    assert!(!held.iter().any(|a| matches!(a, Action::Interrupt { .. })));
    state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    // 5 s before the dialog, 4 s after it: still inside the 10 s.
    let on = state.handle(Event::Tick {
        now: Duration::from_secs(64),
    });
    assert!(!on.iter().any(|a| matches!(a, Action::Interrupt { .. })));
    let late = state.handle(Event::Tick {
        now: Duration::from_secs(66),
    });
    assert!(late.iter().any(|a| matches!(a, Action::Interrupt { .. })));
}

#[test]
fn a_refused_paste_is_not_an_attempt_and_another_worker_takes_the_task() {
    let limits = Limits {
        max_attempts: 1,
        ..Limits::default()
    };
    let mut state = State::new(&plan(&["a", "b", "c"]), 2, limits);
    boot(&mut state);
    delivered(&mut state, 1);
    // w0's pane is scrolled: `a` was never typed. It waits for w1, at attempt 1 again,
    // however often a pane refuses it.
    let refused = state.handle(Event::DeliveryFailed {
        worker: 0,
        pane: pane(0),
        task: id("a"),
        failure: DeliveryFailure::Refused("the pane is in copy mode".into()),
    });
    assert!(refused.contains(&Action::Journal(Record::Unsent {
        task: id("a"),
        reason: "delivery failed: the pane refused the paste (the pane is in copy mode); nothing was typed".into(),
    })));
    assert!(
        !refused
            .iter()
            .any(|a| matches!(a, Action::NoteFailure { .. }))
    );
    assert_eq!(worker_is(&state, 0), ("waiting", None));
    assert!(state.workers()[0].needs().unwrap().contains("copy mode"));
    state.handle(Event::Sentinel { task: id("b") });
    let next = state.handle(Event::Ready {
        worker: 1,
        pane: pane(1),
    });
    assert_eq!(delivers(&next), [(1, "a".into(), 1)]);
    // w0 gets work again once its pane is free.
    let free = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&free), [(0, "c".into(), 1)]);
    assert_links_hold(&state);
}

#[test]
fn a_resumed_run_does_not_count_a_refused_delivery() {
    let mut state = State::new(&plan(&["a"]), 1, Limits::default());
    let mut replay = Replay::default();
    for action in boot(&mut state)
        .into_iter()
        .chain(state.handle(Event::DeliveryFailed {
            worker: 0,
            pane: pane(0),
            task: id("a"),
            failure: DeliveryFailure::Refused("someone is typing".into()),
        }))
    {
        if let Action::Journal(record) = action {
            replay.apply(record);
        }
    }
    assert_eq!(state.task(&id("a")).unwrap().attempts, 0);
    let mut resumed = State::new(&plan(&["a"]), 1, Limits::default());
    resumed.restore(&replay);
    assert_eq!(resumed.task(&id("a")).unwrap().attempts, 0);
    assert_eq!(delivers(&boot(&mut resumed)), [(0, "a".into(), 1)]);
}

#[test]
fn a_refused_reminder_keeps_the_task_with_its_agent() {
    let mut state = busy_with_a(Limits::default(), &["a", "b"]);
    let idle = Event::IdleWithoutSentinel {
        worker: 0,
        pane: pane(0),
    };
    assert!(matches!(
        effects(state.handle(idle))[..],
        [Action::Nudge { .. }]
    ));
    let refused = effects(state.handle(Event::DeliveryFailed {
        worker: 0,
        pane: pane(0),
        task: id("a"),
        failure: DeliveryFailure::Refused("the pane is in copy mode".into()),
    }));
    assert_eq!(
        refused,
        [Action::AwaitFree {
            worker: 0,
            pane: pane(0)
        }]
    );
    assert_eq!(worker_is(&state, 0), ("waiting", Some("a".into())));
    let free = effects(state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    }));
    assert_eq!(
        free,
        [Action::Monitor {
            worker: 0,
            pane: pane(0)
        }]
    );
    assert_eq!(worker_is(&state, 0), ("busy", Some("a".into())));
    assert_eq!(state.task(&id("a")).unwrap().attempts, 1);
}

/// Kills the agent of worker 0, which delivers `a`: the pane watcher and the delivery
/// both report, in the order given. Returns what the second report brought.
fn killed_while_delivering(
    state: &mut State,
    current: &PaneId,
    failure: DeliveryFailure,
    watcher_first: bool,
) -> Vec<Action> {
    let dead = Event::PaneDead {
        pane: current.clone(),
        status: Some(1),
        signal: None,
    };
    let failed = Event::DeliveryFailed {
        worker: 0,
        pane: current.clone(),
        task: id("a"),
        failure,
    };
    let (first, second) = if watcher_first {
        (dead, failed)
    } else {
        (failed, dead)
    };
    let mut actions = state.handle(first);
    actions.extend(state.handle(second));
    actions
}

#[test]
fn an_agent_that_dies_before_its_prompt_lands_costs_no_attempt() {
    let limits = Limits {
        max_attempts: 1,
        max_restarts: 10,
        ..Limits::default()
    };
    let mut state = State::new(&plan(&["a"]), 1, limits);
    boot(&mut state);
    let mut current = pane(0);
    for n in 1..=4 {
        let actions =
            killed_while_delivering(&mut state, &current, DeliveryFailure::PaneGone, n % 2 == 0);
        assert!(actions.contains(&Action::Kill {
            pane: current.clone()
        }));
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::NoteFailure { .. }))
        );
        current = pane(100 + n);
        state.handle(Event::Spawned {
            worker: 0,
            pane: current.clone(),
        });
        let ready = state.handle(Event::Ready {
            worker: 0,
            pane: current.clone(),
        });
        assert_eq!(delivers(&ready), [(0, "a".into(), 1)]);
    }
}

#[test]
fn an_agent_that_dies_of_its_prompt_costs_an_attempt_whichever_report_comes_first() {
    let limits = Limits {
        max_attempts: 2,
        max_restarts: 10,
        ..Limits::default()
    };
    let mut state = State::new(&plan(&["a", "b"]), 1, limits);
    boot(&mut state);
    let died =
        || DeliveryFailure::NotSubmitted("the agent's pane died once the prompt was pasted".into());
    killed_while_delivering(&mut state, &pane(0), died(), true);
    state.handle(Event::Spawned {
        worker: 0,
        pane: pane(1),
    });
    let ready = state.handle(Event::Ready {
        worker: 0,
        pane: pane(1),
    });
    assert_eq!(delivers(&ready), [(0, "a".into(), 2)]);
    let last = killed_while_delivering(&mut state, &pane(1), died(), false);
    assert!(
        last.iter()
            .any(|a| matches!(a, Action::NoteFailure { task, .. } if *task == id("a"))),
        "{last:?}"
    );
    // The poison prompt does not starve the rest of the plan.
    state.handle(Event::Spawned {
        worker: 0,
        pane: pane(2),
    });
    let ready = state.handle(Event::Ready {
        worker: 0,
        pane: pane(2),
    });
    assert_eq!(delivers(&ready), [(0, "b".into(), 1)]);
}

/// Runs `tasks` tasks on `workers` workers to the end, killing the agent of the worker
/// that holds task number k at work for every k in `kills`. Returns the final state.
fn run_with_kills(tasks: usize, workers: usize, kills: &[usize]) -> State {
    let names: Vec<String> = (0..tasks).map(|n| format!("t{n}")).collect();
    let ids: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut state = State::new(&plan(&ids), workers, Limits::default());
    let mut queue: std::collections::VecDeque<Action> = state.start().into();
    let mut panes = 0;
    let mut killed = BTreeSet::new();
    let mut steps = 0;
    while let Some(action) = queue.pop_front() {
        steps += 1;
        assert!(steps < 100_000, "the run does not end");
        // A perfect world: every agent starts, takes its prompt and finishes, except the
        // ones killed at work.
        let events = match action {
            Action::Spawn { worker, .. } => {
                panes += 1;
                vec![
                    Event::Spawned {
                        worker,
                        pane: pane(panes),
                    },
                    Event::Ready {
                        worker,
                        pane: pane(panes),
                    },
                ]
            }
            Action::Reset { worker, pane } => vec![Event::Ready { worker, pane }],
            Action::Deliver {
                worker, pane, task, ..
            } => {
                let n: usize = task.0[1..].parse().unwrap();
                let delivered = Event::Delivered {
                    worker,
                    pane: pane.clone(),
                    task: task.clone(),
                };
                if kills.contains(&n) && killed.insert(n) {
                    vec![
                        delivered,
                        Event::PaneDead {
                            pane,
                            status: None,
                            signal: None,
                        },
                    ]
                } else {
                    vec![delivered, Event::Sentinel { task }]
                }
            }
            _ => vec![],
        };
        for event in events {
            queue.extend(state.handle(event));
        }
    }
    state
}

#[test]
fn twenty_kills_in_a_hundred_tasks_retire_nobody_and_fail_nothing() {
    let kills: Vec<usize> = (0..100).step_by(5).collect();
    // Two workers: ten deaths each, more than `max_restarts`, but never many in a row.
    let state = run_with_kills(100, 2, &kills);
    assert!(state.is_finished());
    assert_eq!(state.tally().done, 100);
    assert!(
        state
            .workers()
            .iter()
            .all(|w| !matches!(w.state(), WorkerState::Retired { .. })),
        "{:?}",
        state.workers()
    );
}

#[test]
fn a_worker_that_keeps_dying_is_retired_with_a_reason_and_its_task_goes_on() {
    let limits = Limits {
        max_restarts: 2,
        ..Limits::default()
    };
    let mut state = State::new(&plan(&["a", "b"]), 2, limits);
    boot(&mut state);
    let mut retired = Vec::new();
    for n in 0..3 {
        retired = state.handle(Event::NotReady {
            worker: 1,
            pane: if n == 0 { pane(1) } else { pane(200 + n) },
            reason: "no prompt after 30s".into(),
        });
        state.handle(Event::Spawned {
            worker: 1,
            pane: pane(201 + n),
        });
    }
    let why = state.workers()[1].retired_because().unwrap();
    assert!(why.contains("3 times in a row"), "{why}");
    assert!(why.contains("no prompt after 30s"), "{why}");
    assert!(retired.contains(&Action::Notify(Notice::NeedsPerson {
        worker: 1,
        what: why.to_string()
    })));
    // Its task `b` was never typed: it waits for w0, unharmed.
    delivered(&mut state, 0);
    let b = state.task(&id("b")).unwrap();
    assert_eq!((&b.status, b.attempts), (&TaskStatus::Pending, 0));
    state.handle(Event::Sentinel { task: id("a") });
    let next = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&next), [(0, "b".into(), 1)]);
}

#[test]
fn a_done_task_unchecked_mid_run_is_done_again() {
    let mut state = busy_with_a(Limits::default(), &["a", "b"]);
    state.handle(Event::Sentinel { task: id("a") });
    assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Done);
    let mut tasks = plan(&["a", "b"]);
    tasks[1].checked = true;
    let redo = state.handle(Event::PlanChanged { tasks });
    assert!(redo.contains(&Action::Journal(Record::Retried { task: id("a") })));
    let a = state.task(&id("a")).unwrap();
    assert_eq!((&a.status, a.attempts), (&TaskStatus::Pending, 0));
    let ready = state.handle(Event::Ready {
        worker: 0,
        pane: pane(0),
    });
    assert_eq!(delivers(&ready), [(0, "a".into(), 1)]);
    let done = state.handle(Event::Sentinel { task: id("a") });
    assert!(done.contains(&Action::CheckOff { task: id("a") }));
}

/// What `State` keeps up to date as statuses change agrees with counting from scratch.
fn assert_counts_are_true(state: &State) {
    let mut tally = Tally::default();
    for task in &state.tasks {
        *tally.of(&task.status) += 1;
    }
    assert_eq!(state.tally, tally);
    let pending: BTreeSet<usize> = (0..state.tasks.len())
        .filter(|&i| state.tasks[i].status == TaskStatus::Pending)
        .collect();
    assert_eq!(state.pending, pending);
    assert_eq!(state.index.len(), state.tasks.len());
    for (i, task) in state.tasks.iter().enumerate() {
        assert_eq!(state.index[&task.id], i);
    }
}

/// No task goes out before the tasks it waits for are done; no two running tasks' scopes
/// overlap (but for one a dead orchestrator left running); blocked tasks are exactly the
/// pending ones with a dependency that failed, was skipped or is blocked; and the ready set
/// is what a recount says.
fn assert_graph_holds(state: &State, actions: &[Action], adopted: Option<&TaskId>) {
    for action in actions {
        if let Action::Deliver { task, .. } = action {
            for dep in state.dependencies(task) {
                if let Some(entry) = state.task(dep) {
                    assert_eq!(
                        entry.status,
                        TaskStatus::Done,
                        "{task} went out before {dep}"
                    );
                }
            }
        }
    }
    let running: Vec<usize> = (0..state.tasks.len())
        .filter(|&i| {
            state.tasks[i].status == TaskStatus::Running && Some(&state.tasks[i].id) != adopted
        })
        .collect();
    for (k, &a) in running.iter().enumerate() {
        for &b in &running[k + 1..] {
            assert!(
                !state.scope_of(a).overlaps(state.scope_of(b)),
                "{} and {} run at once: {:?} {:?}",
                state.tasks[a].id,
                state.tasks[b].id,
                state.scope_of(a),
                state.scope_of(b)
            );
        }
    }
    for (i, task) in state.tasks.iter().enumerate() {
        let deps: Vec<&TaskEntry> = state
            .dependencies(&task.id)
            .iter()
            .filter_map(|d| state.task(d))
            .collect();
        let bad = deps.iter().any(|d| {
            matches!(
                d.status,
                TaskStatus::Failed(_) | TaskStatus::Skipped | TaskStatus::Blocked(_)
            )
        });
        match &task.status {
            TaskStatus::Pending => assert!(!bad, "{} is pending, not blocked", task.id),
            TaskStatus::Blocked(_) => assert!(bad, "{} is blocked for nothing", task.id),
            _ => {}
        }
        let waits = deps.iter().any(|d| d.status != TaskStatus::Done);
        if state.graph.ready.iter().any(|r| r.contains(&i)) {
            assert!(
                task.status == TaskStatus::Pending && !waits,
                "{} is not ready",
                task.id
            );
        }
    }
}

/// The task–worker link holds: a task is `Running` exactly when one worker holds it, the
/// worker's state names it, and a paused worker wraps a state that is neither paused nor
/// retired. A retired worker has no pane.
fn assert_links_hold(state: &State) {
    for task in &state.tasks {
        let holders: Vec<WorkerId> = state
            .workers
            .iter()
            .filter(|w| w.task() == Some(&task.id))
            .map(|w| w.id)
            .collect();
        match task.status {
            TaskStatus::Running => assert_eq!(holders.len(), 1, "{} held by {holders:?}", task.id),
            _ => assert!(holders.is_empty(), "{} is {:?}", task.id, task.status),
        }
    }
    for w in &state.workers {
        if let Some(task) = w.task() {
            let entry = state.task(task);
            assert!(
                entry.is_some_and(|t| t.status == TaskStatus::Running),
                "w{} holds {task}, which is {:?}",
                w.id,
                entry.map(|t| &t.status)
            );
        }
        match w.state() {
            WorkerState::Paused { inner, .. } => assert!(
                !matches!(
                    **inner,
                    WorkerState::Paused { .. }
                        | WorkerState::Retired { .. }
                        | WorkerState::Dying { .. }
                ),
                "w{}: {:?}",
                w.id,
                w.state()
            ),
            WorkerState::Retired { .. } => assert_eq!(w.pane(), None, "retired w{}", w.id),
            _ => {}
        }
    }
}

/// One step of a random run. Workers and tasks are picked by number and resolved
/// against the state when the step is taken, so that most steps could really happen.
#[derive(Debug, Clone)]
enum Step {
    Spawned(usize),
    Ready(usize),
    NotReady(usize),
    Delivered(usize),
    Refused(usize),
    NotSubmitted(usize),
    PaneGone(usize),
    PaneDead(usize),
    Idle(usize),
    NeedsHuman(usize),
    Occupied(usize),
    RateLimited(usize),
    ApiError(usize),
    Sentinel(usize),
    Tick(u64),
    Pause(Option<usize>),
    Resume(Option<usize>),
    Retry(usize),
    Skip(usize),
    Plan(Vec<(usize, bool)>),
}

/// Tasks `t0` to `t7`: plans and steps pick from them.
const NAMES: usize = 8;

fn name(n: usize) -> TaskId {
    TaskId(format!("t{}", n % NAMES))
}

/// The plan of the picked tasks. `graph` decides, for the whole run, what each task waits
/// for (only tasks with lower numbers, as a plan without cycles) and what it may change.
fn plan_tasks(picks: &[(usize, bool)], graph: Graph) -> Vec<PlanTask> {
    const SCOPES: [&[&str]; 6] = [
        &["src/a/**"],
        &["src/a/x.rs"],
        &["src/b"],
        &["docs/*.md", "src/b/y.rs"],
        &["src/**"],
        &[],
    ];
    let mut tasks: Vec<PlanTask> = Vec::new();
    for &(n, checked) in picks {
        let n = n % NAMES;
        if tasks.iter().all(|t| t.id != name(n)) {
            let after = (0..n)
                .filter(|m| graph.deps >> (n * NAMES + m) & 1 == 1)
                .map(name)
                .collect();
            let pick = (graph.scopes >> (4 * n)) as usize & 15;
            let scope = match SCOPES.get(pick) {
                Some(files) => {
                    let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
                    Scope::of(&files, ScopeDefault::Everything)
                }
                None => Scope::Free,
            };
            tasks.push(PlanTask {
                id: name(n),
                checked,
                after,
                scope,
                agent: None,
                tags: Vec::new(),
            });
        }
    }
    tasks
}

/// What the tasks of a random run wait for and touch: bits, read by `plan_tasks`.
#[derive(Debug, Clone, Copy)]
struct Graph {
    deps: u64,
    scopes: u64,
}

fn step() -> impl Strategy<Value = Step> {
    let w = 0..4usize;
    prop_oneof![
        1 => w.clone().prop_map(Step::Spawned),
        4 => w.clone().prop_map(Step::Ready),
        1 => w.clone().prop_map(Step::NotReady),
        3 => w.clone().prop_map(Step::Delivered),
        1 => w.clone().prop_map(Step::Refused),
        1 => w.clone().prop_map(Step::NotSubmitted),
        1 => w.clone().prop_map(Step::PaneGone),
        1 => w.clone().prop_map(Step::PaneDead),
        1 => w.clone().prop_map(Step::Idle),
        1 => w.clone().prop_map(Step::NeedsHuman),
        1 => w.clone().prop_map(Step::Occupied),
        1 => w.clone().prop_map(Step::RateLimited),
        1 => w.clone().prop_map(Step::ApiError),
        3 => (0..NAMES).prop_map(Step::Sentinel),
        1 => (1..20u64).prop_map(Step::Tick),
        1 => prop::option::of(w.clone()).prop_map(Step::Pause),
        1 => prop::option::of(w).prop_map(Step::Resume),
        1 => (0..NAMES).prop_map(Step::Retry),
        1 => (0..NAMES).prop_map(Step::Skip),
        1 => prop::collection::vec((0..NAMES, any::<bool>()), 0..NAMES).prop_map(Step::Plan),
    ]
}

/// The event a step stands for, in `state` as it is: the worker's own pane, and the task
/// it delivers (or any task, which is then old news).
fn event_of(
    state: &State,
    step: Step,
    (workers, graph): (usize, Graph),
    panes: &mut usize,
    now: &mut u64,
) -> Event {
    let w = |n: usize| n % workers;
    let current = |n: usize| {
        let worker = &state.workers()[w(n)];
        let task = match worker.state() {
            WorkerState::Finishing { task } => Some(task.clone()),
            state => state.task().cloned(),
        };
        (
            w(n),
            worker.pane().cloned().unwrap_or(pane(999)),
            task.unwrap_or(name(n)),
        )
    };
    match step {
        Step::Spawned(n) => {
            *panes += 1;
            Event::Spawned {
                worker: w(n),
                pane: pane(*panes),
            }
        }
        Step::Ready(n) => {
            let (worker, pane, _) = current(n);
            Event::Ready { worker, pane }
        }
        Step::NotReady(n) => {
            let (worker, pane, _) = current(n);
            Event::NotReady {
                worker,
                pane,
                reason: "no".into(),
            }
        }
        Step::Delivered(n) => {
            let (worker, pane, task) = current(n);
            Event::Delivered { worker, pane, task }
        }
        Step::Refused(n) | Step::NotSubmitted(n) | Step::PaneGone(n) => {
            let (worker, pane, task) = current(n);
            let failure = match step {
                Step::Refused(_) => DeliveryFailure::Refused("copy mode".into()),
                Step::NotSubmitted(_) => DeliveryFailure::NotSubmitted("no".into()),
                _ => DeliveryFailure::PaneGone,
            };
            Event::DeliveryFailed {
                worker,
                pane,
                task,
                failure,
            }
        }
        Step::PaneDead(n) => Event::PaneDead {
            pane: current(n).1,
            status: None,
            signal: None,
        },
        Step::Idle(n) => {
            let (worker, pane, _) = current(n);
            Event::IdleWithoutSentinel { worker, pane }
        }
        Step::NeedsHuman(n) => {
            let (worker, pane, _) = current(n);
            Event::NeedsHuman {
                worker,
                pane,
                what: "a dialog".into(),
            }
        }
        Step::Occupied(n) => {
            let (worker, pane, _) = current(n);
            Event::Occupied {
                worker,
                pane,
                what: "a person scrolls".into(),
            }
        }
        Step::RateLimited(n) => {
            let (worker, pane, _) = current(n);
            Event::RateLimited {
                worker,
                pane,
                until: None,
                resets_in: Some(Duration::from_secs(n as u64 * 7)),
            }
        }
        Step::ApiError(n) => {
            let (worker, pane, _) = current(n);
            Event::ApiError {
                worker,
                pane,
                what: "API Error: 529 Overloaded".into(),
            }
        }
        Step::Sentinel(n) => Event::Sentinel { task: name(n) },
        Step::Tick(secs) => {
            *now += secs;
            Event::Tick {
                now: Duration::from_secs(*now),
            }
        }
        Step::Pause(n) => Event::Command(Command::Pause { worker: n.map(w) }),
        Step::Resume(n) => Event::Command(Command::Resume { worker: n.map(w) }),
        Step::Retry(n) => Event::Command(Command::Retry { task: name(n) }),
        Step::Skip(n) => Event::Command(Command::Skip { task: name(n) }),
        Step::Plan(picks) => Event::PlanChanged {
            tasks: plan_tasks(&picks, graph),
        },
    }
}

proptest! {
    // Fewer, longer runs than the default: the link breaks only after many steps.
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// However events come, the pending queue, the tally and the index stay what a
    /// full recount says, so the next task handed out is the first pending one; and the
    /// task–worker link holds, over long runs.
    #[test]
    fn kept_counts_agree_with_a_recount(
        first in prop::collection::vec((0..NAMES, any::<bool>()), 0..NAMES),
        closed in prop::collection::vec((0..NAMES, any::<bool>()), 0..3),
        adopted in prop::option::of(0..NAMES),
        workers in 1..4usize,
        max_attempts in 1..3u32,
        max_restarts in 0..3u32,
        max_nudges in 0..2u32,
        steps in prop::collection::vec(step(), 0..400),
        deps in any::<u64>(),
        scopes in any::<u64>(),
    ) {
        let graph = Graph { deps, scopes };
        let limits = Limits {
            max_attempts,
            max_restarts,
            task_timeout: Some(Duration::from_secs(10)),
            max_nudges,
        };
        let mut state = State::new(&plan_tasks(&first, graph), workers, limits);
        // What an interrupted run left: failed and skipped tasks, and a live pane.
        let mut replay = Replay::default();
        for (n, failed) in closed {
            replay.apply(if failed {
                Record::Failed { task: name(n), reason: "hung".into() }
            } else {
                Record::Skipped { task: name(n) }
            });
        }
        state.restore(&replay);
        state.adopt(0, pane(500), adopted.map(name));
        state.start();
        assert_counts_are_true(&state);
        assert_links_hold(&state);
        let (mut panes, mut now) = (0, 0);
        for step in steps {
            let event = event_of(&state, step, (workers, graph), &mut panes, &mut now);
            let actions = state.handle(event.clone());
            assert_counts_are_true(&state);
            assert_links_hold(&state);
            // One prompt at a time per pane: a worker is handed a task only when idle.
            let mut handed = BTreeSet::new();
            for action in &actions {
                if let Action::Deliver { worker, .. } = action {
                    prop_assert!(handed.insert(*worker), "two prompts for w{worker} after {event:?}");
                }
            }
            assert_graph_holds(&state, &actions, adopted.map(name).as_ref());
        }
    }
}
