//! Finding tmux and refusing versions older than 3.2, which lack the formats and flags swarm uses.

use super::TmuxError;
use super::command::run_with_timeout;
use std::io;
use std::process::Command;
use std::time::Duration;

/// The oldest tmux swarm runs on: `new-session -e`, which spawns need, arrived in 3.2.
const OLDEST: (u32, u32) = (3, 2);

/// Runs `tmux -V` and returns the version (such as `3.3a`) if swarm can use it.
pub fn check_version() -> Result<String, TmuxError> {
    let mut cmd = Command::new("tmux");
    cmd.arg("-V");
    let out = run_with_timeout(cmd, None, Duration::from_secs(5))
        .map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => TmuxError::Missing,
            _ => TmuxError::Io(err),
        })?
        .ok_or(TmuxError::Timeout {
            args: "-V".to_string(),
            secs: 5,
        })?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let found = line.strip_prefix("tmux ").unwrap_or(&line).to_string();
    match parse_version(&line) {
        Some(version) if version < OLDEST => Err(TmuxError::TooOld { found }),
        _ => Ok(found),
    }
}

/// Whether the tmux of a `tmux -V` line (another host's) is new enough for swarm; a line
/// that is not understood gets the benefit of the doubt, as [`check_version`] gives it.
pub fn usable_version(line: &str) -> bool {
    parse_version(line).is_none_or(|version| version >= OLDEST)
}

/// `(major, minor)` from a `tmux -V` line; builds from master or an OS tree count as newest.
/// `None` means the line is not understood, and swarm gives such a tmux the benefit of the doubt.
fn parse_version(line: &str) -> Option<(u32, u32)> {
    let version = line.trim().strip_prefix("tmux ")?;
    if version == "master" || version.starts_with("openbsd-") {
        return Some((u32::MAX, 0));
    }
    let version = version.strip_prefix("next-").unwrap_or(version);
    let (major, rest) = version.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_next_master_and_openbsd_lines() {
        assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_version("tmux 3.2\n"), Some((3, 2)));
        assert_eq!(parse_version("tmux 3.10"), Some((3, 10)));
        assert_eq!(parse_version("tmux next-3.6"), Some((3, 6)));
        assert_eq!(parse_version("tmux master"), Some((u32::MAX, 0)));
        assert_eq!(parse_version("tmux openbsd-7.4"), Some((u32::MAX, 0)));
        assert_eq!(parse_version("screen 4.09"), None);
        assert!(usable_version("tmux 3.2a") && usable_version("tmux 3.10"));
        assert!(!usable_version("tmux 3.1c") && !usable_version("tmux 2.9"));
    }

    #[test]
    fn versions_before_3_2_are_too_old() {
        for old in ["tmux 3.1c", "tmux 2.9a", "tmux 1.8"] {
            assert!(parse_version(old).unwrap() < OLDEST, "{old}");
        }
        for ok in ["tmux 3.2", "tmux 3.2a", "tmux 3.3a", "tmux 4.0"] {
            assert!(parse_version(ok).unwrap() >= OLDEST, "{ok}");
        }
    }

    #[test]
    fn the_installed_tmux_is_accepted() {
        // The test machines carry tmux 3.3a; where tmux is missing, say so plainly.
        match check_version() {
            Ok(version) => assert!(!version.is_empty()),
            Err(err) => assert!(matches!(err, TmuxError::Missing), "{err}"),
        }
    }
}
