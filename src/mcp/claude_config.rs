//! `.mcp.json`, where Claude Code finds a project's MCP servers: swarm's own entry merged
//! into what the file holds, keeping every other server and setting the person wrote.

use crate::error::BadInput;
use serde_json::{Map, Value, json};
use std::path::Path;

/// The file's name, in the project directory.
pub const FILE: &str = ".mcp.json";

/// `existing` (the file's text, if there is one) with `mcpServers.swarm` starting `exe mcp`.
/// Text that is not a JSON object with an object `mcpServers` is refused: it is the
/// person's to fix, and nothing is written.
pub fn merge(existing: Option<&str>, exe: &Path) -> Result<String, BadInput> {
    let mut config = match existing {
        None => Value::Object(Map::new()),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            BadInput::new(format!(
                "{FILE}:{}:{}: not valid JSON ({e}); nothing was written",
                e.line(),
                e.column()
            ))
            .hint(format!("fix {FILE}, or move it away and run this again"))
        })?,
    };
    let not_an_object = |what: &str| {
        BadInput::new(format!(
            "{FILE}: {what} is not a JSON object; nothing was written"
        ))
        .hint(format!(
            r#"Claude Code expects {{"mcpServers": {{"NAME": {{...}}}}}}: fix {FILE}"#
        ))
    };
    let servers = config
        .as_object_mut()
        .ok_or_else(|| not_an_object("the file"))?
        .entry("mcpServers")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| not_an_object("`mcpServers`"))?;
    servers.insert(
        "swarm".into(),
        json!({ "command": exe.display().to_string(), "args": ["mcp"] }),
    );
    let mut text = serde_json::to_string_pretty(&config).expect("a JSON value serialises");
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXE: &str = "/opt/bin/swarm";

    fn merged(existing: Option<&str>) -> Value {
        serde_json::from_str(&merge(existing, Path::new(EXE)).unwrap()).unwrap()
    }

    #[test]
    fn a_new_file_holds_swarm_alone() {
        assert_eq!(
            merged(None),
            json!({"mcpServers": {"swarm": {"command": EXE, "args": ["mcp"]}}})
        );
    }

    #[test]
    fn the_persons_servers_and_settings_are_kept_and_an_old_swarm_entry_replaced() {
        let theirs = r#"{
          "mcpServers": {
            "github": {"command": "gh-mcp", "args": ["--stdio"], "env": {"TOKEN": "x"}},
            "swarm": {"command": "/old/swarm", "args": ["mcp"]}
          },
          "theirSetting": [1, 2]
        }"#;
        assert_eq!(
            merged(Some(theirs)),
            json!({
                "mcpServers": {
                    "github": {"command": "gh-mcp", "args": ["--stdio"], "env": {"TOKEN": "x"}},
                    "swarm": {"command": EXE, "args": ["mcp"]}
                },
                "theirSetting": [1, 2]
            })
        );
        assert_eq!(
            merged(Some(r#"{"other": true}"#)),
            json!({"other": true, "mcpServers": {"swarm": {"command": EXE, "args": ["mcp"]}}})
        );
    }

    #[test]
    fn a_file_that_is_not_a_config_is_refused_with_where() {
        let err = merge(Some("{\n  \"mcpServers\": {,\n}"), Path::new(EXE)).unwrap_err();
        assert!(err.message.starts_with(".mcp.json:2:"), "{}", err.message);
        assert!(
            err.message.contains("nothing was written"),
            "{}",
            err.message
        );
        for text in ["[]", r#"{"mcpServers": []}"#] {
            let err = merge(Some(text), Path::new(EXE)).unwrap_err();
            assert!(
                err.message.contains("not a JSON object"),
                "{text}: {}",
                err.message
            );
        }
    }
}
