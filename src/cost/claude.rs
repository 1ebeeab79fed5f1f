//! Claude Code's session transcripts, `<config>/projects/<dir>/<session>.jsonl`: each
//! assistant line carries its message's `usage`, repeated on every line of the same
//! `message.id` (one line per content block), so each id counts once. A response belongs
//! to the task whose sentinel the latest human turn of its conversation names, followed
//! through `parentUuid` (across files: a reply that ends after `/clear` is written to the
//! new session's file, its parent in the old one).

use super::{Spend, Tokens, last_sentinel, millis};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Where Claude Code keeps its transcripts for work in `cwd`: every character that is not
/// a letter or a digit of the path becomes `-`.
pub fn project_dir(config: &Path, cwd: &Path) -> PathBuf {
    let name: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    config.join("projects").join(name)
}

/// Claude Code's configuration directory: `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("CLAUDE_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".claude")))
}

/// What one transcript line says about the conversation.
enum Line {
    /// A person's turn (a pasted prompt, a nudge), naming a sentinel or not.
    Turn(Option<String>),
    /// Anything else in the chain: a tool result, a note Claude adds, a response.
    Link,
}

/// Every response in `texts` (the contents of transcript files), with the sentinel its
/// turn named.
pub fn spends(texts: &[String]) -> Vec<Spend> {
    let mut parent: HashMap<String, String> = HashMap::new();
    let mut kind: HashMap<String, Line> = HashMap::new();
    let mut responses = Vec::new();
    for text in texts {
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                // A line being written as we read is read next time.
                continue;
            };
            let Some(uuid) = v["uuid"].as_str() else {
                continue;
            };
            if let Some(p) = v["parentUuid"].as_str() {
                parent.insert(uuid.to_string(), p.to_string());
            }
            match v["type"].as_str() {
                Some("user") => {
                    kind.insert(uuid.to_string(), user_line(&v));
                }
                Some("assistant") => {
                    kind.insert(uuid.to_string(), Line::Link);
                    responses.push((uuid.to_string(), v));
                }
                _ => {}
            }
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (uuid, v) in responses {
        let message = &v["message"];
        let (Some(id), Some(usage)) = (message["id"].as_str(), message.get("usage")) else {
            continue;
        };
        if !seen.insert(id.to_string()) {
            continue;
        }
        let count = |key: &str| usage[key].as_u64().unwrap_or(0);
        out.push(Spend {
            sentinel: turn_of(&uuid, &parent, &kind),
            at_ms: v["timestamp"].as_str().and_then(millis).unwrap_or(0),
            model: message["model"].as_str().unwrap_or("unknown").to_string(),
            tokens: Tokens {
                input: count("input_tokens"),
                output: count("output_tokens"),
                cache_read: count("cache_read_input_tokens"),
                cache_write: count("cache_creation_input_tokens"),
            },
        });
    }
    out
}

/// A user line is a person's turn when it holds text that is not Claude's own wrapping
/// (a `<system-reminder>`, the record of a `/clear`) and is not a tool's result.
fn user_line(v: &Value) -> Line {
    if v["isMeta"].as_bool() == Some(true) {
        return Line::Link;
    }
    let content = &v["message"]["content"];
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            if items.iter().any(|i| i["type"] == "tool_result") {
                return Line::Link;
            }
            items
                .iter()
                .filter_map(|i| i["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => return Line::Link,
    };
    match last_sentinel(&text) {
        Some(s) => Line::Turn(Some(s)),
        None if text.trim_start().starts_with('<') => Line::Link,
        None => Line::Turn(None),
    }
}

/// The sentinel named by the turn `uuid` answers, walking up its parents.
fn turn_of(
    uuid: &str,
    parent: &HashMap<String, String>,
    kind: &HashMap<String, Line>,
) -> Option<String> {
    let mut at = uuid;
    // A chain is as long as the conversation; the bound only guards against a loop.
    for _ in 0..100_000 {
        if let Some(Line::Turn(named)) = kind.get(at) {
            return named.clone();
        }
        at = parent.get(at)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as Claude Code 2.1.331 writes them (trimmed to the fields read), for a prompt
    /// naming `notes/a.md.done`, one response in two blocks, a tool result, a second
    /// response, and the last reply written to the next session's file after `/clear`.
    fn session() -> (String, String) {
        let user = r#"{"parentUuid":null,"isSidechain":false,"type":"user","message":{"role":"user","content":"<system-reminder>x</system-reminder>\n\n<pasted_content id=\"c1\">\nWrite notes/a.md.\nWhen you have finished, create the empty file `notes/a.md.done` to signal that you are done.\n</pasted_content id=\"c1\">"},"uuid":"u1","timestamp":"2026-12-01T01:30:44.929Z","sessionId":"s1","cwd":"/w"}"#;
        let a1 = |uuid: &str, parent: &str, block: &str| {
            format!(
                r#"{{"parentUuid":"{parent}","type":"assistant","message":{{"id":"msg_1","role":"assistant","model":"claude-opus-5-5","content":[{block}],"usage":{{"input_tokens":5227,"cache_creation_input_tokens":1741,"cache_read_input_tokens":6967,"output_tokens":37,"service_tier":"standard"}}}},"uuid":"{uuid}","timestamp":"2026-12-01T01:30:45.347Z","sessionId":"s1"}}"#
            )
        };
        let tool = r#"{"parentUuid":"a1b","type":"user","message":{"role":"user","content":[{"tool_use_id":"t1","type":"tool_result","content":"File created"}]},"uuid":"u2","timestamp":"2026-12-01T01:30:45.406Z","sessionId":"s1"}"#;
        let a2 = r#"{"parentUuid":"u2","type":"assistant","message":{"id":"msg_2","model":"claude-opus-5-5","content":[{"type":"text","text":"done"}],"usage":{"input_tokens":5284,"cache_creation_input_tokens":1760,"cache_read_input_tokens":7043,"output_tokens":18}},"uuid":"a2","timestamp":"2026-12-01T01:30:45.733Z","sessionId":"s1"}"#;
        let first = [
            user.to_string(),
            a1("a1a", "u1", r#"{"type":"text","text":"I'll write it"}"#),
            a1(
                "a1b",
                "a1a",
                r#"{"type":"tool_use","name":"Write","input":{}}"#,
            ),
            tool.to_string(),
            a2.to_string(),
            r#"{"type":"last-prompt","sessionId":"s1"}"#.to_string(),
        ]
        .join("\n");
        let after_clear = r#"{"parentUuid":"a2","type":"assistant","message":{"id":"msg_3","model":"claude-opus-5-5","content":[{"type":"text","text":"Done."}],"usage":{"input_tokens":10,"cache_creation_input_tokens":2,"cache_read_input_tokens":8,"output_tokens":95}},"uuid":"a3","timestamp":"2026-12-01T01:30:46.100Z","sessionId":"s2"}
{"parentUuid":null,"type":"user","message":{"role":"user","content":"<command-name>/clear</command-name>"},"uuid":"u3","timestamp":"2026-12-01T01:30:46.200Z","sessionId":"s2"}
{"parentUuid":"u3","type":"user","message":{"role":"user","content":"What is the time?"},"uuid":"u4","timestamp":"2026-12-01T01:30:47.000Z","sessionId":"s2"}
{"parentUuid":"u4","type":"assistant","message":{"id":"msg_4","model":"claude-opus-5-5","content":[],"usage":{"input_tokens":1,"output_tokens":1}},"uuid":"a4","timestamp":"2026-12-01T01:30:47.500Z","sessionId":"s2"}"#;
        (first, after_clear.to_string())
    }

    #[test]
    fn each_message_counts_once_for_the_task_its_turn_named() {
        let (first, second) = session();
        let spends = spends(&[second, first]);
        let for_a: Vec<&Spend> = spends
            .iter()
            .filter(|s| s.sentinel.as_deref() == Some("notes/a.md.done"))
            .collect();
        assert_eq!(for_a.len(), 3, "msg_1 once, msg_2, and msg_3 after /clear");
        let sum = for_a.iter().fold(Tokens::default(), |t, s| t + s.tokens);
        assert_eq!(
            sum,
            Tokens {
                input: 5227 + 5284 + 10,
                output: 37 + 18 + 95,
                cache_read: 6967 + 7043 + 8,
                cache_write: 1741 + 1760 + 2,
            }
        );
        assert_eq!(for_a[0].model, "claude-opus-5-5");
        let other: Vec<&Spend> = spends.iter().filter(|s| s.sentinel.is_none()).collect();
        assert_eq!(other.len(), 1, "a turn about something else is no task's");
    }

    #[test]
    fn the_project_dir_replaces_every_non_alphanumeric() {
        assert_eq!(
            project_dir(
                Path::new("/h/.claude"),
                Path::new("/tmp/real-agents-demo.ESXO9l/proj")
            ),
            Path::new("/h/.claude/projects/-tmp-real-agents-demo-ESXO9l-proj")
        );
    }
}
