//! Reaching swarm's session on one of the workspace's `[[hosts]]` for a person's own
//! commands: `attach --host`, and `capture` and `send` of a worker that runs there.

use crate::config::Settings;
use crate::error::BadInput;
use crate::orchestrator::snapshot::Snapshot;
use crate::tmux::{PaneId, Tmux};
use crate::workspace::Workspace;
use std::sync::Arc;
use std::time::Duration;

/// How long `send` waits for its control client to the host: one ssh connection.
const LINK_WITHIN: Duration = Duration::from_secs(10);

/// swarm's tmux session on host `name`, reached over ssh (`local` gives the socket and
/// the session, the same on every host).
pub(crate) fn session(
    ws: &Workspace,
    local: &Tmux,
    settings: &Settings,
    name: &str,
) -> anyhow::Result<Tmux> {
    let config = crate::config::load(&ws.config_path())?.unwrap_or_default();
    let hosts = config.remote()?.hosts;
    let Some(host) = hosts.iter().find(|h| h.host.name == name) else {
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
    Ok(Tmux::new(&local.socket, &settings.session)
        .with_conf(settings.tmux_conf.clone())
        .over_ssh(ssh, host.host.clone()))
}

/// A worker that the orchestrator's snapshot places on a host.
pub(crate) struct Remote {
    pub host: String,
    /// Its pane on that host's server (`%N`).
    pub pane: PaneId,
    /// The profile its agent runs.
    pub profile: String,
}

/// Worker `id`, when the snapshot says it runs on another host; None when it runs here
/// or the snapshot does not know it.
pub(crate) fn worker(ws: &Workspace, id: usize) -> anyhow::Result<Option<Remote>> {
    let Some(snapshot) = Snapshot::read(&ws.state_path())? else {
        return Ok(None);
    };
    let Some(row) = snapshot.workers.iter().find(|w| w.id == id) else {
        return Ok(None);
    };
    let Some(host) = row.host.clone() else {
        return Ok(None);
    };
    let Some(pane) = &row.pane else {
        anyhow::bail!("w{id} on {host} has no pane right now (its agent is being replaced)");
    };
    // The fleet names a remote pane `host:%N`.
    let pane = pane.rsplit(':').next().unwrap_or(pane);
    Ok(Some(Remote {
        host,
        pane: PaneId(pane.to_owned()),
        profile: row.profile.clone(),
    }))
}

/// The host's session with a control client of its own: a paste to a host goes over a
/// control link only, never over an exec channel that a dropped ssh would cut short
/// (docs/multihost.md). The client ends with the handle.
pub(crate) fn linked(remote: Tmux, host: &str) -> anyhow::Result<Tmux> {
    let (linked, _news) = remote.linked();
    if !linked.await_link(LINK_WITHIN) {
        anyhow::bail!("{host} did not answer within {LINK_WITHIN:?}; nothing was sent");
    }
    Ok(linked)
}
