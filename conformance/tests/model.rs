//! Model-based properties 1 and 2: generated sequences of all 17 operations, on the in-memory
//! model and on a backend, answers and rows compared after every step.
//!
//! `CONFORMANCE_CASES` scales the number of cases; `CONFORMANCE_SEED` replays a run. Failing
//! seeds are written to the `regressions/*.proptest-regressions` files and replayed first in
//! every later run; commit them.

use convex_storage_conformance::backend::BackendKind;
use convex_storage_conformance::testing::{model_against, replay_committed};

/// Cases against the emulator by default.
const EMULATOR_CASES: u32 = 128;
/// Cases against the reference server by default: it serializes every call and is slower.
const REFERENCE_CASES: u32 = 48;
/// Cases against a real deployment by default: every call crosses the network.
const DEPLOYMENT_CASES: u32 = 8;

#[test]
fn model_against_emulator() {
    model_against(
        BackendKind::Emulator,
        EMULATOR_CASES,
        "regressions/model_vs_emulator.proptest-regressions",
    );
}

#[test]
fn model_against_reference() {
    model_against(
        BackendKind::Reference,
        REFERENCE_CASES,
        "regressions/model_vs_reference.proptest-regressions",
    );
}

#[test]
#[ignore = "needs a real Convex deployment: set CONVEX_URL and CONVEX_STORAGE_AUTH_SECRET, then run with --ignored"]
fn model_against_deployment() {
    model_against(
        BackendKind::Deployment,
        DEPLOYMENT_CASES,
        "regressions/model_vs_deployment.proptest-regressions",
    );
}

#[test]
fn committed_cases_replay_on_the_model_and_the_emulator() {
    replay_committed(&[BackendKind::Emulator]);
}

#[test]
fn committed_cases_replay_on_the_model_and_the_reference() {
    replay_committed(&[BackendKind::Reference]);
}

#[test]
#[ignore = "needs a real Convex deployment: set CONVEX_URL and CONVEX_STORAGE_AUTH_SECRET, then run with --ignored"]
fn committed_cases_replay_on_the_model_and_the_deployment() {
    replay_committed(&[BackendKind::Deployment]);
}
