//! Delivering a prompt so that it arrives whole and is submitted exactly once:
//! guarded paste, wait for a stable screen, Enter, confirm.

use crate::agent::{Profile, ScreenState};
use crate::tmux::{Mux, PaneId, PasteOutcome, TmuxError};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A prompt that the agent took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// How many times Enter was pressed: 1 unless the agent missed the first.
    pub enter_presses: u32,
    /// From the paste to the first Enter.
    pub paste_to_enter: Duration,
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
    #[error("the pane died while the prompt was being delivered")]
    PaneDied,
    #[error(transparent)]
    Tmux(#[from] TmuxError),
}

/// How often and how long delivery looks at the screen.
struct Timing {
    poll: Duration,
    /// The longest wait for a paste to show and settle before Enter goes anyway.
    landing_cap: Duration,
    /// How long after each Enter the agent has to show that it took the prompt.
    confirm: Duration,
}

/// Screens land in 20–90 ms (TMUX-FACTS §1); the caps only bound a slow or silent agent.
const TIMING: Timing = Timing {
    poll: Duration::from_millis(20),
    landing_cap: Duration::from_secs(2),
    confirm: Duration::from_millis(1500),
};

/// Pastes `prompt` into `pane`, presses Enter once the paste has settled, and confirms
/// that the agent took it, pressing Enter again at most `profile.enter_retries` times.
pub fn deliver(
    mux: &dyn Mux,
    pane: &PaneId,
    prompt: &str,
    profile: &Profile,
) -> Result<Delivered, DeliveryError> {
    deliver_with(mux, pane, prompt, profile, &TIMING)
}

fn deliver_with(
    mux: &dyn Mux,
    pane: &PaneId,
    prompt: &str,
    profile: &Profile,
    timing: &Timing,
) -> Result<Delivered, DeliveryError> {
    if prompt.trim().is_empty() {
        return Err(DeliveryError::EmptyPrompt);
    }
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
    // Text already in the input box was typed by someone else (a person, or a prompt the
    // agent put back after an interrupt): pasting would glue our prompt onto it.
    if profile.input_pending.is_some() && profile.classify(&before) == ScreenState::InputPending {
        return Err(DeliveryError::Refused(
            "the input box holds text swarm did not type".into(),
        ));
    }
    // Prompt text only ever goes through the guarded paste, never send-keys, which reads
    // key names and stops at 16 KB (TMUX-FACTS §1).
    if let PasteOutcome::Refused(reason) = mux.paste(pane, prompt)? {
        return Err(DeliveryError::Refused(reason));
    }
    let submitted = submit(mux, pane, &before, profile, timing);
    // A dead pane's screen can look like anything; say what happened rather than
    // "not submitted" or a tmux error about a missing pane.
    if pane_died(mux, pane) {
        return Err(DeliveryError::PaneDied);
    }
    submitted
}

fn submit(
    mux: &dyn Mux,
    pane: &PaneId,
    before: &str,
    profile: &Profile,
    timing: &Timing,
) -> Result<Delivered, DeliveryError> {
    let pasted_at = Instant::now();
    let mut screen = wait_for_landing(mux, pane, before, profile.settle, timing)?;
    let paste_to_enter = pasted_at.elapsed();
    let mut presses = 0;
    loop {
        // The key `Enter`, separately and late: an Enter sharing a read() with the end of
        // the paste is taken as a newline by Claude's Ink (TMUX-FACTS §1).
        mux.send_key(pane, "Enter")?;
        presses += 1;
        if took_prompt(mux, pane, &screen, profile, timing)? {
            return Ok(Delivered {
                enter_presses: presses,
                paste_to_enter,
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
    pane: &PaneId,
    before: &str,
    settle: Duration,
    timing: &Timing,
) -> Result<String, DeliveryError> {
    let started = Instant::now();
    let mut last = mux.capture(pane)?;
    loop {
        sleep(timing.poll);
        let screen = mux.capture(pane)?;
        let stable = screen == last && screen != before;
        if (stable && started.elapsed() >= settle) || started.elapsed() >= timing.landing_cap {
            return Ok(screen);
        }
        last = screen;
    }
}

/// Whether the agent took the prompt within `timing.confirm` of an Enter: the input box
/// no longer holds it, or, for a profile that cannot see the box, the screen moved.
fn took_prompt(
    mux: &dyn Mux,
    pane: &PaneId,
    before_enter: &str,
    profile: &Profile,
    timing: &Timing,
) -> Result<bool, DeliveryError> {
    let started = Instant::now();
    while started.elapsed() < timing.confirm {
        sleep(timing.poll);
        let screen = mux.capture(pane)?;
        // A queued prompt was delivered: the agent runs it after the current turn.
        let took = profile.is_queued(&screen)
            || match profile.input_pending {
                Some(_) => profile.classify(&screen) != ScreenState::InputPending,
                None => screen != before_enter,
            };
        if took {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the pane is dead or gone; if tmux cannot tell, the caller's own result stands.
fn pane_died(mux: &dyn Mux, pane: &PaneId) -> bool {
    mux.panes().is_ok_and(|panes| {
        panes
            .iter()
            .find(|info| &info.id == pane)
            .is_none_or(|info| info.dead)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Reset;
    use crate::tmux::{PaneInfo, SpawnSpec, Spawned};
    use regex::Regex;
    use std::sync::Mutex;

    const FAST: Timing = Timing {
        poll: Duration::from_millis(1),
        landing_cap: Duration::from_millis(100),
        confirm: Duration::from_millis(30),
    };

    /// An agent behind a fake multiplexer: an input box, and a turn that starts on Enter.
    #[derive(Default)]
    struct FakeAgent {
        input: String,
        busy: bool,
        dead: bool,
        /// Enters the agent misses before it takes one.
        missed_enters: u32,
        /// The agent exits at the first Enter.
        dies_on_enter: bool,
        refuse: Option<String>,
        calls: Vec<String>,
    }

    struct FakeMux(Mutex<FakeAgent>);

    impl FakeMux {
        fn new(agent: FakeAgent) -> FakeMux {
            FakeMux(Mutex::new(agent))
        }

        fn calls(&self) -> Vec<String> {
            self.0.lock().unwrap().calls.clone()
        }
    }

    impl Mux for FakeMux {
        fn spawn(&self, _: &SpawnSpec) -> Result<Spawned, TmuxError> {
            unreachable!("delivery never spawns")
        }

        fn paste(&self, _: &PaneId, text: &str) -> Result<PasteOutcome, TmuxError> {
            let mut agent = self.0.lock().unwrap();
            agent.calls.push("paste".into());
            if let Some(reason) = agent.refuse.clone() {
                return Ok(PasteOutcome::Refused(reason));
            }
            agent.input.push_str(text);
            Ok(PasteOutcome::Pasted)
        }

        fn send_key(&self, _: &PaneId, key: &str) -> Result<(), TmuxError> {
            let mut agent = self.0.lock().unwrap();
            agent.calls.push(key.into());
            if agent.dies_on_enter {
                agent.dead = true;
            } else if agent.missed_enters > 0 {
                agent.missed_enters -= 1;
            } else if !agent.input.is_empty() {
                agent.input.clear();
                agent.busy = true;
            }
            Ok(())
        }

        fn send_text(&self, _: &PaneId, _: &str) -> Result<(), TmuxError> {
            unreachable!("prompt text never goes through send-keys")
        }

        fn capture(&self, _: &PaneId) -> Result<String, TmuxError> {
            let agent = self.0.lock().unwrap();
            let status = if agent.busy {
                "working… esc to interrupt"
            } else {
                ""
            };
            Ok(format!("{status}\n> {}\n", agent.input))
        }

        fn panes(&self) -> Result<Vec<PaneInfo>, TmuxError> {
            Ok(vec![PaneInfo {
                id: pane(),
                dead: self.0.lock().unwrap().dead,
                dead_status: None,
                in_mode: false,
                current_command: "agent".into(),
                pid: 1,
                window: "@1".into(),
            }])
        }

        fn set_label(&self, _: &PaneId, _: &str) -> Result<(), TmuxError> {
            unreachable!()
        }

        fn kill_pane(&self, _: &PaneId) -> Result<(), TmuxError> {
            unreachable!()
        }
        fn transcript(&self, _: &PaneId, _: Option<&std::path::Path>) -> Result<(), TmuxError> {
            unreachable!()
        }
    }

    fn pane() -> PaneId {
        PaneId("%1".into())
    }

    fn profile(enter_retries: u32) -> Profile {
        Profile {
            name: "fake".into(),
            description: String::new(),
            command: vec!["agent".into()],
            ready: Regex::new(r"(?m)^> $").unwrap(),
            input_pending: Some(Regex::new(r"(?m)^> \S").unwrap()),
            busy: Some(Regex::new("esc to interrupt").unwrap()),
            reset: Reset::Command("/clear".into()),
            settle: Duration::from_millis(10),
            enter_retries,
            startup_timeout: Duration::from_secs(1),
            dialog: None,
            rate_limited: None,
            rate_limit_reset: None,
            queued: None,
            interrupt: None,
            quit: None,
            foreground: Vec::new(),
            verified: None,
            env: Default::default(),
        }
    }

    fn deliver_fast(mux: &FakeMux, profile: &Profile) -> Result<Delivered, DeliveryError> {
        deliver_with(mux, &pane(), "fix the parser\nthen test it", profile, &FAST)
    }

    #[test]
    fn one_enter_after_the_settle_time_submits() {
        let mux = FakeMux::new(FakeAgent::default());
        let delivered = deliver_fast(&mux, &profile(2)).unwrap();
        assert_eq!(delivered.enter_presses, 1);
        assert!(delivered.paste_to_enter >= Duration::from_millis(10));
        assert_eq!(mux.calls(), ["paste", "Enter"]);
    }

    #[test]
    fn a_missed_enter_is_pressed_again() {
        let mux = FakeMux::new(FakeAgent {
            missed_enters: 1,
            ..FakeAgent::default()
        });
        let delivered = deliver_fast(&mux, &profile(2)).unwrap();
        assert_eq!(delivered.enter_presses, 2);
    }

    #[test]
    fn gives_up_after_the_retries() {
        let mux = FakeMux::new(FakeAgent {
            missed_enters: 10,
            ..FakeAgent::default()
        });
        let err = deliver_fast(&mux, &profile(2)).unwrap_err();
        assert!(
            matches!(err, DeliveryError::NotSubmitted { presses: 3 }),
            "{err}"
        );
        assert_eq!(mux.calls(), ["paste", "Enter", "Enter", "Enter"]);
    }

    #[test]
    fn a_refused_paste_presses_nothing() {
        let mux = FakeMux::new(FakeAgent {
            refuse: Some("shell bash".into()),
            ..FakeAgent::default()
        });
        let err = deliver_fast(&mux, &profile(2)).unwrap_err();
        assert!(
            matches!(&err, DeliveryError::Refused(why) if why == "shell bash"),
            "{err}"
        );
        assert_eq!(mux.calls(), ["paste"]);
    }

    #[test]
    fn a_pane_dying_midway_is_an_error() {
        let mux = FakeMux::new(FakeAgent {
            dies_on_enter: true,
            ..FakeAgent::default()
        });
        let err = deliver_fast(&mux, &profile(1)).unwrap_err();
        assert!(matches!(err, DeliveryError::PaneDied), "{err}");
    }

    #[test]
    fn without_an_input_pattern_a_changed_screen_confirms() {
        let mux = FakeMux::new(FakeAgent::default());
        let profile = Profile {
            input_pending: None,
            ..profile(0)
        };
        assert_eq!(deliver_fast(&mux, &profile).unwrap().enter_presses, 1);
    }

    #[test]
    fn an_empty_prompt_is_not_pasted() {
        let mux = FakeMux::new(FakeAgent::default());
        let err = deliver_with(&mux, &pane(), " \n", &profile(2), &FAST).unwrap_err();
        assert!(matches!(err, DeliveryError::EmptyPrompt), "{err}");
        assert!(mux.calls().is_empty());
    }
}
