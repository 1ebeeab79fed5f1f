//! Budgets: what the run and each task may cost. The edges read the agents' records and
//! report each task's spending so far (`Event::Spent`); a task over its own budget is
//! interrupted and failed, and once the run's spending reaches its budget no task is
//! handed out (and with `hard`, running ones are interrupted). Money is in micro-dollars,
//! so that the state stays exact and comparable.

use super::{Action, State, TaskStatus};
use crate::plan::TaskId;
use std::collections::HashMap;

/// The budgets of a run, in micro-dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budgets {
    /// The whole run: dispatch stops when its spending reaches it.
    pub run: Option<u64>,
    /// Interrupt the running tasks too when the run's budget is reached.
    pub hard: bool,
    /// Each task, over all its attempts.
    pub task: Option<u64>,
}

/// What was spent, against the budgets.
#[derive(Debug, Clone, Default)]
pub(super) struct Spending {
    pub budgets: Budgets,
    tasks: HashMap<TaskId, u64>,
    total: u64,
    /// The run's budget was reached: nothing more is handed out.
    pub reached: bool,
}

/// Micro-dollars as dollars for people.
pub fn dollars(micros: u64) -> String {
    crate::cost::dollars(micros as f64 / 1e6)
}

impl State {
    pub fn set_budgets(&mut self, budgets: Budgets) {
        self.spending.budgets = budgets;
    }

    pub fn budgets(&self) -> Budgets {
        self.spending.budgets
    }

    /// What the run has spent so far, in micro-dollars (as last reported).
    pub fn spent(&self) -> u64 {
        self.spending.total
    }

    /// The run's budget was reached, and no task is handed out any more.
    pub fn budget_reached(&self) -> bool {
        self.spending.reached
    }

    /// `task` has cost `micros` so far, over all its attempts.
    pub(super) fn spent_on(&mut self, task: TaskId, micros: u64, actions: &mut Vec<Action>) {
        let before = self
            .spending
            .tasks
            .insert(task.clone(), micros)
            .unwrap_or(0);
        self.spending.total = self.spending.total - before.min(self.spending.total) + micros;
        let budgets = self.spending.budgets;
        if let Some(limit) = budgets.task
            && micros > limit
            && self
                .task(&task)
                .is_some_and(|t| t.status == TaskStatus::Running)
        {
            let reason = format!(
                "over its budget: it spent {} of {}",
                dollars(micros),
                dollars(limit)
            );
            let holder = self.holder(&task);
            self.fail(&task, &reason, actions);
            if let Some(worker) = holder {
                self.interrupt(worker, &reason, actions);
            }
        }
        if let Some(limit) = budgets.run
            && !self.spending.reached
            && self.spending.total >= limit
        {
            self.spending.reached = true;
            if budgets.hard {
                let reason = format!(
                    "the run's budget ({}) was reached: {} spent",
                    dollars(limit),
                    dollars(self.spending.total)
                );
                let busy: Vec<_> = self
                    .workers
                    .iter()
                    .filter(|w| w.task().is_some())
                    .map(|w| w.id)
                    .collect();
                for worker in busy {
                    self.interrupt(worker, &reason, actions);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::{Event, Limits, PlanTask, WorkerState};
    use crate::tmux::PaneId;

    fn id(s: &str) -> TaskId {
        TaskId(s.into())
    }

    /// A state with `tasks` and one worker per task given, all ready, and the first tasks
    /// handed out.
    fn running(tasks: &[&str], workers: usize, budgets: Budgets) -> State {
        let plan: Vec<PlanTask> = tasks
            .iter()
            .map(|t| PlanTask {
                id: id(t),
                ..PlanTask::default()
            })
            .collect();
        let mut state = State::new(&plan, workers, Limits::default());
        state.set_budgets(budgets);
        state.start();
        for w in 0..workers {
            let pane = PaneId(format!("%{w}"));
            state.handle(Event::Spawned {
                worker: w,
                pane: pane.clone(),
            });
            state.handle(Event::Ready { worker: w, pane });
        }
        state
    }

    fn delivered(state: &mut State, worker: usize, task: &str) {
        state.handle(Event::Delivered {
            worker,
            pane: PaneId(format!("%{worker}")),
            task: id(task),
        });
    }

    #[test]
    fn a_task_over_its_budget_is_interrupted_and_failed_with_what_it_spent() {
        let budgets = Budgets {
            task: Some(2_000_000),
            ..Budgets::default()
        };
        let mut state = running(&["a", "b"], 1, budgets);
        delivered(&mut state, 0, "a");
        assert!(
            state
                .handle(Event::Spent {
                    task: id("a"),
                    micros: 1_500_000
                })
                .is_empty()
        );
        let actions = state.handle(Event::Spent {
            task: id("a"),
            micros: 2_300_000,
        });
        let reason = "over its budget: it spent $2.30 of $2.00";
        assert_eq!(
            state.task(&id("a")).unwrap().status,
            TaskStatus::Failed(reason.into())
        );
        assert!(actions.contains(&Action::NoteFailure {
            task: id("a"),
            reason: reason.into(),
            attempt: 1,
        }));
        assert!(actions.contains(&Action::Interrupt {
            worker: 0,
            pane: PaneId("%0".into()),
        }));
        assert_eq!(state.workers()[0].state(), &WorkerState::Interrupting);
    }

    #[test]
    fn dispatch_stops_at_the_run_budget_and_running_tasks_finish() {
        let budgets = Budgets {
            run: Some(1_000_000),
            ..Budgets::default()
        };
        let mut state = running(&["a", "b", "c"], 1, budgets);
        delivered(&mut state, 0, "a");
        let actions = state.handle(Event::Spent {
            task: id("a"),
            micros: 1_000_000,
        });
        assert!(state.budget_reached());
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::Interrupt { .. }))
        );
        assert!(!state.is_finished(), "a still runs");
        // a finishes; its worker comes free, and nothing else goes out.
        state.handle(Event::Sentinel { task: id("a") });
        let actions = state.handle(Event::Ready {
            worker: 0,
            pane: PaneId("%0".into()),
        });
        assert!(!actions.iter().any(|a| matches!(a, Action::Deliver { .. })));
        assert!(state.is_finished());
        assert_eq!(state.task(&id("b")).unwrap().status, TaskStatus::Pending);
        assert_eq!(state.spent(), 1_000_000);
    }

    #[test]
    fn a_hard_run_budget_interrupts_the_running_tasks() {
        let budgets = Budgets {
            run: Some(1_000_000),
            hard: true,
            task: None,
        };
        let mut state = running(&["a", "b", "c"], 2, budgets);
        delivered(&mut state, 0, "a");
        delivered(&mut state, 1, "b");
        state.handle(Event::Spent {
            task: id("a"),
            micros: 600_000,
        });
        let actions = state.handle(Event::Spent {
            task: id("b"),
            micros: 500_000,
        });
        let interrupted = actions
            .iter()
            .filter(|a| matches!(a, Action::Interrupt { .. }))
            .count();
        assert_eq!(interrupted, 2);
        assert_eq!(state.task(&id("c")).unwrap().status, TaskStatus::Pending);
        assert_eq!(state.spent(), 1_100_000);
    }
}
