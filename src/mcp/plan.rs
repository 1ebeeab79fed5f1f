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
