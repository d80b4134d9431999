//! Property 3: the same generated sequence on the emulator and the reference server, every
//! answer and the rows after every step compared with each other.

use convex_storage_conformance::backend::BackendKind;
use convex_storage_conformance::testing::differential;

/// Cases by default; each runs on both servers, and the reference server is the slow one.
const CASES: u32 = 32;

#[test]
fn emulator_against_reference() {
    differential(
        BackendKind::Emulator,
        BackendKind::Reference,
        CASES,
        "regressions/emulator_vs_reference.proptest-regressions",
    );
}
