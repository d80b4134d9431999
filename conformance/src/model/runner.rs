//! Runs a model-based or differential property with proptest, from a printed seed.
//!
//! proptest-state-machine's `prop_state_machine!` macro hides the runner; this module drives a
//! [`TestRunner`] directly instead, for three reasons: the sides (running servers, a tokio
//! runtime) must be handed to the test closure, the seed must be printed so a person can rerun
//! exactly the failing cases (`CONFORMANCE_SEED=<hex>`), and the command-line runner needs the
//! same loop without the test harness. Persisted failures (`*.proptest-regressions`) replay
//! first in every run, as with the macro.

use std::cell::RefCell;
use std::time::Duration;

use proptest::test_runner::{
    Config, FailurePersistence, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError,
    TestRng, TestRunner,
};
use proptest_state_machine::ReferenceStateMachine;

use super::harness::{run_case, Compare, RunStats};
use super::reference::ModelMachine;
use super::side::Side;

/// The environment variable that fixes the seed of a run (64 hex digits).
pub const SEED_ENV: &str = "CONFORMANCE_SEED";
/// The environment variable that scales the number of generated cases.
pub const CASES_ENV: &str = "CONFORMANCE_CASES";
/// How long shrinking a failure may take, in milliseconds; each attempt replays on real servers.
pub const SHRINK_TIME_MAX_MS: u32 = 120_000;
/// How many shrink attempts a failure may take.
pub const SHRINK_ITERS_MAX: u32 = 1_024;

/// What one property run does.
#[derive(Debug, Clone)]
pub struct PropertyConfig {
    /// How many passing cases to generate.
    pub cases: u32,
    /// Each case applies between 1 and this many transitions.
    pub steps_max: usize,
    /// The seed of the whole run.
    pub seed: [u8; 32],
    /// A proptest regression file (relative to the working directory) to replay and extend.
    pub regressions: Option<&'static str>,
    /// Which sides to compare.
    pub compare: Compare,
    /// How long shrinking a failure may take, in milliseconds ([`SHRINK_TIME_MAX_MS`] unless
    /// a caller needs a quicker answer).
    pub shrink_time_max_ms: u32,
}

/// A failed property: how to reproduce it and what went wrong in the shrunk case.
#[derive(Debug, Clone)]
pub struct PropertyFailure {
    /// The run's seed in hex.
    pub seed_hex: String,
    /// The report of the shrunk case (transitions and diff), or why the run aborted.
    pub report: String,
}

impl std::fmt::Display for PropertyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "property failed; rerun with {SEED_ENV}={}",
            self.seed_hex
        )?;
        write!(f, "{}", self.report)
    }
}

/// The seed from `CONFORMANCE_SEED`, or a fresh random one.
pub fn seed_from_env() -> [u8; 32] {
    if let Ok(hex) = std::env::var(SEED_ENV) {
        if let Some(seed) = parse_seed(&hex) {
            return seed;
        }
        panic!("{SEED_ENV} must be 64 hex digits, got {hex:?}");
    }
    rand::random()
}

/// The number of cases: `CONFORMANCE_CASES` when set, else `default`.
pub fn cases_from_env(default: u32) -> u32 {
    std::env::var(CASES_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn parse_seed(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(seed)
}

/// The seed as 64 hex digits.
pub fn seed_hex(seed: &[u8; 32]) -> String {
    seed.iter().map(|b| format!("{b:02x}")).collect()
}

/// Generates cases from the model and runs each on `sides`; stops at the first failure,
/// shrinks it and reports the smallest failing case.
pub fn run_property(
    config: &PropertyConfig,
    sides: Vec<Box<dyn Side>>,
) -> Result<RunStats, PropertyFailure> {
    let failure_persistence = config
        .regressions
        .map(|path| Box::new(FileFailurePersistence::Direct(path)) as Box<dyn FailurePersistence>);
    let proptest_config = Config {
        cases: config.cases,
        failure_persistence,
        max_shrink_time: config.shrink_time_max_ms,
        max_shrink_iters: SHRINK_ITERS_MAX,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        proptest_config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &config.seed),
    );
    let strategy = ModelMachine::sequential_strategy(1..=config.steps_max);
    let sides = RefCell::new(sides);
    let stats = RefCell::new(RunStats::default());
    let result = runner.run(&strategy, |(initial, transitions, seen)| {
        run_case(
            initial,
            &transitions,
            seen.as_ref(),
            &mut sides.borrow_mut(),
            config.compare,
            &mut stats.borrow_mut(),
        )
        .map_err(|failure| TestCaseError::fail(failure.to_string()))
    });
    let seed_hex = seed_hex(&config.seed);
    match result {
        Ok(()) => Ok(stats.into_inner()),
        Err(TestError::Fail(reason, _)) => Err(PropertyFailure {
            seed_hex,
            report: reason.to_string(),
        }),
        Err(TestError::Abort(reason)) => Err(PropertyFailure {
            seed_hex,
            report: format!("run aborted: {reason}"),
        }),
    }
}

/// Total time as a rounded duration, for progress lines.
pub fn millis(d: Duration) -> u128 {
    d.as_millis()
}
