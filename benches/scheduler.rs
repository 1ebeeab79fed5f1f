//! Micro-benchmark of one scheduler step on a 10,000-task, 64-worker state: the pure
//! core's share of the work each completion costs. Twice: a plain list, and a graph of
//! 20,000 `after` edges with 1,000 tasks holding write scopes.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::time::Duration;
use swarm::plan::TaskId;
use swarm::scheduler::{Action, Event, Limits, PlanTask, Scope, ScopeDefault, State};
use swarm::tmux::PaneId;

const TASKS: usize = 10_000;
const WORKERS: usize = 64;

/// A plan of `TASKS` tasks, the first `done` of them checked.
type Plan = fn(usize) -> Vec<PlanTask>;

fn name(i: usize) -> TaskId {
    TaskId(format!("t{i:05}"))
}

/// The plain plan: the first `done` tasks checked.
fn list(done: usize) -> Vec<PlanTask> {
    (0..TASKS)
        .map(|i| PlanTask {
            id: name(i),
            checked: i < done,
            ..PlanTask::default()
        })
        .collect()
}

/// The graph: from task 64 on, each waits for the one 64 before it and for one further
/// back (and 129 of them for the one right before), 20,000 edges; every tenth task
/// changes one of 50 directories, so that some of them wait for each other's files.
fn graph(done: usize) -> Vec<PlanTask> {
    let mut tasks = list(done);
    let mut edges = 0;
    for (i, task) in tasks.iter_mut().enumerate().skip(64) {
        task.after.push(name(i - 64));
        if i > 64 {
            task.after.push(name(i * 7919 % (i - 64)));
        }
        if i < 64 + 129 {
            task.after.push(name(i - 1));
        }
        edges += task.after.len();
        if i % 10 == 0 {
            task.scope = Scope::of(&[format!("src/mod{}/**", i % 50)], ScopeDefault::None);
        }
    }
    assert_eq!(edges, 20_000);
    tasks
}

/// Every worker busy on a task.
fn busy_state(tasks: Vec<PlanTask>) -> (State, Vec<TaskId>) {
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
    // In the graph, a task or two wait for another's files.
    assert!(running.len() >= WORKERS - 2, "the workers got tasks");
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
    let plans: [(&str, Plan); 2] = [("", list), (", a graph", graph)];
    for ((name, done), (shape, plan)) in [("", 0), (", half done", TASKS / 2)]
        .into_iter()
        .flat_map(|d| plans.iter().map(move |p| (d, *p)))
    {
        let (state, running) = busy_state(plan(done));
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
        let size = format!("10k tasks × 64 workers{shape}{name}");
        bench_event(c, &format!("scheduler: sentinel, {size}"), &state, sentinel);
        bench_event(c, &format!("scheduler: ready, {size}"), &resetting, ready);
        bench_event(c, &format!("scheduler: tick, {size}"), &state, tick);
    }
}

criterion_group!(benches, step);
criterion_main!(benches);
