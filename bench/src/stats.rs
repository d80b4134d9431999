//! Latency samples and the figures printed from them.

use std::time::Duration;

use serde::Serialize;

/// The summary of one set of latency samples.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    /// How many calls were timed.
    pub calls: usize,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 90th percentile in milliseconds.
    pub p90_ms: f64,
    /// 99th percentile in milliseconds.
    pub p99_ms: f64,
    /// Calls per second over the whole run (all workers together).
    pub calls_per_s: f64,
}

/// Summarizes `samples` taken over `wall` by all workers together.
pub fn summarize(mut samples: Vec<Duration>, wall: Duration) -> LatencySummary {
    samples.sort();
    let at = |q: f64| nearest_rank(&samples, q).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    LatencySummary {
        calls: samples.len(),
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        calls_per_s: samples.len() as f64 / wall.as_secs_f64().max(1e-9),
    }
}

/// The nearest-rank percentile `q` (0 to 1) of `sorted` samples: the smallest sample with at
/// least `q` of the samples at or below it; `None` when there is no sample.
pub fn nearest_rank(sorted: &[Duration], q: f64) -> Option<Duration> {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

/// The median of a few measurements, in milliseconds.
pub fn median_ms(mut values: Vec<Duration>) -> f64 {
    values.sort();
    values[values.len() / 2].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = summarize(samples, Duration::from_secs(1));
        assert_eq!(s.calls, 100);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p90_ms, 90.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.calls_per_s, 100.0);
        assert_eq!(nearest_rank(&[], 0.5), None);
    }
}
