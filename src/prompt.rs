//! Turning a task into the prompt an agent receives, and deciding its sentinel file.
