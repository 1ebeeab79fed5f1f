//! `swarm attach`: put this terminal on the running swarm (or on its session on one of
//! its hosts); detaching leaves it running.

use crate::Outcome;
use crate::cli::AttachArgs;
use crate::error::BadInput;
use std::sync::Arc;

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
    let config = crate::config::load(&ws.config_path())?.unwrap_or_default();
    let hosts = config.remote()?.hosts;
    let Some(host) = hosts.iter().find(|h| h.host.name == *name) else {
        let names: Vec<&str> = hosts.iter().map(|h| h.host.name.as_str()).collect();
        let hint = match names.is_empty() {
            true => "swarm.toml declares no [[hosts]]".to_string(),
            false => format!("swarm.toml's hosts are {}", names.join(", ")),
        };
        return Err(BadInput::new(format!("--host {name}: no such host"))
            .hint(hint)
            .into());
    };
    let ssh = Arc::new(crate::ssh::SystemSsh::new()?);
    let remote = crate::tmux::Tmux::new(&tmux.socket, &settings.session)
        .with_conf(settings.tmux_conf.clone())
        .over_ssh(ssh, host.host.clone());
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
