//! What may run now: a pending task goes out once every task it waits for is done and no
//! running task's write scope overlaps its own. A task whose dependency failed (or was
//! skipped, or is itself blocked) is blocked, until a retry makes it pending again.
//!
//! Kept incrementally, so that no event scans the plan: each task counts the dependencies
//! not done yet (`waits`) and the ones that failed (`bad`); a status change adjusts the
//! counts of its dependents only, and `ready` holds the pending tasks with nothing to wait
//! for. A ready task whose scope overlaps a running task's is parked on that task and
//! comes back when it stops running. The graph is rebuilt (O(tasks + edges)) only when the
//! plan changes, which costs a parse of the plan anyway.

use super::scope::Scope;
use super::{PlanTask, State, TaskStatus};
use crate::plan::TaskId;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// The dependency graph and the scopes, beside the task list (`nodes[i]` is task `i`'s).
#[derive(Debug, Clone, Default)]
pub(super) struct Graph {
    nodes: Vec<Node>,
    /// Pending tasks with every dependency done and not parked, one set per pool (the
    /// pool a task is routed to): the first of a pool's goes out next to that pool.
    pub(super) ready: Vec<BTreeSet<usize>>,
    /// Running tasks that have a scope (as many as the workers, at most).
    holding: Vec<usize>,
    /// Ready tasks set aside because their scope overlaps the running task they are
    /// filed under.
    parked: HashMap<usize, Vec<usize>>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// As the plan names them.
    after: Vec<TaskId>,
    scope: Scope,
    /// The pool it is routed to.
    pool: usize,
    /// The task entries it waits for, and the ones that wait for it.
    deps: Vec<usize>,
    dependents: Vec<usize>,
    /// Dependencies not done.
    waits: usize,
    /// Dependencies failed, skipped or blocked.
    bad: usize,
    /// The running task whose scope holds this one back.
    parked_on: Option<usize>,
}

/// What a pending task waits for, for people to see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Waiting {
    /// Tasks it waits for that are not done.
    Tasks { tasks: Vec<TaskId> },
    /// A running task holds a scope that overlaps its own.
    Scope { holder: TaskId },
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Waiting::Tasks { tasks } => {
                let names: Vec<String> = tasks.iter().map(|t| format!("`{t}`")).collect();
                write!(f, "waits for {}", names.join(", "))
            }
            Waiting::Scope { holder } => write!(f, "waits for `{holder}` to free its files"),
        }
    }
}

/// A task in this status keeps its write scope: its work is not on the landing branch yet.
fn holds_scope(status: &TaskStatus) -> bool {
    matches!(status, TaskStatus::Running | TaskStatus::Landing)
}

fn is_done(status: &TaskStatus) -> bool {
    *status == TaskStatus::Done
}

/// A dependency in this status keeps its dependents from ever running, until retried.
fn is_bad(status: &TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Failed(_) | TaskStatus::Skipped | TaskStatus::Blocked(_)
    )
}

impl State {
    /// Rebuilds the graph from the plan's tasks (a task missing from `plan`, one a person
    /// removed while it runs, waits for nothing). A dependency on a task the scheduler does
    /// not know is no dependency: the plan checks every `after=`, so that is only a task
    /// the run left out.
    pub(super) fn relink(&mut self, plan: &[PlanTask]) {
        let by_id: HashMap<&TaskId, &PlanTask> = plan.iter().map(|t| (&t.id, t)).collect();
        let n = self.tasks.len();
        let mut nodes: Vec<Node> = Vec::with_capacity(n);
        for i in 0..n {
            nodes.push(match by_id.get(&self.tasks[i].id) {
                Some(p) => Node {
                    after: p.after.clone(),
                    scope: p.scope.clone(),
                    pool: self.pool_for(p.agent.as_deref()),
                    ..Node::default()
                },
                None => Node {
                    pool: self.default_pool,
                    ..Node::default()
                },
            });
        }
        for i in 0..n {
            let mut deps: Vec<usize> = nodes[i]
                .after
                .iter()
                .filter_map(|id| self.index.get(id).copied())
                .filter(|&d| d != i)
                .collect();
            deps.sort_unstable();
            deps.dedup();
            for &d in &deps {
                nodes[d].dependents.push(i);
                nodes[i].waits += usize::from(!is_done(&self.tasks[d].status));
                nodes[i].bad += usize::from(is_bad(&self.tasks[d].status));
            }
            nodes[i].deps = deps;
        }
        self.graph = Graph {
            nodes,
            ready: vec![BTreeSet::new(); self.pools.len()],
            ..Graph::default()
        };
        for i in 0..n {
            if holds_scope(&self.tasks[i].status) && !self.graph.nodes[i].scope.is_free() {
                self.graph.holding.push(i);
            }
            self.refresh_ready(i);
        }
        // Statuses follow the new edges: a task that now waits for a failed one is
        // blocked, one that no longer does is pending again.
        for i in 0..n {
            if let Some((i, was)) = self.settle_block(i) {
                self.propagate(i, was);
            }
        }
    }

    /// Task `i` went from `was` to its status now: its scope, its readiness, and its
    /// dependents' counts follow, and so do their statuses, as far as they go.
    pub(super) fn propagate(&mut self, i: usize, was: TaskStatus) {
        let mut work = vec![(i, was)];
        while let Some((i, was)) = work.pop() {
            if i >= self.graph.nodes.len() {
                // A task just added; `relink` sees it.
                continue;
            }
            let now = self.tasks[i].status.clone();
            if holds_scope(&was) && !holds_scope(&now) {
                self.graph.holding.retain(|&h| h != i);
                for parked in self.graph.parked.remove(&i).unwrap_or_default() {
                    if self.graph.nodes[parked].parked_on == Some(i) {
                        self.graph.nodes[parked].parked_on = None;
                        self.refresh_ready(parked);
                    }
                }
            }
            if holds_scope(&now) && !holds_scope(&was) && !self.graph.nodes[i].scope.is_free() {
                self.graph.holding.push(i);
            }
            if now != TaskStatus::Pending {
                self.graph.nodes[i].parked_on = None;
            }
            self.refresh_ready(i);
            // A task made pending (a retry, a requeue) whose own dependency failed is
            // blocked at once.
            work.extend(self.settle_block(i));
            let done = is_done(&now) as isize - is_done(&was) as isize;
            let bad = is_bad(&now) as isize - is_bad(&was) as isize;
            if done == 0 && bad == 0 {
                continue;
            }
            for k in 0..self.graph.nodes[i].dependents.len() {
                let j = self.graph.nodes[i].dependents[k];
                let node = &mut self.graph.nodes[j];
                node.waits = node.waits.saturating_add_signed(-done);
                node.bad = node.bad.saturating_add_signed(bad);
                self.refresh_ready(j);
                work.extend(self.settle_block(j));
            }
        }
    }

    /// Blocks pending task `j` if a dependency failed, or makes blocked `j` pending when
    /// none has. Returns the change, for its own dependents to follow.
    fn settle_block(&mut self, j: usize) -> Option<(usize, TaskStatus)> {
        let bad = self.graph.nodes[j].bad;
        let next = match self.tasks[j].status {
            TaskStatus::Pending if bad > 0 => TaskStatus::Blocked(self.block_reason(j)),
            TaskStatus::Blocked(_) if bad == 0 => TaskStatus::Pending,
            _ => return None,
        };
        Some((j, self.set_status_only(j, next)))
    }

    /// Why task `j` is blocked: its first dependency that failed, was skipped or is blocked.
    fn block_reason(&self, j: usize) -> String {
        let Some(&d) = self.graph.nodes[j]
            .deps
            .iter()
            .find(|&&d| is_bad(&self.tasks[d].status))
        else {
            return "a task it waits for did not finish".into();
        };
        let dep = &self.tasks[d].id;
        match &self.tasks[d].status {
            TaskStatus::Failed(_) => format!("`{dep}` failed"),
            TaskStatus::Skipped => format!("`{dep}` was skipped"),
            _ => format!("`{dep}` is blocked"),
        }
    }

    /// Puts task `i` in `ready`, or takes it out, as its status and counts say.
    fn refresh_ready(&mut self, i: usize) {
        let node = &self.graph.nodes[i];
        let ready = &mut self.graph.ready[node.pool];
        if self.tasks[i].status == TaskStatus::Pending
            && node.waits == 0
            && node.parked_on.is_none()
        {
            ready.insert(i);
        } else {
            ready.remove(&i);
        }
    }

    /// The pool task entry `i` is routed to.
    pub(super) fn pool_of_task(&self, i: usize) -> usize {
        self.graph
            .nodes
            .get(i)
            .map_or(self.default_pool, |n| n.pool)
    }

    /// The first ready task of `pool` whose scope overlaps no running task's; the ones
    /// before it that overlap are parked on the running task they overlap.
    pub(super) fn next_ready(
        &mut self,
        pool: usize,
        takes: impl Fn(&super::TaskEntry) -> bool,
    ) -> Option<usize> {
        loop {
            let next = self.graph.ready[pool]
                .iter()
                .copied()
                .find(|&i| takes(&self.tasks[i]))?;
            let scope = &self.graph.nodes[next].scope;
            let holder = self
                .graph
                .holding
                .iter()
                .copied()
                .find(|&h| self.graph.nodes[h].scope.overlaps(scope));
            let Some(holder) = holder else {
                return Some(next);
            };
            self.graph.ready[pool].remove(&next);
            self.graph.nodes[next].parked_on = Some(holder);
            self.graph.parked.entry(holder).or_default().push(next);
        }
    }

    /// What pending task `id` waits for, if anything: tasks not done, or a running task's
    /// overlapping scope.
    pub fn waiting(&self, id: &TaskId) -> Option<Waiting> {
        let i = *self.index.get(id)?;
        if self.tasks[i].status != TaskStatus::Pending {
            return None;
        }
        let node = self.graph.nodes.get(i)?;
        if node.waits > 0 {
            let tasks = node
                .deps
                .iter()
                .filter(|&&d| !is_done(&self.tasks[d].status))
                .map(|&d| self.tasks[d].id.clone())
                .collect();
            return Some(Waiting::Tasks { tasks });
        }
        let holder = node.parked_on.or_else(|| {
            self.graph
                .holding
                .iter()
                .copied()
                .find(|&h| self.graph.nodes[h].scope.overlaps(&node.scope))
        })?;
        Some(Waiting::Scope {
            holder: self.tasks[holder].id.clone(),
        })
    }

    /// The tasks `id` waits for, as the plan names them.
    pub fn dependencies(&self, id: &TaskId) -> &[TaskId] {
        self.index
            .get(id)
            .and_then(|&i| self.graph.nodes.get(i))
            .map_or(&[], |n| &n.after)
    }

    /// The scope task entry `i` holds while it runs.
    #[cfg(test)]
    pub(super) fn scope_of(&self, i: usize) -> &Scope {
        &self.graph.nodes[i].scope
    }
}
