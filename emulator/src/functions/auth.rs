//! The auth check every public function does first.
//!
//! Upstream's `verifyArgs`: `if (!args?.authSecret || args.authSecret !== secret) throw`. So a
//! missing envelope, a non-object envelope, a missing, empty or non-string `authSecret`, and a
//! wrong one all fail the same way, before anything else happens. Other fields of the envelope
//! are ignored (the public functions declare no validators).

use crate::functions::FunctionError;
use crate::value::Value;

/// The thrown message for every secret problem.
pub const INVALID_AUTH_SECRET: &str = "Invalid auth secret";

/// Whether `given` is the secret, in time that depends only on the secret's length, so a
/// caller cannot learn the secret a byte at a time from how long a wrong guess takes.
pub fn secret_matches(given: &str, secret: &str) -> bool {
    let (given, secret) = (given.as_bytes(), secret.as_bytes());
    let mut difference = u8::from(given.len() != secret.len());
    for (i, expected) in secret.iter().enumerate() {
        let actual = given.get(i).copied().unwrap_or(0);
        difference |= std::hint::black_box(actual ^ expected);
    }
    difference == 0 && !secret.is_empty()
}

/// Checks the secret in `envelope` and returns its inner `args` (`None` when absent).
pub fn open_envelope(
    envelope: Option<Value>,
    secret: &str,
) -> Result<Option<Value>, FunctionError> {
    let Some(Value::Object(mut envelope)) = envelope else {
        return Err(FunctionError::Thrown(INVALID_AUTH_SECRET.to_string()));
    };
    match envelope.get("authSecret") {
        Some(Value::String(given)) if !given.is_empty() && secret_matches(given, secret) => {
            Ok(envelope.remove("args"))
        }
        _ => Err(FunctionError::Thrown(INVALID_AUTH_SECRET.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object;

    fn envelope(secret: Value) -> Option<Value> {
        Some(Value::Object(object([
            ("authSecret", secret),
            ("args", Value::Null),
        ])))
    }

    #[test]
    fn only_the_exact_secret_opens_the_envelope() {
        assert!(matches!(
            open_envelope(envelope("s3".into()), "s3"),
            Ok(Some(Value::Null))
        ));
        for bad in [
            envelope("wrong".into()),
            envelope("".into()),
            envelope(1.0.into()),
            None,
        ] {
            let err = open_envelope(bad, "s3").unwrap_err();
            assert!(matches!(err, FunctionError::Thrown(m) if m == INVALID_AUTH_SECRET));
        }
        assert!(open_envelope(Some("s3".into()), "s3").is_err());
        let no_secret = Some(Value::Object(object([("args", Value::Null)])));
        assert!(open_envelope(no_secret, "s3").is_err());
    }

    #[test]
    fn secret_matches_only_the_exact_secret() {
        assert!(secret_matches("s3cret", "s3cret"));
        for wrong in ["", "s3cre", "s3cret!", "S3cret", "s3cres", "\0"] {
            assert!(!secret_matches(wrong, "s3cret"), "{wrong:?}");
        }
        assert!(!secret_matches("", ""), "an empty secret never matches");
    }

    #[test]
    fn extra_envelope_fields_are_ignored_and_args_may_be_absent() {
        let extra = Some(Value::Object(object([
            ("authSecret", "s".into()),
            ("x", 1.0.into()),
        ])));
        assert!(matches!(open_envelope(extra, "s"), Ok(None)));
    }
}
