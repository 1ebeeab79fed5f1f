//! Waiting on an agent's screen, beside `deliver`: for a ready screen, for the end of a
//! turn, for a pane a person is using to be free again, and typing a short command such
//! as `/clear`. Every wait reads time through a `Clock` and has a deadline.

use crate::agent::{Profile, ScreenState, reset_time};
use crate::clock::Clock;
use crate::tmux::{Mux, PaneId, PaneInfo};
use std::time::Duration;

/// How often a wait looks at a pane's screen when tmux cannot say it changed.
const POLL: Duration = Duration::from_millis(50);
/// How long a wait lets a pane that started writing go on before reading it.
const BURST: Duration = Duration::from_millis(10);
/// How long a wait trusts a quiet pane before reading its screen anyway.
const RECHECK: Duration = Duration::from_secs(1);
/// How long a typed command may take to show, and leftover text to clear.
const TYPING: Duration = Duration::from_secs(2);

/// Something on screen that only a person (or time) can clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// A blocking dialog: a permission question, a trust prompt, a login.
    Dialog,
    /// The agent says it is rate-limited, until `until` when it says (a time of day, such
    /// as `21:20`), which is `resets_in` from now.
    RateLimited {
        until: Option<String>,
        resets_in: Option<Duration>,
    },
    /// The agent gave up on its provider's errors and ended its turn, saying this.
    ApiError(String),
    /// A person is using the pane: scrolling it, typing in it, or running something else.
    Person(String),
    /// The agent asks a person something (a permission), in these words.
    Question(String),
}

/// Waits until the pane's screen is in one of the `wanted` states, and says which. A
/// blocking screen is passed to `blocked` once each time it appears, and stops the clock:
/// only a person may answer a dialog, and a rate limit ends when it ends.
pub fn wait_for(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    profile: &Profile,
    timeout: Duration,
    wanted: &[ScreenState],
    blocked: &mut dyn FnMut(Blocked),
) -> Result<ScreenState, String> {
    let mut deadline = clock.now() + timeout;
    let mut told = None;
    loop {
        let seen = mux.output_count(pane);
        let screen = mux
            .capture(pane)
            .map_err(|e| format!("cannot read the pane: {e}"))?;
        let state = profile.classify(&screen);
        if wanted.contains(&state) {
            return Ok(state);
        }
        match condition(profile, clock, &screen, state) {
            Some(what) => {
                if told != Some(state) {
                    told = Some(state);
                    blocked(what);
                }
                deadline = clock.now() + timeout;
            }
            None => told = None,
        }
        if clock.now() >= deadline {
            return Err(format!("no ready screen after {}s", timeout.as_secs()));
        }
        next_look(mux, clock, pane, seen);
    }
}

/// What a screen in `state` shows that only a person or time can clear, if anything.
pub fn condition(
    profile: &Profile,
    clock: &dyn Clock,
    screen: &str,
    state: ScreenState,
) -> Option<Blocked> {
    match state {
        ScreenState::Dialog => Some(match profile.dialog_question(screen) {
            Some(question) => Blocked::Question(question),
            None => Blocked::Dialog,
        }),
        ScreenState::RateLimited => Some(rate_limit(profile, clock, screen)),
        ScreenState::ApiError => {
            Some(Blocked::ApiError(profile.api_error(screen).unwrap_or_else(
                || "the agent gave up on its provider's errors".into(),
            )))
        }
        ScreenState::Ready
        | ScreenState::InputPending
        | ScreenState::Busy
        | ScreenState::Unknown => None,
    }
}

/// A rate limit as `text` (a screen, or what a hook passed on) tells it: until when, read
/// as a time when it can be.
pub fn rate_limit(profile: &Profile, clock: &dyn Clock, text: &str) -> Blocked {
    let said = profile.rate_limit_reset(text);
    let (now, zone) = clock.wall();
    let at = said
        .as_deref()
        .and_then(|text| reset_time::reset_at(text, now, &zone));
    let resets_in = at.and_then(|at| Duration::try_from(now.duration_until(at)).ok());
    // A time read is shown as the people watching read clocks; one that could not be
    // read, as the agent put it.
    let until = match at {
        Some(at) => Some(at.to_zoned_datetime(zone).strftime("%H:%M").to_string()),
        None => said,
    };
    Blocked::RateLimited { until, resets_in }
}

/// Waits until the pane shows the profile's ready screen.
pub fn wait_ready(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    profile: &Profile,
    timeout: Duration,
    blocked: &mut dyn FnMut(Blocked),
) -> Result<(), String> {
    wait_for(
        mux,
        clock,
        pane,
        profile,
        timeout,
        &[ScreenState::Ready],
        blocked,
    )
    .map(|_| ())
}

/// Waits, without a deadline, until a pane that a person is using is theirs no more: out
/// of copy mode, the agent back in front, and nothing typed in its input box. Each thing
/// in the way is passed to `blocked` once; a person may take as long as they like, and
/// only a pane that dies or cannot be read ends the wait early.
pub fn wait_free(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    profile: &Profile,
    blocked: &mut dyn FnMut(Blocked),
) -> Result<(), String> {
    let mut told = String::new();
    loop {
        let seen = mux.output_count(pane);
        let info = listed(mux, pane)?;
        if info.dead {
            return Err("the agent exited".into());
        }
        let in_the_way = if info.in_mode {
            Some("a person is scrolling the pane (copy mode)".to_string())
        } else if !profile.runs_as(&info.current_command, info.pid) {
            Some(format!(
                "`{}` is in front of the agent",
                info.current_command
            ))
        } else {
            let screen = mux
                .capture(pane)
                .map_err(|e| format!("cannot read the pane: {e}"))?;
            (profile.input_pending.is_some()
                && profile.classify(&screen) == ScreenState::InputPending)
                .then(|| "text a person typed is in the input box".to_string())
        };
        let Some(what) = in_the_way else {
            return Ok(());
        };
        if what != told {
            blocked(Blocked::Person(what.clone()));
            told = what;
        }
        next_look(mux, clock, pane, seen);
    }
}

/// Waits, without a deadline, until a person stops scrolling the pane: keys sent into
/// copy mode would be copy-mode commands.
pub fn wait_out_of_mode(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    blocked: &mut dyn FnMut(Blocked),
) -> Result<(), String> {
    let mut told = false;
    loop {
        let seen = mux.output_count(pane);
        let info = listed(mux, pane)?;
        if info.dead || !info.in_mode {
            return Ok(());
        }
        if !told {
            told = true;
            blocked(Blocked::Person(
                "a person is scrolling the pane (copy mode)".into(),
            ));
        }
        next_look(mux, clock, pane, seen);
    }
}

/// The pane as tmux lists it, or why it cannot be.
fn listed(mux: &dyn Mux, pane: &PaneId) -> Result<PaneInfo, String> {
    mux.panes()
        .map_err(|e| format!("cannot list the panes: {e}"))?
        .into_iter()
        .find(|p| &p.id == pane)
        .ok_or_else(|| "the pane is gone".to_string())
}

/// Waits until the screen may have changed since the output count `seen` was taken:
/// the pane wrote something (then a moment more, so that a burst of writes is read as
/// one screen) or `RECHECK` passed. Without an event source it polls.
fn next_look(mux: &dyn Mux, clock: &dyn Clock, pane: &PaneId, seen: Option<u64>) {
    match seen.and_then(|seen| mux.await_output(pane, seen, RECHECK)) {
        Some(_) => clock.sleep(BURST),
        None => clock.sleep(POLL),
    }
}

/// Types a short command such as `/clear` and submits it once it shows.
pub fn type_command(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    profile: &Profile,
    command: &str,
) -> Result<(), String> {
    let shows = |screen: &str| profile.classify(screen) != ScreenState::Ready;
    type_then_enter(mux, clock, pane, profile, command, &shows)
}

/// Types a short command over what the input box shows (a placeholder such as Claude's
/// `Resend your message to try again`, or an old condition that makes the screen look
/// other than ready) and submits it once it shows.
pub fn type_over(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    profile: &Profile,
    command: &str,
) -> Result<(), String> {
    let shows = |screen: &str| {
        screen
            .lines()
            .any(|line| line.trim_end().ends_with(command))
    };
    type_then_enter(mux, clock, pane, profile, command, &shows)
}

/// Puts a short command such as `/clear` in the queue of an agent that is still in its
/// turn (a profile with `reset_queues`: Claude Code holds it and runs it as the turn
/// ends), and says whether it did. It does not when the agent is not busy, when anything
/// is in its box or queue, or when a person is using the pane; nor when the command never
/// showed in the box or the agent did not take it. Then the caller goes the slow way:
/// the turn's end first, where text swarm left in the box is its own to clear.
pub fn queue_command(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    profile: &Profile,
    command: &str,
) -> Result<bool, String> {
    let Some(input) = profile
        .input_pending
        .as_ref()
        .filter(|_| profile.reset_queues)
    else {
        return Ok(false);
    };
    let info = listed(mux, pane)?;
    if info.dead || info.in_mode || !profile.runs_as(&info.current_command, info.pid) {
        return Ok(false);
    }
    let capture = || mux.capture(pane).map_err(|e| e.to_string());
    let screen = capture()?;
    if profile.classify(&screen) != ScreenState::Busy
        || input.is_match(&screen)
        || profile.is_queued(&screen)
    {
        return Ok(false);
    }
    mux.send_text(pane, command).map_err(|e| e.to_string())?;
    // In the box: the box holds text now, and a line ends with the command (an earlier
    // one may still show above, as Claude echoes it).
    let in_box = |screen: &str| {
        input.is_match(screen)
            && screen
                .lines()
                .any(|line| line.trim_end().ends_with(command))
    };
    if !wait_on(mux, clock, pane, TYPING, &in_box, capture)? {
        return Ok(false);
    }
    clock.sleep(profile.settle);
    mux.send_key(pane, "Enter").map_err(|e| e.to_string())?;
    // Taken: queued behind the turn, or run at once because the turn ended meanwhile.
    let taken = |screen: &str| profile.is_queued(screen) || !input.is_match(screen);
    wait_on(mux, clock, pane, TYPING, &taken, capture)
}

/// Whether the pane's screen comes to satisfy `wanted` within `within`.
fn wait_on(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    within: Duration,
    wanted: &dyn Fn(&str) -> bool,
    capture: impl Fn() -> Result<String, String>,
) -> Result<bool, String> {
    let deadline = clock.now() + within;
    loop {
        let seen = mux.output_count(pane);
        if wanted(&capture()?) {
            return Ok(true);
        }
        if clock.now() >= deadline {
            return Ok(false);
        }
        next_look(mux, clock, pane, seen);
    }
}

/// Types `command`, waits (a little, at most) until `shows` sees it on screen, and
/// presses Enter after the profile's settle time.
fn type_then_enter(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    profile: &Profile,
    command: &str,
    shows: &dyn Fn(&str) -> bool,
) -> Result<(), String> {
    mux.send_text(pane, command).map_err(|e| e.to_string())?;
    let deadline = clock.now() + TYPING;
    while clock.now() < deadline {
        let screen = mux.capture(pane).map_err(|e| e.to_string())?;
        if shows(&screen) {
            break;
        }
        clock.sleep(Duration::from_millis(10));
    }
    clock.sleep(profile.settle);
    mux.send_key(pane, "Enter").map_err(|e| e.to_string())
}

/// Clears text left in the input box if swarm typed it (a reset command whose Enter was
/// lost when an orchestrator was killed between the two), and says whether it did. Any
/// other text is a person's, half typed: it is theirs, and stays.
pub fn clear_own_leftover(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    profile: &Profile,
    ours: &str,
) -> Result<bool, String> {
    let screen = mux.capture(pane).map_err(|e| e.to_string())?;
    if profile.classify(&screen) != ScreenState::InputPending
        || !screen.lines().any(|line| line.trim_end().ends_with(ours))
    {
        return Ok(false);
    }
    mux.send_key(pane, "C-c").map_err(|e| e.to_string())?;
    let deadline = clock.now() + TYPING;
    while clock.now() < deadline {
        let screen = mux.capture(pane).map_err(|e| e.to_string())?;
        if profile.classify(&screen) == ScreenState::Ready {
            return Ok(true);
        }
        clock.sleep(POLL);
    }
    Err("text swarm typed in the input box would not clear".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::tmux::fake::{self, FakeMux};

    /// The fake agent's profile, queueing its reset or not.
    fn profile(reset_queues: bool) -> Profile {
        Profile {
            reset_queues,
            ..fake::profile(None)
        }
    }

    /// A fake agent in its turn (or not), with `input` in its box.
    fn agent(busy: bool, input: &str) -> (FakeMux, PaneId) {
        let mux = FakeMux::new();
        let pane = mux.add_agent("w0");
        mux.pane(&pane, |p| {
            p.busy = busy;
            p.input = input.into();
        });
        (mux, pane)
    }

    fn queue(mux: &FakeMux, pane: &PaneId, profile: &Profile) -> bool {
        queue_command(mux, &SystemClock::new(), pane, profile, "/clear").unwrap()
    }

    #[test]
    fn a_reset_goes_in_during_the_turn_of_an_agent_that_queues_it() {
        let (mux, pane) = agent(true, "");
        assert!(queue(&mux, &pane, &profile(true)));
        assert_eq!(
            mux.calls(&format!("text {pane}")),
            [format!("text {pane} /clear")]
        );
        assert_eq!(
            mux.calls(&format!("key {pane}")),
            [format!("key {pane} Enter")]
        );
    }

    #[test]
    fn nothing_is_typed_unless_the_agent_queues_is_busy_and_its_box_is_empty() {
        for (reset_queues, busy, input) in [
            (false, true, ""),
            (true, false, ""),
            (true, true, "a person's half thought"),
        ] {
            let (mux, pane) = agent(busy, input);
            assert!(!queue(&mux, &pane, &profile(reset_queues)));
            assert!(mux.calls(&format!("text {pane}")).is_empty());
            assert!(mux.calls(&format!("key {pane}")).is_empty());
        }
    }

    #[test]
    fn a_pane_a_person_scrolls_gets_no_reset_during_the_turn() {
        let (mux, pane) = agent(true, "");
        mux.pane(&pane, |p| p.in_mode = true);
        assert!(!queue(&mux, &pane, &profile(true)));
        assert!(mux.calls(&format!("text {pane}")).is_empty());
    }
}
