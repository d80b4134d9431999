//! Committed differential cases: sequences of transitions replayed in every run.
//!
//! proptest's own regression files store seeds, which replay the same case only while the
//! generators stay the same. This file stores the transitions themselves, so a case found
//! once keeps replaying after the generators change. A failure report prints the JSON to add.

use serde::{Deserialize, Serialize};

use super::harness::{run_case, CaseFailure, Compare, RunStats};
use super::reference::ModelState;
use super::side::Side;
use super::transition::Transition;

/// The file of committed cases, relative to the crate root.
pub const DIFFERENTIAL_CASES_PATH: &str = "regressions/differential.json";

/// One committed case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayCase {
    /// A short name for reports.
    pub name: String,
    /// What the case caught or checks, and which side was wrong.
    pub note: String,
    /// The transitions, applied from an empty store.
    pub transitions: Vec<Transition>,
}

/// The committed cases of `json` (the content of [`DIFFERENTIAL_CASES_PATH`]).
pub fn parse_cases(json: &str) -> Result<Vec<ReplayCase>, serde_json::Error> {
    serde_json::from_str(json)
}

/// Replays every case on the model and `sides`; returns the failures by case name.
pub fn replay_cases(
    cases: &[ReplayCase],
    sides: &mut [Box<dyn Side>],
    stats: &mut RunStats,
) -> Vec<(String, CaseFailure)> {
    let mut failures = Vec::new();
    for case in cases {
        if let Err(failure) = run_case(
            ModelState::new(),
            &case.transitions,
            None,
            sides,
            Compare::ModelAgainstSides,
            stats,
        ) {
            failures.push((case.name.clone(), failure));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::strategy::{transition, Shape};
    use proptest::prelude::*;

    #[test]
    fn committed_cases_parse_and_name_uniquely() {
        let cases =
            parse_cases(crate::suite::COMMITTED_CASES_JSON).expect("the committed file parses");
        assert!(!cases.is_empty());
        let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), cases.len(), "case names are unique");
    }

    proptest! {
        /// A printed failing sequence must replay exactly: JSON round trip of any transition.
        #[test]
        fn transitions_round_trip_through_json(t in transition(&Shape::default())) {
            let json = serde_json::to_string(&t).unwrap();
            let back: Transition = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, t);
        }
    }
}
