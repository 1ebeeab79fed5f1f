//! Delivering a prompt so that it arrives whole and is submitted exactly once:
//! guarded paste, wait for a stable screen, Enter, confirm.
