//! `swarm attach`: put this terminal on the running swarm (or on its session on one of
//! its hosts); detaching leaves it running.

use crate::Outcome;
use crate::cli::AttachArgs;
use crate::error::BadInput;

pub fn run(args: &AttachArgs) -> anyhow::Result<Outcome> {
    let (ws, tmux, settings) = super::target_with(&args.workspace, Default::default())?;
    let Some(name) = &args.host else {
        if !tmux.server_alive() {
            return Err(
                BadInput::new(format!("no swarm is running for {}", ws.root.display()))
                    .hint("start one with `swarm run`")
                    .into(),
            );
        }
        tmux.attach()?;
        return Ok(Outcome::Success);
    };
    let remote = super::on_host::session(&ws, &tmux, &settings, name)?;
    if !remote.has_session().unwrap_or(false) {
        return Err(BadInput::new(format!(
            "no swarm session on {name} (or it cannot be reached)"
        ))
        .hint("`swarm hosts check` tells whether it answers; a run starts the session there")
        .into());
    }
    remote.attach()?;
    Ok(Outcome::Success)
}
