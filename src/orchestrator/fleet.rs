//! One `Mux` over this machine's tmux server and one per other host: a remote pane's id
//! is `host:%N` (tmux ids are only unique per server), and every call goes to the server
//! the pane or window lives on (docs/multihost.md).

use crate::tmux::{Mux, PaneId, PaneInfo, PasteOutcome, SpawnSpec, Spawned, TmuxError};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// This machine's multiplexer and the other hosts', by host name.
pub struct Fleet {
    local: Arc<dyn Mux>,
    hosts: Vec<(String, Arc<dyn Mux>)>,
}

impl Fleet {
    pub fn new(local: Arc<dyn Mux>, hosts: Vec<(String, Arc<dyn Mux>)>) -> Fleet {
        Fleet { local, hosts }
    }

    /// The host part of a pane or window id (`h1:%3` → `h1`), if it has one.
    #[cfg(test)]
    pub fn host_of(id: &str) -> Option<&str> {
        id.split_once(':').map(|(host, _)| host)
    }

    /// The multiplexer `id` lives on, and the id as that server knows it.
    fn route<'a>(&'a self, id: &'a str) -> Result<(&'a dyn Mux, &'a str), TmuxError> {
        match id.split_once(':') {
            None => Ok((&*self.local, id)),
            Some((host, local)) => Ok((self.host(host)?, local)),
        }
    }

    fn host(&self, host: &str) -> Result<&dyn Mux, TmuxError> {
        self.hosts
            .iter()
            .find(|(name, _)| name == host)
            .map(|(_, mux)| &**mux)
            .ok_or_else(|| TmuxError::Invalid(format!("no host `{host}` in this run")))
    }

    fn pane<'a>(&'a self, pane: &'a PaneId) -> Result<(&'a dyn Mux, PaneId), TmuxError> {
        let (mux, id) = self.route(&pane.0)?;
        Ok((mux, PaneId(id.to_owned())))
    }
}

/// `id` as the coordinator names it: prefixed with its host, if it has one.
fn qualified(host: Option<&str>, id: &str) -> String {
    match host {
        Some(host) => format!("{host}:{id}"),
        None => id.to_owned(),
    }
}

impl Mux for Fleet {
    fn spawn(&self, spec: &SpawnSpec) -> Result<Spawned, TmuxError> {
        let (mux, host) = match &spec.host {
            None => (&*self.local, None),
            Some(host) => (self.host(host)?, Some(host.as_str())),
        };
        let mut spec = spec.clone();
        spec.window = match spec.window.as_deref() {
            Some(window) => Some(self.route(window)?.1.to_owned()),
            None => None,
        };
        let spawned = mux.spawn(&spec)?;
        Ok(Spawned {
            pane: PaneId(qualified(host, &spawned.pane.0)),
            window: qualified(host, &spawned.window),
        })
    }

    fn paste(&self, pane: &PaneId, text: &str) -> Result<PasteOutcome, TmuxError> {
        let (mux, pane) = self.pane(pane)?;
        mux.paste(&pane, text)
    }

    fn pasted_last(&self, pane: &PaneId, text: &str) -> Result<bool, TmuxError> {
        let (mux, pane) = self.pane(pane)?;
        mux.pasted_last(&pane, text)
    }

    fn host_silent(&self, pane: &PaneId) {
        if let Ok((mux, pane)) = self.pane(pane) {
            mux.host_silent(&pane);
        }
    }

    fn send_key(&self, pane: &PaneId, key: &str) -> Result<(), TmuxError> {
        let (mux, pane) = self.pane(pane)?;
        mux.send_key(&pane, key)
    }

    fn send_text(&self, pane: &PaneId, text: &str) -> Result<(), TmuxError> {
        let (mux, pane) = self.pane(pane)?;
        mux.send_text(&pane, text)
    }

    fn capture(&self, pane: &PaneId) -> Result<String, TmuxError> {
        let (mux, pane) = self.pane(pane)?;
        mux.capture(&pane)
    }

    /// This machine's panes, and those of every host that answers. A host that does not
    /// is left out: its panes are not dead, only out of sight, and its link says so.
    fn panes(&self) -> Result<Vec<PaneInfo>, TmuxError> {
        let mut all = self.local.panes()?;
        for (host, mux) in &self.hosts {
            let Ok(panes) = mux.panes() else { continue };
            all.extend(panes.into_iter().map(|mut info| {
                info.id = PaneId(qualified(Some(host), &info.id.0));
                info.window = qualified(Some(host), &info.window);
                info
            }));
        }
        Ok(all)
    }

    fn set_label(&self, pane: &PaneId, label: &str) -> Result<(), TmuxError> {
        let (mux, pane) = self.pane(pane)?;
        mux.set_label(&pane, label)
    }

    fn kill_pane(&self, pane: &PaneId) -> Result<(), TmuxError> {
        let (mux, pane) = self.pane(pane)?;
        mux.kill_pane(&pane)
    }

    /// People are attached to this machine's server.
    fn alert(&self, text: &str) -> Result<(), TmuxError> {
        self.local.alert(text)
    }

    /// A remote pane's `log` is a path on its host (src/orchestrator/transcripts.rs).
    fn transcript(&self, pane: &PaneId, log: Option<&Path>) -> Result<(), TmuxError> {
        let (mux, pane) = self.pane(pane)?;
        mux.transcript(&pane, log)
    }

    fn opening(&self, pane: &PaneId) -> Result<String, TmuxError> {
        let (mux, pane) = self.pane(pane)?;
        mux.opening(&pane)
    }

    fn output_count(&self, pane: &PaneId) -> Option<u64> {
        let (mux, pane) = self.pane(pane).ok()?;
        mux.output_count(&pane)
    }

    fn await_output(&self, pane: &PaneId, seen: u64, timeout: Duration) -> Option<u64> {
        let (mux, pane) = self.pane(pane).ok()?;
        mux.await_output(&pane, seen, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tmux::fake::FakeMux;
    use std::collections::BTreeMap;

    fn spec(host: Option<&str>, window: Option<String>) -> SpawnSpec {
        SpawnSpec {
            window,
            window_name: "workers-1".into(),
            label: "w0".into(),
            profile: "fake".into(),
            argv: vec!["agent".into()],
            cwd: std::env::temp_dir(),
            env: BTreeMap::new(),
            host: host.map(str::to_owned),
        }
    }

    #[test]
    fn each_call_goes_to_the_server_the_pane_lives_on() {
        let (local, h1) = (Arc::new(FakeMux::new()), Arc::new(FakeMux::new()));
        let fleet = Fleet::new(local.clone(), vec![("h1".into(), h1.clone())]);
        let here = fleet.spawn(&spec(None, None)).unwrap();
        let there = fleet.spawn(&spec(Some("h1"), None)).unwrap();
        assert!(!here.pane.0.contains(':'));
        assert_eq!(Fleet::host_of(&there.pane.0), Some("h1"));
        assert_eq!(Fleet::host_of(&there.window), Some("h1"));
        // Both servers number their first pane alike; the fleet tells them apart.
        assert_ne!(here.pane, there.pane);

        fleet.paste(&there.pane, "for h1").unwrap();
        fleet.send_key(&there.pane, "Enter").unwrap();
        assert_eq!(
            h1.world().panes.values().next().unwrap().prompts,
            vec!["for h1".to_string()]
        );
        assert!(
            local
                .world()
                .panes
                .values()
                .next()
                .unwrap()
                .prompts
                .is_empty()
        );

        // A split of a remote window goes to that host, named as that host knows it.
        let second = fleet
            .spawn(&spec(Some("h1"), Some(there.window.clone())))
            .unwrap();
        assert_eq!(second.window, there.window);
        let ids: Vec<String> = fleet.panes().unwrap().into_iter().map(|p| p.id.0).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(ids.contains(&there.pane.0) && ids.contains(&second.pane.0));
    }

    #[test]
    fn a_pane_of_an_unknown_host_is_an_error_not_a_local_pane() {
        let fleet = Fleet::new(Arc::new(FakeMux::new()), Vec::new());
        let err = fleet.capture(&PaneId("h9:%1".into())).unwrap_err();
        assert!(err.to_string().contains("h9"), "{err}");
    }
}
