//! The bodies of the cargo tests, so that each test file is a table of one-liners.
//!
//! Each function starts its own backend(s) (a fresh store per test group), runs one group and
//! panics with a readable report when something failed.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::backend::{model_side_storage, Backend, BackendKind};
use crate::concurrency::{self, ConcurrencyConfig};
use crate::model::harness::{Compare, RunStats};
use crate::model::replay::replay_cases;
use crate::model::runner::{
    cases_from_env, run_property, seed_from_env, seed_hex, PropertyConfig, SHRINK_TIME_MAX_MS,
};
use crate::model::side::{BackendSide, Side};
use crate::scenarios::{self, Family, Verdict};
use crate::suite::committed_cases;

/// Transitions per generated case, at most, in the cargo tests (model-based, differential and
/// mutant runs): long enough to reach claims of children and sweeps, short enough to shrink.
pub const STEPS_MAX: usize = 32;

/// Why deployment tests are ignored by default, and how to run them.
pub const DEPLOYMENT_IGNORE_REASON: &str =
    "needs a real Convex deployment: set CONVEX_URL and CONVEX_STORAGE_AUTH_SECRET, then `cargo test -p convex-storage-conformance -- --ignored`";

/// Expands a table of tests (a macro taking a `BackendKind` and optional test attributes) once
/// per backend named, each in a module of its own, and once more in `mod deployment`, ignored
/// unless run with `--ignored` since it needs a real deployment.
#[macro_export]
macro_rules! per_backend {
    ($tests:ident; $($module:ident => $kind:ident),+ $(,)?) => {
        $(
            mod $module {
                use super::*;
                $tests!($crate::backend::BackendKind::$kind);
            }
        )+
        mod deployment {
            use super::*;
            $tests!(
                $crate::backend::BackendKind::Deployment,
                #[ignore = "needs a real Convex deployment: set CONVEX_URL and CONVEX_STORAGE_AUTH_SECRET, then run with --ignored"]
            );
        }
    };
}

/// A shared deployment runs one test group at a time (tests of one binary run in parallel).
pub fn deployment_guard(kind: BackendKind) -> Option<MutexGuard<'static, ()>> {
    static DEPLOYMENT: Mutex<()> = Mutex::new(());
    (kind == BackendKind::Deployment).then(|| DEPLOYMENT.lock().unwrap_or_else(|p| p.into_inner()))
}

fn start(kind: BackendKind) -> Backend {
    Backend::start(kind).unwrap_or_else(|e| panic!("{e}"))
}

fn runtime() -> Arc<tokio::runtime::Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime builds"),
    )
}

/// Runs one family of scenarios on a fresh backend of `kind`.
pub fn scenario_family(kind: BackendKind, family: Family) {
    let _guard = deployment_guard(kind);
    let backend = start(kind);
    let list = scenarios::of_family(family);
    let outcomes = runtime().block_on(scenarios::run_all(&backend, &list));
    let mut failures = String::new();
    for o in &outcomes {
        match &o.verdict {
            Verdict::Passed => eprintln!("pass  {} ({} ms)", o.name, o.took.as_millis()),
            Verdict::Skipped(reason) => eprintln!("skip  {}: {reason}", o.name),
            Verdict::Failed(message) => {
                eprintln!("FAIL  {}", o.name);
                failures.push_str(&format!(
                    "\n--- {} on {} ---\n{message}\n",
                    o.name,
                    kind.name()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "scenarios of {} failed on {}:{failures}",
        family.name(),
        kind.name()
    );
}

/// A side of `kind` for the model-based and differential runs.
fn side(backend: &Backend, runtime: &Arc<tokio::runtime::Runtime>) -> Box<dyn Side> {
    let storages = model_side_storage(backend).unwrap_or_else(|e| panic!("{e}"));
    Box::new(
        BackendSide::new(backend.name(), storages, runtime.clone())
            .on_clock(backend.clock().clone()),
    )
}

fn report(stats: &RunStats, what: &str) {
    eprintln!(
        "{what}: {} cases, {} steps, {} ms paused for staleness",
        stats.cases,
        stats.steps,
        stats.waited.as_millis()
    );
    for (op, (calls, time)) in &stats.per_operation {
        let effective = stats.effective.get(op).copied().unwrap_or(0);
        eprintln!(
            "  {:<56} {calls:>5} calls {effective:>5} effective {:>6} ms",
            op.name(),
            time.as_millis()
        );
    }
}

/// Property 1 and 2: generated sequences on the model and on `kind`.
pub fn model_against(kind: BackendKind, default_cases: u32, regressions: &'static str) {
    generated(
        Compare::ModelAgainstSides,
        &[kind],
        default_cases,
        regressions,
    );
}

/// Property 3: generated sequences on two backends, compared with each other.
pub fn differential(
    left: BackendKind,
    right: BackendKind,
    default_cases: u32,
    regressions: &'static str,
) {
    let kinds = [left, right];
    generated(
        Compare::SidesAgainstFirst,
        &kinds,
        default_cases,
        regressions,
    );
}

/// Runs generated sequences on fresh backends of `kinds`, one side each: `default_cases`
/// cases (scaled by the environment) of up to [`STEPS_MAX`] steps, after the committed failures
/// in `regressions`. Reports the figures, or panics with the failing case.
fn generated(
    compare: Compare,
    kinds: &[BackendKind],
    default_cases: u32,
    regressions: &'static str,
) {
    let _guard = kinds.iter().find_map(|k| deployment_guard(*k));
    let backends: Vec<Backend> = kinds.iter().map(|k| start(*k)).collect();
    let runtime = runtime();
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    let what = match compare {
        Compare::ModelAgainstSides => format!("model vs {}", names.join(", ")),
        Compare::SidesAgainstFirst => names.join(" vs "),
    };
    let config = PropertyConfig {
        cases: cases_from_env(default_cases),
        steps_max: STEPS_MAX,
        seed: seed_from_env(),
        regressions: Some(regressions),
        compare,
        shrink_time_max_ms: SHRINK_TIME_MAX_MS,
    };
    eprintln!("seed {}", seed_hex(&config.seed));
    let sides = backends.iter().map(|b| side(b, &runtime)).collect();
    match run_property(&config, sides) {
        Ok(stats) => report(&stats, &what),
        Err(failure) => panic!("{what}: {failure}"),
    }
}

/// Replays the committed differential cases on the model and every backend of `kinds`.
pub fn replay_committed(kinds: &[BackendKind]) {
    let _guard = kinds.iter().find_map(|k| deployment_guard(*k));
    let backends: Vec<Backend> = kinds.iter().map(|k| start(*k)).collect();
    let runtime = runtime();
    let mut sides: Vec<Box<dyn Side>> = backends.iter().map(|b| side(b, &runtime)).collect();
    let cases = committed_cases();
    let mut stats = RunStats::default();
    let failures = replay_cases(&cases, &mut sides, &mut stats);
    report(&stats, "committed cases");
    let text: String = failures
        .iter()
        .map(|(name, f)| format!("\n--- {name} ---\n{f}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} committed cases failed:{text}",
        failures.len(),
        cases.len()
    );
}

/// The concurrency properties, by name.
#[derive(Debug, Clone, Copy)]
pub enum ConcurrencyProperty {
    ClaimsAreExclusive,
    DecrementsAreNeverLost,
    OneInsertWins,
}

/// Runs one concurrency property on a fresh backend of `kind`.
pub fn concurrency_property(
    kind: BackendKind,
    property: ConcurrencyProperty,
    config: ConcurrencyConfig,
) {
    let _guard = deployment_guard(kind);
    let backend = start(kind);
    let result = runtime().block_on(async {
        match property {
            ConcurrencyProperty::ClaimsAreExclusive => {
                concurrency::claims_are_exclusive(&backend, &config).await
            }
            ConcurrencyProperty::DecrementsAreNeverLost => {
                concurrency::decrements_are_never_lost(&backend, &config).await
            }
            ConcurrencyProperty::OneInsertWins => {
                concurrency::one_insert_wins(&backend, &config).await
            }
        }
    });
    match result {
        Ok(r) => eprintln!(
            "{}: {} calls, {} empty answers, {} ms",
            r.name,
            r.calls,
            r.empty_answers,
            r.took.as_millis()
        ),
        Err(e) => panic!("{property:?} on {}: {e}", kind.name()),
    }
}
