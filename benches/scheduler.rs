//! Micro-benchmark of one scheduler step on a 10,000-task, 64-worker state: the pure
//! core's share of the work each completion costs.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::time::Duration;
use swarm::plan::TaskId;
use swarm::scheduler::{Action, Event, Limits, PlanTask, State};
use swarm::tmux::PaneId;

const TASKS: usize = 10_000;
const WORKERS: usize = 64;

/// Every worker busy on a task, the rest of the plan pending.
fn busy_state() -> (State, Vec<TaskId>) {
    let tasks: Vec<PlanTask> = (0..TASKS)
        .map(|i| PlanTask {
            id: TaskId(format!("t{i:05}")),
            checked: false,
        })
        .collect();
    let mut state = State::new(&tasks, WORKERS, Limits::default());
    state.start();
    let mut running = Vec::new();
    for worker in 0..WORKERS {
        let pane = PaneId(format!("%{worker}"));
        state.handle(Event::Spawned {
            worker,
            pane: pane.clone(),
        });
        for action in state.handle(Event::Ready {
            worker,
            pane: pane.clone(),
        }) {
            if let Action::Deliver { task, .. } = action {
                state.handle(Event::Delivered {
                    worker,
                    pane: pane.clone(),
                    task: task.clone(),
                });
                running.push(task);
            }
        }
    }
    assert_eq!(running.len(), WORKERS, "every worker got a task");
    (state, running)
}

fn step(c: &mut Criterion) {
    let (state, running) = busy_state();
    c.bench_function("scheduler: sentinel, 10k tasks × 64 workers", |b| {
        b.iter_batched(
            || state.clone(),
            |mut state| {
                state.handle(Event::Sentinel {
                    task: running[7].clone(),
                })
            },
            BatchSize::LargeInput,
        )
    });
    c.bench_function("scheduler: tick, 10k tasks × 64 workers", |b| {
        b.iter_batched(
            || state.clone(),
            |mut state| {
                state.handle(Event::Tick {
                    now: Duration::from_secs(60),
                })
            },
            BatchSize::LargeInput,
        )
    });
}

criterion_group!(benches, step);
criterion_main!(benches);
