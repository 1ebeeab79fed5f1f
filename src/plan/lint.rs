//! Lines that look like a task but are not one (`- []`, `-[ ]`, `* [ ]x`): a typo there
//! would otherwise drop the task without a word.

use super::Task;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use regex::Regex;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// An optional list marker, then brackets holding at most a few spaces or `x`s, and what
/// follows them (a `(`, `[` or `:` makes a link instead).
static LOOKALIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])?[ \t]*\[[ \txX]{0,3}\]([^(\[:]|$)").unwrap()
});

/// How a task is written, for hints.
pub const TASK_SYNTAX: &str = "a task is a list item with a checkbox: a `-`, a space, `[ ]` \
                               with one space inside, a space, then the text, as in \
                               `- [ ] Write docs/auth.md {out=docs/auth.md}`";

/// A line of the plan that looks like a mistyped task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    /// The line, trimmed.
    pub text: String,
}

impl Lookalike {
    /// `PATH:LINE: `TEXT` looks like a task, but is not one`, without a hint.
    pub fn summary(&self) -> String {
        format!(
            "{}:{}: `{}` looks like a task, but is not one",
            self.path.display(),
            self.line,
            self.text
        )
    }
}

impl fmt::Display for Lookalike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "warning: {}\nhint: {TASK_SYNTAX}", self.summary())
    }
}

/// The lines of `text` outside code and HTML blocks that look like a task but are not
/// among `tasks`; `path` is only for messages.
pub fn lookalikes(text: &str, tasks: &[Task], path: &Path) -> Vec<Lookalike> {
    let task_lines: HashSet<usize> = tasks.iter().map(|t| t.line).collect();
    let mut verbatim: Vec<std::ops::Range<usize>> = Vec::new();
    let mut open = None;
    for (event, range) in Parser::new_ext(text, Options::ENABLE_TASKLISTS).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(_) | Tag::HtmlBlock) => open = Some(range.start),
            Event::End(TagEnd::CodeBlock | TagEnd::HtmlBlock) => {
                verbatim.extend(open.take().map(|start| start..range.end));
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    let mut start = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let (line, at) = (index + 1, start);
        start += raw.len();
        let content = raw.trim_start_matches('\u{feff}').trim_end();
        if task_lines.contains(&line)
            || verbatim.iter().any(|block| block.contains(&at))
            || !LOOKALIKE.is_match(content)
        {
            continue;
        }
        found.push(Lookalike {
            path: path.to_path_buf(),
            line,
            text: content.trim_start().to_string(),
        });
    }
    found
}
