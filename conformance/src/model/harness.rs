//! Runs one generated case: every transition on every side, answers and rows compared.
//!
//! The reference state (the model) is stepped exactly as proptest-state-machine's own
//! `test_sequential` would step it, then each side runs the same transition; after every step
//! the harness compares (1) the answers and (2) the rows of every pool id, all with
//! clock-written timestamps tokenized. The first difference ends the case with a
//! [`CaseFailure`] that holds the transitions so far and a side-by-side diff.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use durable_execution_storage_convex::TaskExecutionsStorage;
use serde_json::Value;

use super::driver::answer_of;
use super::pacing::Pacing;
use super::pools::EXECUTION_IDS;
use super::reference::{ModelMachine, ModelState, MODEL_STEP_MS};
use super::side::Side;
use super::transition::Transition;
use crate::json_diff::{diff, render};
use crate::normalize::tokenize_clock_values;
use crate::operation::Operation;
use proptest_state_machine::ReferenceStateMachine;

/// Reads every pool id with one `getManyById` call, as the rows to compare.
pub async fn read_pool(storage: &Arc<dyn TaskExecutionsStorage>) -> Value {
    let requests = EXECUTION_IDS
        .iter()
        .map(|id| durable_execution_storage_convex::GetByIdRequest {
            execution_id: id.to_string(),
            filters: None,
        })
        .collect();
    answer_of(storage.get_many_by_id(requests).await)
}

/// Which sides a case compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The model against every side (model-based testing).
    ModelAgainstSides,
    /// The first side against the others; the model only drives generation (differential).
    SidesAgainstFirst,
}

/// Calls and time per operation, summed over the cases of a run.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    /// Cases run to the end or to their failure.
    pub cases: u64,
    /// Transitions applied, summed over the cases.
    pub steps: u64,
    /// Per operation: calls and total time on the sides.
    pub per_operation: BTreeMap<Operation, (u64, Duration)>,
    /// Per operation: calls that did something visible (changed the rows, answered a
    /// non-empty list or a non-zero count, or threw), a measure of how well the generators
    /// reach behaviour.
    pub effective: BTreeMap<Operation, u64>,
    /// Time spent in pacing pauses.
    pub waited: Duration,
}

impl RunStats {
    /// Adds `other` into `self`.
    pub fn absorb(&mut self, other: &RunStats) {
        self.cases += other.cases;
        self.steps += other.steps;
        self.waited += other.waited;
        for (op, n) in &other.effective {
            *self.effective.entry(*op).or_default() += n;
        }
        for (op, (n, t)) in &other.per_operation {
            let e = self.per_operation.entry(*op).or_default();
            e.0 += n;
            e.1 += *t;
        }
    }
}

/// Where and how a case went wrong.
#[derive(Debug, Clone)]
pub struct CaseFailure {
    /// The transitions up to and including the failing one.
    pub transitions: Vec<Transition>,
    /// What differed: "answer" or "rows after the step", or a setup problem.
    pub what: String,
    /// The side-by-side table of differences.
    pub table: String,
}

impl std::fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.transitions.len();
        let last = self
            .transitions
            .last()
            .map(|t| t.operation().to_string())
            .unwrap_or_default();
        writeln!(f, "step {n} ({last}): {}", self.what)?;
        writeln!(f, "{}", self.table)?;
        writeln!(
            f,
            "transitions (JSON; paste into conformance/regressions/differential.json to replay):"
        )?;
        let json = serde_json::to_string_pretty(&self.transitions).unwrap_or_default();
        writeln!(f, "{json}")
    }
}

/// Runs `transitions` from the empty state on the model and on every side.
///
/// `seen` is proptest-state-machine's counter of applied transitions (it lets the shrinker
/// drop the ones a failing case never reached).
pub fn run_case(
    initial: ModelState,
    transitions: &[Transition],
    seen: Option<&Arc<AtomicUsize>>,
    sides: &mut [Box<dyn Side>],
    compare: Compare,
    stats: &mut RunStats,
) -> Result<(), CaseFailure> {
    stats.cases += 1;
    for side in sides.iter_mut() {
        side.reset().map_err(|e| CaseFailure {
            transitions: Vec::new(),
            what: "could not empty the store".to_string(),
            table: e,
        })?;
    }
    let mut pacing = Pacing::new();
    let mut model = initial;
    let mut previous_rows: Vec<Value> = sides.iter_mut().map(|s| s.rows()).collect();
    let mut last_first_rows = match compare {
        Compare::ModelAgainstSides => model.rows(),
        Compare::SidesAgainstFirst => previous_rows.first().cloned().unwrap_or(Value::Null),
    };
    for (index, transition) in transitions.iter().enumerate() {
        if let Some(seen) = seen {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        stats.steps += 1;
        // Manual clocks move with the model's, one step at a time; only wall clocks are
        // waited for.
        if !sides.iter().all(|s| s.has_manual_clock()) {
            pacing.before(transition);
        }
        for side in sides.iter_mut() {
            side.advance_clock(MODEL_STEP_MS as u64)
                .map_err(|e| CaseFailure {
                    transitions: transitions[..=index].to_vec(),
                    what: "could not move the clock".to_string(),
                    table: e,
                })?;
        }
        model = ModelMachine::apply(model, transition);

        let mut answers: Vec<(String, Value)> = Vec::new();
        if compare == Compare::ModelAgainstSides {
            answers.push((
                "model".to_string(),
                model.last_answer.clone().unwrap_or(Value::Null),
            ));
        }
        let mut last_answer_at = None;
        for side in sides.iter_mut() {
            let (answer, at, took) = side.apply(transition);
            let e = stats
                .per_operation
                .entry(transition.operation())
                .or_default();
            e.0 += 1;
            e.1 += took;
            last_answer_at = Some(at);
            answers.push((side.name().to_string(), answer));
        }
        let fail = |what: &str, table: String| CaseFailure {
            transitions: transitions[..=index].to_vec(),
            what: what.to_string(),
            table,
        };
        compare_all(&answers).map_err(|t| fail("the answers differ", t))?;
        let answered_something = answers.first().is_some_and(|(_, a)| is_effective(a));

        let mut rows: Vec<(String, Value)> = Vec::new();
        if compare == Compare::ModelAgainstSides {
            rows.push(("model".to_string(), model.rows()));
        }
        let mut changed = false;
        for (side, previous) in sides.iter_mut().zip(previous_rows.iter_mut()) {
            let now = side.rows();
            changed |= now != *previous;
            *previous = now.clone();
            rows.push((side.name().to_string(), now));
        }
        compare_all(&rows).map_err(|t| fail("the stored rows differ after the step", t))?;
        let first_rows = rows.first().map(|(_, r)| r.clone()).unwrap_or(Value::Null);
        if answered_something || first_rows != last_first_rows {
            *stats.effective.entry(transition.operation()).or_default() += 1;
        }
        last_first_rows = first_rows;
        if changed {
            if let Some(at) = last_answer_at {
                pacing.wrote(at);
            }
        }
    }
    stats.waited += pacing.waited;
    Ok(())
}

/// Whether an answer shows the call did something: an error, rows, or a non-zero count.
fn is_effective(answer: &Value) -> bool {
    match answer.get("ok") {
        None => true,
        Some(Value::Array(items)) => items.iter().any(|i| match i {
            Value::Array(inner) => !inner.is_empty(),
            Value::Null => false,
            _ => true,
        }),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(_) => false,
    }
}

/// Compares every entry with the first one after tokenizing clock values.
fn compare_all(entries: &[(String, Value)]) -> Result<(), String> {
    let Some((first_name, first)) = entries.first() else {
        return Ok(());
    };
    let first = tokenize_clock_values(first);
    for (name, value) in &entries[1..] {
        let differences = diff(&first, &tokenize_clock_values(value));
        if !differences.is_empty() {
            return Err(render(&differences, first_name, name));
        }
    }
    Ok(())
}
