//! Transcripts as a person saw them: an attempt's recorded pane bytes replayed through a
//! terminal emulator (`vt100`) at the pane's size, scrollback included, so that cursor
//! moves, redraws and line ends come out as the screen showed them.

/// The start of the marker the transcript's recorder writes first: an OSC sequence that
/// terminals ignore, `ESC ] 6973 ; swarm-pane=WIDTHxHEIGHT BEL`.
pub const SIZE_MARK: &str = "\x1b]6973;swarm-pane=";

/// Lines kept above the screen: a long session, whole.
const SCROLLBACK: usize = 100_000;

/// The first bytes of a transcript: the marker with the pane's size, then the pane's
/// `screen` as the recording starts (`capture-pane -e -p`: its rows, colours included),
/// with the cursor at `cursor` (x, y, from 0) and the alternate screen on if it was.
/// Agents that redraw only what changed then replay onto what was there.
pub fn opening(size: (u16, u16), screen: &str, cursor: (u16, u16), alternate: bool) -> String {
    let rows: Vec<&str> = screen.lines().take(usize::from(size.1)).collect();
    format!(
        "{SIZE_MARK}{}x{}\x07{}\x1b[H\x1b[2J{}\x1b[0m\x1b[{};{}H",
        size.0,
        size.1,
        if alternate { "\x1b[?1049h" } else { "" },
        // No line end after the last row: it would scroll the screen.
        rows.join("\r\n"),
        cursor.1 + 1,
        cursor.0 + 1,
    )
}

/// The pane's size, as the marker recorded it: (columns, rows).
pub fn recorded_size(bytes: &[u8]) -> Option<(u16, u16)> {
    let start = find(bytes, SIZE_MARK.as_bytes())? + SIZE_MARK.len();
    let rest = &bytes[start..];
    let end = rest.iter().position(|&b| b == 0x07)?;
    let text = std::str::from_utf8(&rest[..end]).ok()?;
    let (w, h) = text.split_once('x')?;
    let size = (w.parse().ok()?, h.parse().ok()?);
    (size.0 > 0 && size.1 > 0).then_some(size)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The lines the pane showed, oldest first, ending with its final screen; trailing blanks
/// dropped. `size` is (columns, rows).
///
/// Agents redraw in place, so the final screen and the scrollback miss lines that a
/// person saw for a while (a line overwritten after the task, a cleared screen). Each
/// line that an erase (`CSI K`, `CSI J`) removes is kept where it went, once: lines that
/// differ only in digits and symbols (a spinner, a timer) count as one. A line being
/// redrawn is kept as it was when the cursor came to it, not half written over: an
/// agent that draws only what changed (Claude Code) writes the new start of a row, then
/// erases the rest.
pub fn replay(bytes: &[u8], size: (u16, u16)) -> Vec<String> {
    let nonzero = |n: u16| std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MIN);
    let (cols, rows) = (nonzero(size.0), nonzero(size.1));
    let mut parser = vt100::Parser::new(rows, cols, SCROLLBACK);
    let mut out = Lines::default();
    // Each row as it was when the cursor last came to it.
    let mut arrived = screen_rows(&parser);
    let mut rest = bytes;
    while !rest.is_empty() {
        let (piece, kind) = next_piece(rest);
        rest = &rest[piece.len()..];
        let cursor_row = usize::from(parser.screen().cursor_position().0);
        let before = (kind == Piece::Erase).then(|| screen_rows(&parser));
        let scrolled = parser.screen().scrollback_len();
        parser.process(piece);
        out.scrolled(&mut parser);
        if let Some(before) = before {
            for (row, (old, new)) in before.iter().zip(screen_rows(&parser)).enumerate() {
                if *old != new {
                    out.erased(if row == cursor_row {
                        &arrived[row]
                    } else {
                        old
                    });
                }
            }
        }
        let (row, col) = parser.screen().cursor_position();
        if kind == Piece::Reshape || parser.screen().scrollback_len() != scrolled {
            arrived = screen_rows(&parser);
        } else if kind == Piece::Move && (usize::from(row) != cursor_row || col == 0) {
            arrived[usize::from(row)] = screen_row(&parser, row);
        }
    }
    let mut lines = out.lines;
    let mut screen = screen_rows(&parser);
    while screen.last().is_some_and(String::is_empty) {
        screen.pop();
    }
    lines.extend(screen);
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// What a piece of the pane's bytes does, as far as `replay` cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// Text, colours, titles: drawn where the cursor is.
    Draw,
    /// Moves the cursor (`CR`, `LF`, `CSI A`…`H`, `d`, `f`).
    Move,
    /// Erases in line or in display (`CSI K`, `CSI J`).
    Erase,
    /// Moves rows or switches screens (scrolls, inserted or deleted lines, modes).
    Reshape,
}

/// The first piece of `bytes`: one control character or escape sequence, or a run of
/// text up to the next one.
fn next_piece(bytes: &[u8]) -> (&[u8], Piece) {
    const ESC: u8 = 0x1b;
    let end_of = |n: usize| &bytes[..n.min(bytes.len())];
    match bytes {
        [ESC, b'[', rest @ ..] => {
            let Some(at) = rest.iter().position(|b| (0x40..=0x7e).contains(b)) else {
                return (bytes, Piece::Draw);
            };
            let kind = match rest[at] {
                b'K' | b'J' if rest[..at].iter().all(u8::is_ascii_digit) => Piece::Erase,
                b'A'..=b'H' | b'd' | b'f' => Piece::Move,
                b'S' | b'T' | b'L' | b'M' | b'r' => Piece::Reshape,
                // Switching to or from the alternate screen.
                b'h' | b'l' if [&b"?1049"[..], b"?1047", b"?47"].contains(&&rest[..at]) => {
                    Piece::Reshape
                }
                _ => Piece::Draw,
            };
            (end_of(at + 3), kind)
        }
        // A string (OSC, DCS, APC…) runs to BEL or ST.
        [ESC, b']' | b'P' | b'_' | b'^' | b'X', rest @ ..] => {
            let bel = rest.iter().position(|&b| b == 0x07).map(|at| at + 3);
            let st = rest
                .windows(2)
                .position(|w| w == b"\x1b\\")
                .map(|at| at + 4);
            let end = bel.into_iter().chain(st).min().unwrap_or(bytes.len());
            (end_of(end), Piece::Draw)
        }
        [ESC, rest @ ..] => {
            // Intermediates, then the final byte: `ESC ( B`, `ESC M`, `ESC 7`…
            let at = rest.iter().position(|b| !(0x20..=0x2f).contains(b));
            let kind = match at.map(|at| rest[at]) {
                Some(b'M' | b'D' | b'E' | b'8') => Piece::Move,
                Some(b'c') => Piece::Reshape,
                _ => Piece::Draw,
            };
            (end_of(at.map_or(bytes.len(), |at| at + 2)), kind)
        }
        [b'\r' | b'\n' | 0x0b | 0x0c, ..] => (end_of(1), Piece::Move),
        [b, ..] if *b < 0x20 => (end_of(1), Piece::Draw),
        _ => {
            let end = bytes.iter().position(|&b| b < 0x20).unwrap_or(bytes.len());
            (end_of(end), Piece::Draw)
        }
    }
}

/// One row of the screen now, trailing spaces dropped.
fn screen_row(parser: &vt100::Parser, row: u16) -> String {
    let cols = parser.screen().size().1.get();
    let text = parser.screen().contents_between(row, 0, row, cols);
    text.trim_end().to_string()
}

/// The screen's rows now, trailing spaces dropped.
fn screen_rows(parser: &vt100::Parser) -> Vec<String> {
    let cols = parser.screen().size().1.get();
    parser
        .screen()
        .rows(0, cols)
        .map(|row| row.trim_end().to_string())
        .collect()
}

/// The transcript's lines so far, and what they already hold.
#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    /// Scrollback lines already taken.
    taken: usize,
    /// Erased lines kept, by their letters only (see `replay`).
    seen: std::collections::HashSet<String>,
}

impl Lines {
    /// Takes the lines that scrolled off since the last call, oldest first.
    fn scrolled(&mut self, parser: &mut vt100::Parser) {
        let cols = parser.screen().size().1.get();
        let above = parser.screen().scrollback_len();
        // Shown one screen's top row at a time.
        for offset in (1..=above.saturating_sub(self.taken)).rev() {
            parser.screen_mut().set_scrollback(offset);
            if let Some(row) = parser.screen().rows(0, cols).next() {
                self.lines.push(row.trim_end().to_string());
            }
        }
        parser.screen_mut().set_scrollback(0);
        self.taken = above;
    }

    /// Keeps a line an erase removed, unless one like it was kept already.
    fn erased(&mut self, line: &str) {
        let key: String = line.chars().filter(|c| c.is_alphabetic()).collect();
        if !key.is_empty() && self.seen.insert(key) {
            self.lines.push(line.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_moves_and_redraws_come_out_as_the_screen_showed_them() {
        let bytes = b"\x1b]0;title\x07\x1b[1;32mdone:\x1b[0m wrote docs\r\n\
                      \x1b[2Kspinner \xe2\xa0\x8b\rspinner ok\r\n\x1b[4;1Hfourth";
        assert_eq!(
            replay(bytes, (40, 10)),
            ["done: wrote docs", "spinner ok", "", "fourth"]
        );
    }

    #[test]
    fn what_scrolled_off_comes_first() {
        let bytes: Vec<u8> = (1..=8)
            .flat_map(|n| format!("line {n}\r\n").into_bytes())
            .collect();
        let lines = replay(&bytes, (20, 3));
        let want: Vec<String> = (1..=8).map(|n| format!("line {n}")).collect();
        assert_eq!(lines, want);
    }

    #[test]
    fn a_cleared_screen_is_kept_before_what_follows() {
        let bytes = b"\x1b[2J\x1b[Htask received\r\n\xe2\x9c\x93 created a.done\
                      \x1b[H\x1b[2Jcontext cleared";
        assert_eq!(
            replay(bytes, (40, 10)),
            ["task received", "✓ created a.done", "context cleared"]
        );
    }

    #[test]
    fn lines_overwritten_in_place_are_kept_once() {
        // A spinner redrawn on row 3, then the sim's reset overwriting rows 1 and 2.
        let bytes = b"\x1b[1;1Htask received\x1b[3;1H\x1b[K[working] - 1s\
                      \x1b[3;1H\x1b[K[working] \\ 2s\x1b[2;1H\x1b[K\xe2\x9c\x93 created a.done\
                      \x1b[3;1H\x1b[K[ready]\x1b[1;1H\x1b[Kcontext cleared\x1b[2;1H\x1b[K";
        assert_eq!(
            replay(bytes, (40, 5)),
            [
                "[working] - 1s",
                "task received",
                "✓ created a.done",
                "context cleared",
                "",
                "[ready]"
            ]
        );
    }

    #[test]
    fn an_agent_that_draws_only_changes_replays_onto_the_screen_it_started_on() {
        // Claude Code's renderer: the box and the footer are on screen already, and it
        // writes only the cells that change, from the cursor it left.
        let screen = "\x1b[1mwelcome\x1b[0m\n\n> \n  ? for shortcuts\n";
        let mut bytes = opening((30, 5), screen, (2, 2), false).into_bytes();
        bytes.extend_from_slice(b"fix the bug\x1b[4;5Hesc to interrupt");
        assert_eq!(recorded_size(&bytes), Some((30, 5)));
        assert_eq!(
            replay(&bytes, (30, 5)),
            ["welcome", "", "> fix the bug", "  ? esc to interrupt"]
        );
    }

    #[test]
    fn a_row_redrawn_from_its_start_is_kept_as_it_was_not_half_written_over() {
        // The footer, then the cursor comes back to its row, writes a hint over its
        // start and erases the rest.
        let bytes = b"\x1b[2;1H  bypass permissions on (shift+tab to cycle)\x1b[1;1H\
                      \x1b[1B\x1b[2Cpaste again\x1b[K";
        assert_eq!(
            replay(bytes, (60, 3)),
            [
                "  bypass permissions on (shift+tab to cycle)",
                "",
                "  paste again"
            ]
        );
    }

    #[test]
    fn the_recorded_size_is_read_from_the_marker() {
        let bytes = format!("{SIZE_MARK}97x31\x07hello");
        assert_eq!(recorded_size(bytes.as_bytes()), Some((97, 31)));
        assert_eq!(recorded_size(b"hello"), None);
        assert_eq!(
            recorded_size(format!("{SIZE_MARK}0x31\x07").as_bytes()),
            None
        );
        assert_eq!(replay(bytes.as_bytes(), (97, 31)), ["hello"]);
    }
}
