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

/// The lines the pane showed, oldest first, ending with its final screen; trailing blanks
/// dropped. `size` is (columns, rows).
pub fn replay(bytes: &[u8], size: (u16, u16)) -> Vec<String> {
    let nonzero = |n: u16| std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MIN);
    let (cols, rows) = (nonzero(size.0), nonzero(size.1));
    let mut parser = vt100::Parser::new(rows, cols, SCROLLBACK);
    parser.process(bytes);
    let (rows, cols) = (rows.get(), cols.get());
    // The lines that scrolled off: shown one screen's top row at a time, oldest first.
    let above = parser.screen().scrollback_len();
    let mut lines = Vec::with_capacity(above + usize::from(rows));
    for offset in (1..=above).rev() {
        parser.screen_mut().set_scrollback(offset);
        lines.extend(parser.screen().rows(0, cols).next());
    }
    parser.screen_mut().set_scrollback(0);
    lines.extend(parser.screen().rows(0, cols));
    for line in &mut lines {
        line.truncate(line.trim_end().len());
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
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
