//! Turning a task into the prompt an agent receives, and deciding its sentinel file.

use crate::plan::{Task, TaskId};
use crate::workspace::DONE_DIR;
use minijinja::{Environment, UndefinedBehavior, Value, context};
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// The prompt used unless swarm.toml sets `prompt` or `prompt_file`.
///
/// Paths sit in backticks, and the sentinel is the last backtick-quoted `.done` path:
/// the simulated agent (and the fake API of the real-agent tests) rely on both. The first
/// line starts with `GUARD`, so that a task's own text never starts the paste.
pub const DEFAULT_TEMPLATE: &str = "\
Task: {{ task }}
{%- if context %}

## Context

{{ context }}
{%- endif %}
{%- if conflicts %}

Your last attempt could not land: it conflicts with `{{ land_branch }}` in {% for file in conflicts %}`{{ file }}`{% if not loop.last %}, {% endif %}{% endfor %}. \
Run `git rebase {{ land_branch }}` in this directory, resolve the conflicts keeping both sides' changes, and commit.
{%- elif verify_output %}

Your last attempt failed verification (`{{ verify_command }}`):
```
{{ verify_output }}
```
Fix what it reports.
{%- elif attempt > 1 %}

This is attempt {{ attempt }}: an earlier attempt did not finish. Check for partial work before you start.
{%- endif %}
{%- if after %}

This task comes after these, which are done:
{%- for dep in after %}
- {{ dep.task }}{% if dep.output %} (its result is in `{{ dep.output }}`){% endif %}
{%- endfor %}
{%- endif %}
{%- if output %}

Write the result to `{{ output }}`.
{%- endif %}
{%- if branch %}

You work in a git worktree of your own, on branch `{{ branch }}`{% if workdir %}: the folder `{{ workdir }}`, where every path here is{% endif %}. Commit your work if you like; swarm commits what you leave.
{%- endif %}

When you have finished, create the empty file `{{ sentinel }}` to signal that you are done. \
Do not create it before the work is complete.
";

/// The variables a template may use, named in hints.
pub const VARIABLES: &str = "task, id, context, output, after, sentinel, attempt, plan, branch, land_branch, conflicts, verify_command, verify_output, workdir";

/// What a prompt says about git in an isolated run: the task's branch, and why its last
/// attempt did not land.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitContext {
    /// The task's branch, checked out in the agent's worktree.
    pub branch: String,
    /// The branch finished work lands on.
    pub land: String,
    pub verify: Option<String>,
    /// The files the last attempt's change conflicted in, if it did.
    pub conflicts: Vec<String>,
    /// The tail of what verify printed, if it failed the last attempt.
    pub verify_output: Option<String>,
    /// The worktree's folder, relative to the agent's, when they differ (an agent on
    /// another host works in the host's directory, each attempt in a worktree under it).
    pub workdir: Option<String>,
}

/// What every prompt starts with when its own first character is one that agent CLIs
/// read as a command at the start of their input: `/clear`, `/exit`, `!rm …` (a shell
/// escape), `#` (a memory note), `?`, `@` or `&`. A fixed word first makes the whole
/// paste a message. The default template starts with it anyway.
pub const GUARD: &str = "Task:";

/// First characters that make an agent's input a command rather than a message.
const COMMAND_STARTS: &[char] = &['/', '!', '#', '?', '@', '&'];

const TEMPLATE_NAME: &str = "prompt";

/// Problems with a prompt template or with where a task's files would go (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt template, line {line}: {message}\nhint: the template may use {VARIABLES}")]
    Template { line: usize, message: String },
    #[error(
        "{line}: the task's output `{path}` is not a file inside the workspace\nhint: \
         name a relative path below the plan's directory, as in `{{out=docs/notes.md}}`"
    )]
    /// Displayed as `LINE: ...`, for the caller to prefix with the plan's path.
    SentinelOutside { line: usize, path: String },
}

impl PromptError {
    fn template(err: &minijinja::Error) -> Self {
        let message = match err.detail() {
            Some(detail) => format!("{}: {detail}", err.kind()),
            None => err.kind().to_string(),
        };
        PromptError::Template {
            line: err.line().unwrap_or(1),
            message,
        }
    }

    /// Like `template`, naming the names a strict render found undefined, which
    /// minijinja's own message leaves out.
    fn render_failed(err: &minijinja::Error, template: &minijinja::Template<'_, '_>) -> Self {
        let known: Vec<&str> = VARIABLES.split(", ").collect();
        let mut unknown: Vec<String> = template
            .undeclared_variables(true)
            .into_iter()
            .filter(|name| !known.contains(&name.as_str()))
            .collect();
        unknown.sort();
        let mut error = PromptError::template(err);
        if let PromptError::Template { message, .. } = &mut error
            && !unknown.is_empty()
            && err.kind() == minijinja::ErrorKind::UndefinedError
        {
            *message = format!("undefined name `{}`", unknown.join("`, `"));
        }
        error
    }
}

impl crate::error::Classify for PromptError {
    fn exit(&self) -> crate::error::Exit {
        crate::error::Exit::BadInput
    }
}

/// A compiled prompt template: strict about undefined names, no HTML escaping.
#[derive(Clone)]
pub struct PromptTemplate {
    env: Environment<'static>,
}

impl fmt::Debug for PromptTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = self
            .env
            .get_template(TEMPLATE_NAME)
            .map(|t| t.source().to_owned());
        f.debug_struct("PromptTemplate")
            .field("source", &source.unwrap_or_default())
            .finish()
    }
}

impl PromptTemplate {
    /// Compiles `source` (or the default template) and proves it renders on sample tasks.
    pub fn new(source: Option<&str>) -> Result<Self, PromptError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_template_owned(TEMPLATE_NAME, source.unwrap_or(DEFAULT_TEMPLATE).to_owned())
            .map_err(|err| PromptError::template(&err))?;
        let template = PromptTemplate { env };
        // A typo such as `{{ tsk }}` only shows when rendering, and a human should hear of
        // it now, not after the swarm has started. Two samples cover both sides of the
        // usual `if context`, `if output` and `if attempt > 1` branches.
        let full = Task {
            id: TaskId("sample".into()),
            text: "Write the sample section.".into(),
            context: "Keep it short.".into(),
            checked: false,
            line: 1,
            checkbox: 3,
            output: Some("docs/sample.md".into()),
            ..Default::default()
        };
        let bare = Task {
            context: String::new(),
            output: None,
            ..full.clone()
        };
        let dep = Task {
            id: TaskId("before".into()),
            text: "Collect the changes.".into(),
            ..bare.clone()
        };
        template.render_after(
            &full,
            &[&dep, &full],
            Path::new("docs/sample.md.done"),
            1,
            "PLAN.md",
        )?;
        template.render(&bare, Path::new(".swarm/done/sample.done"), 2, "PLAN.md")?;
        // And both sides of what an isolated run's retries say.
        let git = GitContext {
            branch: "swarm/task/sample".into(),
            land: "swarm/main".into(),
            verify: Some("make check".into()),
            conflicts: vec!["src/a.rs".into()],
            verify_output: None,
            workdir: Some("wt/sample.2".into()),
        };
        let sentinel = Path::new(".swarm/done/sample.done");
        template.render_with(&bare, &[], sentinel, 2, "PLAN.md", Some(&git))?;
        let git = GitContext {
            conflicts: Vec::new(),
            verify_output: Some("test failed".into()),
            ..git
        };
        template.render_with(&bare, &[], sentinel, 3, "PLAN.md", Some(&git))?;
        Ok(template)
    }

    /// The prompt for one attempt at `task`, sanitized for a bracketed paste.
    ///
    /// Trailing whitespace is dropped: the prompt is pasted and Enter is pressed on its
    /// own, so a final newline would only leave an empty line in the agent's input box.
    pub fn render(
        &self,
        task: &Task,
        sentinel: &Path,
        attempt: u32,
        plan_name: &str,
    ) -> Result<String, PromptError> {
        self.render_after(task, &[], sentinel, attempt, plan_name)
    }

    /// The prompt for one attempt at `task`, which comes after the tasks `deps` (its
    /// `after=` tasks and its child tasks): the template gets their text and outputs as
    /// `after`, so that the agent can read what they wrote.
    pub fn render_after(
        &self,
        task: &Task,
        deps: &[&Task],
        sentinel: &Path,
        attempt: u32,
        plan_name: &str,
    ) -> Result<String, PromptError> {
        self.render_with(task, deps, sentinel, attempt, plan_name, None)
    }

    /// The prompt for one attempt at `task`, with what an isolated run adds (`git`).
    pub fn render_with(
        &self,
        task: &Task,
        deps: &[&Task],
        sentinel: &Path,
        attempt: u32,
        plan_name: &str,
        git: Option<&GitContext>,
    ) -> Result<String, PromptError> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|err| PromptError::template(&err))?;
        let output_of = |task: &Task| {
            task.output.as_deref().map(|out| {
                crate::plan::lexical(Path::new(out))
                    .ok()
                    .map_or_else(|| out.to_owned(), display)
            })
        };
        let output = output_of(task);
        let after: Vec<Value> = deps
            .iter()
            .map(|dep| {
                context! {
                    id => dep.id.0.as_str(),
                    task => dep.text.as_str(),
                    output => Value::from(output_of(dep)),
                }
            })
            .collect();
        let text = template
            .render(context! {
                task => task.text.as_str(),
                id => task.id.0.as_str(),
                context => task.context.as_str(),
                output => Value::from(output),
                after => after,
                sentinel => display(sentinel.to_path_buf()),
                attempt => attempt,
                plan => plan_name,
                branch => git.map(|g| g.branch.as_str()),
                land_branch => git.map(|g| g.land.as_str()),
                conflicts => git.map(|g| g.conflicts.clone()).unwrap_or_default(),
                verify_command => git.and_then(|g| g.verify.as_deref()),
                verify_output => git.and_then(|g| g.verify_output.as_deref()),
                workdir => git.and_then(|g| g.workdir.as_deref()),
            })
            .map_err(|err| PromptError::render_failed(&err, &template))?;
        let text = sanitize(text.trim_end());
        // An agent reads a paste that starts with `/clear` or `!cmd` as that command.
        if text.trim_start().starts_with(COMMAND_STARTS) {
            return Ok(format!("{GUARD}\n{text}"));
        }
        Ok(text)
    }
}

fn display(path: PathBuf) -> String {
    path.to_string_lossy().into_owned()
}

/// Removes what could end a bracketed paste early or drive the terminal: C0 controls
/// other than tab and newline, DEL, and C1 controls. `\r\n` and a lone `\r` become `\n`
/// first: markdown ends a line at either, so words on both sides stay apart.
pub fn sanitize(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|&c| {
            c == '\t' || c == '\n' || !(c.is_ascii_control() || ('\u{80}'..='\u{9f}').contains(&c))
        })
        .collect()
}

/// The workspace-relative file whose creation means `task` is done.
///
/// With `{out=PATH}` it is `PATH.done` beside the output (PATH made lexically normal, so
/// `a/../b` gives `b.done`); otherwise `.swarm/done/<id>.done`. Absolute paths are
/// refused, even inside the workspace, so that a plan means the same wherever it lives.
pub fn sentinel_for(task: &Task) -> Result<PathBuf, PromptError> {
    let outside = |path: &str| PromptError::SentinelOutside {
        line: task.line,
        path: path.to_owned(),
    };
    match &task.output {
        Some(out) => {
            let mut path = crate::plan::lexical(Path::new(out))
                .ok()
                .ok_or_else(|| outside(out))?;
            let mut name = path.file_name().ok_or_else(|| outside(out))?.to_owned();
            name.push(".done");
            path.set_file_name(name);
            Ok(path)
        }
        None => {
            let id = &task.id.0;
            let mut parts = Path::new(id).components();
            // An explicit id is free text; it must stay one plain file name.
            match (parts.next(), parts.next()) {
                (Some(Component::Normal(_)), None) => {
                    Ok(Path::new(DONE_DIR).join(format!("{id}.done")))
                }
                _ => Err(outside(&format!("{DONE_DIR}/{id}.done"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(text: &str, context: &str, output: Option<&str>) -> Task {
        Task {
            id: TaskId("auth-docs".into()),
            text: text.into(),
            context: context.into(),
            checked: false,
            line: 7,
            checkbox: 120,
            output: output.map(String::from),
            ..Default::default()
        }
    }

    fn render_default(task: &Task, attempt: u32) -> String {
        let template = PromptTemplate::new(None).unwrap();
        let sentinel = sentinel_for(task).unwrap();
        template
            .render(task, &sentinel, attempt, "PLAN.md")
            .unwrap()
    }

    #[test]
    fn default_prompt_bare() {
        let prompt = render_default(&task("Document the auth flow.", "", None), 1);
        insta::assert_snapshot!(prompt, @"
        Task: Document the auth flow.

        When you have finished, create the empty file `.swarm/done/auth-docs.done` to signal that you are done. Do not create it before the work is complete.
        ");
    }

    #[test]
    fn default_prompt_with_context_and_output() {
        let task = task(
            "Document the auth flow.",
            "Cover login and logout.\n- mention tokens",
            Some("docs/auth.md"),
        );
        let prompt = render_default(&task, 1);
        insta::assert_snapshot!(prompt, @"
        Task: Document the auth flow.

        ## Context

        Cover login and logout.
        - mention tokens

        Write the result to `docs/auth.md`.

        When you have finished, create the empty file `docs/auth.md.done` to signal that you are done. Do not create it before the work is complete.
        ");
    }

    #[test]
    fn default_prompt_on_a_retry() {
        let prompt = render_default(&task("Fix the build.", "", None), 2);
        insta::assert_snapshot!(prompt, @"
        Task: Fix the build.

        This is attempt 2: an earlier attempt did not finish. Check for partial work before you start.

        When you have finished, create the empty file `.swarm/done/auth-docs.done` to signal that you are done. Do not create it before the work is complete.
        ");
    }

    #[test]
    fn every_variable_renders() {
        let template = PromptTemplate::new(Some(
            "{{ id }}|{{ task }}|{{ context }}|{{ output }}|{{ sentinel }}|{{ attempt }}|{{ plan }}\n",
        ))
        .unwrap();
        let task = task("T", "C", Some("./out/../o.md"));
        let sentinel = sentinel_for(&task).unwrap();
        let prompt = template.render(&task, &sentinel, 3, "TODO.md").unwrap();
        assert_eq!(prompt, "auth-docs|T|C|o.md|o.md.done|3|TODO.md");
    }

    #[test]
    fn undefined_name_fails_at_construction() {
        let err = PromptTemplate::new(Some("Do this:\n{{ tsk }}")).unwrap_err();
        assert!(
            matches!(err, PromptError::Template { line: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("undefined name `tsk`"), "{err}");
        let err = PromptTemplate::new(Some("{{ task }} {{ task.owner }}")).unwrap_err();
        assert!(
            err.to_string().contains("undefined name `task.owner`"),
            "{err}"
        );
    }

    #[test]
    fn a_task_that_reads_as_an_agent_command_never_starts_the_prompt() {
        for text in ["/clear", "/exit now", "!touch pwned", "#remember this", "?"] {
            let prompt = render_default(&task(text, "", None), 1);
            assert!(prompt.starts_with(&format!("Task: {text}\n")), "{prompt}");
            let custom = PromptTemplate::new(Some("{{ task }}\n{{ sentinel }}")).unwrap();
            let prompt = custom
                .render(&task(text, "", None), Path::new("x.done"), 1, "PLAN.md")
                .unwrap();
            assert_eq!(prompt, format!("Task:\n{text}\nx.done"));
        }
        let custom = PromptTemplate::new(Some("  {{ task }}")).unwrap();
        let prompt = custom.render(&task("/quit", "", None), Path::new("x.done"), 1, "P");
        assert_eq!(prompt.unwrap(), "Task:\n  /quit");
        // Anything else is left as the template made it.
        let prompt = custom.render(&task("Fix /etc", "", None), Path::new("x.done"), 1, "P");
        assert_eq!(prompt.unwrap(), "  Fix /etc");
    }

    #[test]
    fn syntax_error_fails_at_construction() {
        let err = PromptTemplate::new(Some("a\nb\n{% if task %}unclosed")).unwrap_err();
        assert!(
            matches!(err, PromptError::Template { line: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn no_html_escaping() {
        let template = PromptTemplate::new(Some("{{ task }}")).unwrap();
        let task = task("Use <b> & \"quotes\"", "", None);
        let prompt = template.render(&task, Path::new("x.done"), 1, "PLAN.md");
        assert_eq!(prompt.unwrap(), "Use <b> & \"quotes\"");
    }

    #[test]
    fn rendered_prompt_is_sanitized() {
        let template = PromptTemplate::new(Some("{{ task }}")).unwrap();
        let task = task("a\x1b[201~b\r\nc", "", None);
        let prompt = template.render(&task, Path::new("x.done"), 1, "PLAN.md");
        assert_eq!(prompt.unwrap(), "a[201~b\nc");
    }

    #[test]
    fn sanitize_strips_controls() {
        assert_eq!(sanitize("paste\x1b[201~rest"), "paste[201~rest");
        assert_eq!(sanitize("a\r\nb\rc\n"), "a\nb\nc\n");
        assert_eq!(sanitize("tab\tbell\x07nul\0del\x7f"), "tab\tbellnuldel");
        assert_eq!(
            sanitize("c1\u{9b}201~ nbsp\u{a0}é ❯"),
            "c1201~ nbsp\u{a0}é ❯"
        );
    }

    #[test]
    fn sentinel_defaults_to_the_done_dir() {
        let sentinel = sentinel_for(&task("T", "", None)).unwrap();
        assert_eq!(sentinel, Path::new(".swarm/done/auth-docs.done"));
    }

    #[test]
    fn sentinel_sits_beside_the_output() {
        let sentinel = sentinel_for(&task("T", "", Some("docs/auth.md"))).unwrap();
        assert_eq!(sentinel, Path::new("docs/auth.md.done"));
        let sentinel = sentinel_for(&task("T", "", Some("a/../b"))).unwrap();
        assert_eq!(sentinel, Path::new("b.done"));
    }

    #[test]
    fn sentinel_outside_the_workspace_is_refused() {
        for out in ["../x", "/abs", "a/../../x", ".", "docs/.."] {
            let err = sentinel_for(&task("T", "", Some(out))).unwrap_err();
            assert!(
                matches!(&err, PromptError::SentinelOutside { line: 7, path } if path == out),
                "{out}: {err}"
            );
        }
        let err = sentinel_for(&task("T", "", Some("../x"))).unwrap_err();
        insta::assert_snapshot!(err, @"
        7: the task's output `../x` is not a file inside the workspace
        hint: name a relative path below the plan's directory, as in `{out=docs/notes.md}`
        ");
    }

    #[test]
    fn odd_ids_cannot_escape_the_done_dir() {
        let mut odd = task("T", "", None);
        for id in ["..", "a/b", "/x"] {
            odd.id = TaskId(id.into());
            assert!(sentinel_for(&odd).is_err(), "{id}");
        }
    }

    #[test]
    fn a_task_that_comes_after_others_is_told_what_they_wrote() {
        let template = PromptTemplate::new(None).unwrap();
        let collect = Task {
            id: TaskId("collect".into()),
            ..task("Collect the changes", "", Some("notes/changes.md"))
        };
        let check = Task {
            id: TaskId("check".into()),
            ..task("Check the tests", "", None)
        };
        let draft = task("Draft the notes", "", Some("NOTES.md"));
        let prompt = template
            .render_after(
                &draft,
                &[&collect, &check],
                Path::new("x.done"),
                1,
                "PLAN.md",
            )
            .unwrap();
        assert!(
            prompt.contains(
                "This task comes after these, which are done:\n- Collect the changes (its result is in `notes/changes.md`)\n- Check the tests\n"
            ),
            "{prompt}"
        );
        let alone = template
            .render(&draft, Path::new("x.done"), 1, "PLAN.md")
            .unwrap();
        assert!(!alone.contains("comes after"), "{alone}");
    }
}
