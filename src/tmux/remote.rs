//! A tmux server on another host: the ssh and host a `Tmux` reaches it through, and the
//! guarded paste over the control link, never over an exec channel (docs/multihost.md).

use super::command::{Argv, escape_format};
use super::live::{Answer, Block, Exchange, INCARNATION, Link};
use super::{PaneId, PasteOutcome, Tmux, TmuxError};
use crate::ssh::{Host, SystemSsh};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The pane option a remote paste sets to its buffer's name when it went in: after a
/// dropped link, the next paste reads it to know what became of the last one.
pub(super) const PASTED_MARK: &str = "@swarm-pasted";

/// How a `Tmux` reaches a server on another host.
#[derive(Debug)]
pub(super) struct Via {
    ssh: Arc<SystemSsh>,
    host: Host,
    /// Pastes whose outcome a dropped link left unknown, by pane.
    in_doubt: Mutex<HashMap<PaneId, Sent>>,
    /// The last paste known to have gone into each pane.
    pasted: Mutex<HashMap<PaneId, Sent>>,
}

/// A paste that was sent: through which buffer, and what.
#[derive(Debug)]
struct Sent {
    buffer: String,
    text: String,
}

impl Via {
    pub(super) fn new(ssh: Arc<SystemSsh>, host: Host) -> Via {
        Via {
            ssh,
            host,
            in_doubt: Mutex::new(HashMap::new()),
            pasted: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn ssh(&self) -> &SystemSsh {
        &self.ssh
    }

    pub(super) fn host(&self) -> &Host {
        &self.host
    }

    fn unreachable(&self, why: impl Into<String>) -> TmuxError {
        TmuxError::HostUnreachable {
            host: self.host.name.clone(),
            why: why.into(),
        }
    }

    fn doubts(&self) -> std::sync::MutexGuard<'_, HashMap<PaneId, Sent>> {
        self.in_doubt.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pasted(&self) -> std::sync::MutexGuard<'_, HashMap<PaneId, Sent>> {
        self.pasted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Pastes `text` (control characters already stripped) into `pane` through `buffer`:
/// one `set-buffer` line carrying the text, then `guard` (the `if-shell` line), over the
/// link. A line cut off by a dropped link is never run, so the pane gets all of the text
/// or none of it. If the link is down, nothing is sent and the error is
/// `HostUnreachable`: the caller tries again later. If it drops after sending, the
/// outcome is unknown; the next paste into the pane finds out first, and reports the
/// earlier paste as `Pasted` rather than pasting the same text twice.
pub(super) fn paste(
    tmux: &Tmux,
    via: &Via,
    pane: &PaneId,
    text: &str,
    buffer: &str,
    guard: &Argv,
) -> Result<PasteOutcome, TmuxError> {
    let Some(link) = tmux.link() else {
        return Err(TmuxError::Invalid(
            "a paste on another host goes over the control link: use a linked handle".into(),
        ));
    };
    if settle(tmux, via, link, pane, text)? {
        return Ok(PasteOutcome::Pasted);
    }
    let guard = guard
        .control_line()
        .ok_or_else(|| TmuxError::Invalid("the paste guard is not one line".into()))?;
    let lines = [format!("set-buffer -b {buffer} -- {}", quoted(text)), guard];
    match link.exchange(&lines, &format!("swarm-done-{buffer}"), tmux.timeout()) {
        Exchange::Unsent => Err(via.unreachable(
            "the control link is down (nothing was pasted); try again once it is back",
        )),
        Exchange::Lost => {
            via.doubts().insert(
                pane.clone(),
                Sent {
                    buffer: buffer.to_owned(),
                    text: text.to_owned(),
                },
            );
            hang_up(via, link);
            Err(via.unreachable(format!(
                "the control link dropped during a paste into {pane}; the next paste there \
                 finds out whether it went in"
            )))
        }
        Exchange::Replies(blocks) => {
            let outcome = outcome(&blocks).ok_or_else(|| TmuxError::Failed {
                args: format!("set-buffer -b {buffer} … ; if-shell -F -t {pane} …"),
                stderr: format!(
                    "unexpected paste replies {:?}",
                    blocks.iter().flat_map(|(_, l)| l).collect::<Vec<_>>()
                ),
            })?;
            if outcome == PasteOutcome::Pasted {
                let sent = Sent {
                    buffer: buffer.to_owned(),
                    text: text.to_owned(),
                };
                via.pasted().insert(pane.clone(), sent);
            }
            Ok(outcome)
        }
    }
}

/// Whether the last paste into `pane` was `text` and went in: one whose answer a dropped
/// link lost is settled first (`settle`); one that was answered is checked against the
/// pane's `@swarm-pasted`, so that a pane of a restarted server, which may have the same
/// id, does not pass for it.
pub(super) fn pasted_last(
    tmux: &Tmux,
    via: &Via,
    pane: &PaneId,
    text: &str,
) -> Result<bool, TmuxError> {
    let Some(link) = tmux.link() else {
        return Ok(false);
    };
    if via.doubts().get(pane).is_some_and(|d| d.text == text) {
        return settle(tmux, via, link, pane, text);
    }
    let buffer = match via.pasted().get(pane) {
        Some(sent) if sent.text == text => sent.buffer.clone(),
        _ => return Ok(false),
    };
    let line = format!("display-message -p -t {pane} '#{{{PASTED_MARK}}}'");
    match link.run(&line, tmux.timeout()) {
        Answer::Out(out) => Ok(out.trim() == buffer),
        // No such pane: nothing of it is left to finish.
        Answer::Failed(_) => Ok(false),
        Answer::NoReply(why) => {
            hang_up(via, link);
            Err(via.unreachable(why))
        }
        Answer::Down => Err(via.unreachable("the control link is down")),
    }
}

/// Finds out what became of the last paste into `pane` if a dropped link left it
/// unknown: true when it went in with this same `text` (so it must not go in again).
/// A buffer it left loaded but not pasted is deleted.
fn settle(
    tmux: &Tmux,
    via: &Via,
    link: &Link,
    pane: &PaneId,
    text: &str,
) -> Result<bool, TmuxError> {
    let Some(doubt) = via.doubts().remove(pane) else {
        return Ok(false);
    };
    let lines = [
        format!("display-message -p -t {pane} '#{{{PASTED_MARK}}}'"),
        "list-buffers -F '#{buffer_name}'".to_owned(),
    ];
    let blocks = match link.exchange(
        &lines,
        &format!("swarm-settle-{}", doubt.buffer),
        tmux.timeout(),
    ) {
        Exchange::Replies(blocks) => blocks,
        unanswered => {
            if matches!(unanswered, Exchange::Lost) {
                hang_up(via, link);
            }
            via.doubts().insert(pane.clone(), doubt);
            return Err(via.unreachable(
                "the control link is down (nothing was pasted); try again once it is back",
            ));
        }
    };
    let pasted = matches!(blocks.first(), Some((true, lines)) if lines.len() == 1 && lines[0] == doubt.buffer);
    if pasted {
        // The same prompt went in; a different one goes in after it.
        let same = doubt.text == text;
        via.pasted().insert(pane.clone(), doubt);
        return Ok(same);
    }
    let loaded = blocks
        .get(1)
        .is_some_and(|(_, names)| names.contains(&doubt.buffer));
    if loaded {
        let _ = link.run(
            &format!("delete-buffer -b {}", doubt.buffer),
            tmux.timeout(),
        );
    }
    Ok(false)
}

/// The link went silent mid-paste: end its client, so that its keeper attaches again
/// (or says `HostLost`), and close the master, which a silent network would hang.
fn hang_up(via: &Via, link: &Link) {
    // The master first: a keeper that probed while it was closing would fail on it.
    via.ssh().exit_master(via.host());
    link.hang_up();
}

/// Runs a chain of commands (`a ; b`) on the host as one line over the link, then a
/// marker: one round trip, where an ssh exec costs about 15 ms (a new session through the
/// master, and a tmux client there). As in a chain run by a process, tmux stops at the
/// first command that fails. `None` when the link is down (nothing was sent) or the
/// chain has a line break: the caller runs a process.
pub(super) fn run_chain(
    tmux: &Tmux,
    via: &Via,
    link: &Link,
    argv: &Argv,
) -> Option<Result<String, TmuxError>> {
    let line = argv.chain_line()?;
    let marker = format!(
        "swarm-chain-{}-{}",
        std::process::id(),
        NEXT_MARKER.fetch_add(1, Ordering::Relaxed)
    );
    match link.exchange(&[line], &marker, tmux.timeout()) {
        Exchange::Unsent => None,
        // Whether it ran is unknown, as for a process that timed out.
        Exchange::Lost => {
            hang_up(via, link);
            Some(Err(via.unreachable(format!(
                "no reply over the control link to `{argv}`"
            ))))
        }
        Exchange::Replies(mut blocks) => {
            blocks.pop();
            if let Some((_, lines)) = blocks.iter().find(|(ok, _)| !ok) {
                return Some(Err(tmux.failure(argv, lines.join("\n"))));
            }
            let out = blocks.iter().flat_map(|(_, lines)| lines);
            Some(Ok(out.map(|line| format!("{line}\n")).collect()))
        }
    }
}

impl Tmux {
    /// Shell commands that start swarm's session on this handle's host unless it runs
    /// there, then print the server's incarnation (`#{pid}:#{start_time}`); they exit 4
    /// if the session could not be started. For a caller that does more in the same ssh
    /// exec, each of which costs a session through the master: a run makes the host's
    /// directory in it, and starts its session, in one round trip.
    pub fn host_session_shell(&self, width: u16, height: u16) -> String {
        let tmux = |args: &[&str]| shell_words::join(self.remote_words(args));
        let target = self.target();
        let has = tmux(&["has-session", "-t", &target]);
        let line = self.host_session_line(width, height);
        let start = tmux(&line.words().iter().map(String::as_str).collect::<Vec<_>>());
        let incarnation = tmux(&["display-message", "-p", INCARNATION]);
        // Started meanwhile by someone else is as good: the session is the same.
        format!("{has} 2>/dev/null || {start} >/dev/null || {has} || exit 4; exec {incarnation}")
    }

    /// Waits until the control link is attached, or `within` passes; true once it is.
    /// Commands before then are ssh execs, and a pane's output before then is not
    /// counted, so that a wait for its first screen polls instead of being woken.
    pub fn await_link(&self, within: Duration) -> bool {
        let Some(link) = self.link() else {
            return false;
        };
        let deadline = Instant::now() + within;
        loop {
            if !matches!(link.run("display-message -p ''", within), Answer::Down) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(LINK_POLL);
        }
    }

    /// Runs `argv` on this handle's host over the control link (`if-shell`, which waits
    /// for it): a round trip on a connection that is open anyway, where an ssh exec costs
    /// a new session. True when it exited 0. `None` when there is no link or it is down:
    /// nothing ran, and the caller may use ssh instead.
    pub fn run_over_link(&self, argv: &[&str]) -> Option<Result<bool, TmuxError>> {
        let (Some(via), Some(link)) = (self.via(), self.link()) else {
            return None;
        };
        // The server's shell reads the words; tmux expands the line as a format first.
        let line = Argv::new("if-shell")
            .arg(escape_format(&shell_words::join(argv)))
            .args(["display-message -p 0", "display-message -p 1"])
            .control_line()?;
        let marker = format!(
            "swarm-sh-{}-{}",
            std::process::id(),
            NEXT_MARKER.fetch_add(1, Ordering::Relaxed)
        );
        match link.exchange(&[line], &marker, self.timeout()) {
            Exchange::Unsent => None,
            Exchange::Lost => {
                hang_up(via, link);
                Some(Err(via.unreachable(
                    "no reply over the control link to a command run there",
                )))
            }
            Exchange::Replies(blocks) => {
                let said = |status: &str| blocks.iter().any(|(_, lines)| lines == &[status]);
                Some(match (said("0"), said("1")) {
                    (true, false) => Ok(true),
                    (false, true) => Ok(false),
                    _ => Err(TmuxError::Failed {
                        args: format!("if-shell {}", shell_words::join(argv)),
                        stderr: format!(
                            "unexpected replies {:?}",
                            blocks.iter().flat_map(|(_, l)| l).collect::<Vec<_>>()
                        ),
                    }),
                })
            }
        }
    }
}

/// How often `await_link` looks whether the link is attached.
const LINK_POLL: Duration = Duration::from_millis(5);

/// Numbers the markers of chains sent over a link.
static NEXT_MARKER: AtomicU64 = AtomicU64::new(0);

/// `PASTED`, or `REFUSED <why>`, from the blocks of a guarded paste: one each for
/// `set-buffer`, `if-shell`, each command it ran, and the marker.
fn outcome(blocks: &[Block]) -> Option<PasteOutcome> {
    blocks
        .iter()
        .flat_map(|(_, lines)| lines)
        .find_map(|line| super::mux::paste_outcome(line))
}

/// `text` as one double-quoted string in tmux's command syntax, arriving as written:
/// `\`, `"` and `$` (which would expand a variable) are escaped, newline and tab written
/// as `\n` and `\t` so that the command stays one line, and a leading `~`, which tmux
/// expands to a home directory even in double quotes (measured on 3.3a), as `\~`. A `#`
/// or `;` needs nothing: inside quotes neither starts a comment or a new command, and
/// `set-buffer` expands no formats.
pub(super) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16 + 2);
    out.push('"');
    for (i, c) in text.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '~' if i == 0 => out.push_str("\\~"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn quoting_escapes_what_tmux_would_read() {
        assert_eq!(quoted(""), "\"\"");
        assert_eq!(
            quoted("it's \"q\" $HOME ; #{pane_id} \\ a\tb\nc ~/x é"),
            "\"it's \\\"q\\\" \\$HOME ; #{pane_id} \\\\ a\\tb\\nc ~/x é\""
        );
        assert_eq!(quoted("~root"), "\"\\~root\"");
        assert!(!quoted("a\nb\nc").contains('\n'));
    }

    /// The shell a run sends each host when it starts: the session once, however often
    /// it runs, and the same incarnation each time.
    #[test]
    fn the_host_session_shell_starts_the_session_once_and_says_its_incarnation() {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("skipped: no tmux");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let socket = format!("swarm-unit-hostsh-{}", std::process::id());
        let tmux = Tmux::new(&socket, "s").with_tmpdir(dir.path());
        let script = tmux.host_session_shell(80, 24);
        let run = || {
            Command::new("sh")
                .args(["-c", &script])
                .env_remove("TMUX")
                .output()
                .unwrap()
        };
        let first = run();
        assert!(
            first.status.success(),
            "{}",
            String::from_utf8_lossy(&first.stderr)
        );
        let incarnation = String::from_utf8(first.stdout).unwrap();
        assert!(incarnation.trim().contains(':'), "{incarnation:?}");
        let second = run();
        assert!(second.status.success());
        assert_eq!(String::from_utf8(second.stdout).unwrap(), incarnation);
        assert!(tmux.has_session().unwrap());
        let _ = tmux.kill_server();
    }

    /// What tmux's own parser makes of the quoted text: `set-buffer` then `save-buffer`
    /// through a control client of a private server.
    #[test]
    fn tmux_reads_the_quoted_text_back_byte_exact() {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("skipped: no tmux");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let socket = format!("swarm-unit-quote-{}", std::process::id());
        let tmux = |args: &[&str]| {
            Command::new("tmux")
                .env("TMUX_TMPDIR", dir.path())
                .env_remove("TMUX")
                .args(["-L", &socket, "-f", "/dev/null"])
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        assert!(
            tmux(&["new-session", "-d", "-s", "s"])
                .wait()
                .unwrap()
                .success()
        );
        let texts = [
            "~".to_owned(),
            "~root/x and ~ later".to_owned(),
            "#{pane_id} #(touch /nonexistent/x) %d ; \\; '\"' $HOME ${HOME} \\n\\\\".to_owned(),
            "tab\there\nline é 𝄞 {x} }".repeat(2000),
        ];
        for (i, text) in texts.iter().enumerate() {
            let out = dir.path().join(format!("out{i}"));
            let mut client = tmux(&["-C", "attach", "-t", "=s"]);
            let script = format!(
                "set-buffer -b q -- {}\nsave-buffer -b q {}\n",
                quoted(text),
                out.display()
            );
            let mut stdin = client.stdin.take().unwrap();
            std::io::Write::write_all(&mut stdin, script.as_bytes()).unwrap();
            drop(stdin);
            client.wait().unwrap();
            assert_eq!(std::fs::read_to_string(&out).unwrap(), *text, "text {i}");
        }
        let _ = tmux(&["kill-server"]).wait();
    }
}
