//! The run's receipts and spending, as the executor keeps them: each task's receipts
//! (journaled as they happen), the attempt each worker is on, and what each task cost
//! by the agents' last-read records, for the status file, the budgets and the summary.

use crate::cost::{Ledger, Prices, Spend, Spent};
use crate::journal::Record;
use crate::plan::TaskId;
use crate::receipt::{Latest, Receipt, Stage};
use crate::scheduler::WorkerId;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

#[derive(Debug, Default)]
pub struct Book {
    receipts: HashMap<TaskId, Vec<Receipt>>,
    /// The attempt each worker is on, from its last assignment.
    workers: HashMap<WorkerId, (TaskId, u32)>,
    /// Each task's latest attempt.
    attempts: HashMap<TaskId, u32>,
    /// What each task has cost so far, and the whole run.
    spent: BTreeMap<TaskId, Spent>,
    total: Spent,
}

impl Book {
    /// The receipt a scheduler record makes, if any: `cwd` is where worker `w` works.
    pub fn of_record(
        &mut self,
        record: &Record,
        now_ms: i64,
        cwd: impl Fn(WorkerId) -> PathBuf,
    ) -> Option<Receipt> {
        let (task, stage) = match record {
            Record::Assigned {
                task,
                worker,
                pane,
                attempt,
            } => {
                self.workers.insert(*worker, (task.clone(), *attempt));
                self.attempts.insert(task.clone(), *attempt);
                let stage = Stage::Queued {
                    worker: *worker,
                    pane: pane.clone(),
                    cwd: cwd(*worker),
                };
                (task, stage)
            }
            Record::Done { task } | Record::Landing { task, .. } => (task, Stage::Sentinel),
            Record::Landed { task, commit } => (
                task,
                Stage::Landed {
                    commit: commit.clone(),
                },
            ),
            Record::Requeued { task, reason } => (
                task,
                Stage::Requeued {
                    reason: reason.clone(),
                },
            ),
            Record::Unsent { task, reason } => (
                task,
                Stage::Requeued {
                    reason: format!("not sent: {reason}"),
                },
            ),
            Record::Failed { task, reason } => (
                task,
                Stage::Failed {
                    reason: reason.clone(),
                },
            ),
            _ => return None,
        };
        let attempt = self.attempts.get(task).copied().unwrap_or(0);
        Some(Receipt {
            task: task.clone(),
            attempt,
            at: now_ms,
            stage,
        })
    }

    /// The attempt worker `worker` was last handed.
    pub fn on_worker(&self, worker: WorkerId) -> Option<(TaskId, u32)> {
        self.workers.get(&worker).cloned()
    }

    /// Keeps `receipt`; false when it says nothing new (a second `working` for an attempt
    /// whose monitor restarted after a pause).
    pub fn add(&mut self, receipt: Receipt) -> bool {
        let list = self.receipts.entry(receipt.task.clone()).or_default();
        if receipt.stage == Stage::Working
            && list
                .iter()
                .any(|r| r.attempt == receipt.attempt && r.stage == Stage::Working)
        {
            return false;
        }
        list.push(receipt);
        true
    }

    /// The latest stage of `task`, and how long it took.
    pub fn latest(&self, task: &TaskId) -> Option<Latest> {
        Latest::of(self.receipts.get(task)?)
    }

    /// When each attempt of each task was handed out, Unix milliseconds.
    pub fn starts(&self) -> HashMap<TaskId, Vec<(u32, i64)>> {
        self.receipts
            .iter()
            .map(|(task, list)| {
                let starts = list
                    .iter()
                    .filter(|r| matches!(r.stage, Stage::Queued { .. }))
                    .map(|r| (r.attempt, r.at))
                    .collect();
                (task.clone(), starts)
            })
            .collect()
    }

    /// Takes the agents' records as last read; returns the tasks whose cost changed, with
    /// it.
    pub fn spent(
        &mut self,
        spends: &[Spend],
        sentinels: &HashMap<String, TaskId>,
        prices: &Prices,
    ) -> Vec<(TaskId, Spent)> {
        let ledger = Ledger::build(spends, sentinels, &self.starts());
        let now = ledger.tasks(prices);
        let changed = now
            .iter()
            .filter(|(task, spent)| self.spent.get(*task) != Some(*spent))
            .map(|(task, spent)| (task.clone(), spent.clone()))
            .collect();
        self.total = ledger.total(prices);
        self.spent = now;
        changed
    }

    /// What `task` has cost so far.
    pub fn task_spent(&self, task: &TaskId) -> Option<&Spent> {
        self.spent.get(task)
    }

    /// What every task has cost so far.
    pub fn tasks_spent(&self) -> &BTreeMap<TaskId, Spent> {
        &self.spent
    }

    /// What the run has cost so far.
    pub fn total(&self) -> &Spent {
        &self.total
    }
}
