//! Micro-benchmark of one scheduler step on a 10,000-task, 64-worker state: the pure
//! core's share of the work each completion costs.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::time::Duration;
use swarm::plan::TaskId;
use swarm::scheduler::{Action, Event, Limits, PlanTask, State};
use swarm::tmux::PaneId;

const TASKS: usize = 10_000;
const WORKERS: usize = 64;

/// Every worker busy on a task, the first `done` tasks checked, the rest pending.
fn busy_state(done: usize) -> (State, Vec<TaskId>) {
    let tasks: Vec<PlanTask> = (0..TASKS)
        .map(|i| PlanTask {
            id: TaskId(format!("t{i:05}")),
            checked: i < done,
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

/// Times one `handle(event)` on fresh clones of `state`. With `iter_batched_ref`, dropping
/// the 10,000-entry clone is not part of the step (it was 300 µs of the first figures).
fn bench_event(c: &mut Criterion, name: &str, state: &State, event: Event) {
    c.bench_function(name, |b| {
        b.iter_batched_ref(
            || state.clone(),
            |state| state.handle(event.clone()),
            BatchSize::LargeInput,
        )
    });
}

fn step(c: &mut Criterion) {
    // At the start of the run, and half-way through it (when the first pending task is
    // 5,000 entries in).
    for (name, done) in [("", 0), (", half done", TASKS / 2)] {
        let (state, running) = busy_state(done);
        let sentinel = Event::Sentinel {
            task: running[7].clone(),
        };
        // The worker whose task finished is ready again: the step that picks the next task.
        let mut resetting = state.clone();
        resetting.handle(sentinel.clone());
        let ready = Event::Ready {
            worker: 7,
            pane: PaneId("%7".into()),
        };
        let tick = Event::Tick {
            now: Duration::from_secs(60),
        };
        let size = format!("10k tasks × 64 workers{name}");
        bench_event(c, &format!("scheduler: sentinel, {size}"), &state, sentinel);
        bench_event(c, &format!("scheduler: ready, {size}"), &resetting, ready);
        bench_event(c, &format!("scheduler: tick, {size}"), &state, tick);
    }
}

criterion_group!(benches, step);
criterion_main!(benches);
