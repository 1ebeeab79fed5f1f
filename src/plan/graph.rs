//! What waits for what in a plan: every `after=` names a task, and no task waits on
//! itself through others. Checked on every parse, so a bad edit never reaches a run.

use super::{PlanError, Task, TaskId};
use std::collections::HashMap;
use std::path::Path;

/// Fails on the first `after=` that names no task, or on a cycle (named task by task).
pub(super) fn check(tasks: &[Task], path: &Path) -> Result<(), PlanError> {
    let index: HashMap<&TaskId, usize> =
        tasks.iter().enumerate().map(|(i, t)| (&t.id, i)).collect();
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(tasks.len());
    for task in tasks {
        let mut mine = Vec::with_capacity(task.after.len() + task.children.len());
        for dep in task.waits_for() {
            let Some(&d) = index.get(dep) else {
                return Err(PlanError::UnknownDependency {
                    path: path.to_path_buf(),
                    line: task.line,
                    id: dep.clone(),
                });
            };
            mine.push(d);
        }
        deps.push(mine);
    }
    match find_cycle(&deps) {
        None => Ok(()),
        Some(cycle) => {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            let mut steps: Vec<String> = cycle
                .iter()
                .map(|&i| format!("`{}` ({name}:{})", tasks[i].id, tasks[i].line))
                .collect();
            steps.push(format!("`{}`", tasks[cycle[0]].id));
            Err(PlanError::Cycle {
                path: path.to_path_buf(),
                line: tasks[cycle[0]].line,
                cycle: steps.join(" waits for "),
            })
        }
    }
}

/// A cycle in the graph (`deps[i]` are what `i` waits for), as the tasks along it, if any.
/// Depth-first without recursion: a 10,000-task chain must not overflow the stack.
fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut mark = vec![Mark::New; deps.len()];
    for root in 0..deps.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // The path from `root`, each with the next of its edges to follow.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::OnPath;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match mark[dep] {
                    Mark::New => {
                        mark[dep] = Mark::OnPath;
                        path.push((dep, 0));
                    }
                    Mark::OnPath => {
                        let start = path.iter().position(|&(n, _)| n == dep)?;
                        return Some(path[start..].iter().map(|&(n, _)| n).collect());
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                path.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_cycle;

    #[test]
    fn finds_the_cycle_and_only_a_cycle() {
        assert_eq!(find_cycle(&[vec![], vec![0], vec![0, 1]]), None);
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0]));
        assert_eq!(
            find_cycle(&[vec![], vec![2], vec![3], vec![1]]),
            Some(vec![1, 2, 3])
        );
    }

    #[test]
    fn a_long_chain_does_not_overflow() {
        let deps: Vec<Vec<usize>> = (0..100_000)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        assert_eq!(find_cycle(&deps), None);
    }
}
