//! The ssh command line: swarm's options, the person's, the destination, and the remote
//! command as one string quoted for the remote shell (OpenSSH sends a single string).

use super::Host;
use super::control_path::ControlPath;

/// The options swarm gives every ssh call, before the person's own: with ssh the first
/// value of an option wins, so `ssh_options` and `~/.ssh/config` cannot change these.
/// Host-key checking is left as the person set it, never weakened.
pub const OPTIONS: &[&str] = &[
    // Never a password or passphrase prompt: a prompt would hang a worker's call.
    "BatchMode=yes",
    "ConnectTimeout=5",
    // A silent host is noticed after 15 s even while nothing is sent.
    "ServerAliveInterval=5",
    "ServerAliveCountMax=3",
    // One TCP connection per host, shared by every call, kept 60 s after the last.
    "ControlMaster=auto",
    "ControlPersist=60",
];

/// The arguments after `ssh` that run `remote` on `host` over the master at `control`.
pub fn ssh_argv(host: &Host, control: &ControlPath, remote: &[&str]) -> Vec<String> {
    // No remote terminal: output is read as text, and stdin is not a person.
    argv_with(host, control, "-T", remote)
}

/// Like [`ssh_argv`], with a terminal on the host (`-t`): for a person's `tmux attach`.
pub fn ssh_terminal_argv(host: &Host, control: &ControlPath, remote: &[&str]) -> Vec<String> {
    argv_with(host, control, "-t", remote)
}

fn argv_with(host: &Host, control: &ControlPath, terminal: &str, remote: &[&str]) -> Vec<String> {
    let mut argv = option_argv(host, control, terminal);
    argv.push("--".to_owned());
    argv.push(host.dest.clone());
    argv.push(remote_command(remote));
    argv
}

/// swarm's options, the person's, and `terminal` (`-T` or `-t`): everything before the
/// destination.
fn option_argv(host: &Host, control: &ControlPath, terminal: &str) -> Vec<String> {
    let mut argv = Vec::with_capacity(OPTIONS.len() * 2 + host.options.len() + 6);
    for option in OPTIONS {
        argv.push("-o".to_owned());
        argv.push((*option).to_owned());
    }
    argv.push("-o".to_owned());
    argv.push(format!("ControlPath={}", control.pattern()));
    argv.extend(host.options.iter().cloned());
    argv.push(terminal.to_owned());
    argv
}

/// `program` and the options of [`ssh_argv`] as one shell line, for `GIT_SSH_COMMAND`: git
/// adds the destination and its own command, so a push or fetch shares the host's master
/// and is held to the same options (BatchMode, the person's host-key checking).
pub fn git_ssh_command(program: &str, host: &Host, control: &ControlPath) -> String {
    // No remote terminal: git speaks its protocol over ssh's pipes.
    let argv = option_argv(host, control, "-T");
    let mut words: Vec<&str> = vec![program];
    words.extend(argv.iter().map(String::as_str));
    shell_words::join(words)
}

/// The arguments after `ssh` that ask the master for `host` to do `op` (`exit`, `check`).
/// The person's options are passed too: they can change the host name, port or user that
/// the socket's name `%C` is a hash of.
pub fn master_argv(host: &Host, control: &ControlPath, op: &str) -> Vec<String> {
    let mut argv = vec![
        "-o".to_owned(),
        format!("ControlPath={}", control.pattern()),
    ];
    argv.extend(host.options.iter().cloned());
    argv.extend([
        "-O".to_owned(),
        op.to_owned(),
        "--".to_owned(),
        host.dest.clone(),
    ]);
    argv
}

/// `argv` as one line for the remote shell, each word quoted so that it arrives as it is.
pub fn remote_command(argv: &[&str]) -> String {
    shell_words::join(argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn each_remote_word_arrives_as_it_is() {
        let words = [
            "printf",
            "%s\\n",
            "it's",
            "$HOME",
            "a b",
            "; rm -rf /",
            "`id`",
            "",
            "é",
        ];
        let line = remote_command(&words);
        // What a POSIX shell on the host splits the line back into.
        assert_eq!(shell_words::split(&line).unwrap(), words);
        assert!(
            !line.contains("; rm") || line.contains("'; rm -rf /'"),
            "{line}"
        );
    }

    #[test]
    fn swarm_options_come_first_and_the_destination_after_the_end_of_flags() {
        let host = Host::new("gpu1", "alice@gpu1", vec!["-F".into(), "/cfg".into()]).unwrap();
        let control = ControlPath::at(Path::new("/run/user/0/swarm"));
        let argv = ssh_argv(&host, &control, &["tmux", "-V"]);
        assert_eq!(&argv[..2], ["-o", "BatchMode=yes"]);
        let f = argv.iter().position(|a| a == "-F").unwrap();
        let cp = argv
            .iter()
            .position(|a| a == "ControlPath=/run/user/0/swarm/cm-%C")
            .unwrap();
        assert!(cp < f, "{argv:?}");
        assert_eq!(&argv[argv.len() - 3..], ["--", "alice@gpu1", "tmux -V"]);
        assert!(!argv.iter().any(|a| a.contains("StrictHostKeyChecking")));
        assert_eq!(argv[argv.len() - 4], "-T");
        let attach = ssh_terminal_argv(&host, &control, &["tmux", "attach"]);
        assert_eq!(
            &attach[attach.len() - 4..],
            ["-t", "--", "alice@gpu1", "tmux attach"]
        );
    }

    #[test]
    fn gits_ssh_command_has_the_same_options_and_leaves_the_destination_to_git() {
        let host = Host::new("gpu1", "gpu1", vec!["-F".into(), "/my cfg".into()]).unwrap();
        let control = ControlPath::at(Path::new("/run/user/0/swarm"));
        let line = git_ssh_command("/usr/bin/ssh", &host, &control);
        let words = shell_words::split(&line).unwrap();
        assert_eq!(words[0], "/usr/bin/ssh");
        assert_eq!(
            words[1..],
            ssh_argv(&host, &control, &["x"])[..words.len() - 1]
        );
        assert_eq!(words.last().unwrap(), "-T");
        assert!(words.contains(&"/my cfg".to_owned()), "{line}");
    }
}
