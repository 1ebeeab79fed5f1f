//! Drawing the simulator's screen. Its shape imitates Claude Code's (a transcript, an input
//! line between two rules, a status line below) so that swarm reads it the same way.

use std::io::{self, Write};

use crossbeam_channel::Receiver;
use crossterm::cursor::MoveTo;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::style::Print;
use crossterm::terminal::{self, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{execute, queue};

/// The first line of the screen: nobody should mistake the simulator for a real agent.
pub const TITLE: &str = "swarm sim-agent · SIMULATED agent (no LLM)";
/// What the input line starts with.
pub const PROMPT: &str = "sim> ";

/// Everything that is on screen, before layout.
pub struct View<'a> {
    /// Recent events, oldest first; the newest that fit are shown.
    pub transcript: &'a [String],
    /// The input box's contents as shown after the prompt.
    pub input: String,
    /// The bottom line: `[ready] ...`, `[working] ...` or `[starting] ...`.
    pub status: String,
}

/// Lays `view` out on a `width` x `height` screen: the title, the transcript, then a rule,
/// the input line, a rule and the status line at the bottom.
pub fn layout(view: &View, width: usize, height: usize) -> Vec<String> {
    let rule = "─".repeat(width);
    let bottom = [
        rule.clone(),
        format!("{PROMPT}{}", view.input),
        rule,
        view.status.clone(),
    ];
    let rows = height.saturating_sub(1 + bottom.len());
    let shown = &view.transcript[view.transcript.len().saturating_sub(rows)..];
    let mut lines = vec![TITLE.to_string()];
    lines.extend(shown.iter().cloned());
    lines.resize(1 + rows, String::new());
    lines.extend(bottom);
    // On a tiny screen the bottom lines matter most: they are what swarm reads.
    let excess = lines.len().saturating_sub(height);
    lines.drain(..excess);
    lines.iter().map(|line| fit(line, width)).collect()
}

/// One screen row: control characters (a pasted tab, say) would move the cursor, so they
/// show as spaces, and the line is cut to the width.
fn fit(line: &str, width: usize) -> String {
    line.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(width)
        .collect()
}

/// The terminal in raw mode on the alternate screen, with bracketed paste; dropping it
/// restores the terminal.
pub struct Terminal {
    out: io::Stdout,
    /// What is on screen now, so that a redraw writes only the rows that changed.
    shown: Vec<String>,
}

impl Terminal {
    /// Takes over the terminal.
    pub fn enter() -> io::Result<Terminal> {
        terminal::enable_raw_mode()?;
        let mut out = io::stdout();
        execute!(
            out,
            EnterAlternateScreen,
            EnableBracketedPaste,
            Clear(ClearType::All)
        )?;
        Ok(Terminal {
            out,
            shown: Vec::new(),
        })
    }

    /// Forgets what is on screen, so that the next draw repaints it all (after a resize).
    pub fn invalidate(&mut self) -> io::Result<()> {
        self.shown.clear();
        queue!(self.out, Clear(ClearType::All))
    }

    /// Shows `view`, rewriting only the rows that changed, with the cursor on the input line.
    pub fn draw(&mut self, view: &View) -> io::Result<()> {
        let (width, height) = match terminal::size() {
            Ok((w, h)) if w > 0 && h > 0 => (w as usize, h as usize),
            _ => (80, 24),
        };
        let lines = layout(view, width, height);
        if lines == self.shown {
            return Ok(());
        }
        for (row, line) in lines.iter().enumerate() {
            if self.shown.get(row) != Some(line) {
                // Clear before printing: after a full-width line the cursor sits in the last
                // column, and clearing from there would erase the line's last char.
                queue!(
                    self.out,
                    MoveTo(0, row as u16),
                    Clear(ClearType::UntilNewLine),
                    Print(line)
                )?;
            }
        }
        let input_row = lines.len().saturating_sub(3);
        let column = lines[input_row].chars().count().min(width - 1);
        queue!(self.out, MoveTo(column as u16, input_row as u16))?;
        self.out.flush()?;
        self.shown = lines;
        Ok(())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = execute!(self.out, DisableBracketedPaste, LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}

/// Sends a message on every SIGWINCH, so the screen is redrawn at the new size.
pub fn watch_resizes() -> io::Result<Receiver<()>> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGWINCH])?;
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        for _ in signals.forever() {
            // A full channel already holds a pending redraw.
            let _ = tx.try_send(());
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(transcript: &[String], input: &str, status: &str) -> Vec<String> {
        let view = View {
            transcript,
            input: input.into(),
            status: status.into(),
        };
        layout(&view, 20, 8)
    }

    #[test]
    fn bottom_four_lines_are_rule_input_rule_status() {
        let events: Vec<String> = (1..=9).map(|i| format!("event {i}")).collect();
        let lines = view(&events, "hi\tthere", "[ready] simulated agent · enter");
        assert_eq!(
            lines,
            [
                "swarm sim-agent · SI",
                "event 7",
                "event 8",
                "event 9",
                "────────────────────",
                "sim> hi there",
                "────────────────────",
                "[ready] simulated ag",
            ]
        );
    }

    #[test]
    fn short_transcript_leaves_blank_rows() {
        let lines = view(&["one".into()], "", "[working]");
        assert_eq!(lines.len(), 8);
        assert_eq!(lines[1], "one");
        assert_eq!(lines[2], "");
        assert_eq!(lines[5], "sim> ");
    }

    #[test]
    fn tiny_screen_keeps_the_bottom() {
        let view = View {
            transcript: &[],
            input: String::new(),
            status: "[ready]".into(),
        };
        assert_eq!(layout(&view, 10, 2), ["──────────", "[ready]"]);
    }
}
