//! Every scenario family against every backend; one test per (backend, family), each on a
//! fresh store. Deployment tests are ignored unless run with `--ignored` (see the reason).

use convex_storage_conformance::operation::Operation;
use convex_storage_conformance::per_backend;
use convex_storage_conformance::scenarios::{self, Family};
use convex_storage_conformance::testing::scenario_family;

macro_rules! families {
    ($kind:expr $(, #[$attr:meta])?) => {
        #[test] $(#[$attr])? fn inserts() { scenario_family($kind, Family::Inserts) }
        #[test] $(#[$attr])? fn reads() { scenario_family($kind, Family::Reads) }
        #[test] $(#[$attr])? fn updates() { scenario_family($kind, Family::Updates) }
        #[test] $(#[$attr])? fn claims() { scenario_family($kind, Family::Claims) }
        #[test] $(#[$attr])? fn expiries() { scenario_family($kind, Family::Expiries) }
        #[test] $(#[$attr])? fn children() { scenario_family($kind, Family::Children) }
        #[test] $(#[$attr])? fn decrement() { scenario_family($kind, Family::Decrement) }
        #[test] $(#[$attr])? fn deletes() { scenario_family($kind, Family::Deletes) }
        #[test] $(#[$attr])? fn shards() { scenario_family($kind, Family::Shards) }
        #[test] $(#[$attr])? fn clock() { scenario_family($kind, Family::Clock) }
        #[test] $(#[$attr])? fn auth() { scenario_family($kind, Family::Auth) }
        #[test] $(#[$attr])? fn limits() { scenario_family($kind, Family::Limits) }
    };
}

per_backend!(families; memory => Memory, emulator => Emulator, reference => Reference);

#[test]
fn every_operation_has_a_scenario_and_names_are_unique() {
    let all = scenarios::all();
    for op in Operation::ALL {
        assert!(
            all.iter().any(|s| s.operations.contains(&op)),
            "no scenario checks {op}"
        );
    }
    let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "scenario names must be unique");
    for family in Family::ALL {
        assert!(
            !scenarios::of_family(family).is_empty(),
            "family {} is empty",
            family.name()
        );
    }
}
