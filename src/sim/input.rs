//! Turning raw terminal bytes into keys and pastes, and the input box they edit. A small
//! parser of our own (not crossterm's event reader) so that a bracketed paste split across
//! reads arrives byte-exact, which is the property swarm's prompt delivery relies on, and
//! so that it sees read() boundaries, where real agents lose an early Enter.

use std::io::Read;

use crossbeam_channel::Receiver;

const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";
const ESC: u8 = 0x1b;

/// Pastes longer than this many chars, or of more than one line, collapse to a placeholder.
const INLINE_PASTE_CHARS: usize = 60;

/// One thing the user did at the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// Printable text typed outside a paste.
    Text(String),
    /// The body of a bracketed paste, with tmux's CR line ends turned back into LF.
    Paste(String),
    Enter,
    /// An Enter that shared a read() with a paste's end or with typed text: real agents
    /// take it as part of the input (docs/tmux-facts.md §1), so it is a newline, not a
    /// submit.
    Newline(Burst),
    Backspace,
    CtrlC,
    CtrlD,
    Escape,
}

/// What came before an Enter in the same read() that makes it a newline.
///
/// Claude Code's Ink takes a `\r` that shares a read with `ESC[201~` as part of the paste
/// (agetor #41, maw-js #16). Codex takes an Enter within about 120 ms of an unbracketed
/// key burst as a newline (byobu #115); the simulator counts a burst by the read, not the
/// clock, so that tests stay deterministic and err on the side of absorbing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Burst {
    Paste,
    Typing,
}

impl Burst {
    /// How the `--log` file names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Burst::Paste => "paste",
            Burst::Typing => "typing",
        }
    }
}

/// An incremental parser of terminal input: feed it whatever `read()` returned, one call
/// per read, since keys that share a read are taken differently.
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes not yet parsed: an unfinished escape sequence or UTF-8 character.
    pending: Vec<u8>,
    /// The body so far while inside a bracketed paste.
    paste: Option<Vec<u8>>,
    /// The latest paste end or typed text in the current read, if any.
    burst: Option<Burst>,
}

impl Parser {
    /// Parses `bytes`, one read's worth, after what came before; incomplete sequences wait
    /// for the next call.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Key> {
        let mut keys = Vec::new();
        let mut rest = bytes.to_vec();
        self.burst = None;
        loop {
            if let Some(body) = &mut self.paste {
                // Search only where the end marker can newly appear: big pastes come in
                // many reads, and rescanning the whole body each time would be quadratic.
                let from = body.len().saturating_sub(PASTE_END.len() - 1);
                body.extend_from_slice(&rest);
                let Some(at) = find(&body[from..], PASTE_END).map(|i| from + i) else {
                    return keys;
                };
                rest = body.split_off(at + PASTE_END.len());
                body.truncate(at);
                let text = String::from_utf8_lossy(body).replace('\r', "\n");
                self.paste = None;
                self.burst = Some(Burst::Paste);
                keys.push(Key::Paste(text));
                continue;
            }
            self.pending.extend_from_slice(&rest);
            let consumed = self.parse_keys(&mut keys);
            self.pending.drain(..consumed);
            if self.paste.is_none() {
                return keys;
            }
            rest = std::mem::take(&mut self.pending);
        }
    }

    /// True when unparsed bytes wait for more input, such as a lone ESC.
    pub fn is_waiting(&self) -> bool {
        self.paste.is_none() && !self.pending.is_empty()
    }

    /// Called once input has been quiet for a moment: a lone ESC was the Escape key, and
    /// anything else left over was garbage.
    pub fn flush(&mut self) -> Vec<Key> {
        if self.paste.is_some() {
            return Vec::new();
        }
        let lone_escape = self.pending == [ESC];
        self.pending.clear();
        if lone_escape {
            vec![Key::Escape]
        } else {
            Vec::new()
        }
    }

    /// Parses `self.pending` into `keys` up to a paste start or an incomplete sequence;
    /// returns how many bytes it used.
    fn parse_keys(&mut self, keys: &mut Vec<Key>) -> usize {
        let buf = &self.pending;
        let mut i = 0;
        while i < buf.len() {
            let key = match buf[i] {
                b'\r' => match self.burst {
                    Some(burst) => Key::Newline(burst),
                    None => Key::Enter,
                },
                0x7f | 0x08 => Key::Backspace,
                0x03 => Key::CtrlC,
                0x04 => Key::CtrlD,
                ESC => match escape_len(&buf[i..]) {
                    None => return i,
                    Some(len) if &buf[i..i + len] == PASTE_START => {
                        self.paste = Some(Vec::new());
                        return i + len;
                    }
                    // Arrows, function keys, focus events: the simulator has no use for them.
                    Some(len) if len > 1 => {
                        i += len;
                        continue;
                    }
                    Some(_) => Key::Escape,
                },
                b'\t' => {
                    self.burst = Some(Burst::Typing);
                    Key::Text("\t".into())
                }
                b if b < 0x20 => {
                    i += 1;
                    continue;
                }
                _ => {
                    let len = text_len(&buf[i..]);
                    if len == 0 {
                        return i;
                    }
                    let text = String::from_utf8_lossy(&buf[i..i + len]).into_owned();
                    i += len;
                    self.burst = Some(Burst::Typing);
                    match keys.last_mut() {
                        Some(Key::Text(prev)) => prev.push_str(&text),
                        _ => keys.push(Key::Text(text)),
                    }
                    continue;
                }
            };
            keys.push(key);
            i += 1;
        }
        i
    }
}

/// The length of the escape sequence at the start of `buf` (1 for a lone ESC), or None if
/// more bytes are needed to tell.
fn escape_len(buf: &[u8]) -> Option<usize> {
    match buf.get(1) {
        None => None,
        Some(b'[') => {
            // CSI: parameter and intermediate bytes, then one final byte in 0x40..=0x7e.
            let end = buf[2..].iter().position(|b| (0x40..=0x7e).contains(b))?;
            Some(2 + end + 1)
        }
        Some(b'O') => (buf.len() >= 3).then_some(3),
        Some(_) => Some(1),
    }
}

/// The length of the run of printable bytes at the start of `buf`, stopping short of a
/// UTF-8 character that is cut off at the end.
fn text_len(buf: &[u8]) -> usize {
    let run = buf
        .iter()
        .position(|&b| b < 0x20 || b == 0x7f)
        .unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..run]) {
        Ok(_) => run,
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        // Invalid bytes (not merely cut off) go through, to be shown as U+FFFD.
        Err(_) => run,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads the terminal on a thread of its own; the channel closes when the terminal does.
pub fn read_stdin() -> Receiver<Vec<u8>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0; 64 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    });
    rx
}

/// The input box: typed text and pastes, in order, until Enter submits them.
#[derive(Debug, Default)]
pub struct Draft {
    parts: Vec<Part>,
    /// Numbers the placeholders, like Claude's `[Pasted text #N ...]`.
    pastes: u32,
}

#[derive(Debug)]
enum Part {
    Typed(String),
    Pasted { number: u32, text: String },
}

impl Draft {
    /// Appends typed text.
    pub fn type_text(&mut self, text: &str) {
        match self.parts.last_mut() {
            Some(Part::Typed(prev)) => prev.push_str(text),
            _ => self.parts.push(Part::Typed(text.to_string())),
        }
    }

    /// Appends a paste: short one-liners inline, anything bigger as a placeholder.
    pub fn paste(&mut self, text: String) {
        if !text.contains('\n') && text.chars().count() <= INLINE_PASTE_CHARS {
            self.type_text(&text);
        } else {
            self.pastes += 1;
            self.parts.push(Part::Pasted {
                number: self.pastes,
                text,
            });
        }
    }

    /// Deletes the last typed char, or the whole last paste.
    pub fn backspace(&mut self) {
        if let Some(Part::Typed(text)) = self.parts.last_mut() {
            text.pop();
            if !text.is_empty() {
                return;
            }
        }
        self.parts.pop();
    }

    /// True when there is nothing to submit.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Empties the box.
    pub fn clear(&mut self) {
        self.parts.clear();
    }

    /// Empties the box and returns its exact text.
    pub fn take(&mut self) -> String {
        let text = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Typed(text) | Part::Pasted { text, .. } => text.as_str(),
            })
            .collect();
        self.parts.clear();
        text
    }

    /// What the input line shows after the `sim> ` prompt.
    pub fn display(&self) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Typed(text) => text.clone(),
                Part::Pasted { number, text } => format!(
                    "[Pasted text #{number} +{} lines, {} chars]",
                    text.lines().count(),
                    text.chars().count()
                ),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<Key> {
        let mut parser = Parser::default();
        let mut keys: Vec<Key> = chunks.iter().flat_map(|c| parser.feed(c)).collect();
        keys.extend(parser.flush());
        // Typed text split across reads comes out in pieces; join them to compare.
        let mut joined: Vec<Key> = Vec::new();
        for key in keys {
            match (joined.last_mut(), key) {
                (Some(Key::Text(prev)), Key::Text(t)) => prev.push_str(&t),
                (_, key) => joined.push(key),
            }
        }
        joined
    }

    #[test]
    fn typing_and_control_keys() {
        assert_eq!(
            parse(&[b"h\xc3\xa9 \x7fx", b"\r\x03\x04\x08"]),
            vec![
                Key::Text("hé ".into()),
                Key::Backspace,
                Key::Text("x".into()),
                Key::Enter,
                Key::CtrlC,
                Key::CtrlD,
                Key::Backspace,
            ]
        );
    }

    #[test]
    fn paste_turns_cr_into_lf_and_keeps_everything_else() {
        let body = "ünï\tcode $(x) `q` \"d\" 'e'\rEnter\rC-c\r;\r-n\r";
        let input = [PASTE_START, body.as_bytes(), PASTE_END].concat();
        assert_eq!(
            parse(&[&input, b"\r"]),
            vec![Key::Paste(body.replace('\r', "\n")), Key::Enter]
        );
    }

    #[test]
    fn paste_split_at_every_byte_boundary() {
        let body = "line 1 ✓\rline 2 日本\r\x1b[A not an arrow in a paste";
        let input = [b"a", PASTE_START, body.as_bytes(), PASTE_END, b"b"].concat();
        let want = vec![
            Key::Text("a".into()),
            Key::Paste(body.replace('\r', "\n")),
            Key::Text("b".into()),
        ];
        for cut in 0..=input.len() {
            assert_eq!(parse(&[&input[..cut], &input[cut..]]), want, "cut at {cut}");
        }
        let bytewise: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse(&bytewise), want);
    }

    #[test]
    fn large_paste_in_many_reads() {
        let body: String = (0..5000).map(|i| format!("line {i} ⟨ok⟩\r")).collect();
        let input = [PASTE_START, body.as_bytes(), PASTE_END].concat();
        let chunks: Vec<&[u8]> = input.chunks(4095).collect();
        assert_eq!(parse(&chunks), vec![Key::Paste(body.replace('\r', "\n"))]);
    }

    #[test]
    fn enter_sharing_a_read_with_the_paste_end_is_a_newline() {
        let input = [PASTE_START, b"one\rtwo", PASTE_END, b"\r"].concat();
        let pasted = Key::Paste("one\ntwo".into());
        // Only the one cut that gives the `\r` a read of its own leaves it an Enter.
        for cut in 0..=input.len() {
            let enter = if cut == input.len() - 1 {
                Key::Enter
            } else {
                Key::Newline(Burst::Paste)
            };
            let got = parse(&[&input[..cut], &input[cut..]]);
            assert_eq!(got, vec![pasted.clone(), enter], "cut at {cut}");
        }
        // The paste's end is what counts, even after typed text in the same read.
        let typed_then_pasted = [b"x", PASTE_START, b"y", PASTE_END, b"\r"].concat();
        assert_eq!(
            parse(&[&typed_then_pasted]),
            vec![
                Key::Text("x".into()),
                Key::Paste("y".into()),
                Key::Newline(Burst::Paste),
            ]
        );
    }

    #[test]
    fn enter_sharing_a_read_with_typed_text_is_a_newline() {
        assert_eq!(
            parse(&[b"/clear\r"]),
            vec![Key::Text("/clear".into()), Key::Newline(Burst::Typing)]
        );
        assert_eq!(
            parse(&[b"/clear", b"\r"]),
            vec![Key::Text("/clear".into()), Key::Enter]
        );
        // The burst is the read's: the next read's Enter submits.
        assert_eq!(
            parse(&[b"a\tb\r\r", b"\r"]),
            vec![
                Key::Text("a\tb".into()),
                Key::Newline(Burst::Typing),
                Key::Newline(Burst::Typing),
                Key::Enter,
            ]
        );
        // A character completed by this read was typed in it.
        assert_eq!(
            parse(&[b"\xc3", b"\xa9\r"]),
            vec![Key::Text("é".into()), Key::Newline(Burst::Typing)]
        );
    }

    #[test]
    fn enter_before_any_text_or_after_other_keys_submits() {
        assert_eq!(parse(&[b"\rx"]), vec![Key::Enter, Key::Text("x".into())]);
        assert_eq!(parse(&[b"\x1b[A\x7f\r"]), vec![Key::Backspace, Key::Enter]);
    }

    #[test]
    fn lone_escape_waits_for_quiet() {
        let mut parser = Parser::default();
        assert_eq!(parser.feed(b"\x1b"), vec![]);
        assert!(parser.is_waiting());
        assert_eq!(parser.flush(), vec![Key::Escape]);
        assert!(!parser.is_waiting());
    }

    #[test]
    fn escape_sequences_are_ignored_but_escape_escape_is_a_key() {
        assert_eq!(
            parse(&[b"\x1b[A\x1bOPx\x1b[1;5C\x1b\x1b"]),
            vec![Key::Text("x".into()), Key::Escape, Key::Escape]
        );
    }

    #[test]
    fn draft_shows_big_pastes_as_placeholders() {
        let mut draft = Draft::default();
        draft.type_text("see: ");
        draft.paste("a\nb\nc\n".into());
        draft.paste("short one".into());
        draft.paste("x".repeat(61));
        assert_eq!(
            draft.display(),
            "see: [Pasted text #1 +3 lines, 6 chars]short one[Pasted text #2 +1 lines, 61 chars]"
        );
        draft.backspace();
        draft.backspace();
        assert_eq!(
            draft.display(),
            "see: [Pasted text #1 +3 lines, 6 chars]short on"
        );
        assert_eq!(draft.take(), "see: a\nb\nc\nshort on");
        assert!(draft.is_empty());
        draft.paste("1\n2".into());
        assert_eq!(draft.display(), "[Pasted text #3 +2 lines, 3 chars]");
    }
}
