//! `swarm profiles`: which agents swarm knows how to drive, and exactly how (as TOML).

use crate::Outcome;
use crate::agent::{self, ProfileSpec};
use crate::cli::{ProfilesArgs, ProfilesCommand};
use crate::config;
use crate::workspace::Workspace;
use std::collections::BTreeMap;

pub fn run(args: &ProfilesArgs) -> anyhow::Result<Outcome> {
    let user = user_profiles(args)?;
    match &args.show {
        Some(ProfilesCommand::Show { name }) => {
            let spec = agent::resolve_spec(name, &user)?;
            // Compiling checks the regexes, so that `show` never prints a broken profile.
            agent::resolve_profile(name, &user)?;
            print!("{}", to_toml(name, &spec)?);
        }
        None if args.json => {
            let list = names(&user)
                .iter()
                .map(|name| {
                    let profile = agent::resolve_profile(name, &user)?;
                    Ok(serde_json::json!({
                        "name": profile.name,
                        "description": profile.description,
                        "verified": profile.verified,
                        "command": profile.command,
                    }))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        None => {
            let names = names(&user);
            let width = names.iter().map(String::len).max().unwrap_or(0);
            for name in &names {
                let profile = agent::resolve_profile(name, &user)?;
                let verified = match &profile.verified {
                    Some(note) => format!("verified: {note}"),
                    None => "unverified".to_owned(),
                };
                println!("{name:width$}  {}  ({verified})", profile.description);
            }
        }
    }
    Ok(Outcome::Success)
}

/// The `[profiles.NAME]` tables of the swarm.toml beside the plan, if there is one.
fn user_profiles(args: &ProfilesArgs) -> anyhow::Result<BTreeMap<String, ProfileSpec>> {
    let Ok(ws) = Workspace::locate(&args.plan) else {
        return Ok(BTreeMap::new());
    };
    Ok(config::load(&ws.config_path())?
        .map(|config| config.profiles)
        .unwrap_or_default())
}

/// Built-in names and the user's, sorted, each once.
pub(super) fn names(user: &BTreeMap<String, ProfileSpec>) -> Vec<String> {
    let mut names: Vec<String> = agent::builtin_names()
        .into_iter()
        .map(String::from)
        .collect();
    names.extend(user.keys().cloned());
    names.sort();
    names.dedup();
    names
}

/// The profile as a `[profiles.NAME]` table that swarm.toml accepts as it is.
fn to_toml(name: &str, spec: &ProfileSpec) -> anyhow::Result<String> {
    let table = BTreeMap::from([(
        "profiles".to_owned(),
        BTreeMap::from([(name.to_owned(), spec)]),
    )]);
    Ok(toml::to_string(&table)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_toml_reads_back_as_the_same_profile() {
        for name in agent::builtin_names() {
            let spec = agent::resolve_spec(name, &BTreeMap::new()).unwrap();
            let text = to_toml(name, &spec).unwrap();
            let config = config::Config::parse(&text, "swarm.toml".as_ref())
                .unwrap_or_else(|err| panic!("{name}: {err}\n{text}"));
            let again = agent::resolve_profile(name, &config.profiles).unwrap();
            let builtin = agent::builtin(name).unwrap();
            assert_eq!(again.command, builtin.command, "{name}");
            assert_eq!(again.ready.as_str(), builtin.ready.as_str(), "{name}");
            assert_eq!(again.verified, builtin.verified, "{name}");
            assert_eq!(again.foreground, builtin.foreground, "{name}");
        }
    }
}
