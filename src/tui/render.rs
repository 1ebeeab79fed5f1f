//! Drawing the dashboard: a pure function of its state, so a `TestBackend` can pin it.

use super::dashboard::{Dashboard, Focus};
use super::events::Kind;
use crate::orchestrator::snapshot::{Snapshot, TaskRow, WorkerRow};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

/// Width of the progress bar in the header.
const BAR: usize = 24;
/// From this width on, the focused worker's screen shows beside the lists.
const PREVIEW_FROM: u16 = 150;
/// Rows the tasks must leave free for the preview to show under them, on a narrower one.
const PREVIEW_BELOW_FROM: u16 = 14;
/// Below this width the header leaves the bar out, so that the counts and the ETA fit.
const BAR_FROM: u16 = 100;

impl Dashboard {
    /// Draws the whole dashboard into `frame`.
    pub fn render(&self, frame: &mut Frame) {
        let area = frame.area();
        let [header, body, detail, footer] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        // A wide terminal shows the focused worker's screen beside the lists.
        let preview_width = if area.width >= PREVIEW_FROM {
            area.width * 9 / 20
        } else {
            0
        };
        let [lists, preview] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(preview_width)])
                .areas(body);
        let (workers, events) = sections(area.height, self.workers().len());
        // A narrower one shows it under the tasks, when they leave room for it.
        let below = match lists.height.saturating_sub(workers + events) {
            left if preview_width == 0 && left >= PREVIEW_BELOW_FROM => left / 2,
            _ => 0,
        };
        let [tasks, below, workers, events] = Layout::vertical([
            Constraint::Min(3),
            Constraint::Length(below),
            Constraint::Length(workers),
            Constraint::Length(events),
        ])
        .areas(lists);
        frame.render_widget(Paragraph::new(self.header(header.width)), header);
        if self.diff_tab {
            self.render_diff(frame, body);
            frame.render_widget(Paragraph::new(self.detail()), detail);
            frame.render_widget(Paragraph::new(self.footer(footer.width)), footer);
            return;
        }
        self.render_tasks(frame, tasks);
        self.render_workers(frame, workers);
        self.render_events(frame, events);
        if preview_width > 0 {
            self.render_preview(frame, preview, Borders::TOP | Borders::LEFT);
        } else if below.height > 0 {
            self.render_preview(frame, below, Borders::TOP);
        }
        frame.render_widget(Paragraph::new(self.detail()), detail);
        frame.render_widget(Paragraph::new(self.footer(footer.width)), footer);
    }

    /// The focused worker's screen: its last lines that fit, blank tail dropped.
    fn render_preview(&self, frame: &mut Frame, area: Rect, borders: Borders) {
        let (title, lines) = match &self.preview {
            Some(p) => {
                let end = p
                    .lines
                    .iter()
                    .rposition(|l| !l.is_empty())
                    .map_or(0, |i| i + 1);
                let room = usize::from(area.height.saturating_sub(1));
                let start = end.saturating_sub(room);
                let lines: Vec<Line> = p.lines[start..end]
                    .iter()
                    .map(|l| Line::raw(l.clone()))
                    .collect();
                (format!("w{}'s screen", p.worker), lines)
            }
            None => (
                "Preview".to_string(),
                vec![Line::styled(" select a worker, or a running task", dim())],
            ),
        };
        let block = self.block(&title, None).borders(borders);
        frame.render_widget(Paragraph::new(lines).block(block), area);
    }

    /// The diff tab: the selected task's change, its first lines that fit, additions and
    /// removals in color.
    fn render_diff(&self, frame: &mut Frame, area: Rect) {
        let task = self.tasks().get(self.task_sel);
        let title = format!("Diff · {}", task.map_or("", |t| t.id.as_str()));
        let room = usize::from(area.height.saturating_sub(1));
        let lines: Vec<Line> = match &self.diff {
            Some(diff) if task.is_some_and(|t| t.id == diff.task) => diff
                .lines
                .iter()
                .take(room)
                .map(|l| {
                    let color = match l.as_bytes().first() {
                        Some(b'+') if !l.starts_with("+++") => Some(Color::Green),
                        Some(b'-') if !l.starts_with("---") => Some(Color::Red),
                        Some(b'@') => Some(Color::Cyan),
                        _ => None,
                    };
                    match color {
                        Some(c) => Line::styled(l.clone(), self.paint(c)),
                        None => Line::raw(l.clone()),
                    }
                })
                .collect(),
            _ => vec![Line::styled(" reading the change…", dim())],
        };
        let block = self.block(&title, None).borders(Borders::TOP);
        frame.render_widget(Paragraph::new(lines).block(block), area);
    }

    /// `style` in color, or plain when `NO_COLOR` is set.
    fn paint(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    fn header(&self, width: u16) -> Vec<Line<'static>> {
        let Some(s) = &self.snapshot else {
            let what = self
                .error
                .clone()
                .unwrap_or_else(|| "waiting for the orchestrator…".to_string());
            return vec![Line::from(format!(" swarm · {what}"))];
        };
        let (status, color) = if let Some(error) = &self.error {
            (error.clone(), Color::Red)
        } else if s.finished {
            ("finished".to_string(), Color::Green)
        } else if !self.alive {
            (
                "the orchestrator is not running (`swarm run` resumes)".to_string(),
                Color::Red,
            )
        } else if s.paused {
            ("paused".to_string(), Color::Yellow)
        } else {
            ("running".to_string(), Color::Green)
        };
        let end = if s.finished { s.updated } else { self.now };
        let first = Line::from(vec![
            Span::styled(" swarm ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(format!("· {} · ", s.plan)),
            Span::styled(status, self.paint(color)),
            Span::raw(format!(" · elapsed {}", clock(end - s.started))),
        ]);
        let c = &s.counts;
        let ratio = if c.total == 0 {
            1.0
        } else {
            c.done as f64 / c.total as f64
        };
        let filled = (ratio * BAR as f64).round() as usize;
        let bar = width >= BAR_FROM;
        let mut second = vec![
            Span::raw(if bar { " " } else { "" }),
            Span::styled(
                "█".repeat(filled * usize::from(bar)),
                self.paint(Color::Green),
            ),
            Span::styled(
                "░".repeat((BAR - filled) * usize::from(bar)),
                self.paint(Color::DarkGray),
            ),
            Span::raw(format!(
                " {}/{} done · {} running · {} pending",
                c.done, c.total, c.running, c.pending
            )),
        ];
        if c.failed > 0 {
            second.push(Span::styled(
                format!(" · {} failed", c.failed),
                self.paint(Color::Red),
            ));
        }
        if c.skipped > 0 {
            second.push(Span::raw(format!(" · {} skipped", c.skipped)));
        }
        if let Some(eta) = eta(s, self.now) {
            second.push(Span::raw(format!(" · ETA {}", clock(eta))));
        }
        let mut lines = vec![first, Line::from(second)];
        if let Some(spent) = spent_line(&s.spent) {
            let color = if s.spent.budget_reached {
                Color::Red
            } else {
                Color::Reset
            };
            lines[0].push_span(Span::styled(spent, self.paint(color)));
        }
        lines
    }

    fn block(&self, title: &str, focus: Option<Focus>) -> Block<'static> {
        let focused = focus.is_some_and(|f| f == self.focus);
        let style = if focused {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let mark = if focused { "▶ " } else { "" };
        Block::new()
            .borders(Borders::TOP)
            .title(Span::styled(format!(" {mark}{title} "), style))
    }

    fn render_tasks(&self, frame: &mut Frame, area: Rect) {
        let rows = self.tasks().iter().map(|t| {
            let (label, color) = task_state(&t.state, t.stage.as_deref());
            let time = match (t.state.as_str(), t.started) {
                ("running", Some(started)) => clock(self.now - started),
                _ => self.took.get(&t.id).map(|&s| clock(s)).unwrap_or_default(),
            };
            let text = if t.text.is_empty() { &t.id } else { &t.text };
            Row::new([
                Cell::from(Span::styled(label, self.paint(color))),
                Cell::from(t.worker.map(|w| format!("w{w}")).unwrap_or_default()),
                Cell::from(match t.attempts {
                    0 => String::new(),
                    n => n.to_string(),
                }),
                Cell::from(time),
                Cell::from(receipt_cell(t.receipt.as_ref())),
                Cell::from(text.clone()),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(12),
                Constraint::Length(4),
                Constraint::Length(3),
                Constraint::Length(6),
                Constraint::Length(15),
                Constraint::Fill(1),
            ],
        )
        .header(Row::new(["STATE", "WKR", "TRY", "TIME", "STAGE", "TASK"]).style(dim()))
        .block(self.block("Tasks", Some(Focus::Tasks)));
        self.render_list(frame, area, table, Focus::Tasks, self.task_sel);
    }

    fn render_workers(&self, frame: &mut Frame, area: Rect) {
        let paused_all = self.snapshot.as_ref().is_some_and(|s| s.paused);
        let text_of = |id: &str| {
            self.tasks()
                .iter()
                .find(|t| t.id == id)
                .filter(|t| !t.text.is_empty())
                .map_or_else(|| id.to_string(), |t| t.text.clone())
        };
        // With pools of several profiles, which worker runs which is worth a column.
        let pools = self
            .workers()
            .iter()
            .any(|w| w.profile != self.workers()[0].profile);
        // With workers on other hosts, where each runs is too.
        let hosts = self.workers().iter().any(|w| w.host.is_some());
        let rows = self.workers().iter().map(|w| {
            let (label, color) = worker_state(w, paused_all);
            let doing = match (&w.needs, &w.task) {
                (Some(needs), _) => needs.clone(),
                (None, Some(task)) => text_of(task),
                (None, None) => String::new(),
            };
            let mut cells = vec![
                Cell::from(format!("w{}", w.id)),
                // Its place in tmux (window.pane), else its pane id.
                Cell::from(w.pane.as_ref().map_or_else(String::new, |p| {
                    self.places.get(p).cloned().unwrap_or_else(|| p.clone())
                })),
            ];
            if hosts {
                cells.push(Cell::from(w.host.clone().unwrap_or_else(|| "local".into())));
            }
            if pools {
                cells.push(Cell::from(w.profile.clone()));
            }
            cells.push(Cell::from(Span::styled(label, self.paint(color))));
            cells.push(Cell::from(doing));
            Row::new(cells)
        });
        let mut widths = vec![Constraint::Length(4), Constraint::Length(5)];
        let mut header = vec!["WKR", "PANE"];
        if hosts {
            widths.push(Constraint::Length(8));
            header.push("HOST");
        }
        if pools {
            widths.push(Constraint::Length(10));
            header.push("PROFILE");
        }
        widths.extend([Constraint::Length(12), Constraint::Fill(1)]);
        header.extend(["STATE", "DOING"]);
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(dim()))
            .block(self.block("Workers", Some(Focus::Workers)));
        self.render_list(frame, area, table, Focus::Workers, self.worker_sel);
    }

    /// A table with its selected row highlighted when its list has the focus.
    fn render_list(&self, frame: &mut Frame, area: Rect, table: Table, list: Focus, sel: usize) {
        let mut state = TableState::default().with_selected(Some(sel));
        let table = if self.focus == list {
            table
                .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
                .highlight_symbol("›")
        } else {
            table.highlight_symbol(" ")
        };
        frame.render_stateful_widget(table, area, &mut state);
    }

    fn render_events(&self, frame: &mut Frame, area: Rect) {
        let room = area.height.saturating_sub(1) as usize;
        let skip = self.events.len().saturating_sub(room);
        let lines: Vec<Line> = self
            .events
            .iter()
            .skip(skip)
            .map(|e| {
                let color = match e.kind {
                    Kind::Started => Color::Cyan,
                    Kind::Done => Color::Green,
                    Kind::Trouble => Color::Red,
                    Kind::Quiet => Color::DarkGray,
                };
                Line::from(vec![
                    Span::styled(format!("{:>7} ", clock(e.at)), dim()),
                    Span::styled(e.text.clone(), self.paint(color)),
                ])
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(self.block("Recent events", None)),
            area,
        );
    }

    /// What the selected row is about, or the answer to the last key.
    fn detail(&self) -> Line<'static> {
        if let Some(flash) = &self.flash {
            return Line::styled(format!(" {flash}"), self.paint(Color::Yellow));
        }
        let text = match self.focus {
            Focus::Tasks => self.tasks().get(self.task_sel).map(task_detail),
            Focus::Workers => self
                .workers()
                .get(self.worker_sel)
                .map(|w| worker_detail(w, &self.places)),
        };
        Line::styled(format!(" {}", text.unwrap_or_default()), dim())
    }

    fn footer(&self, width: u16) -> Line<'static> {
        if self.confirm_quit {
            return Line::styled(
                " quit: leave the workers running or stop them? [l/s/esc]",
                Style::new().add_modifier(Modifier::BOLD),
            );
        }
        let who = match (self.focus, self.workers().get(self.worker_sel)) {
            (Focus::Workers, Some(w)) => format!("w{}", w.id),
            _ => "all".to_string(),
        };
        // As much as the width holds, and `q quit` always.
        if self.diff_tab {
            return Line::styled(" ↑↓ another task · d/esc back · q quit", dim());
        }
        let keys = [
            format!(
                " ↑↓ select · Tab switch list · Enter go to pane · d diff · p/r pause/resume {who} · \
                 R retry · s skip · q quit"
            ),
            format!(
                " ↑↓ Tab · Enter pane · d diff · p/r pause/resume {who} · R retry · s skip · q quit"
            ),
            " ↑↓ Tab Enter d p r R s · q quit".to_string(),
        ];
        let fits = |k: &&String| k.chars().count() <= usize::from(width);
        let text = keys.iter().find(fits).unwrap_or(&keys[2]).clone();
        Line::styled(text, dim())
    }
}

/// Rows for the workers and the recent events at `height` rows: all the workers (up to 8)
/// and 7 event lines when there is room, fewer events, then fewer workers, when not; the
/// tasks keep at least 3 rows, the header, detail and key bar theirs.
fn sections(height: u16, workers: usize) -> (u16, u16) {
    const FIXED: u16 = 2 + 3 + 1 + 1;
    let room = height.saturating_sub(FIXED);
    // A title line and a column header above the workers.
    let workers = (workers.clamp(1, 8) as u16 + 2).min(room);
    let events = match room - workers {
        free if free >= 12 => 7,
        free if free >= 6 => 3,
        _ => 0,
    };
    (workers, events)
}

fn dim() -> Style {
    Style::new().add_modifier(Modifier::DIM)
}

/// A task's latest receipt and how long it took: `working 2.1s`, `sentinel 1m05s`.
fn receipt_cell(latest: Option<&crate::receipt::Latest>) -> String {
    let Some(latest) = latest else {
        return String::new();
    };
    match latest.took {
        Some(t) if t < 10.0 => format!("{} {t:.1}s", latest.stage),
        Some(t) => format!("{} {}", latest.stage, clock(t)),
        None => latest.stage.clone(),
    }
}

/// What the run has spent, against its budgets: ` · $0.42 of $20.00 · ≤$2.00 a task`.
fn spent_line(spent: &crate::orchestrator::snapshot::SpentRow) -> Option<String> {
    use crate::cost::dollars;
    let tokens = spent.spent.tokens.total();
    if tokens == 0 && spent.budget.is_none() && spent.task_budget.is_none() {
        return None;
    }
    let mut line = match spent.spent.cost {
        Some(cost) => format!(" · {}", dollars(cost)),
        None => format!(" · {tokens} tokens"),
    };
    if let Some(budget) = spent.budget {
        line.push_str(&format!(" of {}", dollars(budget)));
    }
    if let Some(per) = spent.task_budget {
        line.push_str(&format!(" · ≤{} a task", dollars(per)));
    }
    if spent.budget_reached {
        line.push_str(" · budget reached");
    }
    Some(line)
}

/// A task's mark and words; a landing task shows how far its work got.
fn task_state(state: &str, stage: Option<&str>) -> (String, Color) {
    if state == "landing" {
        return (format!("⇡ {}", stage.unwrap_or(state)), Color::Yellow);
    }
    let (mark, color) = match state {
        "done" => ("✓", Color::Green),
        "running" => ("▶", Color::Cyan),
        "failed" => ("✗", Color::Red),
        "skipped" => ("⤼", Color::DarkGray),
        _ => ("·", Color::Reset),
    };
    (format!("{mark} {state}"), color)
}

/// The words a person uses for a worker's state (the scheduler's are finer-grained).
fn worker_state(w: &WorkerRow, paused_all: bool) -> (&'static str, Color) {
    match w.state.as_str() {
        "rate-limited" => ("rate-limited", Color::Yellow),
        "needs-human" => ("needs you", Color::Red),
        _ if w.needs.is_some() => ("needs you", Color::Red),
        "retired" => ("dead", Color::Red),
        "delivering" | "busy" => ("busy", Color::Cyan),
        _ if w.paused || paused_all => ("paused", Color::Yellow),
        "idle" => ("ready", Color::Green),
        "starting" => ("starting", Color::Reset),
        "resetting" => ("resetting", Color::Reset),
        "interrupting" => ("interrupting", Color::Yellow),
        _ => ("?", Color::Reset),
    }
}

fn task_detail(t: &TaskRow) -> String {
    let mut text = t.id.clone();
    if t.attempts > 0 {
        text.push_str(&format!(
            " · attempt {} · `swarm logs {}` for its transcript",
            t.attempts, t.id
        ));
    }
    if let Some(reason) = &t.reason {
        text.push_str(&format!(" · {reason}"));
    }
    text
}

fn worker_detail(w: &WorkerRow, places: &std::collections::HashMap<String, String>) -> String {
    let mut text = match w.profile.as_str() {
        "" => format!("w{} · {}", w.id, w.state),
        profile => format!("w{} · {profile} · {}", w.id, w.state),
    };
    if let Some(host) = &w.host {
        text.push_str(&format!(" · on {host}"));
    }
    if w.restarts > 0 {
        text.push_str(&format!(" · restarted {}×", w.restarts));
    }
    if let Some(pane) = &w.pane {
        let place = match places.get(pane).and_then(|p| p.split_once('.')) {
            Some((window, index)) => format!("window {window}, pane {index} ({pane})"),
            None => format!("pane {pane}"),
        };
        text.push_str(&format!(" · {place} · Enter to go there"));
    }
    text
}

/// Seconds left at the rate tasks have finished so far in this run.
fn eta(s: &Snapshot, now: f64) -> Option<f64> {
    let c = &s.counts;
    let left = c.pending + c.running;
    if s.finished || c.done == 0 || left == 0 {
        return None;
    }
    let per_task = (now - s.started) / c.done as f64;
    Some(per_task * left as f64)
}

/// `42s`, `3m07s`, `1h02m`: a duration at the precision a person wants.
pub(super) fn clock(secs: f64) -> String {
    let secs = secs.max(0.0) as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}
