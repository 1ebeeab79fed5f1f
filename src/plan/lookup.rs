//! Finding the task a person means from what they typed: its id, a prefix that only its id
//! starts with, or its number as `swarm status` lists it (`3` or `#3`). What names no task
//! gets the closest ids as suggestions.

use super::{Task, TaskId};

/// How many close ids a "did you mean" names at most.
const SUGGESTIONS: usize = 3;

/// Why what was typed names no single task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// It names no task; the closest ids, best first (maybe none).
    Unknown { closest: Vec<TaskId> },
    /// A prefix several ids start with; all of them, in plan order.
    Ambiguous { matches: Vec<TaskId> },
    /// A number past the end of the plan, which has `count` tasks.
    OutOfRange { count: usize },
}

/// The task `typed` names among `tasks` (in plan order).
pub fn find<'a>(tasks: &'a [Task], typed: &str) -> Result<&'a Task, Miss> {
    let typed = typed.trim();
    if let Some(task) = tasks.iter().find(|t| t.id.0 == typed) {
        return Ok(task);
    }
    if let Ok(n) = typed.strip_prefix('#').unwrap_or(typed).parse::<usize>() {
        return match n.checked_sub(1).and_then(|i| tasks.get(i)) {
            Some(task) => Ok(task),
            None => Err(Miss::OutOfRange { count: tasks.len() }),
        };
    }
    let prefixed: Vec<&Task> = if typed.is_empty() {
        Vec::new()
    } else {
        tasks.iter().filter(|t| t.id.0.starts_with(typed)).collect()
    };
    match prefixed.as_slice() {
        [task] => Ok(task),
        [] => Err(Miss::Unknown {
            closest: closest(tasks, typed),
        }),
        many => Err(Miss::Ambiguous {
            matches: many.iter().map(|t| t.id.clone()).collect(),
        }),
    }
}

/// The ids nearest to `typed`: by edit distance over their first `typed.len()`
/// characters too, so that a typo in a prefix still finds its task.
fn closest(tasks: &[Task], typed: &str) -> Vec<TaskId> {
    let typed_len = typed.chars().count();
    let mut scored: Vec<(f64, &TaskId)> = tasks
        .iter()
        .map(|t| {
            let head: String = t.id.0.chars().take(typed_len).collect();
            let score =
                strsim::jaro_winkler(typed, &t.id.0).max(strsim::jaro_winkler(typed, &head) - 0.05);
            (score, &t.id)
        })
        .filter(|(score, _)| *score >= 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, id)| id.clone())
        .collect()
}

impl Miss {
    /// The message for a person: what `typed` matched, and what to type instead.
    pub fn describe(&self, typed: &str) -> (String, String) {
        let list = |ids: &[TaskId]| {
            ids.iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Miss::Unknown { closest } if closest.is_empty() => (
                format!("no task `{typed}`"),
                "`swarm status` lists the tasks with their numbers and ids".into(),
            ),
            Miss::Unknown { closest } => (
                format!("no task `{typed}`; did you mean {}?", list(closest)),
                "`swarm status` lists the tasks with their numbers and ids".into(),
            ),
            Miss::Ambiguous { matches } => (
                format!(
                    "`{typed}` starts {} task ids: {}",
                    matches.len(),
                    list(matches)
                ),
                "type more of the id, or the task's number from `swarm status`".into(),
            ),
            Miss::OutOfRange { count } => (
                format!("no task number {typed}: the plan has {count} tasks"),
                "`swarm status` lists the tasks with their numbers".into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks() -> Vec<Task> {
        let plan = "- [ ] Write docs eval md {#write-docs-eval-md-952a87}\n\
                    - [ ] Write docs auth {#write-docs-auth-b5af51}\n\
                    - [x] Refactor login {#refactor-login}\n";
        crate::plan::parse(plan, std::path::Path::new("PLAN.md")).unwrap()
    }

    fn id(typed: &str) -> Result<String, Miss> {
        let tasks = tasks();
        find(&tasks, typed).map(|t| t.id.0.clone())
    }

    #[test]
    fn an_id_a_unique_prefix_or_a_number_names_a_task() {
        assert_eq!(id("refactor-login").unwrap(), "refactor-login");
        assert_eq!(id("write-docs-e").unwrap(), "write-docs-eval-md-952a87");
        assert_eq!(id("ref").unwrap(), "refactor-login");
        assert_eq!(id("2").unwrap(), "write-docs-auth-b5af51");
        assert_eq!(id("#3").unwrap(), "refactor-login");
    }

    #[test]
    fn a_shared_prefix_lists_the_tasks_it_could_be() {
        let Err(Miss::Ambiguous { matches }) = id("write-docs") else {
            panic!("ambiguous")
        };
        assert_eq!(matches.len(), 2);
        let (message, _) = Miss::Ambiguous { matches }.describe("write-docs");
        assert!(message.contains("`write-docs-auth-b5af51`"), "{message}");
    }

    #[test]
    fn a_typo_gets_the_closest_ids() {
        let Err(miss) = id("refactr-login") else {
            panic!("unknown")
        };
        assert_eq!(
            miss,
            Miss::Unknown {
                closest: vec![TaskId("refactor-login".into())]
            }
        );
        let (message, _) = miss.describe("refactr-login");
        assert_eq!(
            message,
            "no task `refactr-login`; did you mean `refactor-login`?"
        );
        let Err(Miss::Unknown { closest }) = id("wirte-docs-auth") else {
            panic!("unknown")
        };
        assert_eq!(closest[0].0, "write-docs-auth-b5af51");
        assert_eq!(id("0"), Err(Miss::OutOfRange { count: 3 }));
        assert_eq!(id("zzzz"), Err(Miss::Unknown { closest: vec![] }));
    }
}
