//! The scheduler's side of isolated runs: a task whose agent finished is not done until
//! its work is committed, verified and landed. The worker goes back to work at once; only
//! its worktree waits until the commit and the verify are over.

use super::record::Record;
use super::{Action, Checked, Notice, State, TaskStatus, WorkerId};
use crate::plan::TaskId;

impl State {
    /// Runs tasks in worktrees of their own: a sentinel starts the landing, and a task is
    /// done only once its work has landed.
    pub fn set_lands(&mut self, lands: bool) {
        self.lands = lands;
    }

    /// Task entry `i`'s agent finished: its work goes to be checked in the worktree of
    /// the worker that did it (`holder`, or the last worker it ran on). False if no worker
    /// ever ran it here, so that there is no worktree to take the work from.
    pub(super) fn start_landing(
        &mut self,
        i: usize,
        holder: Option<WorkerId>,
        actions: &mut Vec<Action>,
    ) -> bool {
        let Some(worker) = holder.or(self.tasks[i].last_worker) else {
            return false;
        };
        let (task, attempt) = (self.tasks[i].id.clone(), self.tasks[i].attempts);
        self.set_status(i, TaskStatus::Landing);
        actions.push(Action::Journal(Record::Landing {
            task: task.clone(),
            worker,
            attempt,
        }));
        self.check(worker, task, attempt, actions);
        true
    }

    /// Has `worker`'s worktree commit and verify `task`'s work.
    fn check(&mut self, worker: WorkerId, task: TaskId, attempt: u32, actions: &mut Vec<Action>) {
        self.workers[worker].checking = Some(task.clone());
        actions.push(Action::Check {
            worker,
            task,
            attempt,
        });
    }

    /// The first actions for tasks an earlier run left landing: their work is checked
    /// again (committing twice commits nothing new) and queued again.
    pub(super) fn resume_landing(&mut self, actions: &mut Vec<Action>) {
        for i in 0..self.tasks.len() {
            let entry = &self.tasks[i];
            if entry.status != TaskStatus::Landing {
                continue;
            }
            match entry.last_worker {
                Some(worker) if worker < self.workers.len() => {
                    let (task, attempt) = (entry.id.clone(), entry.attempts);
                    self.check(worker, task, attempt, actions);
                }
                // A run with fewer workers than the one that left it: the task is done
                // again from its branch, which keeps the work.
                _ => {
                    let id = entry.id.clone();
                    self.requeue(&id, "its worker is gone from this run", actions);
                }
            }
        }
    }

    pub(super) fn checked(
        &mut self,
        worker: WorkerId,
        task: &TaskId,
        outcome: Checked,
        actions: &mut Vec<Action>,
    ) {
        if let Some(w) = self.workers.get_mut(worker)
            && w.checking.as_ref() == Some(task)
        {
            w.checking = None;
        }
        let Some(i) = self.position(task) else {
            return;
        };
        if self.tasks[i].status != TaskStatus::Landing {
            return;
        }
        match outcome {
            Checked::ToLand => actions.push(Action::Land {
                task: task.clone(),
                attempt: self.tasks[i].attempts,
            }),
            Checked::Nothing => self.landed(task, None, actions),
            Checked::Failed(reason) => self.requeue(task, &reason, actions),
        }
    }

    pub(super) fn landed(
        &mut self,
        task: &TaskId,
        commit: Option<String>,
        actions: &mut Vec<Action>,
    ) {
        let Some(i) = self.position(task) else {
            return;
        };
        if self.tasks[i].status != TaskStatus::Landing {
            return;
        }
        let attempt = self.tasks[i].attempts;
        self.set_status(i, TaskStatus::Done);
        actions.push(Action::Journal(Record::Landed {
            task: task.clone(),
            commit,
        }));
        actions.push(Action::CheckOff { task: task.clone() });
        actions.push(Action::Notify(Notice::Done {
            task: task.clone(),
            attempt,
        }));
    }

    pub(super) fn land_failed(&mut self, task: &TaskId, reason: &str, actions: &mut Vec<Action>) {
        if self.position(task).is_some_and(|i| self.tasks[i].status == TaskStatus::Landing) {
            self.requeue(task, reason, actions);
        }
    }
}
