//! Codex's session rollouts, `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`: a
//! `session_meta` line (its working directory), `turn_context` lines (the model), the
//! conversation's messages, and `token_count` events whose running total grows with each
//! response. A response belongs to the task whose sentinel the latest user turn names.

use super::{Spend, Tokens, last_sentinel, millis};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Codex's home: `$CODEX_HOME`, else `~/.codex`.
pub fn home() -> Option<PathBuf> {
    std::env::var_os("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))
}

/// The working directory a rollout's session ran in, from its `session_meta` line.
pub fn cwd(text: &str) -> Option<PathBuf> {
    let first = text.lines().next()?;
    let v: Value = serde_json::from_str(first).ok()?;
    (v["type"] == "session_meta")
        .then(|| v["payload"]["cwd"].as_str().map(PathBuf::from))
        .flatten()
}

/// Every response in one rollout, with the sentinel its turn named.
pub fn spends(text: &str) -> Vec<Spend> {
    let mut out = Vec::new();
    let mut model = "unknown".to_string();
    let mut sentinel: Option<String> = None;
    let mut total = Tokens::default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let payload = &v["payload"];
        match (v["type"].as_str(), payload["type"].as_str()) {
            (Some("turn_context"), _) => {
                if let Some(m) = payload["model"].as_str() {
                    model = m.to_string();
                }
            }
            (Some("response_item"), Some("message")) if payload["role"] == "user" => {
                let text: Vec<&str> = payload["content"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["text"].as_str())
                    .collect();
                let text = text.join("\n");
                // Codex's own context (the environment, AGENTS.md) is not a person's turn.
                let own = [
                    "<environment_context>",
                    "<user_instructions>",
                    "# AGENTS.md",
                ]
                .iter()
                .any(|tag| text.trim_start().starts_with(tag));
                if !own {
                    sentinel = last_sentinel(&text);
                }
            }
            (Some("event_msg"), Some("token_count")) => {
                let now = tokens(&payload["info"]["total_token_usage"]);
                // Codex repeats the count when only its rate-limit figures change: what
                // grew since the last count is the new response.
                let spent = match now.minus(&total) {
                    Some(spent) => spent,
                    None => tokens(&payload["info"]["last_token_usage"]),
                };
                total = now;
                if spent == Tokens::default() {
                    continue;
                }
                out.push(Spend {
                    sentinel: sentinel.clone(),
                    at_ms: v["timestamp"].as_str().and_then(millis).unwrap_or(0),
                    model: model.clone(),
                    tokens: spent,
                });
            }
            _ => {}
        }
    }
    out
}

/// Codex counts cached input inside `input_tokens`; swarm keeps them apart.
fn tokens(usage: &Value) -> Tokens {
    let count = |key: &str| usage[key].as_u64().unwrap_or(0);
    let cached = count("cached_input_tokens");
    Tokens {
        input: count("input_tokens").saturating_sub(cached),
        output: count("output_tokens"),
        cache_read: cached,
        cache_write: count("cache_write_input_tokens"),
    }
}

/// The rollout files under `sessions` of the days from `since_ms` to now, written since.
pub fn rollouts(sessions: &Path, since_ms: i64) -> Vec<PathBuf> {
    let Ok(since) = jiff::Timestamp::from_millisecond(since_ms) else {
        return Vec::new();
    };
    let now = jiff::Timestamp::now();
    // Codex names the day folders in local time; a day either side covers any zone.
    let mut day = since
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .yesterday()
        .ok();
    let last = now
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .tomorrow()
        .ok();
    let mut files = Vec::new();
    while let (Some(d), Some(end)) = (day, last) {
        if d > end {
            break;
        }
        let dir = sessions
            .join(format!("{:04}", d.year()))
            .join(format!("{:02}", d.month()))
            .join(format!("{:02}", d.day()));
        files.extend(super::written_since(&dir, since_ms));
        day = d.tomorrow().ok();
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rollout as codex 0.169.0 writes it (trimmed to the fields read): a prompt naming
    /// `c2.done`, two responses (the count repeated once, as on a rate-limit update), and
    /// a later turn about something else.
    const ROLLOUT: &str = r#"{"timestamp":"2026-12-01T01:30:52.416Z","type":"session_meta","payload":{"id":"01a2","cwd":"/w/proj","cli_version":"0.169.0"}}
{"timestamp":"2026-12-01T01:30:52.454Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n  <cwd>/w/proj</cwd>\n</environment_context>"}]}}
{"timestamp":"2026-12-01T01:30:52.455Z","type":"turn_context","payload":{"cwd":"/w/proj","model":"gpt-5.5-codex"}}
{"timestamp":"2026-12-01T01:30:52.460Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"Chore 2\nWhen you have finished, create the empty file `.swarm/done/c2.done` to signal that you are done."}]}}
{"timestamp":"2026-12-01T01:30:52.572Z","type":"token_usage_record","payload":{}}
{"timestamp":"2026-12-01T01:30:52.576Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":10437,"cached_input_tokens":5218,"cache_write_input_tokens":0,"output_tokens":88,"total_tokens":10525},"last_token_usage":{"input_tokens":10437,"cached_input_tokens":5218,"output_tokens":88}}}}
{"timestamp":"2026-12-01T01:30:52.835Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":21049,"cached_input_tokens":10524,"cache_write_input_tokens":0,"output_tokens":156,"total_tokens":21205},"last_token_usage":{"input_tokens":10612,"cached_input_tokens":5306,"output_tokens":68}}}}
{"timestamp":"2026-12-01T01:30:52.900Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":21049,"cached_input_tokens":10524,"cache_write_input_tokens":0,"output_tokens":156,"total_tokens":21205},"last_token_usage":{"input_tokens":10612,"cached_input_tokens":5306,"output_tokens":68}},"rate_limits":{}}}
{"timestamp":"2026-12-01T01:30:53.000Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"hello"}]}}
{"timestamp":"2026-12-01T01:30:53.073Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":31820,"cached_input_tokens":15909,"cache_write_input_tokens":0,"output_tokens":229,"total_tokens":32049},"last_token_usage":{"input_tokens":10771,"cached_input_tokens":5385,"output_tokens":73}}}}
"#;

    #[test]
    fn each_response_counts_once_with_cached_input_apart() {
        assert_eq!(cwd(ROLLOUT), Some(PathBuf::from("/w/proj")));
        let spends = spends(ROLLOUT);
        assert_eq!(spends.len(), 3);
        let c2: Vec<&Spend> = spends
            .iter()
            .filter(|s| s.sentinel.as_deref() == Some(".swarm/done/c2.done"))
            .collect();
        assert_eq!(c2.len(), 2, "the repeated count is not a response");
        let sum = c2.iter().fold(Tokens::default(), |t, s| t + s.tokens);
        assert_eq!(
            sum,
            Tokens {
                input: 21049 - 10524,
                output: 156,
                cache_read: 10524,
                cache_write: 0,
            }
        );
        assert_eq!(c2[0].model, "gpt-5.5-codex");
        assert_eq!(spends[2].sentinel, None);
    }
}
