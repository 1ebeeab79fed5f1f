//! What tokens cost: a price per model, in dollars per million tokens, as shipped (with
//! the date they were taken) and as swarm.toml's `[prices]` table overrides them. A model
//! with no price has none: swarm shows its tokens and never guesses a cost.

use super::Tokens;
use std::collections::BTreeMap;

/// When the shipped prices were taken from the providers' price lists.
pub const PRICES_TAKEN: &str = "2025-11-24";

/// One model's prices, in dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Input read from the provider's prompt cache.
    pub cache_read: f64,
    /// Input written to the prompt cache (Anthropic charges it; OpenAI does not).
    pub cache_write: f64,
}

/// The shipped prices, by exact model id: (model, input, output, cache read, cache write).
const SHIPPED: &[(&str, f64, f64, f64, f64)] = &[
    ("claude-opus-4-5-20251101", 5.0, 25.0, 0.50, 6.25),
    ("claude-opus-4-5", 5.0, 25.0, 0.50, 6.25),
    ("claude-opus-4-1-20250805", 15.0, 75.0, 1.50, 18.75),
    ("claude-opus-4-20250514", 15.0, 75.0, 1.50, 18.75),
    ("claude-sonnet-4-5-20250929", 3.0, 15.0, 0.30, 3.75),
    ("claude-sonnet-4-5", 3.0, 15.0, 0.30, 3.75),
    ("claude-sonnet-4-20250514", 3.0, 15.0, 0.30, 3.75),
    ("claude-haiku-4-5-20251001", 1.0, 5.0, 0.10, 1.25),
    ("claude-haiku-4-5", 1.0, 5.0, 0.10, 1.25),
    ("claude-3-5-haiku-20241022", 0.80, 4.0, 0.08, 1.0),
    ("gpt-5", 1.25, 10.0, 0.125, 0.0),
    ("gpt-5-codex", 1.25, 10.0, 0.125, 0.0),
    ("gpt-5-mini", 0.25, 2.0, 0.025, 0.0),
    ("gpt-5-nano", 0.05, 0.40, 0.005, 0.0),
    ("gpt-5.1", 1.25, 10.0, 0.125, 0.0),
    ("gpt-5.1-codex", 1.25, 10.0, 0.125, 0.0),
];

/// Prices by exact model id.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices(BTreeMap<String, Price>);

impl Default for Prices {
    fn default() -> Self {
        Prices(
            SHIPPED
                .iter()
                .map(|&(model, input, output, cache_read, cache_write)| {
                    let price = Price {
                        input,
                        output,
                        cache_read,
                        cache_write,
                    };
                    (model.to_string(), price)
                })
                .collect(),
        )
    }
}

impl Prices {
    /// The shipped prices with `overrides` (swarm.toml's `[prices]`) over them.
    pub fn with(overrides: impl IntoIterator<Item = (String, Price)>) -> Prices {
        let mut prices = Prices::default();
        prices.0.extend(overrides);
        prices
    }

    /// The price of exactly `model`: a dated id and its alias are different models to
    /// this table, since providers have changed prices between versions.
    pub fn get(&self, model: &str) -> Option<&Price> {
        self.0.get(model)
    }

    /// What `tokens` of `model` cost in dollars; `None` when its price is unknown.
    pub fn cost(&self, model: &str, tokens: &Tokens) -> Option<f64> {
        let p = self.get(model)?;
        let per_million = |n: u64, price: f64| n as f64 * price / 1e6;
        Some(
            per_million(tokens.input, p.input)
                + per_million(tokens.output, p.output)
                + per_million(tokens.cache_read, p.cache_read)
                + per_million(tokens.cache_write, p.cache_write),
        )
    }
}

/// An amount of money as swarm.toml writes it: `"$20"`, `"$0.50"`, `"20"` or a number.
pub fn parse_dollars(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let digits = t.strip_prefix('$').unwrap_or(t).trim();
    match digits.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "{text:?} is not an amount of dollars\nhint: write it like \"$20\" or \"$0.50\""
        )),
    }
}

/// Dollars for people: cents above a dollar, more digits below one, so that the cost of
/// a short task does not read as nothing.
pub fn dollars(v: f64) -> String {
    if v >= 1.0 || v == 0.0 {
        format!("${v:.2}")
    } else if v >= 0.01 {
        format!("${v:.3}")
    } else {
        format!("${v:.5}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_tokens_times_the_price_per_million() {
        let prices = Prices::with([(
            "m".to_string(),
            Price {
                input: 3.0,
                output: 15.0,
                cache_read: 0.5,
                cache_write: 4.0,
            },
        )]);
        let tokens = Tokens {
            input: 1_000_000,
            output: 200_000,
            cache_read: 2_000_000,
            cache_write: 500_000,
        };
        let cost = prices.cost("m", &tokens).unwrap();
        assert!((cost - (3.0 + 3.0 + 1.0 + 2.0)).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn an_unknown_model_has_no_cost_and_no_near_match_is_taken() {
        let prices = Prices::default();
        assert!(prices.get("claude-sonnet-4-20250514").is_some());
        assert_eq!(prices.cost("claude-sonnet-4-2", &Tokens::default()), None);
        assert_eq!(prices.cost("claude-opus-5-5", &Tokens::default()), None);
    }

    #[test]
    fn an_override_replaces_the_shipped_price() {
        let mine = Price {
            input: 1.0,
            output: 1.0,
            cache_read: 1.0,
            cache_write: 1.0,
        };
        let prices = Prices::with([("gpt-5".to_string(), mine)]);
        assert_eq!(prices.get("gpt-5"), Some(&mine));
    }

    #[test]
    fn dollars_parse_with_or_without_the_sign() {
        assert_eq!(parse_dollars("$20"), Ok(20.0));
        assert_eq!(parse_dollars(" $0.50 "), Ok(0.5));
        assert_eq!(parse_dollars("2"), Ok(2.0));
        assert!(parse_dollars("twenty").unwrap_err().contains("hint"));
        assert!(parse_dollars("$-1").is_err());
        assert_eq!(dollars(12.345), "$12.35");
        assert_eq!(dollars(0.0421), "$0.042");
        assert_eq!(dollars(0.000123), "$0.00012");
    }
}
