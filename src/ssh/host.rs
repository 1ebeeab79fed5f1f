//! A host as swarm reaches it: its name in swarm.toml, the destination handed to ssh, and
//! the person's extra ssh options, checked so that nothing can be read as an ssh flag.

use crate::error::BadInput;

/// A destination ssh accepts (`gpu1`, `alice@gpu1.lan`, `ssh://alice@gpu1:2222`) and the
/// options added for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The name swarm shows (swarm.toml's `name`).
    pub name: String,
    /// What ssh connects to.
    pub dest: String,
    /// swarm.toml's `ssh_options`, passed after swarm's own.
    pub options: Vec<String>,
}

impl Host {
    /// A host whose destination is checked by [`check_destination`].
    pub fn new(name: &str, dest: &str, options: Vec<String>) -> Result<Host, BadInput> {
        check_destination(dest)?;
        Ok(Host {
            name: name.to_owned(),
            dest: dest.to_owned(),
            options,
        })
    }
}

/// Refuses a destination ssh could read as an option (`-oProxyCommand=…`), or one that is
/// empty or holds spaces or control characters, which no host name does.
pub fn check_destination(dest: &str) -> Result<(), BadInput> {
    if dest.is_empty() {
        return Err(BadInput::new("the ssh destination is empty")
            .hint("give a host as ssh takes it, such as \"alice@gpu1.lan\""));
    }
    if dest.starts_with('-') {
        return Err(BadInput::new(format!(
            "ssh destination {dest:?} starts with `-`, which ssh would read as an option"
        ))
        .hint("give a host name; put ssh flags in ssh_options"));
    }
    if dest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(BadInput::new(format!(
            "ssh destination {dest:?} holds a space or a control character"
        ))
        .hint("give one host as ssh takes it; put ssh flags in ssh_options"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_destinations_are_accepted() {
        for dest in [
            "gpu1",
            "alice@gpu1.lan",
            "ssh://alice@gpu1:2222",
            "10.0.0.2",
            "[::1]",
        ] {
            assert!(check_destination(dest).is_ok(), "{dest}");
        }
    }

    #[test]
    fn destinations_ssh_would_read_as_flags_are_refused() {
        for dest in [
            "-oProxyCommand=sh",
            "-F",
            "-",
            "",
            "a b",
            "gpu1\n-x",
            "a\tb",
        ] {
            let err = check_destination(dest).unwrap_err();
            assert!(err.hint.is_some(), "{dest}: {err}");
        }
        assert!(
            Host::new("x", "-oProxyCommand=touch /tmp/p", vec![])
                .unwrap_err()
                .message
                .contains("starts with `-`")
        );
    }
}
