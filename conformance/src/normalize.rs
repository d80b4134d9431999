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
//! each such number by a token before two sides are compared; their relative order is still
//! checked, because the selectors return rows in index order and result lists are compared
//! element by element.
//!
//! Within one row, the token also says how a clock value relates to the row's `updatedAt`:
//! a time clamped to `now` in the same write equals it ([`SAME_WRITE_TOKEN`]), an expiry
//! clamped to `now + 1000` in the same write is 1000 more ([`SAME_WRITE_EXPIRY_TOKEN`]). Both
//! sides agree on these relations exactly: the model's writes are 100 ms apart and a real
//! backend's at least 2 ms apart (see `model::pacing`), so values of different writes are
//! never equal, nor ever exactly 1000 ms apart in the expiry case (that would need the same
//! clock reading). This catches a store that clamps to the wrong offset or in the wrong write.

use serde_json::Value;

/// The bands are the shared test margins of the adapter's `fixtures` module.
pub use durable_execution_storage_convex::fixtures::{FUTURE_BAND_START_MS, PAST_BAND_END_MS};
/// What a clock-written timestamp becomes once tokenized.
pub const CLOCK_TOKEN: &str = "<clock>";
/// A time clamped to `now` by the same write that set the row's `updatedAt`.
pub const SAME_WRITE_TOKEN: &str = "<clock = updatedAt>";
/// An expiry clamped to `now + 1000` by the same write that set the row's `updatedAt`.
pub const SAME_WRITE_EXPIRY_TOKEN: &str = "<clock = updatedAt + 1000>";
/// What a write adds to `now` for an expiry in the past, in milliseconds (SPEC.md section 3).
const EXPIRY_CLAMP_OFFSET_MS: f64 = durable_execution_storage_convex::EXPIRY_CLAMP_OFFSET_MS as f64;

/// Fields a write clamps to `now` (insert: `startAt`, `createdAt`; update: the rest).
const NOW_FIELDS: [&str; 6] = [
    "startAt",
    "startedAt",
    "finishedAt",
    "onChildrenFinishedProcessingFinishedAt",
    "closedAt",
    "createdAt",
];
/// Fields a write clamps to `now + 1000`.
const EXPIRY_FIELDS: [&str; 3] = [
    "expiresAt",
    "onChildrenFinishedProcessingExpiresAt",
    "closeExpiresAt",
];

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
        Value::Object(map) => {
            let updated_at = map
                .get("updatedAt")
                .and_then(Value::as_f64)
                .filter(|ms| is_clock_value(*ms));
            Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let token = same_write_token(k, v, updated_at)
                            .map(|t| Value::String(t.to_string()));
                        (k.clone(), token.unwrap_or_else(|| tokenize_clock_values(v)))
                    })
                    .collect(),
            )
        }
        _ => value.clone(),
    }
}

/// The relational token of field `key` holding `value` in a row whose `updatedAt` is the
/// clock value `updated_at`, if the two were written together.
fn same_write_token(key: &str, value: &Value, updated_at: Option<f64>) -> Option<&'static str> {
    let (updated_at, ms) = (updated_at?, value.as_f64()?);
    if NOW_FIELDS.contains(&key) && ms == updated_at {
        Some(SAME_WRITE_TOKEN)
    } else if EXPIRY_FIELDS.contains(&key) && ms == updated_at + EXPIRY_CLAMP_OFFSET_MS {
        Some(SAME_WRITE_EXPIRY_TOKEN)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_write_relations_get_their_own_tokens() {
        let t = 1_764_000_000_000_i64;
        let row = json!({"updatedAt": t, "createdAt": t, "startAt": t - 3, "closedAt": t, "expiresAt": t + 1_000, "closeExpiresAt": t, "waitingForChildrenStartedAt": t});
        let expected = json!({
            "updatedAt": CLOCK_TOKEN, "createdAt": SAME_WRITE_TOKEN, "startAt": CLOCK_TOKEN, "closedAt": SAME_WRITE_TOKEN,
            "expiresAt": SAME_WRITE_EXPIRY_TOKEN, "closeExpiresAt": CLOCK_TOKEN, "waitingForChildrenStartedAt": CLOCK_TOKEN
        });
        assert_eq!(tokenize_clock_values(&row), expected);
        // A future updatedAt relates nothing.
        let row = json!({"updatedAt": FUTURE_BAND_START_MS, "createdAt": t});
        assert_eq!(
            tokenize_clock_values(&row),
            json!({"updatedAt": FUTURE_BAND_START_MS, "createdAt": CLOCK_TOKEN})
        );
    }

    #[test]
    fn only_clock_band_numbers_become_tokens() {
        let input = json!({"a": 0, "b": 7, "c": 1_764_000_000_000_i64, "d": [4_000_000_000_000_i64, 1_000_000]});
        let expected =
            json!({"a": 0, "b": 7, "c": CLOCK_TOKEN, "d": [4_000_000_000_000_i64, CLOCK_TOKEN]});
        assert_eq!(tokenize_clock_values(&input), expected);
    }
}
