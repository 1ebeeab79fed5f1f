//! What a prompt asks the simulator to produce. swarm's prompts name a sentinel file (and
//! usually an output file) in backticks; the simulator finds them the way a careful agent would.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

const DONE: &str = ".done";

/// Backtick-quoted spans on one line, such as `` `docs/auth.md.done` ``.
static BACKTICKED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`([^`\n]+)`").unwrap());

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

/// The simulated work product: a heading from the prompt's first line and a note.
pub fn output_contents(prompt: &str) -> String {
    let first = prompt.lines().next().unwrap_or("");
    format!("# {first}\n\nSimulated output written by swarm sim-agent.\n")
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
    fn output_contents_use_the_first_line() {
        assert_eq!(
            output_contents("Write the auth docs\nmore"),
            "# Write the auth docs\n\nSimulated output written by swarm sim-agent.\n"
        );
    }

    #[test]
    fn write_file_creates_parents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/c.md.done");
        write_file(path.to_str().unwrap(), "").unwrap();
        assert!(path.exists());
    }
}
