//! Concurrency properties 4-6 against the emulator and the reference server.

use convex_storage_conformance::concurrency::ConcurrencyConfig;
use convex_storage_conformance::per_backend;
use convex_storage_conformance::testing::{concurrency_property, ConcurrencyProperty};

fn config() -> ConcurrencyConfig {
    ConcurrencyConfig::default()
}

macro_rules! properties {
    ($kind:expr $(, #[$attr:meta])?) => {
        #[test] $(#[$attr])? fn claims_are_exclusive() { concurrency_property($kind, ConcurrencyProperty::ClaimsAreExclusive, config()) }
        #[test] $(#[$attr])? fn decrements_are_never_lost() { concurrency_property($kind, ConcurrencyProperty::DecrementsAreNeverLost, config()) }
        #[test] $(#[$attr])? fn one_insert_wins() { concurrency_property($kind, ConcurrencyProperty::OneInsertWins, config()) }
    };
}

per_backend!(properties; emulator => Emulator, reference => Reference);
