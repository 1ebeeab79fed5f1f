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

    /// Keeps `receipt`; false when it says nothing new: a second `working` for an attempt
    /// whose monitor restarted after a pause, or one seen only after the attempt ended
    /// (a fast agent's sentinel can beat the monitor's first look).
    pub fn add(&mut self, receipt: Receipt) -> bool {
        let list = self.receipts.entry(receipt.task.clone()).or_default();
        if receipt.stage == Stage::Working
            && list.iter().any(|r| {
                r.attempt == receipt.attempt
                    && !matches!(
                        r.stage,
                        Stage::Queued { .. } | Stage::Pasted { .. } | Stage::Submitted { .. }
                    )
            })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tmux::PaneId;

    fn receipt(attempt: u32, at: i64, stage: Stage) -> Receipt {
        Receipt {
            task: TaskId("a".into()),
            attempt,
            at,
            stage,
        }
    }

    #[test]
    fn records_make_receipts_of_the_attempt_they_belong_to() {
        let mut book = Book::default();
        let assigned = Record::Assigned {
            task: TaskId("a".into()),
            worker: 1,
            pane: PaneId("%4".into()),
            attempt: 2,
        };
        let queued = book.of_record(&assigned, 1000, |w| PathBuf::from(format!("/wt/{w}")));
        let queued = queued.unwrap();
        assert_eq!(queued.attempt, 2);
        assert_eq!(
            queued.stage,
            Stage::Queued {
                worker: 1,
                pane: PaneId("%4".into()),
                cwd: PathBuf::from("/wt/1"),
            }
        );
        assert_eq!(book.on_worker(1), Some((TaskId("a".into()), 2)));
        let done = Record::Done {
            task: TaskId("a".into()),
        };
        let sentinel = book.of_record(&done, 5000, |_| PathBuf::new()).unwrap();
        assert_eq!((sentinel.attempt, sentinel.stage), (2, Stage::Sentinel));
        assert_eq!(
            book.of_record(&Record::Finished, 6000, |_| PathBuf::new()),
            None
        );
    }

    #[test]
    fn working_is_kept_once_and_only_while_the_attempt_runs() {
        let mut book = Book::default();
        assert!(book.add(receipt(1, 1000, Stage::Working)));
        assert!(
            !book.add(receipt(1, 1200, Stage::Working)),
            "a restarted monitor"
        );
        assert!(book.add(receipt(1, 3000, Stage::Sentinel)));
        assert!(book.add(receipt(
            2,
            4000,
            Stage::Submitted {
                how: crate::receipt::Submitted::Busy
            }
        )));
        assert!(book.add(receipt(2, 4100, Stage::Sentinel)));
        assert!(
            !book.add(receipt(2, 4200, Stage::Working)),
            "seen after its sentinel"
        );
        let latest = book.latest(&TaskId("a".into())).unwrap();
        assert_eq!(latest.stage, "sentinel");
        assert_eq!(latest.took, Some(0.1));
    }
}
