//! Delivering a prompt so that it arrives whole and is submitted exactly once:
//! guarded paste, wait for a stable screen, Enter, confirm.

use crate::agent::{Profile, ScreenState};
use crate::clock::Clock;
use crate::receipt::Submitted;
use crate::tmux::{Mux, PaneId, PasteOutcome, TmuxError};
use std::time::Duration;

/// A prompt that the agent took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// How many times Enter was pressed: 1 unless the agent missed the first.
    pub enter_presses: u32,
    /// From the paste to the first Enter.
    pub paste_to_enter: Duration,
    /// From the last Enter to the sign that the agent took the prompt.
    pub confirmed_in: Duration,
    /// That sign.
    pub how: Submitted,
}

/// Why a prompt was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the prompt is empty: nothing to deliver")]
    EmptyPrompt,
    #[error("the pane refused the paste ({0}); nothing was typed")]
    Refused(String),
    #[error("the prompt stayed in the input box after {presses} presses of Enter")]
    NotSubmitted { presses: u32 },
    /// Before the paste went in: the prompt never reached the agent.
    #[error("the pane died before the prompt reached it")]
    PaneDied,
    /// After the paste went in: the agent may have read the prompt, and died of it.
    #[error("the agent's pane died once the prompt was pasted")]
    DiedOnPrompt,
    #[error(transparent)]
    Tmux(#[from] TmuxError),
}

impl crate::error::Classify for DeliveryError {
    fn exit(&self) -> crate::error::Exit {
        crate::error::Exit::Failure
    }
}

/// How often and how long delivery looks at the screen.
struct Timing {
    poll: Duration,
    /// The longest wait for a paste to show and settle before Enter goes anyway.
    landing_cap: Duration,
    /// How long after each Enter the agent has to show that it took the prompt.
    confirm: Duration,
}

/// Screens land in 20–90 ms (docs/tmux-facts.md §1); the caps only bound a slow or silent agent.
const TIMING: Timing = Timing {
    poll: Duration::from_millis(20),
    landing_cap: Duration::from_secs(2),
    confirm: Duration::from_millis(1500),
};

/// Pastes `prompt` into `pane`, presses Enter once the paste has settled, and confirms
/// that the agent took it, pressing Enter again at most `profile.enter_retries` times.
pub fn deliver(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    prompt: &str,
    profile: &Profile,
) -> Result<Delivered, DeliveryError> {
    deliver_with(mux, clock, pane, prompt, profile, &TIMING, Again::Paste)
}

/// Delivers a prompt again whose first delivery its host's loss cut short, once the host
/// is back. If the text went in then (`Mux::pasted_last`), it is not pasted again: still
/// in the input box, it gets its Enter; gone from there, the agent took it. Otherwise it
/// is delivered as by `deliver`.
pub fn deliver_once(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    prompt: &str,
    profile: &Profile,
) -> Result<Delivered, DeliveryError> {
    deliver_with(mux, clock, pane, prompt, profile, &TIMING, Again::Finish)
}

/// What a delivery does with a prompt that went into the pane before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    /// Paste it again (a reminder may say the same twice).
    Paste,
    /// Finish that delivery instead.
    Finish,
}

/// Where a delivery stands once the paste is in.
enum Pasted {
    /// Pasted now, over the screen from before.
    Now(String),
    /// Pasted by an earlier delivery; the screen now.
    Earlier(String),
}

fn deliver_with(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    prompt: &str,
    profile: &Profile,
    timing: &Timing,
    again: Again,
) -> Result<Delivered, DeliveryError> {
    if prompt.trim().is_empty() {
        return Err(DeliveryError::EmptyPrompt);
    }
    // Until the paste is in, a pane that dies takes nothing with it: a tmux error about it
    // is the pane dying before the prompt reached it. A host out of reach is not a dead
    // pane: its agent may well have the prompt, which the delivery sent again finds out.
    let pasted = paste(mux, pane, prompt, profile, again).map_err(|e| match e {
        DeliveryError::Tmux(ref t) if unreachable(t) => e,
        DeliveryError::Tmux(_) if pane_died(mux, pane) => DeliveryError::PaneDied,
        e => e,
    })?;
    let submitted = match pasted {
        Pasted::Now(before) => submit(mux, clock, pane, Some(&before), profile, timing),
        Pasted::Earlier(screen) => match profile.classify(&screen) {
            ScreenState::InputPending => submit(mux, clock, pane, None, profile, timing),
            // A profile that cannot see its input box cannot tell: Enter on an empty box
            // does nothing, on the prompt submits it.
            _ if profile.input_pending.is_none() => submit(mux, clock, pane, None, profile, timing),
            seen => Ok(Delivered {
                enter_presses: 0,
                paste_to_enter: Duration::ZERO,
                confirmed_in: Duration::ZERO,
                how: match seen {
                    ScreenState::Busy => Submitted::Busy,
                    _ => Submitted::BoxCleared,
                },
            }),
        },
    };
    if let Err(DeliveryError::Tmux(e)) = &submitted
        && unreachable(e)
    {
        return submitted;
    }
    // A dead pane's screen can look like anything; say what happened rather than
    // "not submitted" or a tmux error about a missing pane.
    if pane_died(mux, pane) {
        return Err(DeliveryError::DiedOnPrompt);
    }
    submitted
}

fn unreachable(e: &TmuxError) -> bool {
    matches!(e, TmuxError::HostUnreachable { .. })
}

/// Pastes `prompt` once the pane may take it, and says where the delivery stands.
fn paste(
    mux: &dyn Mux,
    pane: &PaneId,
    prompt: &str,
    profile: &Profile,
    again: Again,
) -> Result<Pasted, DeliveryError> {
    // The paste guard refuses shells; this also refuses anything that is not the agent
    // the profile expects in front (a pager, an editor it spawned, a wrapper left behind).
    let info = mux
        .panes()?
        .into_iter()
        .find(|p| &p.id == pane)
        .ok_or(DeliveryError::PaneDied)?;
    if !profile.runs_as(&info.current_command, info.pid) {
        return Err(DeliveryError::Refused(format!(
            "`{}` is in front, not the agent ({})",
            info.current_command,
            profile.programs(info.pid).join(", ")
        )));
    }
    let before = mux.capture(pane)?;
    if again == Again::Finish && mux.pasted_last(pane, prompt)? {
        return Ok(Pasted::Earlier(before));
    }
    // Text already in the input box was typed by someone else (a person, or a prompt the
    // agent put back after an interrupt): pasting would glue our prompt onto it.
    if profile.input_pending.is_some() && profile.classify(&before) == ScreenState::InputPending {
        return Err(DeliveryError::Refused(
            "the input box holds text swarm did not type".into(),
        ));
    }
    // Prompt text only ever goes through the guarded paste, never send-keys, which reads
    // key names and stops at 16 KB (docs/tmux-facts.md §1).
    if let PasteOutcome::Refused(reason) = mux.paste(pane, prompt)? {
        return Err(DeliveryError::Refused(reason));
    }
    Ok(Pasted::Now(before))
}

/// Presses Enter once the paste shows on the screen (it differs from `before`; with
/// `None`, it showed before) and has settled, and confirms that the agent took it.
fn submit(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    before: Option<&str>,
    profile: &Profile,
    timing: &Timing,
) -> Result<Delivered, DeliveryError> {
    let pasted_at = clock.now();
    let mut screen = wait_for_landing(mux, clock, pane, before, profile.settle, timing)?;
    let paste_to_enter = clock.now() - pasted_at;
    let mut presses = 0;
    loop {
        // The key `Enter`, separately and late: an Enter sharing a read() with the end of
        // the paste is taken as a newline by Claude's Ink (docs/tmux-facts.md §1).
        mux.send_key(pane, "Enter")?;
        presses += 1;
        let entered = clock.now();
        if let Some(how) = took_prompt(mux, clock, pane, &screen, profile, timing)? {
            return Ok(Delivered {
                enter_presses: presses,
                paste_to_enter,
                confirmed_in: clock.now() - entered,
                how,
            });
        }
        if presses > profile.enter_retries {
            return Err(DeliveryError::NotSubmitted { presses });
        }
        screen = mux.capture(pane)?;
    }
}

/// Waits until the paste shows (the screen differs from `before`), the screen has stopped
/// changing, and `settle` has passed; after `landing_cap` it stops waiting. Big pastes
/// collapse to "[Pasted text #N]" in Claude, so a stable screen, not the prompt's tail,
/// is the sign.
fn wait_for_landing(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    before: Option<&str>,
    settle: Duration,
    timing: &Timing,
) -> Result<String, DeliveryError> {
    let started = clock.now();
    let mut last = mux.capture(pane)?;
    loop {
        clock.sleep(timing.poll);
        let screen = mux.capture(pane)?;
        let stable = screen == last && before.is_none_or(|b| screen != b);
        let waited = clock.now() - started;
        if (stable && waited >= settle) || waited >= timing.landing_cap {
            return Ok(screen);
        }
        last = screen;
    }
}

/// Whether, and how, the agent took the prompt within `timing.confirm` of an Enter: it
/// queued it, its screen turned busy, its input box no longer holds it, or, for a profile
/// that cannot see the box, the screen moved.
fn took_prompt(
    mux: &dyn Mux,
    clock: &dyn Clock,
    pane: &PaneId,
    before_enter: &str,
    profile: &Profile,
    timing: &Timing,
) -> Result<Option<Submitted>, DeliveryError> {
    let started = clock.now();
    while clock.now() - started < timing.confirm {
        clock.sleep(timing.poll);
        let screen = mux.capture(pane)?;
        // A queued prompt was delivered: the agent runs it after the current turn.
        if profile.is_queued(&screen) {
            return Ok(Some(Submitted::Queued));
        }
        let seen = profile.classify(&screen);
        let took = match profile.input_pending {
            Some(_) if seen == ScreenState::Busy => Some(Submitted::Busy),
            Some(_) => (seen != ScreenState::InputPending).then_some(Submitted::BoxCleared),
            None => (screen != before_enter).then_some(Submitted::ScreenMoved),
        };
        if took.is_some() {
            return Ok(took);
        }
    }
    Ok(None)
}

/// Whether the pane is dead or gone; if tmux cannot tell, the caller's own result stands.
fn pane_died(mux: &dyn Mux, pane: &PaneId) -> bool {
    let Ok(panes) = mux.panes() else {
        return false;
    };
    match panes.iter().find(|info| &info.id == pane) {
        Some(info) => info.dead,
        // Left out of the list: gone, unless its host is only out of reach (a silent
        // host's panes are not listed).
        None => mux.capture(pane).is_err_and(|e| !unreachable(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::tmux::fake::{self, FakeMux, FakePane};

    const FAST: Timing = Timing {
        poll: Duration::from_millis(1),
        landing_cap: Duration::from_millis(100),
        confirm: Duration::from_millis(30),
    };

    /// A fake agent in a pane of its own, as `change` makes it.
    fn agent(change: impl FnOnce(&mut FakePane)) -> (FakeMux, PaneId) {
        let mux = FakeMux::new();
        let pane = mux.add_agent("w0");
        mux.pane(&pane, change);
        (mux, pane)
    }

    /// What delivery did to the pane: pastes and keys, in order.
    fn calls(mux: &FakeMux, pane: &PaneId) -> Vec<String> {
        let paste = format!("paste {pane}");
        let key = format!("key {pane} ");
        let world = mux.world();
        world
            .calls
            .iter()
            .filter_map(|call| match call.strip_prefix(&key) {
                Some(key) => Some(key.to_string()),
                None => (call == &paste).then(|| "paste".to_string()),
            })
            .collect()
    }

    /// The fake agent's profile, reading any program in front, with `enter_retries`.
    fn profile(enter_retries: u32) -> Profile {
        Profile {
            enter_retries,
            foreground: Vec::new(),
            ..fake::profile(None)
        }
    }

    fn deliver_fast(
        (mux, pane): &(FakeMux, PaneId),
        profile: &Profile,
    ) -> Result<Delivered, DeliveryError> {
        let prompt = "fix the parser\nthen test it";
        deliver_with(
            mux,
            &SystemClock::new(),
            pane,
            prompt,
            profile,
            &FAST,
            Again::Paste,
        )
    }

    #[test]
    fn one_enter_after_the_settle_time_submits() {
        let agent = agent(|_| {});
        let delivered = deliver_fast(&agent, &profile(2)).unwrap();
        assert_eq!(delivered.enter_presses, 1);
        assert!(delivered.paste_to_enter >= Duration::from_millis(10));
        assert_eq!(calls(&agent.0, &agent.1), ["paste", "Enter"]);
        assert_eq!(
            agent.0.pane(&agent.1, |p| p.prompts.clone()),
            ["fix the parser\nthen test it"]
        );
    }

    #[test]
    fn a_missed_enter_is_pressed_again() {
        let agent = agent(|p| p.missed_enters = 1);
        let delivered = deliver_fast(&agent, &profile(2)).unwrap();
        assert_eq!(delivered.enter_presses, 2);
    }

    #[test]
    fn gives_up_after_the_retries() {
        let agent = agent(|p| p.missed_enters = 10);
        let err = deliver_fast(&agent, &profile(2)).unwrap_err();
        assert!(
            matches!(err, DeliveryError::NotSubmitted { presses: 3 }),
            "{err}"
        );
        assert_eq!(
            calls(&agent.0, &agent.1),
            ["paste", "Enter", "Enter", "Enter"]
        );
    }

    #[test]
    fn a_refused_paste_presses_nothing() {
        let agent = agent(|p| p.in_mode = true);
        let err = deliver_fast(&agent, &profile(2)).unwrap_err();
        assert!(
            matches!(&err, DeliveryError::Refused(why) if why == "copy mode"),
            "{err}"
        );
        assert_eq!(calls(&agent.0, &agent.1), ["paste"]);
    }

    #[test]
    fn a_program_other_than_the_agent_in_front_is_refused_before_the_paste() {
        let agent = agent(|p| p.front = "python3".into());
        let err = deliver_fast(&agent, &fake::profile(None)).unwrap_err();
        assert!(matches!(&err, DeliveryError::Refused(_)), "{err}");
        assert!(calls(&agent.0, &agent.1).is_empty());
    }

    #[test]
    fn text_a_person_typed_is_never_pasted_onto() {
        let agent = agent(|p| p.input = "half a thought".into());
        let err = deliver_fast(&agent, &profile(2)).unwrap_err();
        assert!(matches!(&err, DeliveryError::Refused(_)), "{err}");
        assert!(calls(&agent.0, &agent.1).is_empty());
        assert_eq!(
            agent.0.pane(&agent.1, |p| p.input.clone()),
            "half a thought"
        );
    }

    #[test]
    fn a_pane_dying_midway_is_an_error() {
        let agent = agent(|p| p.dies_on_enter = true);
        let err = deliver_fast(&agent, &profile(1)).unwrap_err();
        assert!(matches!(err, DeliveryError::DiedOnPrompt), "{err}");
    }

    #[test]
    fn without_an_input_pattern_a_changed_screen_confirms() {
        let agent = agent(|_| {});
        let profile = Profile {
            input_pending: None,
            ..profile(0)
        };
        assert_eq!(deliver_fast(&agent, &profile).unwrap().enter_presses, 1);
    }

    /// A pane that took `prompt` in an earlier delivery whose end its host's loss hid.
    fn pasted_before(prompt: &str, change: impl FnOnce(&mut FakePane)) -> (FakeMux, PaneId) {
        agent(|p| {
            p.last_paste = Some(prompt.to_owned());
            change(p);
        })
    }

    const PROMPT: &str = "fix the parser\nthen test it";

    #[test]
    fn a_prompt_pasted_before_and_still_in_the_box_gets_its_enter_and_no_second_paste() {
        let (mux, pane) = pasted_before(PROMPT, |p| p.input = PROMPT.into());
        let clock = SystemClock::new();
        let delivered = deliver_with(
            &mux,
            &clock,
            &pane,
            PROMPT,
            &profile(2),
            &FAST,
            Again::Finish,
        )
        .unwrap();
        assert_eq!(delivered.enter_presses, 1);
        assert_eq!(calls(&mux, &pane), ["Enter"]);
        assert_eq!(mux.pane(&pane, |p| p.prompts.clone()), [PROMPT]);
    }

    #[test]
    fn a_prompt_the_agent_took_before_is_not_sent_again() {
        let (mux, pane) = pasted_before(PROMPT, |p| {
            p.busy = true;
            p.prompts.push(PROMPT.into());
        });
        let clock = SystemClock::new();
        let delivered = deliver_with(
            &mux,
            &clock,
            &pane,
            PROMPT,
            &profile(2),
            &FAST,
            Again::Finish,
        )
        .unwrap();
        assert_eq!(delivered.enter_presses, 0);
        assert_eq!(delivered.how, Submitted::Busy);
        assert!(calls(&mux, &pane).is_empty());
        assert_eq!(mux.pane(&pane, |p| p.prompts.len()), 1);
    }

    #[test]
    fn a_reminder_that_says_the_same_again_is_pasted_again() {
        let (mux, pane) = pasted_before(PROMPT, |_| {});
        let clock = SystemClock::new();
        deliver_with(
            &mux,
            &clock,
            &pane,
            PROMPT,
            &profile(2),
            &FAST,
            Again::Paste,
        )
        .unwrap();
        assert_eq!(calls(&mux, &pane), ["paste", "Enter"]);
    }

    #[test]
    fn text_a_person_typed_is_no_earlier_paste() {
        let (mux, pane) = pasted_before("an older prompt", |p| p.input = PROMPT.into());
        let clock = SystemClock::new();
        let err = deliver_with(
            &mux,
            &clock,
            &pane,
            PROMPT,
            &profile(2),
            &FAST,
            Again::Finish,
        )
        .unwrap_err();
        assert!(matches!(&err, DeliveryError::Refused(_)), "{err}");
        assert!(calls(&mux, &pane).is_empty());
    }

    #[test]
    fn an_empty_prompt_is_not_pasted() {
        let (mux, pane) = agent(|_| {});
        let err = deliver_with(
            &mux,
            &SystemClock::new(),
            &pane,
            " \n",
            &profile(2),
            &FAST,
            Again::Paste,
        )
        .unwrap_err();
        assert!(matches!(err, DeliveryError::EmptyPrompt), "{err}");
        assert!(calls(&mux, &pane).is_empty());
    }
}
