//! sim_agent
