//! The one integration-test binary: real tmux on private sockets, the real `swarm` binary.

mod common;

mod cli;
mod control;
mod deliver;
mod faults;
mod hostile;
mod hosts;
mod human;
mod land;
mod mcp;
mod notify;
mod plan_graph;
mod primitives;
mod real_agents;
mod remote_faults;
mod remote_logs;
mod remote_run;
mod remote_tmux;
mod remote_ws;
mod run;
mod sim_agent;
mod ui;
