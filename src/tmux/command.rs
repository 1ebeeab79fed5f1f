//! Running tmux commands on swarm's private server, each with a timeout.

/// A handle on one tmux server (`tmux -L socket`) and one session on it.
#[derive(Debug, Clone)]
pub struct Tmux {
    pub socket: String,
    pub session: String,
}
