//! The run's record of each task it handed out, in the spirit of GNU parallel's
//! `--joblog`: a table on stderr when the run ends, and `.swarm/joblog.tsv` for scripts.

use crate::plan::TaskId;
use crate::scheduler::{State, TaskStatus, WorkerId};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The columns of `.swarm/joblog.tsv` (docs/cli.md).
const HEADER: &str =
    "seq\ttask\tworker\tstarted\truntime\tattempts\tresult\tstage\ttokens\tcost\ttext";

/// One task the run handed out.
#[derive(Debug, Clone)]
struct Job {
    worker: WorkerId,
    text: String,
    started: SystemTime,
    ended: Option<SystemTime>,
    attempts: u32,
    /// `running`, `done`, `failed`, `skipped`, or `pending` (its attempt ended, another waits).
    result: &'static str,
    /// Its latest receipt's stage.
    stage: Option<String>,
    /// What it cost, over its attempts.
    spent: Option<crate::cost::Spent>,
}

/// The tasks handed out, in the order of their first delivery.
#[derive(Debug, Default)]
pub struct JobLog {
    order: Vec<TaskId>,
    jobs: HashMap<TaskId, Job>,
}

impl JobLog {
    /// A prompt went out to `worker` for `task`.
    pub fn delivered(
        &mut self,
        task: &TaskId,
        worker: WorkerId,
        attempt: u32,
        text: &str,
        now: SystemTime,
    ) {
        let job = self.jobs.entry(task.clone()).or_insert_with(|| Job {
            worker,
            text: text.to_string(),
            started: now,
            ended: None,
            attempts: 0,
            result: "running",
            stage: None,
            spent: None,
        });
        if job.attempts == 0 {
            self.order.push(task.clone());
        }
        job.worker = worker;
        job.attempts = job.attempts.max(attempt);
        job.result = "running";
        job.ended = None;
    }

    /// `task` ended as `result` now (a check-off, a failure).
    pub fn ended(&mut self, task: &TaskId, result: &'static str, now: SystemTime) {
        if let Some(job) = self.jobs.get_mut(task) {
            job.result = result;
            job.ended.get_or_insert(now);
        }
    }

    /// Takes the tasks' ends from the scheduler's state.
    pub fn sync(&mut self, state: &State, now: SystemTime) {
        for entry in state.tasks() {
            let Some(job) = self.jobs.get_mut(&entry.id) else {
                continue;
            };
            job.attempts = job.attempts.max(entry.attempts);
            let result = match entry.status {
                TaskStatus::Running | TaskStatus::Landing => continue,
                TaskStatus::Pending => "pending",
                TaskStatus::Done => "done",
                TaskStatus::Failed(_) => "failed",
                TaskStatus::Skipped => "skipped",
                TaskStatus::Blocked(_) => "blocked",
            };
            if job.result == "running" {
                job.ended = Some(now);
            }
            job.result = result;
        }
    }

    /// Takes each task's latest stage and what it cost, at the end of the run.
    pub fn costs(&mut self, costs: &super::Costs) {
        for (id, job) in &mut self.jobs {
            job.stage = costs.stages.get(id).map(|l| l.stage.clone());
            job.spent = costs.tasks.get(id).cloned();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn rows(&self, now: SystemTime) -> impl Iterator<Item = (usize, &TaskId, &Job, Duration)> {
        self.order.iter().enumerate().map(move |(i, id)| {
            let job = &self.jobs[id];
            let end = job.ended.unwrap_or(now);
            let runtime = end.duration_since(job.started).unwrap_or_default();
            (i + 1, id, job, runtime)
        })
    }

    /// The table people read at the end of a run.
    pub fn table(&self, now: SystemTime) -> String {
        let width = self
            .order
            .iter()
            .map(|t| t.0.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut out = format!(
            "{:>3}  {:<width$}  WORKER  TRIES  TIME     RESULT   COST\n",
            "#", "TASK"
        );
        for (seq, id, job, runtime) in self.rows(now) {
            let _ = writeln!(
                out,
                "{seq:>3}  {:<width$}  w{:<5}  {:<5}  {:<7}  {:<7}  {}",
                id.0,
                job.worker,
                job.attempts,
                super::progress::short(runtime),
                job.result,
                job.spent.as_ref().map(|s| s.describe()).unwrap_or_default()
            );
        }
        out
    }

    /// `.swarm/joblog.tsv`: a header, then a row per task, tab-separated; times in Unix
    /// seconds and seconds.
    pub fn tsv(&self, now: SystemTime) -> String {
        let mut out = format!("{HEADER}\n");
        for (seq, id, job, runtime) in self.rows(now) {
            let started = job
                .started
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            let text: String = job
                .text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let tokens = job.spent.as_ref().map(|s| s.tokens.total().to_string());
            let cost = job
                .spent
                .as_ref()
                .and_then(|s| s.cost)
                .map(|c| format!("{c:.6}"));
            let _ = writeln!(
                out,
                "{seq}\t{id}\tw{}\t{started:.3}\t{:.3}\t{}\t{}\t{}\t{}\t{}\t{text}",
                job.worker,
                runtime.as_secs_f64(),
                job.attempts,
                job.result,
                job.stage.as_deref().unwrap_or(""),
                tokens.as_deref().unwrap_or(""),
                cost.as_deref().unwrap_or(""),
            );
        }
        out
    }

    /// Writes the TSV to `path`, whole.
    pub fn write(&self, path: &Path, now: SystemTime) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, self.tsv(now).as_bytes())?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_handed_out_gets_a_row_with_its_end() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (a, b) = (TaskId("write-docs".into()), TaskId("fix-bug".into()));
        let mut log = JobLog::default();
        log.delivered(&a, 0, 1, "Write the docs", t0);
        log.delivered(&b, 1, 1, "Fix the\tbug\n", t0);
        log.delivered(&a, 1, 2, "Write the docs", t0 + Duration::from_secs(5));
        log.ended(&a, "done", t0 + Duration::from_secs(95));
        log.ended(&b, "failed", t0 + Duration::from_secs(30));
        let tsv = log.tsv(t0 + Duration::from_secs(200));
        let lines: Vec<&str> = tsv.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(
            lines[1],
            "1\twrite-docs\tw1\t1000000.000\t95.000\t2\tdone\t\t\t\tWrite the docs"
        );
        assert!(
            lines[2].ends_with("\t30.000\t1\tfailed\t\t\t\tFix the bug "),
            "{}",
            lines[2]
        );
        let table = log.table(t0 + Duration::from_secs(200));
        assert!(
            table.contains("  1  write-docs  w1      2      1m35s    done   "),
            "{table}"
        );
    }
}
