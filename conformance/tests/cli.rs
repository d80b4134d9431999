//! The command-line runner against an emulator: a passing run exits 0 with the table, a run
//! with the wrong secret exits non-zero. The runner is the process under test; the emulator it
//! checks is served inside this test process.

use std::process::Command;

use convex_storage_testkit::{EmulatorDb, InProcessEmulator};

const SECRET: &str = "cli-test-secret";

fn run(url: &str, secret: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_convex-storage-conformance"))
        .args(["--url", url, "--auth-secret", secret, "--cases", "4"])
        .env_remove("CONFORMANCE_CASES")
        .env_remove("CONFORMANCE_SEED")
        .output()
        .expect("the runner starts");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn a_conforming_emulator_passes_with_a_per_operation_table() {
    let server =
        InProcessEmulator::start(SECRET, &EmulatorDb::Memory).expect("the emulator starts");
    let (ok, stdout) = run(server.url(), SECRET);
    assert!(ok, "the runner failed:\n{stdout}");
    for name in [
        "insertMany",
        "updateAndDecrementParentACCByIsFinishedAndCloseStatus",
        "deleteAll",
    ] {
        assert!(stdout.contains(name), "the table lacks {name}:\n{stdout}");
    }
    assert!(
        stdout.contains("scenarios inserts") && stdout.trim_end().ends_with("PASS"),
        "{stdout}"
    );
}

#[test]
fn a_wrong_secret_fails_the_run() {
    let server =
        InProcessEmulator::start(SECRET, &EmulatorDb::Memory).expect("the emulator starts");
    let (ok, stdout) = run(server.url(), "not-the-secret");
    assert!(!ok, "the runner passed with a wrong secret:\n{stdout}");
    assert!(
        stdout.contains("Invalid auth secret") && stdout.trim_end().ends_with("FAIL"),
        "{stdout}"
    );
}
