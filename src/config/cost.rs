//! swarm.toml's money keys: `budget`, `budget_hard`, `task_budget`, and the `[prices]`
//! table of dollars per million tokens per model, read into what a run needs to count
//! and cap its cost (src/cost/).

use super::{Config, ConfigError};
use crate::cost::{Price, Prices, prices::parse_dollars};
use crate::scheduler::Budgets;
use serde::Deserialize;
use toml::Spanned;

/// An amount of dollars as written: `"$20"` or `20`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Number(f64),
    Text(String),
}

/// One `[prices.MODEL]` table: every price is asked for, so none is ever guessed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

/// What a run counts and caps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Costing {
    pub prices: Prices,
    pub budgets: Budgets,
}

impl Config {
    /// The prices (shipped ones under swarm.toml's) and the budgets.
    pub(super) fn costing(&self) -> Result<Costing, ConfigError> {
        let mut overrides = Vec::new();
        for (model, spec) in &self.prices {
            let p = spec.get_ref();
            let all = [p.input, p.output, p.cache_read, p.cache_write];
            if all.iter().any(|v| !v.is_finite() || *v < 0.0) {
                return Err(self.invalid(
                    spec.span(),
                    format!(
                        "[prices.\"{model}\"] has a negative or unreadable price\nhint: give dollars per million tokens, such as input = 3.0"
                    ),
                ));
            }
            let price = Price {
                input: p.input,
                output: p.output,
                cache_read: p.cache_read,
                cache_write: p.cache_write,
            };
            overrides.push((model.clone(), price));
        }
        Ok(Costing {
            prices: Prices::with(overrides),
            budgets: Budgets {
                run: self.amount("budget", &self.budget)?,
                hard: self.budget_hard.unwrap_or(false),
                task: self.amount("task_budget", &self.task_budget)?,
            },
        })
    }

    /// A budget key in micro-dollars.
    fn amount(
        &self,
        key: &str,
        value: &Option<Spanned<Amount>>,
    ) -> Result<Option<u64>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        let dollars = match value.get_ref() {
            Amount::Number(n) if n.is_finite() && *n >= 0.0 => Ok(*n),
            Amount::Number(n) => parse_dollars(&n.to_string()),
            Amount::Text(text) => parse_dollars(text),
        };
        match dollars {
            Ok(d) => Ok(Some((d * 1e6).round() as u64)),
            Err(why) => Err(self.invalid(value.span(), format!("{key} = {why}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn costing(text: &str) -> Result<Costing, ConfigError> {
        Config::parse(text, Path::new("swarm.toml"))?.costing()
    }

    #[test]
    fn budgets_and_prices_are_read_in_micro_dollars_and_dollars_per_million() {
        let c = costing(
            "budget = \"$20\"\nbudget_hard = true\ntask_budget = 0.5\n\n\
             [prices.\"my-model\"]\ninput = 3.0\noutput = 15.0\ncache_read = 0.3\ncache_write = 3.75\n",
        )
        .unwrap();
        assert_eq!(
            c.budgets,
            Budgets {
                run: Some(20_000_000),
                hard: true,
                task: Some(500_000),
            }
        );
        assert_eq!(c.prices.get("my-model").unwrap().cache_write, 3.75);
        assert!(c.prices.get("gpt-5").is_some(), "the shipped prices stay");
        assert_eq!(costing("").unwrap(), Costing::default());
    }

    #[test]
    fn a_bad_budget_or_a_partial_price_names_the_line() {
        let err = costing("workers = 2\nbudget = \"twenty\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("swarm.toml:2") && err.contains("hint"),
            "{err}"
        );
        let err = costing("[prices.m]\ninput = 1.0\noutput = 2.0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cache_read"),
            "every price is asked for: {err}"
        );
        let err = costing(
            "[prices.m]\ninput = -1.0\noutput = 2.0\ncache_read = 0.0\ncache_write = 0.0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("negative"), "{err}");
    }
}
