//! The `plan` tool: the tasks of PLAN.md with what an orchestrating agent needs to hand
//! each one out (its sentinel, the prompt swarm would send), a task added at the end, or
//! a finished task checked off. Every write goes through `crate::plan`, which builds on the
//! newest text of the file, so that a person's edit made meanwhile is never lost.

use super::params::{self, PlanAction};
use crate::cli::Workspace;
use crate::config::Overrides;
use crate::error::{BadInput, Failure};
use crate::plan::{CheckOff, Task, TaskId};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

/// How long `add` waits for a person's save under way to settle.
const SETTLING: Duration = Duration::from_secs(2);

/// What the `plan` tool returns, by action.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Tasks {
        plan: PathBuf,
        /// Tasks not checked off yet.
        open: usize,
        tasks: Vec<TaskJson>,
    },
    Added {
        added: TaskId,
    },
    Checked {
        task: TaskId,
        /// `checked`, or `already checked` (by someone else, or before).
        outcome: &'static str,
    },
}

/// One task, as the `plan` tool lists it.
#[derive(Debug, Serialize)]
pub struct TaskJson {
    /// Its number, which the tools take in place of its id.
    number: usize,
    id: TaskId,
    text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    context: String,
    /// Checked off in PLAN.md.
    done: bool,
    line: usize,
    /// The file its worker creates when it is done (relative to the plan's directory).
    sentinel: PathBuf,
    sentinel_exists: bool,
    /// Open tasks it must wait for (`after=`, its child tasks): not ready before them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    waits_for: Vec<TaskId>,
    /// Open tasks: the prompt swarm sends for it (first attempt), ready for `send`.
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<String>,
}

pub fn plan(workspace: &Workspace, asked: params::Plan) -> anyhow::Result<Answer> {
    match asked.action {
        PlanAction::Read => read(workspace),
        PlanAction::Add => add(workspace, asked.text.as_deref()),
        PlanAction::Check => check(workspace, asked.task.as_deref()),
    }
}

fn read(workspace: &Workspace) -> anyhow::Result<Answer> {
    let (ws, _, settings) = crate::cmd::target_with(workspace, Overrides::default())?;
    let (_, tasks) = crate::plan::load(&ws.plan)?;
    let by_id: HashMap<&TaskId, &Task> = tasks.iter().map(|t| (&t.id, t)).collect();
    let open: HashSet<&TaskId> = tasks.iter().filter(|t| !t.checked).map(|t| &t.id).collect();
    let mut listed = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.iter().enumerate() {
        let sentinel = crate::prompt::sentinel_for(task)?;
        let prompt = if task.checked {
            None
        } else {
            let deps: Vec<&Task> = task
                .waits_for()
                .filter_map(|d| by_id.get(d).copied())
                .collect();
            Some(
                settings
                    .template
                    .render_after(task, &deps, &sentinel, 1, &ws.plan_name())?,
            )
        };
        listed.push(TaskJson {
            number: i + 1,
            id: task.id.clone(),
            text: task.text.clone(),
            context: task.context.clone(),
            done: task.checked,
            line: task.line,
            sentinel_exists: ws.root.join(&sentinel).exists(),
            sentinel,
            waits_for: task
                .waits_for()
                .filter(|d| open.contains(d))
                .cloned()
                .collect(),
            prompt,
        });
    }
    Ok(Answer::Tasks {
        plan: ws.plan.clone(),
        open: open.len(),
        tasks: listed,
    })
}

fn add(workspace: &Workspace, text: Option<&str>) -> anyhow::Result<Answer> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(
            BadInput::new("`add` needs the new task's `text`; nothing was added")
                .hint(r#"as in {"action": "add", "text": "Write docs/faq.md {out=docs/faq.md}"}"#)
                .into(),
        );
    }
    if text.contains(['\n', '\r']) {
        return Err(BadInput::new("a task is one line; nothing was added")
            .hint("put the task's details in its one line, or add it with your editor, context lines indented under it")
            .into());
    }
    let (ws, _) = crate::cmd::target(workspace)?;
    match crate::plan::add_task(&ws.plan, text, SETTLING)? {
        Some(added) => Ok(Answer::Added { added }),
        None => Err(Failure::new(format!(
            "{} is being edited right now (or does not parse); nothing was added",
            ws.plan.display()
        ))
        .hint("try again in a moment")
        .into()),
    }
}

fn check(workspace: &Workspace, typed: Option<&str>) -> anyhow::Result<Answer> {
    let Some(typed) = typed else {
        return Err(
            BadInput::new("`check` needs the `task` to check off; nothing was changed")
                .hint(r#"as in {"action": "check", "task": "write-docs"}"#)
                .into(),
        );
    };
    let (ws, _) = crate::cmd::target(workspace)?;
    let task = crate::cmd::find_task(&ws, typed)?;
    let outcome = match crate::plan::check_off(&ws.plan, &task.id)? {
        CheckOff::Checked => "checked",
        CheckOff::AlreadyChecked => "already checked",
        CheckOff::Gone | CheckOff::Pending => {
            return Err(Failure::new(format!(
                "{} changed under the check-off (a save under way?); `{}` is not checked yet",
                ws.plan.display(),
                task.id
            ))
            .hint("try again in a moment")
            .into());
        }
    };
    Ok(Answer::Checked {
        task: task.id,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(plan: &str) -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("PLAN.md");
        std::fs::write(&path, plan).unwrap();
        // Saved a while ago: nothing is mid-save.
        let past = std::time::SystemTime::now() - Duration::from_secs(5);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(past).unwrap();
        let ws = Workspace {
            plan: path,
            socket: Some("swarm-mcp-unit-test".into()),
        };
        (dir, ws)
    }

    fn asked(action: PlanAction, text: Option<&str>, task: Option<&str>) -> params::Plan {
        params::Plan {
            action,
            text: text.map(String::from),
            task: task.map(String::from),
        }
    }

    #[test]
    fn add_appends_to_the_newest_plan_and_read_lists_it_with_its_prompt() {
        let (_dir, ws) = workspace("# Plan\n- [ ] One\n");
        // A person's save the tool has not seen: the add builds on it.
        std::fs::write(&ws.plan, "# Plan\n- [ ] One\n- [ ] Theirs\n").unwrap();
        let added = plan(&ws, asked(PlanAction::Add, Some("  Mine {#mine}  "), None)).unwrap();
        assert!(matches!(added, Answer::Added { added } if added.0 == "mine"));
        assert_eq!(
            std::fs::read_to_string(&ws.plan).unwrap(),
            "# Plan\n- [ ] One\n- [ ] Theirs\n- [ ] Mine {#mine}\n"
        );
        let Answer::Tasks { open, tasks, .. } = plan(&ws, params::Plan::default()).unwrap() else {
            panic!("read lists the tasks");
        };
        assert_eq!(open, 3);
        let mine = serde_json::to_value(&tasks[2]).unwrap();
        assert_eq!(mine["number"], 3);
        assert_eq!(mine["sentinel"], ".swarm/done/mine.done");
        assert!(mine["prompt"].as_str().unwrap().starts_with("Task: Mine"));
    }

    #[test]
    fn add_and_check_refuse_bad_input_and_change_nothing() {
        let text = "- [ ] One\n";
        let (_dir, ws) = workspace(text);
        for (text, says) in [
            (None, "needs the new task's `text`"),
            (Some("  "), "needs the new task's `text`"),
            (Some("two\n- [x] lines"), "a task is one line"),
        ] {
            let err = plan(&ws, asked(PlanAction::Add, text, None)).unwrap_err();
            assert!(err.to_string().contains(says), "{err}");
        }
        let err = plan(&ws, asked(PlanAction::Check, None, Some("nope"))).unwrap_err();
        assert!(crate::error::render(&err).contains("hint:"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&ws.plan).unwrap(), text);
        let checked = plan(&ws, asked(PlanAction::Check, None, Some("1"))).unwrap();
        assert!(matches!(
            checked,
            Answer::Checked {
                outcome: "checked",
                ..
            }
        ));
        assert_eq!(std::fs::read_to_string(&ws.plan).unwrap(), "- [x] One\n");
    }
}
