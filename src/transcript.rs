//! Transcripts as a person saw them: an attempt's recorded pane bytes replayed through a
//! terminal emulator (`vt100`) at the pane's size, scrollback included, so that cursor
//! moves, redraws and line ends come out as the screen showed them.

/// The start of the marker the transcript's recorder writes first: an OSC sequence that
/// terminals ignore, `ESC ] 6973 ; swarm-pane=WIDTHxHEIGHT BEL`.
pub const SIZE_MARK: &str = "\x1b]6973;swarm-pane=";

/// Lines kept above the screen: a long session, whole.
const SCROLLBACK: usize = 100_000;

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

/// What erases text in place: erase in line (`CSI K`, `0K`, `2K`) and in display (`CSI J`,
/// `0J`, `2J`), which agents use to redraw a line or clear their screen.
const ERASES: [&[u8]; 6] = [
    b"\x1b[K", b"\x1b[0K", b"\x1b[2K", b"\x1b[J", b"\x1b[0J", b"\x1b[2J",
];

/// The lines the pane showed, oldest first, ending with its final screen; trailing blanks
/// dropped. `size` is (columns, rows).
///
/// Agents redraw in place, so the final screen and the scrollback miss lines that a
/// person saw for a while (a line overwritten after the task, a cleared screen). Each
/// line that an erase removes is kept where it went, once: lines that differ only in
/// digits and symbols (a spinner, a timer) count as one.
pub fn replay(bytes: &[u8], size: (u16, u16)) -> Vec<String> {
    let nonzero = |n: u16| std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MIN);
    let (cols, rows) = (nonzero(size.0), nonzero(size.1));
    let mut parser = vt100::Parser::new(rows, cols, SCROLLBACK);
    let mut out = Lines::default();
    let mut rest = bytes;
    while let Some((at, erase)) = next_erase(rest) {
        parser.process(&rest[..at]);
        out.scrolled(&mut parser);
        let before = screen_rows(&parser);
        parser.process(erase);
        for (old, new) in before.iter().zip(screen_rows(&parser)) {
            if *old != new {
                out.erased(old);
            }
        }
        rest = &rest[at + erase.len()..];
    }
    parser.process(rest);
    out.scrolled(&mut parser);
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

/// The first erase in `bytes`: where, and which.
fn next_erase(bytes: &[u8]) -> Option<(usize, &'static [u8])> {
    ERASES
        .iter()
        .filter_map(|e| Some((find(bytes, e)?, *e)))
        .min_by_key(|(at, e)| (*at, std::cmp::Reverse(e.len())))
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
