//! JavaScript's number-to-string conversion, for lock keys.
//!
//! Upstream builds lock keys with template strings (`` `..._${shard}_${status}` ``), so a shard
//! of `3` becomes `"3"` (not `"3.0"`), `1e21` becomes `"1e+21"`, and `-0` becomes `"0"`. This
//! implements ECMAScript's `Number::toString` (radix 10) on top of Rust's shortest round-trip
//! digits, which are the same digits JavaScript picks.

/// Formats `x` exactly as JavaScript's `String(x)` does.
pub fn number_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // `{:e}` gives the shortest digits that round-trip: "d.ddde<exp>".
    let formatted = format!("{:e}", x.abs());
    let (mantissa, exponent) = formatted
        .split_once('e')
        .expect("LowerExp always has an 'e'");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i32 = exponent.parse().expect("LowerExp exponent is an integer");
    let k = digits.len() as i32;
    // JavaScript's n: the value is 0.digits × 10^n.
    let n = exponent + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e_sign = if e >= 0 { "+" } else { "-" };
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!("{first}{fraction}e{e_sign}{}", e.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::number_to_string as s;

    #[test]
    fn matches_javascript() {
        assert_eq!(s(0.0), "0");
        assert_eq!(s(-0.0), "0");
        assert_eq!(s(3.0), "3");
        assert_eq!(s(-3.0), "-3");
        assert_eq!(s(1.5), "1.5");
        assert_eq!(s(0.1), "0.1");
        assert_eq!(s(123456789.125), "123456789.125");
        assert_eq!(s(1e21), "1e+21");
        assert_eq!(s(1e20), "100000000000000000000");
        assert_eq!(s(123e18), "123000000000000000000");
        assert_eq!(s(1.5e21), "1.5e+21");
        assert_eq!(s(1e-6), "0.000001");
        assert_eq!(s(1e-7), "1e-7");
        assert_eq!(s(1.25e-7), "1.25e-7");
        assert_eq!(s(f64::NAN), "NaN");
        assert_eq!(s(f64::INFINITY), "Infinity");
        assert_eq!(s(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(s(5e-324), "5e-324");
        assert_eq!(s(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(s(1732646400123.4568), "1732646400123.4568");
    }
}
