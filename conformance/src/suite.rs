//! The whole suite against one backend, with progress lines and a per-operation table.
//!
//! Used by the command-line runner; the cargo tests run the same pieces one group at a time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::concurrency::{self, ConcurrencyConfig};
use crate::model::harness::{Compare, RunStats};
use crate::model::replay::{parse_cases, replay_cases, ReplayCase};
use crate::model::runner::{run_property, PropertyConfig, PropertyFailure, SHRINK_TIME_MAX_MS};
use crate::model::side::{BackendSide, Side};
use crate::operation::Operation;
use crate::scenarios::{self, Family, ScenarioOutcome, Verdict};

/// The committed differential cases, compiled in so the binary needs no source tree.
pub const COMMITTED_CASES_JSON: &str = include_str!("../regressions/differential.json");

/// How much the suite generates.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// Generated model-based cases.
    pub cases: u32,
    /// Transitions per generated case, at most.
    pub steps_max: usize,
    /// The seed of the generated cases.
    pub seed: [u8; 32],
    /// Sizes of the concurrency properties.
    pub concurrency: ConcurrencyConfig,
}

/// One line of the per-operation table.
#[derive(Debug, Clone, Default)]
pub struct OperationRow {
    pub scenarios_passed: usize,
    pub scenarios_failed: usize,
    pub scenarios_skipped: usize,
    pub model_calls: u64,
    pub concurrency_failed: usize,
    pub concurrency_passed: usize,
    pub time: Duration,
}

/// Everything the suite found.
#[derive(Debug, Default)]
pub struct SuiteReport {
    pub scenarios: Vec<ScenarioOutcome>,
    pub replay_failures: Vec<String>,
    pub replayed: usize,
    pub model: Option<Result<RunStats, PropertyFailure>>,
    pub concurrency: Vec<(&'static str, Operation, Result<Duration, String>)>,
    pub took: Duration,
}

impl SuiteReport {
    /// Whether everything passed (skips allowed).
    pub fn passed(&self) -> bool {
        self.scenarios
            .iter()
            .all(|s| !matches!(s.verdict, Verdict::Failed(_)))
            && self.replay_failures.is_empty()
            && self.model.as_ref().is_none_or(|m| m.is_ok())
            && self.concurrency.iter().all(|(_, _, r)| r.is_ok())
    }

    /// Per operation: scenario verdicts, model calls, concurrency results, time.
    pub fn per_operation(&self) -> BTreeMap<Operation, OperationRow> {
        let mut rows: BTreeMap<Operation, OperationRow> = Operation::ALL
            .iter()
            .map(|op| (*op, OperationRow::default()))
            .collect();
        for s in &self.scenarios {
            for op in s.operations {
                let row = rows.entry(*op).or_default();
                match s.verdict {
                    Verdict::Passed => row.scenarios_passed += 1,
                    Verdict::Failed(_) => row.scenarios_failed += 1,
                    Verdict::Skipped(_) => row.scenarios_skipped += 1,
                }
                row.time += s.took / s.operations.len() as u32;
            }
        }
        if let Some(Ok(stats)) = &self.model {
            for (op, (calls, time)) in &stats.per_operation {
                let row = rows.entry(*op).or_default();
                row.model_calls += calls;
                row.time += *time;
            }
        }
        for (_, op, result) in &self.concurrency {
            let row = rows.entry(*op).or_default();
            match result {
                Ok(took) => {
                    row.concurrency_passed += 1;
                    row.time += *took;
                }
                Err(_) => row.concurrency_failed += 1,
            }
        }
        rows
    }

    /// The per-operation table and every failure, as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "{:<56} {:>9} {:>7} {:>11} {:>9} {:>8}  {}\n",
            "operation", "scenarios", "skipped", "model calls", "concurr.", "time ms", "result"
        ));
        let model_failed = matches!(self.model, Some(Err(_))) || !self.replay_failures.is_empty();
        for (op, row) in self.per_operation() {
            let failed = row.scenarios_failed > 0 || row.concurrency_failed > 0;
            let verdict = if failed {
                "FAIL"
            } else if model_failed {
                "see model"
            } else {
                "pass"
            };
            out.push_str(&format!(
                "{:<56} {:>4}/{:<4} {:>7} {:>11} {:>4}/{:<4} {:>8}  {}\n",
                op.name(),
                row.scenarios_passed,
                row.scenarios_passed + row.scenarios_failed,
                row.scenarios_skipped,
                row.model_calls,
                row.concurrency_passed,
                row.concurrency_passed + row.concurrency_failed,
                row.time.as_millis(),
                verdict
            ));
        }
        for s in &self.scenarios {
            match &s.verdict {
                Verdict::Failed(message) => out.push_str(&format!(
                    "\nFAILED scenario {} ({}):\n{message}\n",
                    s.name,
                    s.family.name()
                )),
                Verdict::Skipped(reason) => {
                    out.push_str(&format!("skipped scenario {}: {reason}\n", s.name))
                }
                Verdict::Passed => {}
            }
        }
        for failure in &self.replay_failures {
            out.push_str(&format!("\nFAILED committed case {failure}\n"));
        }
        if let Some(Err(failure)) = &self.model {
            out.push_str(&format!("\nFAILED model-based property:\n{failure}\n"));
        }
        for (name, _, result) in &self.concurrency {
            if let Err(message) = result {
                out.push_str(&format!(
                    "\nFAILED concurrency property {name}: {message}\n"
                ));
            }
        }
        out
    }
}

/// The committed differential cases.
pub fn committed_cases() -> Vec<ReplayCase> {
    parse_cases(COMMITTED_CASES_JSON).expect("regressions/differential.json parses")
}

/// Runs scenarios, committed cases, generated model-based cases and the concurrency
/// properties against `backend`, calling `progress` with one line per stage.
///
/// Must be called outside any tokio runtime (the model runs on its own).
pub fn run_suite(
    backend: &Backend,
    config: &SuiteConfig,
    progress: &mut dyn FnMut(&str),
) -> SuiteReport {
    let started = Instant::now();
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime builds"),
    );
    let mut report = SuiteReport::default();

    for family in Family::ALL {
        let list = scenarios::of_family(family);
        let outcomes = runtime.block_on(scenarios::run_all(backend, &list));
        let failed = outcomes
            .iter()
            .filter(|o| matches!(o.verdict, Verdict::Failed(_)))
            .count();
        progress(&format!(
            "scenarios {:<10} {:>2} run, {failed} failed ({} ms)",
            family.name(),
            outcomes.len(),
            outcomes
                .iter()
                .map(|o| o.took)
                .sum::<Duration>()
                .as_millis()
        ));
        report.scenarios.extend(outcomes);
    }

    match crate::backend::model_side_storage(backend) {
        Ok(storages) => {
            let cases = committed_cases();
            let mut sides: Vec<Box<dyn Side>> = vec![Box::new(
                BackendSide::new(backend.name(), storages.clone(), runtime.clone())
                    .on_clock(backend.clock().clone()),
            )];
            let mut stats = RunStats::default();
            let failures = replay_cases(&cases, &mut sides, &mut stats);
            report.replayed = cases.len();
            progress(&format!(
                "committed cases: {} replayed, {} failed",
                cases.len(),
                failures.len()
            ));
            report.replay_failures = failures
                .into_iter()
                .map(|(name, f)| format!("{name}:\n{f}"))
                .collect();

            progress(&format!(
                "model-based: generating {} cases of up to {} steps",
                config.cases, config.steps_max
            ));
            let property = PropertyConfig {
                cases: config.cases,
                steps_max: config.steps_max,
                seed: config.seed,
                regressions: None,
                compare: Compare::ModelAgainstSides,
                shrink_time_max_ms: SHRINK_TIME_MAX_MS,
            };
            let sides: Vec<Box<dyn Side>> = vec![Box::new(
                BackendSide::new(backend.name(), storages, runtime.clone())
                    .on_clock(backend.clock().clone()),
            )];
            let result = run_property(&property, sides);
            match &result {
                Ok(stats) => progress(&format!(
                    "model-based: {} cases, {} steps passed",
                    stats.cases, stats.steps
                )),
                Err(_) => progress("model-based: FAILED (see below)"),
            }
            report.model = Some(result);
        }
        Err(e) => progress(&format!("model-based: not run: {e}")),
    }

    type Property = for<'a> fn(
        &'a Backend,
        &'a ConcurrencyConfig,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<concurrency::ConcurrencyReport, crate::ConformanceError>,
                > + 'a,
        >,
    >;
    let properties: [(&'static str, Operation, Property); 3] = [
        (
            "claims_are_exclusive",
            Operation::UpdateByStatusAndStartAtLessThanAndReturn,
            |b, c| Box::pin(concurrency::claims_are_exclusive(b, c)),
        ),
        (
            "decrements_are_never_lost",
            Operation::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus,
            |b, c| Box::pin(concurrency::decrements_are_never_lost(b, c)),
        ),
        ("one_insert_wins", Operation::InsertMany, |b, c| {
            Box::pin(concurrency::one_insert_wins(b, c))
        }),
    ];
    for (name, op, property) in properties {
        let result = runtime.block_on(property(backend, &config.concurrency));
        match &result {
            Ok(r) => progress(&format!(
                "concurrency {name}: passed ({} calls, {} empty answers, {} ms)",
                r.calls,
                r.empty_answers,
                r.took.as_millis()
            )),
            Err(e) => progress(&format!("concurrency {name}: FAILED: {e}")),
        }
        report
            .concurrency
            .push((name, op, result.map(|r| r.took).map_err(|e| e.to_string())));
    }
    report.took = started.elapsed();
    report
}
