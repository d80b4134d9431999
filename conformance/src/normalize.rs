//! Time bands: how responses from a real clock and from the model's injected clock compare.
//!
//! The store rewrites timestamps with its own clock (SPEC.md section 3), so the model (whose
//! clock the harness injects) and a real backend (whose clock is the wall clock) store
//! different numbers for the same write. Every timestamp the generators supply is therefore
//! chosen from one of two bands that never meet the clock:
//!
//! - the **past** band (`0 ≤ t < PAST_BAND_END_MS`): any non-zero value is always clamped up to
//!   the store's now, and exactly `0` is never clamped (upstream guards with `if (x && x < now)`);
//! - the **future** band (`t ≥ FUTURE_BAND_START_MS`, year 2096 and later): never clamped,
//!   never stale.
//!
//! Any number between the bands was written by a store clock. [`tokenize_clock_values`] replaces
//! each such number by [`CLOCK_TOKEN`] before two sides are compared; their relative order is
//! still checked, because the selectors return rows in index order and result lists are
//! compared element by element.

use serde_json::Value;

/// Generated past-band timestamps stay below this, in milliseconds since the epoch.
pub const PAST_BAND_END_MS: i64 = 1_000_000;
/// Generated future-band timestamps start here (2096-10-02), in milliseconds since the epoch.
pub const FUTURE_BAND_START_MS: i64 = 4_000_000_000_000;
/// What a clock-written timestamp becomes once tokenized.
pub const CLOCK_TOKEN: &str = "<clock>";

/// Whether `ms` can only have come from a store's clock.
pub fn is_clock_value(ms: f64) -> bool {
    ms >= PAST_BAND_END_MS as f64 && ms < FUTURE_BAND_START_MS as f64
}

/// A copy of `value` where every number in the clock band is [`CLOCK_TOKEN`].
///
/// Only timestamps can be that large: the generators keep counts, attempts and durations far
/// below [`PAST_BAND_END_MS`].
pub fn tokenize_clock_values(value: &Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(ms) if is_clock_value(ms) => Value::String(CLOCK_TOKEN.to_string()),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(tokenize_clock_values).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), tokenize_clock_values(v)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_clock_band_numbers_become_tokens() {
        let input = json!({"a": 0, "b": 7, "c": 1_764_000_000_000_i64, "d": [4_000_000_000_000_i64, 1_000_000]});
        let expected =
            json!({"a": 0, "b": 7, "c": CLOCK_TOKEN, "d": [4_000_000_000_000_i64, CLOCK_TOKEN]});
        assert_eq!(tokenize_clock_values(&input), expected);
    }
}
