//! What a prompt asks the simulator to produce. swarm's prompts name a sentinel file (and
//! usually an output file) in backticks; the simulator finds them, and the few phrases that
//! ask for more (a line appended, a rebase, a failed verification), the way a careful agent would.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

const DONE: &str = ".done";

/// Backtick-quoted spans on one line, such as `` `docs/auth.md.done` ``.
static BACKTICKED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`([^`\n]+)`").unwrap());

/// "append a line to `CHANGES.md`", in any case.
static APPEND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bappend a line to `([^`\n]+)`").unwrap());

/// `` `git rebase land` ``: the command of swarm's retry prompt for a task that could not
/// land. A word starting with `-` is an option (`--continue`), not a ref.
static REBASE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"`git rebase ([^`\s-][^`\s]*)`").unwrap());

/// The start of swarm's retry prompt for a task whose verify command failed; its output
/// follows in a fenced block.
static VERIFY_FAILED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)your last attempt failed verification").unwrap());

/// What a task's line starts with in swarm's default prompt (`prompt::GUARD`).
const TASK_PREFIX: &str = "Task:";

/// The files a prompt asks for, as written in the prompt (relative to the current directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliverables {
    /// The file to write before the sentinel, if the prompt names one.
    pub output: Option<String>,
    /// The `.done` file that tells swarm the task is finished.
    pub sentinel: String,
}

/// Finds the sentinel (the last backtick-quoted path ending in `.done`, else the last such
/// word) and the output (the sentinel minus `.done`, if the prompt backtick-quotes it too).
pub fn deliverables(prompt: &str) -> Option<Deliverables> {
    let is_sentinel = |s: &&str| s.len() > DONE.len() && s.ends_with(DONE);
    let quoted = || {
        BACKTICKED
            .captures_iter(prompt)
            .map(|c| c.get(1).unwrap().as_str())
    };
    let sentinel = quoted().filter(is_sentinel).last().or_else(|| {
        prompt
            .split_whitespace()
            .map(|word| {
                word.trim_start_matches(['(', '[', '"', '\''])
                    .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '"', '\''])
            })
            .rfind(is_sentinel)
    })?;
    let stem = &sentinel[..sentinel.len() - DONE.len()];
    let output = quoted().any(|s| s == stem).then(|| stem.to_string());
    Some(Deliverables {
        output,
        sentinel: sentinel.to_string(),
    })
}

/// The simulated work product: a heading from the task's line and a note.
pub fn output_contents(prompt: &str) -> String {
    let task = task_line(prompt);
    format!("# {task}\n\nSimulated output written by swarm sim-agent.\n")
}

/// The line that says what the task is: the first starting with `Task:`, else the first.
/// A retry prompt's preamble comes before it, so it stays the same on every attempt.
fn task_line(prompt: &str) -> &str {
    let mut lines = prompt.lines();
    let first = lines.clone().next().unwrap_or("");
    lines
        .find(|line| line.starts_with(TASK_PREFIX))
        .unwrap_or(first)
}

/// The files the prompt asks to append a line to, each once, in the order named.
pub fn appends(prompt: &str) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for found in APPEND.captures_iter(prompt) {
        let path = found[1].to_string();
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// The line this task appends: `- <task> (<sentinel>)`, the task's line without `Task:`;
/// the sentinel, unique per task, tells apart tasks with the same text.
pub fn append_line(prompt: &str, sentinel: Option<&str>) -> String {
    let line = task_line(prompt);
    let task = line.strip_prefix(TASK_PREFIX).unwrap_or(line).trim();
    match sentinel {
        Some(sentinel) => format!("- {task} ({sentinel})"),
        None => format!("- {task}"),
    }
}

/// The ref of a backtick-quoted `git rebase REF` in the prompt, if any (the first).
pub fn rebase_onto(prompt: &str) -> Option<String> {
    REBASE.captures(prompt).map(|found| found[1].to_string())
}

/// How many lines of verify output a "failed verification" retry prompt carries: those of
/// the first fenced block after the phrase (0 if there is none); None without the phrase.
pub fn verify_output_lines(prompt: &str) -> Option<usize> {
    let rest = &prompt[VERIFY_FAILED.find(prompt)?.end()..];
    let mut lines = rest.lines();
    let Some(fence) = lines.by_ref().find_map(|line| {
        let line = line.trim_start();
        let ticks = line.len() - line.trim_start_matches('`').len();
        (ticks >= 3).then(|| &line[..ticks])
    }) else {
        return Some(0);
    };
    // A closing fence is a line of backticks at least as long as the opening one.
    let closes = |line: &str| {
        let line = line.trim();
        line.starts_with(fence) && line.chars().all(|c| c == '`')
    };
    Some(lines.take_while(|line| !closes(line)).count())
}

/// Appends `line` to `path` (created with its parent directories if missing), unless the
/// file already holds it: a retry after a rebase finds its line there. Returns whether it
/// appended.
pub fn append_once(path: &str, line: &str) -> std::io::Result<bool> {
    let mut contents = match std::fs::read_to_string(path) {
        Ok(contents) => contents,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err),
    };
    if contents.lines().any(|l| l == line) {
        return Ok(false);
    }
    if !contents.is_empty() && !contents.ends_with('\n') {
        contents.push('\n');
    }
    contents.push_str(line);
    contents.push('\n');
    write_file(path, &contents)?;
    Ok(true)
}

/// Writes `contents` to `path`, creating its parent directories.
pub fn write_file(path: &str, contents: &str) -> std::io::Result<()> {
    let path = Path::new(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(prompt: &str) -> Option<(Option<String>, String)> {
        deliverables(prompt).map(|d| (d.output, d.sentinel))
    }

    #[test]
    fn backticked_sentinel_and_output() {
        let p = "Write `docs/auth.md`.\nWhen done, create `docs/auth.md.done`.";
        assert_eq!(
            found(p),
            Some((Some("docs/auth.md".into()), "docs/auth.md.done".into()))
        );
    }

    #[test]
    fn sentinel_without_output_file() {
        let p = "Refactor the parser. Then create `.swarm/done/parser.done`.";
        assert_eq!(found(p), Some((None, ".swarm/done/parser.done".into())));
    }

    #[test]
    fn last_backticked_sentinel_wins() {
        let p = "Unlike `old/x.done`, create `new/y.done` when finished.";
        assert_eq!(deliverables(p).unwrap().sentinel, "new/y.done");
    }

    #[test]
    fn backticked_beats_a_later_bare_word() {
        let p = "Create `a.done`. Do not create b.done.";
        assert_eq!(deliverables(p).unwrap().sentinel, "a.done");
    }

    #[test]
    fn bare_word_fallback_trims_punctuation() {
        assert_eq!(
            deliverables("Finally touch out/t1.done.").unwrap().sentinel,
            "out/t1.done"
        );
        assert_eq!(
            deliverables("create (x.done), then stop").unwrap().sentinel,
            "x.done"
        );
    }

    #[test]
    fn no_sentinel() {
        assert_eq!(deliverables("Just say hello."), None);
        assert_eq!(deliverables("a lone `.done` is not a path"), None);
    }

    #[test]
    fn output_needs_its_own_backticks() {
        let p = "Write docs/a.md and create `docs/a.md.done`.";
        assert_eq!(deliverables(p).unwrap().output, None);
    }

    #[test]
    fn output_contents_use_the_task_line_of_a_retry_prompt() {
        assert!(output_contents(LAND_RETRY).starts_with("# Task: Note the login change"));
    }

    #[test]
    fn output_contents_use_the_first_line() {
        assert_eq!(
            output_contents("Write the auth docs\nmore"),
            "# Write the auth docs\n\nSimulated output written by swarm sim-agent.\n"
        );
    }

    const LAND_RETRY: &str = "Your last attempt could not land: it conflicts with `land` in \
        `CHANGES.md`, `src/a.rs`. Run `git rebase land` in this directory, resolve the \
        conflicts keeping both sides' changes, and commit.\n\n\
        Task: Note the login change: append a line to `CHANGES.md`\n\n\
        When you have finished, create the empty file `.swarm/done/login.done` to signal \
        that you are done.";

    #[test]
    fn append_directive_in_any_case_each_path_once() {
        let p = "Note it: append a line to `CHANGES.md`. Also Append A Line To `docs/log.md`, \
                 then APPEND a line to `CHANGES.md` again.";
        assert_eq!(appends(p), ["CHANGES.md", "docs/log.md"]);
        assert!(appends("append to `CHANGES.md`").is_empty());
        assert!(appends("append a line to CHANGES.md").is_empty());
        assert!(appends("reappend a line to `x`").is_empty());
    }

    #[test]
    fn append_line_names_the_task_and_its_sentinel() {
        assert_eq!(
            append_line(LAND_RETRY, Some(".swarm/done/login.done")),
            "- Note the login change: append a line to `CHANGES.md` (.swarm/done/login.done)"
        );
        assert_eq!(append_line("Do X\nmore", None), "- Do X");
    }

    #[test]
    fn rebase_directive_takes_the_ref() {
        assert_eq!(rebase_onto(LAND_RETRY).as_deref(), Some("land"));
        assert_eq!(
            rebase_onto("run `git rebase swarm/land-1` here").as_deref(),
            Some("swarm/land-1")
        );
        assert_eq!(rebase_onto("then `git rebase --continue`"), None);
        assert_eq!(rebase_onto("git rebase land, unquoted"), None);
        assert_eq!(rebase_onto("Task: write docs"), None);
    }

    #[test]
    fn verify_output_counts_the_fenced_lines() {
        let p = "Your last attempt failed verification (`cargo test`):\n\
                 ```\nerror[E0425]: x\n  --> src/a.rs:1\n\nfailed\n```\n\n\
                 Task: fix it\n```\nnot counted\n```";
        assert_eq!(verify_output_lines(p), Some(4));
        let longer = "your last attempt failed verification (`make`):\n\
                      ````text\n```\ninner\n```\n````\nTask: t";
        assert_eq!(verify_output_lines(longer), Some(3));
        assert_eq!(
            verify_output_lines("Your last attempt failed verification (`x`): no block"),
            Some(0)
        );
        assert_eq!(verify_output_lines(LAND_RETRY), None);
    }

    #[test]
    fn append_once_creates_appends_and_skips_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d/CHANGES.md");
        let path = path.to_str().unwrap();
        assert!(append_once(path, "- a").unwrap());
        std::fs::write(path, "- a\n- b").unwrap();
        assert!(append_once(path, "- c").unwrap());
        assert!(!append_once(path, "- a").unwrap());
        assert_eq!(std::fs::read_to_string(path).unwrap(), "- a\n- b\n- c\n");
    }

    #[test]
    fn write_file_creates_parents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/c.md.done");
        write_file(path.to_str().unwrap(), "").unwrap();
        assert!(path.exists());
    }
}
