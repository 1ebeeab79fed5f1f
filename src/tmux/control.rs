//! A tmux control-mode client (`tmux -C attach` over pipes): events pushed by the server
//! instead of a process per poll (docs/tmux-facts.md §2, §6). `-CC` needs a terminal; `-C`
//! does not.

use super::{PaneId, Tmux, TmuxError};
use crossbeam_channel::Receiver;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::time::Duration;

/// How long a client through ssh may take to attach: a new connection, within ssh's
/// `ConnectTimeout` of 5 s, and the attach itself.
const REMOTE_ATTACH: Duration = Duration::from_secs(10);

/// Something the server pushed on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Bytes a pane wrote, unescaped.
    Output { pane: PaneId, bytes: Vec<u8> },
    /// A pane entered or left a mode (a person opened copy mode).
    PaneModeChanged { pane: PaneId },
    /// A `refresh-client -B` subscription's value changed (or was first read).
    Subscription {
        name: String,
        pane: Option<PaneId>,
        value: String,
    },
    /// The client is detached or the server is ending; nothing follows.
    Exit(Option<String>),
    /// Any other notification, as sent.
    Other(String),
}

/// One complete message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The output of one command (each `;`-separated command gets its own), in the order
    /// the commands were sent.
    Reply {
        number: u64,
        ok: bool,
        lines: Vec<String>,
    },
    Notification(Notification),
}

/// Turns lines into messages: a `%begin` block runs until the `%end` or `%error` with the
/// same number; lines inside may start with `%` too.
#[derive(Debug, Default)]
pub struct Reader {
    block: Option<(u64, Vec<String>)>,
}

impl Reader {
    /// Feeds one line (without its newline); returns a message when one is complete.
    pub fn feed(&mut self, line: &str) -> Option<Message> {
        if let Some((number, lines)) = &mut self.block {
            if let Some((closing, ok)) = guard(line)
                && closing == *number
            {
                let (number, lines) = self.block.take().expect("inside a block");
                return Some(Message::Reply { number, ok, lines });
            }
            lines.push(line.to_string());
            return None;
        }
        if let Some(number) = line.strip_prefix("%begin ").and_then(guard_number) {
            self.block = Some((number, Vec::new()));
            return None;
        }
        Some(Message::Notification(notification(line)))
    }
}

/// `%end|%error TIME NUMBER FLAGS`: the number, and whether the command succeeded.
fn guard(line: &str) -> Option<(u64, bool)> {
    if let Some(rest) = line.strip_prefix("%end ") {
        return guard_number(rest).map(|n| (n, true));
    }
    line.strip_prefix("%error ")
        .and_then(guard_number)
        .map(|n| (n, false))
}

/// The NUMBER of `TIME NUMBER FLAGS`, when the line has exactly that shape.
fn guard_number(rest: &str) -> Option<u64> {
    let mut fields = rest.split(' ');
    let (_time, number, _flags) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() {
        return None;
    }
    number.parse().ok()
}

fn notification(line: &str) -> Notification {
    let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
    match name {
        "%output" => match rest.split_once(' ') {
            Some((pane, data)) => Notification::Output {
                pane: PaneId(pane.to_string()),
                bytes: unescape(data),
            },
            None => Notification::Other(line.to_string()),
        },
        "%pane-mode-changed" => Notification::PaneModeChanged {
            pane: PaneId(rest.to_string()),
        },
        // `%subscription-changed NAME $S @W INDEX %P … : VALUE`; a session or window
        // subscription has `-` where the pane would be.
        "%subscription-changed" => match rest.split_once(" : ") {
            Some((head, value)) => {
                let mut fields = head.split(' ');
                let name = fields.next().unwrap_or_default().to_string();
                let pane = fields
                    .find(|f| f.starts_with('%'))
                    .map(|p| PaneId(p.to_string()));
                Notification::Subscription {
                    name,
                    pane,
                    value: value.to_string(),
                }
            }
            None => Notification::Other(line.to_string()),
        },
        "%exit" => Notification::Exit((!rest.is_empty()).then(|| rest.to_string())),
        _ => Notification::Other(line.to_string()),
    }
}

/// Undoes `%output`'s escaping: tmux writes bytes below space, and `\`, as `\ooo`.
pub fn unescape(data: &str) -> Vec<u8> {
    let bytes = data.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// A control-mode client attached to the session; it ends (with the child) on drop.
pub struct Control {
    child: Child,
    stdin: ChildStdin,
    /// Messages in the order the server sent them; the channel closes when the client
    /// ends. Empty for a client made with `attach_with`.
    pub messages: Receiver<Message>,
}

impl Control {
    /// Attaches to `tmux`'s session with client `flags` (`attach-session -f`, such as
    /// `no-output,ignore-size`: a client with no size must never resize the agents' panes).
    pub fn attach(tmux: &Tmux, flags: &str) -> Result<Control, TmuxError> {
        let (tx, messages) = crossbeam_channel::unbounded();
        let mut control = Control::attach_with(tmux, flags, true, move |m| tx.send(m).is_ok())?;
        control.messages = messages;
        Ok(control)
    }

    /// Like `attach`, but hands each message to `on_message` on the client's reader thread
    /// (no channel hop per `%output` line) until it returns false or the client ends; the
    /// handler is dropped then. Without `output_bytes`, `%output` notifications come with
    /// no bytes: a caller that only counts them skips decoding every frame an agent draws.
    /// Returns once tmux has answered the attach itself, so that the next reply is the
    /// answer to the first command sent.
    pub fn attach_with(
        tmux: &Tmux,
        flags: &str,
        output_bytes: bool,
        mut on_message: impl FnMut(Message) -> bool + Send + 'static,
    ) -> Result<Control, TmuxError> {
        let args = ["-C", "attach-session", "-t", &tmux.target(), "-f", flags];
        let mut child = tmux
            .process(&args, false)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => TmuxError::Missing,
                _ => TmuxError::Io(e),
            })?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        // `%output` carries raw pane bytes, which need not be UTF-8.
        let mut lines = BufReader::new(stdout).split(b'\n').map_while(Result::ok);
        let mut reader = Reader::default();
        let mut feed = move |line: Vec<u8>| {
            if !output_bytes
                && reader.block.is_none()
                && let Some(rest) = line.strip_prefix(b"%output ")
            {
                let pane = rest.split(|&b| b == b' ').next().unwrap_or_default();
                return Some(Message::Notification(Notification::Output {
                    pane: PaneId(String::from_utf8_lossy(pane).into_owned()),
                    bytes: Vec::new(),
                }));
            }
            let line = String::from_utf8_lossy(&line);
            reader.feed(line.trim_end_matches('\r'))
        };
        let (attached_tx, attached) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            // Whatever comes before tmux's reply to the attach (nothing, on 3.3a) is not ours.
            let ok = lines
                .by_ref()
                .any(|line| matches!(feed(line), Some(Message::Reply { .. })));
            let _ = attached_tx.send(ok);
            if !ok {
                return;
            }
            for line in lines {
                if let Some(message) = feed(line)
                    && !on_message(message)
                {
                    return;
                }
            }
        });
        // Here tmux answers or fails at once. Through ssh a silent host or a hung master
        // would keep the attach waiting, so it has a deadline.
        let answered = match tmux.host() {
            None => attached.recv().ok(),
            Some(_) => attached.recv_timeout(REMOTE_ATTACH).ok(),
        };
        if answered != Some(true) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TmuxError::Failed {
                args: "-C attach-session".into(),
                stderr: "the control client ended before it was attached".into(),
            });
        }
        Ok(Control {
            child,
            stdin,
            messages: crossbeam_channel::never(),
        })
    }

    /// Sends one command line (tmux syntax; no newlines). Its reply comes as a message.
    pub fn send(&mut self, command: &str) -> Result<(), TmuxError> {
        self.send_lines(&[command])
    }

    /// Sends command lines in one write, each with its own reply.
    pub fn send_lines(&mut self, commands: &[&str]) -> Result<(), TmuxError> {
        if commands.iter().any(|c| c.contains('\n')) {
            return Err(TmuxError::Invalid(
                "a control-mode command is one line".into(),
            ));
        }
        let mut text = String::with_capacity(commands.iter().map(|c| c.len() + 1).sum());
        for command in commands {
            text.push_str(command);
            text.push('\n');
        }
        self.stdin.write_all(text.as_bytes())?;
        Ok(self.stdin.flush()?)
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(lines: &[&str]) -> Vec<Message> {
        let mut reader = Reader::default();
        lines.iter().filter_map(|l| reader.feed(l)).collect()
    }

    #[test]
    fn replies_are_matched_by_number_even_with_percent_lines_inside() {
        // Recorded from tmux 3.3a: `display -p '%end 1 2 1'` then a failing command.
        let messages = feed_all(&[
            "%begin 1700000000 12 1",
            "%end 1 2 1",
            "%output %1 not really",
            "%end 1700000000 12 1",
            "%begin 1700000000 13 1",
            "parse error: unknown command: nope",
            "%error 1700000000 13 1",
        ]);
        assert_eq!(
            messages,
            [
                Message::Reply {
                    number: 12,
                    ok: true,
                    lines: vec!["%end 1 2 1".into(), "%output %1 not really".into()],
                },
                Message::Reply {
                    number: 13,
                    ok: false,
                    lines: vec!["parse error: unknown command: nope".into()],
                },
            ]
        );
    }

    #[test]
    fn output_is_unescaped() {
        let messages = feed_all(&[r"%output %7 a\015\012b\134c\033[1m é"]);
        let Message::Notification(Notification::Output { pane, bytes }) = &messages[0] else {
            panic!("{messages:?}");
        };
        assert_eq!(pane, &PaneId("%7".into()));
        assert_eq!(bytes, "a\r\nb\\c\x1b[1m é".as_bytes());
    }

    #[test]
    fn a_backslash_without_three_octal_digits_stays() {
        assert_eq!(unescape(r"a\9b\01"), br"a\9b\01");
    }

    #[test]
    fn subscriptions_modes_and_exit() {
        let messages = feed_all(&[
            "%subscription-changed panes $0 @1 1 %3 : 1 127 swarm",
            "%subscription-changed panes $0 @1 1 %4 : 0  bash",
            "%pane-mode-changed %3",
            "%layout-change @1 b25d,80x24,0,0,1 b25d,80x24,0,0,1 *",
            "%exit server exited",
        ]);
        let n = |n: Notification| Message::Notification(n);
        assert_eq!(
            messages,
            [
                n(Notification::Subscription {
                    name: "panes".into(),
                    pane: Some(PaneId("%3".into())),
                    value: "1 127 swarm".into(),
                }),
                n(Notification::Subscription {
                    name: "panes".into(),
                    pane: Some(PaneId("%4".into())),
                    value: "0  bash".into(),
                }),
                n(Notification::PaneModeChanged {
                    pane: PaneId("%3".into())
                }),
                n(Notification::Other(
                    "%layout-change @1 b25d,80x24,0,0,1 b25d,80x24,0,0,1 *".into()
                )),
                n(Notification::Exit(Some("server exited".into()))),
            ]
        );
    }
}
