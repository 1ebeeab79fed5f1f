//! Micro-benchmarks of PLAN.md handling on a 10,000-task plan: every completion re-reads
//! the plan before flipping bytes in it (P5 wants ≤ 5 ms of bookkeeping).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::path::Path;
use std::time::{Duration, Instant};
use swarm::plan::{PlanFile, TaskId};

const TASKS: usize = 10_000;

/// A plan like a big real one: a heading, tasks with ids, some context lines.
fn plan_text() -> String {
    let mut text = String::from("# Big plan\n\n");
    for i in 0..TASKS {
        text.push_str(&format!(
            "- [ ] Write docs/mod{i}.md describing src/mod{i}.rs {{#t{i:05}}}\n"
        ));
        if i % 10 == 0 {
            text.push_str("  Mention the error paths and the public API.\n");
        }
    }
    text
}

fn parse(c: &mut Criterion) {
    let text = plan_text();
    c.bench_function("plan::parse 10k tasks", |b| {
        b.iter(|| swarm::plan::parse(&text, Path::new("PLAN.md")).unwrap())
    });
}

fn check_off(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("PLAN.md");
    let text = plan_text();
    let id = TaskId(format!("t{:05}", TASKS / 2));
    // Includes the fsyncs of the atomic write: that is what a completion costs.
    c.bench_function("plan::check_off 10k tasks", |b| {
        b.iter_batched(
            || std::fs::write(&path, &text).unwrap(),
            |()| swarm::plan::check_off(&path, &id).unwrap(),
            BatchSize::PerIteration,
        )
    });
}

/// What a run pays: the plan is cached, and a loop iteration checks off what completed.
fn plan_file(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("PLAN.md");
    let text = plan_text();
    std::fs::write(&path, &text).unwrap();
    let mut plan = PlanFile::open(&path).unwrap();
    c.bench_function("PlanFile::refresh 10k tasks, unchanged", |b| {
        b.iter(|| assert!(!plan.refresh().changed))
    });
    let one = [TaskId(format!("t{:05}", TASKS / 2))];
    let sixteen: Vec<TaskId> = (0..16)
        .map(|i| TaskId(format!("t{:05}", i * (TASKS / 16) + 7)))
        .collect();
    for (name, ids) in [("1 task", &one[..]), ("16 tasks", &sixteen[..])] {
        c.bench_function(&format!("PlanFile::check_off {name}, 10k tasks"), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    // Untimed: back to all open, and known to the cache.
                    std::fs::write(&path, &text).unwrap();
                    assert!(plan.refresh().problem.is_none());
                    let start = Instant::now();
                    plan.check_off(ids).unwrap();
                    spent += start.elapsed();
                }
                spent
            })
        });
    }
}

criterion_group!(benches, parse, check_off, plan_file);
criterion_main!(benches);
