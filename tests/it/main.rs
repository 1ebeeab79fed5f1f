//! The one integration-test binary: real tmux on private sockets, the real `swarm` binary.

mod common;

mod cli;
mod deliver;
mod faults;
mod run;
mod sim_agent;
mod ui;
