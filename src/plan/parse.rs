//! Finding tasks in GitHub-flavoured markdown, with their ids and byte offsets.
//!
//! pulldown-cmark decides what is a task (so code blocks and HTML never are); the text,
//! context and checkbox offset are then cut from the source itself, so that prompts carry
//! the markdown as the person wrote it.

use super::{PlanError, Task, TaskId, attrs};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

/// Longest derived id before it is cut and given a hash suffix.
const SLUG_MAX: usize = 40;

/// A list item being walked: its source range, and its checkbox (offset, checked) if any.
type OpenItem = (Range<usize>, Option<(usize, bool)>);

/// Parses plan text; `path` is only for error messages.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Task>, PlanError> {
    let lines = LineIndex::new(text);
    // Items open at this point of the walk, innermost last.
    let mut open: Vec<OpenItem> = Vec::new();
    // Every task item: (item range, checkbox offset, checked).
    let mut found: Vec<(Range<usize>, usize, bool)> = Vec::new();
    // A byte-order mark would hide the first line's list marker from the parser; skip it
    // for parsing and keep offsets relative to the whole file.
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    for (event, range) in
        Parser::new_ext(&text[bom..], Options::ENABLE_TASKLISTS).into_offset_iter()
    {
        let range = range.start + bom..range.end + bom;
        match event {
            Event::Start(Tag::Item) => open.push((range, None)),
            Event::TaskListMarker(checked) => {
                if let Some(item) = open.last_mut() {
                    // The marker's range covers `[ ]`; the box is the byte inside.
                    item.1 = Some((range.start + 1, checked));
                }
            }
            Event::End(TagEnd::Item) => {
                if let Some((item, Some((checkbox, checked)))) = open.pop() {
                    found.push((item, checkbox, checked));
                }
            }
            _ => {}
        }
    }
    // Items end inner-first; the plan's order is the order of the checkboxes.
    found.sort_by_key(|(_, checkbox, _)| *checkbox);

    let mut tasks: Vec<Task> = Vec::with_capacity(found.len());
    let mut first_line: HashMap<TaskId, usize> = HashMap::with_capacity(found.len());
    // Task items that hold the current one, outermost first.
    let mut ancestors: Vec<usize> = Vec::new();
    for (i, (item, checkbox, checked)) in found.iter().enumerate() {
        let line = lines.line_of(*checkbox);
        let after_box = checkbox + 2; // past `x]`
        let line_end = end_of_line(text, after_box);
        let attrs = attrs::split(text[after_box..line_end].trim()).map_err(|message| {
            PlanError::Syntax {
                path: path.to_path_buf(),
                line,
                message,
            }
        })?;
        let own = attrs.text;
        if own.is_empty() {
            return Err(PlanError::Syntax {
                path: path.to_path_buf(),
                line,
                message:
                    "the task has no text\nhint: say what the agent should do after the checkbox"
                        .into(),
            });
        }
        // Nested task items are tasks of their own, not context.
        let nested: Vec<Range<usize>> = found[i + 1..]
            .iter()
            .take_while(|(r, _, _)| r.start < item.end)
            .map(|(r, _, _)| r.clone())
            .collect();
        let context = context(text, line_end..item.end.max(line_end), &nested);
        let id = attrs.id.unwrap_or_else(|| derive_id(&own));
        if let Some(&first) = first_line.get(&id) {
            return Err(PlanError::DuplicateId {
                path: path.to_path_buf(),
                id,
                line,
                first_line: first,
            });
        }
        first_line.insert(id.clone(), line);
        tasks.push(Task {
            id,
            text: own,
            context,
            checked: *checked,
            line,
            checkbox: *checkbox,
            output: attrs.output,
            after: attrs.after,
            children: Vec::new(),
            files: attrs.files,
            agent: attrs.agent,
            tags: attrs.tags,
        });
        // The innermost task item still open around this one is its parent.
        while ancestors
            .last()
            .is_some_and(|&a| found[a].0.end <= item.start)
        {
            ancestors.pop();
        }
        if let Some(&parent) = ancestors.last() {
            let child = tasks[i].id.clone();
            tasks[parent].children.push(child);
        }
        ancestors.push(i);
    }
    super::graph::check(&tasks, path)?;
    Ok(tasks)
}

/// Where the line holding `offset` ends, before its `\r\n` or `\n`.
fn end_of_line(text: &str, offset: usize) -> usize {
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    if text[..end].ends_with('\r') {
        end - 1
    } else {
        end
    }
}

/// The lines of `range` (the item below its first line), without nested tasks, dedented.
fn context(source: &str, range: Range<usize>, nested: &[Range<usize>]) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut pos = range.start;
    for raw in source[range.clone()].split_inclusive('\n') {
        let start = pos;
        pos += raw.len();
        // A nested item's range starts after its indentation: compare whole lines.
        if nested.iter().any(|n| n.start < pos && start < n.end) {
            continue;
        }
        // swarm's own failure note is for people, not for the agent's prompt.
        if raw.trim_start().starts_with(super::NOTE_MARK) {
            continue;
        }
        kept.push(raw.trim_end_matches(['\n', '\r']));
    }
    while kept.first().is_some_and(|l| l.trim().is_empty()) {
        kept.remove(0);
    }
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    // Markdown indents with spaces and tabs only: other whitespace, such as a full-width
    // U+3000, is text (and several bytes long, so cutting it would cut inside a char).
    let indent = kept
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    kept.iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// An id from the task's own text only, so that other tasks' edits never change it.
pub(super) fn derive_id(text: &str) -> TaskId {
    let words: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut slug = String::new();
    let mut cut = false;
    for word in &words {
        let extra = word.len() + usize::from(!slug.is_empty());
        if slug.len() + extra > SLUG_MAX {
            cut = true;
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(word);
    }
    if cut || slug.is_empty() {
        let hash = Sha256::digest(text.as_bytes());
        let hex: String = hash[..3].iter().map(|b| format!("{b:02x}")).collect();
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&hex);
    }
    TaskId(slug)
}

/// Byte offset → line number.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 1-based line of `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
}
