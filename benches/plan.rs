//! Micro-benchmarks of PLAN.md handling on a 10,000-task plan: every completion re-reads
//! and re-parses the plan before flipping one byte (P5 wants ≤ 5 ms of bookkeeping).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::path::Path;
use swarm::plan::TaskId;

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

criterion_group!(benches, parse, check_off);
criterion_main!(benches);
