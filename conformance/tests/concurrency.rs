//! Concurrency properties 4-6 against the emulator and the reference server.

use convex_storage_conformance::backend::BackendKind;
use convex_storage_conformance::concurrency::ConcurrencyConfig;
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

mod emulator {
    use super::*;
    properties!(BackendKind::Emulator);
}

mod reference {
    use super::*;
    properties!(BackendKind::Reference);
}

mod deployment {
    use super::*;
    properties!(
        BackendKind::Deployment,
        #[ignore = "needs a real Convex deployment: set CONVEX_URL and CONVEX_STORAGE_AUTH_SECRET, then run with --ignored"]
    );
}
