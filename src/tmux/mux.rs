//! The `Mux` seam carried out with tmux commands: spawns, guarded pastes, keys, screens.

use super::command::{Argv, escape_time_format};
use super::remote::{self, PASTED_MARK};
use super::session::{parse_spawned, with_spawn_args};
use super::{Mux, PaneId, PaneInfo, PasteOutcome, SpawnSpec, Spawned, Tmux, TmuxError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Refuses a paste into a dead pane (it segfaults tmux 3.3a: docs/tmux-facts.md §3, tmux PR #3830),
/// a pane in a mode (copy mode would swallow keys), or a pane with a shell in the foreground.
const PASTE_GUARD: &str = "#{||:#{pane_dead},#{||:#{pane_in_mode},#{m/r:^(ba|z|fi|da|k|tc|c)?sh$,#{pane_current_command}}}}";

/// Which guard condition held, in the order the guard checks them.
const REFUSAL: &str = "#{?pane_dead,dead,#{?pane_in_mode,copy mode,shell #{pane_current_command}}}";

/// What `list-panes` reads about each pane, in the order of `PaneInfo`'s fields.
pub(super) const PANE_FORMAT: &str = "#{pane_id}\t#{pane_dead}\t#{pane_dead_status}\t\
                                      #{pane_dead_signal}\t#{pane_in_mode}\t#{pane_current_command}\t#{pane_pid}\t\
                                      #{window_id}";

/// Longest text `send_text` types; anything longer is a prompt and goes through a paste.
const MAX_TEXT: usize = 1024;

static NEXT_BUFFER: AtomicU64 = AtomicU64::new(0);

impl Mux for Tmux {
    fn spawn(&self, spec: &SpawnSpec) -> Result<Spawned, TmuxError> {
        let with_program = |line| with_spawn_args(line, &spec.cwd, &spec.env, &spec.argv);
        // Set in a second call: with -d the new pane is not current, so a set-option
        // chained to the spawn could not name it.
        let set_worker = |pane: &PaneId| {
            Argv::new("set-option")
                .args(["-p", "-t", &pane.0, "--", "@worker", &spec.label])
                .then("set-option")
                .args(["-p", "-t", &pane.0, "--", "@profile", &spec.profile])
        };
        match &spec.window {
            None => {
                let session = format!("{}:", self.target());
                // The session's size while nobody is attached, the attached person's
                // terminal's when someone is (`window-size latest`, as start_session says).
                let new_window = Argv::new("new-window")
                    .args(["-d", "-t", &session, "-n"])
                    .literal(&spec.window_name);
                let spawned = parse_spawned(&self.run(&with_program(new_window))?)?;
                self.run(&set_worker(&spawned.pane))?;
                Ok(spawned)
            }
            Some(window) => {
                // Splitting the last pane in the grid puts the new one last in the window's
                // list, so that the tiled grid reads in spawn order (w0 w1 / w2 w3); the
                // active pane would put it second. Re-tiling keeps every agent usable. A
                // grid zoomed for a small terminal is unzoomed first, or its bottom right
                // would be the zoomed pane; it is zoomed again as the layout changes.
                let last = format!("{window}.{{bottom-right}}");
                let unzoom = format!("resize-pane -Z -t {window}");
                let line = Argv::new("if-shell").args([
                    "-F",
                    "-t",
                    window,
                    "#{window_zoomed_flag}",
                    &unzoom,
                ]);
                let line = with_program(line.then("split-window").args(["-d", "-t", &last]))
                    .then("select-layout")
                    .args(["-t", window, "tiled"]);
                let spawned = parse_spawned(&self.run(&line)?)?;
                self.run(&set_worker(&spawned.pane))?;
                Ok(spawned)
            }
        }
    }

    fn paste(&self, pane: &PaneId, text: &str) -> Result<PasteOutcome, TmuxError> {
        check_pane_id(pane)?;
        let buffer = format!(
            "swarm-{}-{}",
            std::process::id(),
            NEXT_BUFFER.fetch_add(1, Ordering::Relaxed)
        );
        let text = strip_controls(text);
        if let Some(via) = self.via() {
            let guard = Argv::new("if-shell").args(guard_args(pane, &buffer, true));
            return remote::paste(self, via, pane, &text, &buffer, &guard);
        }
        // One invocation: if-shell -F runs in the server's queue, so the pane cannot die
        // between the guard and the paste. The text goes on stdin, so it has no size limit
        // and is never read as key names or tmux syntax (docs/tmux-facts.md §1).
        let line = Argv::new("load-buffer")
            .args(["-b", &buffer, "-"])
            .then("if-shell")
            .args(guard_args(pane, &buffer, false));
        let out = self.run_with_input(&line, Some(text.as_bytes()))?;
        paste_outcome(out.trim()).ok_or_else(|| TmuxError::Failed {
            args: line.to_string(),
            stderr: format!("unexpected paste output {:?}", out.trim()),
        })
    }

    fn pasted_last(&self, pane: &PaneId, text: &str) -> Result<bool, TmuxError> {
        match self.via() {
            Some(via) => remote::pasted_last(self, via, pane, &strip_controls(text)),
            None => Ok(false),
        }
    }

    fn host_silent(&self, _pane: &PaneId) {
        if let (Some(_), Some(link)) = (self.via(), self.link()) {
            link.hang_up();
        }
    }

    fn send_key(&self, pane: &PaneId, key: &str) -> Result<(), TmuxError> {
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            return Err(TmuxError::Invalid(format!("{key:?} is not a key name")));
        }
        self.run(&Argv::new("send-keys").args(["-t", &pane.0, key]))?;
        Ok(())
    }

    fn send_text(&self, pane: &PaneId, text: &str) -> Result<(), TmuxError> {
        if text.len() > MAX_TEXT || text.chars().any(char::is_control) {
            return Err(TmuxError::Invalid(format!(
                "send_text takes one short line (at most {MAX_TEXT} bytes, no control \
                 characters); paste prompts instead"
            )));
        }
        // -l so that words like `Enter` stay text; `--` so that a leading `-` is no flag.
        self.run(&Argv::new("send-keys").args(["-l", "-t", &pane.0, "--", text]))?;
        Ok(())
    }

    fn capture(&self, pane: &PaneId) -> Result<String, TmuxError> {
        self.run(&Argv::new("capture-pane").args(["-p", "-t", &pane.0]))
    }

    fn panes(&self) -> Result<Vec<PaneInfo>, TmuxError> {
        let line = Argv::new("list-panes").args(["-s", "-t", &self.target(), "-F", PANE_FORMAT]);
        self.run(&line)?
            .lines()
            .map(|row| {
                parse_pane_row(row).ok_or_else(|| TmuxError::Failed {
                    args: line.to_string(),
                    stderr: format!("unexpected list-panes row {row:?}"),
                })
            })
            .collect()
    }

    fn set_label(&self, pane: &PaneId, label: &str) -> Result<(), TmuxError> {
        // `--` so that a label starting with `-` is a value, not a flag. Posted: a label
        // is for people, and the loop must not wait for it.
        self.post(Argv::new("set-option").args(["-p", "-t", &pane.0, "--", "@task", label]));
        Ok(())
    }

    fn kill_pane(&self, pane: &PaneId) -> Result<(), TmuxError> {
        self.run(&Argv::new("kill-pane").args(["-t", &pane.0]))?;
        Ok(())
    }

    fn alert(&self, text: &str) -> Result<(), TmuxError> {
        self.tell(text)?;
        self.ring()
    }

    fn transcript(&self, pane: &PaneId, log: Option<&std::path::Path>) -> Result<(), TmuxError> {
        let mut line = Argv::new("pipe-pane").args(["-t", &pane.0]);
        if let Some(log) = log {
            // First the pane's size and its screen as the recording starts: agents such as
            // Claude Code redraw only what changes, so `swarm logs` replays their bytes onto
            // that screen, at that size (src/transcript.rs). On another host the caller
            // keeps the opening here, where the transcript is read.
            if self.via().is_none() {
                let opening = self.opening(pane)?;
                // What agents print can hold secrets: the file is the user's alone, as
                // state.json is.
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(log)
                    .and_then(|mut file| file.write_all(opening.as_bytes()))?;
            }
            // tmux runs this with /bin/sh (on the pane's host), so the path is
            // single-quoted for it; before that tmux expands it as a format and through
            // strftime, so `#` and `%` are escaped (docs/tmux-facts.md §7).
            let quote = |path: &std::path::Path| path.display().to_string().replace('\'', "'\\''");
            // A host's logs folder is made by the first transcript there.
            let mkdir = match (self.via(), log.parent()) {
                (Some(_), Some(dir)) => format!("mkdir -p '{}'; ", quote(dir)),
                _ => String::new(),
            };
            line = line.arg(escape_time_format(&format!(
                "umask 077; {mkdir}exec cat >> '{}'",
                quote(log)
            )));
        }
        self.run(&line)?;
        Ok(())
    }

    fn opening(&self, pane: &PaneId) -> Result<String, TmuxError> {
        let capture = Argv::new("capture-pane").args(["-e", "-p", "-t", &pane.0]);
        let state = Argv::new("display-message").args(["-p", "-t", &pane.0, SCREEN_FORMAT]);
        let now = match (self.via(), self.link()) {
            // On another host, two round trips over the link (well under a millisecond
            // each) instead of one chained command, which would be an ssh call of its own.
            (Some(_), Some(_)) => format!("{}{}", self.run(&capture)?, self.run(&state)?),
            // Here, one round trip, so that the screen and the cursor agree.
            _ => self.run(&capture.then("display-message").args([
                "-p",
                "-t",
                &pane.0,
                SCREEN_FORMAT,
            ]))?,
        };
        let (screen, state) = now
            .trim_end_matches('\n')
            .rsplit_once('\n')
            .unwrap_or(("", &now));
        opening(screen, state).ok_or_else(|| TmuxError::Failed {
            args: SCREEN_FORMAT.to_string(),
            stderr: format!("unexpected pane state {state:?}"),
        })
    }

    fn output_count(&self, pane: &PaneId) -> Option<u64> {
        Some(self.link()?.output_count(pane))
    }

    fn await_output(&self, pane: &PaneId, seen: u64, timeout: Duration) -> Option<u64> {
        Some(self.link()?.await_output(pane, seen, timeout))
    }
}

/// `if-shell`'s arguments for a guarded paste of `buffer` into `pane`: it either pastes
/// (and deletes) the buffer and prints `PASTED`, or deletes it and prints `REFUSED <why>`.
/// With `mark`, a paste also sets the pane's `@swarm-pasted` to the buffer's name, so
/// that a paste whose answer a dropped ssh link lost can be told apart.
fn guard_args(pane: &PaneId, buffer: &str, mark: bool) -> [String; 6] {
    let refused =
        format!("delete-buffer -b {buffer} ; display-message -p -t {pane} 'REFUSED {REFUSAL}'");
    let mark = if mark {
        format!(" ; set-option -p -t {pane} {PASTED_MARK} {buffer}")
    } else {
        String::new()
    };
    let pasted =
        format!("paste-buffer -p -d -b {buffer} -t {pane}{mark} ; display-message -p PASTED");
    [
        "-F".into(),
        "-t".into(),
        pane.0.clone(),
        PASTE_GUARD.into(),
        refused,
        pasted,
    ]
}

/// What a guarded paste printed: `PASTED` or `REFUSED <why>`.
pub(super) fn paste_outcome(line: &str) -> Option<PasteOutcome> {
    if line == "PASTED" {
        Some(PasteOutcome::Pasted)
    } else {
        line.strip_prefix("REFUSED ")
            .map(|why| PasteOutcome::Refused(why.to_string()))
    }
}

/// What a transcript starts from besides the screen: the pane's size, its cursor, and
/// whether the alternate screen is on.
const SCREEN_FORMAT: &str = "#{pane_width} #{pane_height} #{cursor_x} #{cursor_y} #{alternate_on}";

/// A transcript's opening (`crate::transcript::opening`) from the pane's `screen` and its
/// `SCREEN_FORMAT` line.
fn opening(screen: &str, state: &str) -> Option<String> {
    let numbers: Vec<u16> = state
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match numbers[..] {
        [w, h, x, y, alt] => Some(crate::transcript::opening((w, h), screen, (x, y), alt == 1)),
        _ => None,
    }
}

/// Pane ids go into the command strings of `if-shell`, which tmux parses again.
fn check_pane_id(pane: &PaneId) -> Result<(), TmuxError> {
    let digits = pane.0.strip_prefix('%').unwrap_or_default();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TmuxError::Invalid(format!(
            "{pane:?} is not a pane id like %3"
        )));
    }
    Ok(())
}

/// Drops control characters but tab and newline: on 3.3a a literal `ESC[201~` would end
/// the bracketed paste early and the rest would be typed as keys (docs/tmux-facts.md §1).
fn strip_controls(text: &str) -> String {
    text.chars()
        .filter(|&c| c == '\t' || c == '\n' || !c.is_control())
        .collect()
}

fn parse_pane_row(row: &str) -> Option<PaneInfo> {
    parse_pane_fields(&mut row.split('\t'))
}

/// Reads `PANE_FORMAT`'s fields from the front of a row split at tabs, leaving the rest.
pub(super) fn parse_pane_fields<'a>(
    fields: &mut impl Iterator<Item = &'a str>,
) -> Option<PaneInfo> {
    let mut next = || fields.next();
    Some(PaneInfo {
        id: PaneId(next()?.to_string()),
        dead: next()? == "1",
        dead_status: next()?.parse().ok(),
        dead_signal: next()?.parse().ok(),
        in_mode: next()? == "1",
        current_command: next()?.to_string(),
        pid: next()?.parse().ok()?,
        window: next()?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_live_and_dead_pane_rows() {
        let live = parse_pane_row("%3\t0\t\t\t1\tclaude\t4242\t@1").unwrap();
        assert_eq!(live.id, PaneId("%3".into()));
        assert!(!live.dead && live.in_mode);
        assert_eq!(live.dead_status, None);
        assert_eq!((live.current_command.as_str(), live.pid), ("claude", 4242));
        let dead = parse_pane_row("%4\t1\t127\t\t0\tsh\t17\t@2").unwrap();
        assert!(dead.dead);
        assert_eq!(dead.dead_status, Some(127));
        assert_eq!(parse_pane_row("%4\t1"), None);
    }

    #[test]
    fn only_real_pane_ids_reach_if_shell() {
        assert!(check_pane_id(&PaneId("%12".into())).is_ok());
        for bad in ["", "%", "12", "%1 ; kill-server", "%1'"] {
            assert!(check_pane_id(&PaneId(bad.into())).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn controls_other_than_tab_and_newline_are_stripped() {
        assert_eq!(strip_controls("a\tb\nc\x1b[201~d\r\x07é"), "a\tb\nc[201~dé");
    }
}
