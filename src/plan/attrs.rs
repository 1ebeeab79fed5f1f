//! The attributes at the end of a task's first line: `{#id}`, `{out=PATH}`,
//! `{after=ID,…}`, `{files=GLOB,…}`, `{agent=PROFILE}` and `{tags=TAG,…}`, in one group
//! or several, in any order.

use super::TaskId;

/// What a task's attributes say, and its text without them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Attributes {
    pub text: String,
    pub id: Option<TaskId>,
    pub output: Option<String>,
    pub after: Vec<TaskId>,
    pub files: Vec<String>,
    pub agent: Option<String>,
    pub tags: Vec<String>,
}

/// The attribute names a `{…}` group may open with: a group that opens otherwise is text.
const NAMES: [&str; 6] = ["#", "out=", "after=", "files=", "agent=", "tags="];

/// The message for an attribute that is not one of ours.
const SYNTAX: &str = "a task may end with `{#some-id}`, `{out=path/to/file}`, `{after=other-id}`, `{files=src/**}`, `{agent=profile}` and `{tags=gpu}`, in one group or several, like `{#auth out=docs/auth.md}`";

/// Splits the trailing `{…}` groups off a task's first line. The error is the message to
/// give at the task's line.
pub(super) fn split(line: &str) -> Result<Attributes, String> {
    let mut attrs = Attributes::default();
    let mut rest = line;
    // Groups come off from the end; each is read in full before the next.
    let mut groups = Vec::new();
    while let Some(inner_end) = rest.strip_suffix('}') {
        let Some(open) = inner_end.rfind('{') else {
            break;
        };
        let inner = &inner_end[open + 1..];
        if !NAMES.iter().any(|n| inner.trim_start().starts_with(n)) {
            break;
        }
        groups.push(inner);
        rest = inner_end[..open].trim_end();
    }
    for inner in groups.into_iter().rev() {
        for token in inner.split_whitespace() {
            attrs.take(token)?;
        }
    }
    attrs.text = rest.to_string();
    Ok(attrs)
}

impl Attributes {
    fn take(&mut self, token: &str) -> Result<(), String> {
        if let Some(name) = token.strip_prefix('#') {
            if self.id.is_some() {
                return Err(format!(
                    "a second task id `{token}`\nhint: a task has one id"
                ));
            }
            self.id = Some(id(name).ok_or_else(|| {
                format!(
                    "bad task id `{token}`\nhint: an id is letters, digits, `.`, `_` and `-`, starting with a letter or digit, like `{{#auth-docs}}`"
                )
            })?);
        } else if let Some(out) = token.strip_prefix("out=").filter(|o| !o.is_empty()) {
            if self.output.is_some() {
                return Err("`out=` given twice".into());
            }
            self.output = Some(out.to_string());
        } else if let Some(list) = token.strip_prefix("after=") {
            for name in list.split(',') {
                let dep = id(name).ok_or_else(|| {
                    format!(
                        "bad id `{name}` in `{token}`\nhint: `after=` takes task ids separated by commas, like `{{after=login,setup}}`"
                    )
                })?;
                if !self.after.contains(&dep) {
                    self.after.push(dep);
                }
            }
        } else if let Some(list) = token.strip_prefix("files=") {
            for glob in list.split(',') {
                if glob.is_empty() {
                    return Err(format!(
                        "an empty glob in `{token}`\nhint: `files=` takes paths or globs separated by commas, like `{{files=src/login.ts,src/session/**}}`"
                    ));
                }
                self.files.push(glob.to_string());
            }
        } else if let Some(name) = token.strip_prefix("agent=") {
            if self.agent.is_some() {
                return Err("`agent=` given twice\nhint: a task goes to one profile".into());
            }
            if id(name).is_none() {
                return Err(format!(
                    "bad profile name in `{token}`\nhint: name a profile of swarm.toml, like `{{agent=codex}}`"
                ));
            }
            self.agent = Some(name.to_string());
        } else if let Some(list) = token.strip_prefix("tags=") {
            for tag in list.split(',') {
                if id(tag).is_none() {
                    return Err(format!(
                        "bad tag `{tag}` in `{token}`\nhint: `tags=` takes words separated by commas, like `{{tags=gpu}}`; a task with tags goes only to [[hosts]] that have them all"
                    ));
                }
                if !self.tags.iter().any(|t| t == tag) {
                    self.tags.push(tag.to_string());
                }
            }
        } else {
            return Err(format!("unknown task attribute `{token}`\nhint: {SYNTAX}"));
        }
        Ok(())
    }
}

/// `name` as an id: letters, digits, `.`, `_` and `-`, starting with a letter or digit.
fn id(name: &str) -> Option<TaskId> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    valid.then(|| TaskId(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_words_and_repeats_count_once() {
        let attrs = split("Train the model {tags=gpu,big} {tags=gpu}").unwrap();
        assert_eq!(attrs.tags, ["gpu", "big"]);
        assert_eq!(attrs.text, "Train the model");
        let err = split("x {tags=gpu,}").unwrap_err();
        assert!(err.contains("bad tag ``"), "{err}");
        assert!(split("x {tags=-x}").is_err());
    }

    fn ids(names: &[&str]) -> Vec<TaskId> {
        names.iter().map(|n| TaskId(n.to_string())).collect()
    }

    #[test]
    fn one_group_or_several_say_the_same() {
        let one =
            split("Refactor login {#login after=setup,db files=src/login.ts agent=codex}").unwrap();
        let several = split(
            "Refactor login {agent=codex} {#login} {after=setup} {after=db} {files=src/login.ts}",
        )
        .unwrap();
        assert_eq!(one, several);
        assert_eq!(one.text, "Refactor login");
        assert_eq!(one.id, Some(TaskId("login".into())));
        assert_eq!(one.after, ids(&["setup", "db"]));
        assert_eq!(one.files, vec!["src/login.ts".to_string()]);
        assert_eq!(one.agent.as_deref(), Some("codex"));
    }

    #[test]
    fn a_brace_group_that_is_not_ours_is_text() {
        let attrs = split("Explain `{x}` in fmt {#fmt}").unwrap();
        assert_eq!(attrs.text, "Explain `{x}` in fmt");
        assert_eq!(split("Use {name} here").unwrap().text, "Use {name} here");
    }

    #[test]
    fn bad_attributes_say_what_and_how() {
        assert!(split("x {#a after=}").unwrap_err().contains("bad id ``"));
        assert!(split("x {files=a,,b}").unwrap_err().contains("empty glob"));
        assert!(
            split("x {agent=a} {agent=b}")
                .unwrap_err()
                .contains("twice")
        );
        assert!(split("x {#a} {#b}").unwrap_err().contains("second task id"));
        assert!(
            split("x {#a colour=red}")
                .unwrap_err()
                .contains("unknown task attribute")
        );
    }
}
