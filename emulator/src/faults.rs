//! Seeded fault injection: a plan of rules, each naming a function (or all), a fault and how
//! often it strikes; the call path asks [`Faults::decide`] once per call.
//!
//! # The plan
//!
//! In JSON (`POST /_emulator/faults`):
//! `{"seed": 7, "rules": [{"function": "insertMany", "fault": "drop", "probability": 0.2},
//! {"function": "*", "fault": "delay", "delayMs": 50, "every": 3}]}`.
//!
//! As a `--faults` SPEC, the same plan: `seed=7;insertMany:drop@p=0.2;*:delay=50ms@every=3`.
//!
//! ```text
//! SPEC    = CLAUSE *( ";" CLAUSE )           empty clauses and spaces are ignored
//! CLAUSE  = "seed=" u64 | RULE               the seed defaults to 0
//! RULE    = TARGET ":" FAULT [ "@" TRIGGER ]  no trigger: every call
//! TARGET  = a function name | "*"
//! FAULT   = "fail" | "occ" | "drop" | "hold" | "delay=" u64 "ms"
//! TRIGGER = "p=" probability in [0, 1] | "every=" n >= 1
//! ```
//!
//! # The faults
//!
//! - `fail`: refused before running, as a deployment does when it is overloaded: HTTP 503
//!   `{"code": "ServiceUnavailable", "message": "Service temporarily unavailable"}`.
//! - `occ`: refused before running, as a deployment does when a mutation kept conflicting:
//!   HTTP 503 `{"code": "OptimisticConcurrencyControlFailure", "message": "Documents read from
//!   or written to the \"taskExecutions\" table changed while this mutation was being run and on
//!   every subsequent retry. See https://docs.convex.dev/error#1"}`.
//!   Both shapes are the backend's: its `ErrorMetadata` answers `Overloaded` and `OCC` codes with
//!   503 and a `{code: short_msg, message: msg}` body; `service_unavailable()` and `user_occ()`
//!   build these two (get-convex/convex-backend, `crates/errors/src/lib.rs`).
//! - `drop`: the call runs and commits, then the connection is closed without a reply.
//! - `delay`: the call waits D ms of real time first (network or queueing latency).
//! - `hold`: only for the functions that take a selector lock. The lock this call would take is
//!   taken first by a holder that crashed (it never releases it), so this call and every later
//!   one on the same key find it busy and return `[]` / `0` until the clock passes its expiry
//!   (`LOCK_EXPIRY_MS`), when the next caller takes it over.
//!
//! # Determinism
//!
//! Whether a rule strikes depends only on the seed, the rule's position and how many calls it
//! has matched so far: `every=n` strikes on the n-th, 2n-th, ... matching call, and `p=x`
//! strikes when a hash of (seed, rule, count) falls below x. Every matching rule counts each
//! call; the first rule that strikes decides the fault. So the same seed and the same sequence
//! of calls give the same faults, whatever the timing.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::functions::Operation;
use crate::limits::{FAULT_DELAY_MS_MAX, FAULT_LOG_ENTRIES_MAX, FAULT_RULES_MAX};

/// What a rule injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    Fail,
    Occ,
    Drop,
    Delay,
    Hold,
}

impl FaultKind {
    fn name(self) -> &'static str {
        match self {
            FaultKind::Fail => "fail",
            FaultKind::Occ => "occ",
            FaultKind::Drop => "drop",
            FaultKind::Delay => "delay",
            FaultKind::Hold => "hold",
        }
    }
}

/// One rule of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// A function name, or `*` for all.
    pub function: String,
    pub fault: FaultKind,
    /// For `delay` only: how long, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Strike with this probability on each matching call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Strike on every n-th matching call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
}

/// A seed and rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultPlan {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

impl FaultRule {
    fn matches(&self, function: Operation) -> bool {
        let named = self.function == "*" || self.function == function.name();
        named && (self.fault != FaultKind::Hold || function.is_locked())
    }

    fn check(&self) -> Result<(), String> {
        if self.function != "*" {
            let Some(function) = Operation::from_name(&self.function) else {
                return Err(format!("unknown function `{}`", self.function));
            };
            if self.fault == FaultKind::Hold && !function.is_locked() {
                return Err(format!(
                    "`hold` needs a function that takes a selector lock; `{}` takes none",
                    self.function
                ));
            }
        }
        match (self.fault, self.delay_ms) {
            (FaultKind::Delay, None) => return Err("`delay` needs `delayMs`".to_string()),
            (FaultKind::Delay, Some(ms)) if ms > FAULT_DELAY_MS_MAX => {
                return Err(format!("`delayMs` is at most {FAULT_DELAY_MS_MAX}"))
            }
            (FaultKind::Delay, Some(_)) => {}
            (_, Some(_)) => return Err("`delayMs` is only for `delay`".to_string()),
            (_, None) => {}
        }
        match (self.probability, self.every) {
            (Some(_), Some(_)) => Err("give `probability` or `every`, not both".to_string()),
            (Some(p), None) if !(0.0..=1.0).contains(&p) => {
                Err(format!("`probability` must be within [0, 1], got {p}"))
            }
            (None, Some(0)) => Err("`every` must be at least 1".to_string()),
            _ => Ok(()),
        }
    }

    /// Whether the `count`-th matching call (from 1) of rule number `index` is struck.
    fn strikes(&self, seed: u64, index: usize, count: u64) -> bool {
        match (self.probability, self.every) {
            (Some(p), _) => unit_interval(seed, index as u64, count) < p,
            (None, Some(n)) => count.is_multiple_of(n),
            (None, None) => true,
        }
    }
}

impl FaultPlan {
    /// Checks every rule; the message names the first bad one.
    pub fn check(&self) -> Result<(), String> {
        if self.rules.len() > FAULT_RULES_MAX {
            return Err(format!("a plan has at most {FAULT_RULES_MAX} rules"));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            rule.check().map_err(|e| format!("rule {i}: {e}"))?;
        }
        Ok(())
    }

    /// Parses a `--faults` SPEC (grammar in the module docs) and checks it.
    pub fn parse_spec(spec: &str) -> Result<Self, String> {
        let mut plan = FaultPlan::default();
        for clause in spec.split(';').map(str::trim).filter(|c| !c.is_empty()) {
            if let Some(seed) = clause.strip_prefix("seed=") {
                plan.seed = seed
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{clause}`: the seed is a u64"))?;
                continue;
            }
            plan.rules
                .push(parse_rule(clause).map_err(|e| format!("`{clause}`: {e}"))?);
        }
        plan.check()?;
        Ok(plan)
    }
}

fn parse_rule(clause: &str) -> Result<FaultRule, String> {
    let (target, rest) = clause
        .split_once(':')
        .ok_or("a rule is TARGET:FAULT[@TRIGGER]")?;
    let (fault, trigger) = match rest.split_once('@') {
        Some((fault, trigger)) => (fault.trim(), Some(trigger.trim())),
        None => (rest.trim(), None),
    };
    let (fault, delay_ms) = match fault {
        "fail" => (FaultKind::Fail, None),
        "occ" => (FaultKind::Occ, None),
        "drop" => (FaultKind::Drop, None),
        "hold" => (FaultKind::Hold, None),
        other => {
            let ms = other
                .strip_prefix("delay=")
                .and_then(|d| d.strip_suffix("ms"))
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| {
                    format!("unknown fault `{other}` (fail, occ, drop, hold, delay=<n>ms)")
                })?;
            (FaultKind::Delay, Some(ms))
        }
    };
    let (mut probability, mut every) = (None, None);
    match trigger {
        None => {}
        Some(t) => {
            if let Some(p) = t.strip_prefix("p=") {
                probability = Some(p.parse().map_err(|_| format!("bad probability `{p}`"))?);
            } else if let Some(n) = t.strip_prefix("every=") {
                every = Some(n.parse().map_err(|_| format!("bad count `{n}`"))?);
            } else {
                return Err(format!("unknown trigger `{t}` (p=<x> or every=<n>)"));
            }
        }
    }
    Ok(FaultRule {
        function: target.trim().to_string(),
        fault,
        delay_ms,
        probability,
        every,
    })
}

/// Writes a plan back as a SPEC, so a failing run can print a one-line replay.
impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed={}", self.seed)?;
        for rule in &self.rules {
            write!(f, ";{}:", rule.function)?;
            match (rule.fault, rule.delay_ms) {
                (FaultKind::Delay, Some(ms)) => write!(f, "delay={ms}ms")?,
                (kind, _) => f.write_str(kind.name())?,
            }
            match (rule.probability, rule.every) {
                (Some(p), _) => write!(f, "@p={p}")?,
                (None, Some(n)) => write!(f, "@every={n}")?,
                (None, None) => {}
            }
        }
        Ok(())
    }
}

/// A uniform number in `[0, 1)` from (seed, rule, count): SplitMix64 over their mix.
fn unit_interval(seed: u64, rule: u64, count: u64) -> f64 {
    let mut z =
        seed ^ rule.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ count.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The fault chosen for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Fail,
    Occ,
    Drop,
    Delay { ms: u64 },
    Hold,
}

/// One injected fault, as `GET /_emulator/faults` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Injected {
    /// The call's number among all calls the injector saw since the plan was set, from 1.
    pub call: u64,
    pub function: &'static str,
    pub fault: FaultKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

/// What `GET /_emulator/faults` reports.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultReport {
    pub plan: FaultPlan,
    /// The plan as a `--faults` SPEC.
    pub spec: String,
    /// Calls seen since the plan was set.
    pub calls: u64,
    /// The injected faults, oldest first (the last `FAULT_LOG_ENTRIES_MAX`).
    pub injected: Vec<Injected>,
    /// Older entries dropped from `injected`.
    pub dropped_from_log: u64,
}

/// The injector of one deployment started with `--faults`.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<Injector>,
}

#[derive(Debug, Default)]
struct Injector {
    plan: FaultPlan,
    /// Matching calls per rule.
    counts: Vec<u64>,
    calls: u64,
    log: VecDeque<Injected>,
    dropped_from_log: u64,
}

impl Faults {
    /// An injector with `plan` (already checked).
    pub fn new(plan: FaultPlan) -> Self {
        let faults = Self::default();
        faults.set(plan);
        faults
    }

    /// Replaces the plan and starts counting and logging afresh.
    pub fn set(&self, plan: FaultPlan) {
        let mut state = self.lock();
        *state = Injector {
            counts: vec![0; plan.rules.len()],
            plan,
            ..Injector::default()
        };
    }

    /// The fault for the next call of `function`, if one strikes; logs it.
    pub fn decide(&self, function: Operation) -> Option<Fault> {
        let mut state = self.lock();
        state.calls += 1;
        let Injector {
            plan,
            counts,
            calls,
            ..
        } = &mut *state;
        let mut chosen = None;
        for (index, rule) in plan.rules.iter().enumerate() {
            if !rule.matches(function) {
                continue;
            }
            counts[index] += 1;
            if chosen.is_none() && rule.strikes(plan.seed, index, counts[index]) {
                chosen = Some(rule);
            }
        }
        let rule = chosen?;
        let fault = match rule.fault {
            FaultKind::Fail => Fault::Fail,
            FaultKind::Occ => Fault::Occ,
            FaultKind::Drop => Fault::Drop,
            FaultKind::Hold => Fault::Hold,
            FaultKind::Delay => Fault::Delay {
                ms: rule.delay_ms.unwrap_or(0),
            },
        };
        let entry = Injected {
            call: *calls,
            function: function.name(),
            fault: rule.fault,
            delay_ms: rule.delay_ms,
        };
        if state.log.len() == FAULT_LOG_ENTRIES_MAX {
            state.log.pop_front();
            state.dropped_from_log += 1;
        }
        state.log.push_back(entry);
        Some(fault)
    }

    /// The plan and what was injected since it was set.
    pub fn report(&self) -> FaultReport {
        let state = self.lock();
        FaultReport {
            plan: state.plan.clone(),
            spec: state.plan.to_string(),
            calls: state.calls,
            injected: state.log.iter().cloned().collect(),
            dropped_from_log: state.dropped_from_log,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Injector> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

tokio::task_local! {
    /// Set while a call struck by `hold` runs: its selector lock is first taken by a holder
    /// that never releases it.
    static CRASHED_HOLDER: ();
}

/// Runs `call` so that the selector lock it takes is first taken as if by a crashed holder.
pub async fn with_crashed_holder<F: Future>(call: F) -> F::Output {
    CRASHED_HOLDER.scope((), call).await
}

/// Whether the running call was struck by `hold` (read by the selector locks).
pub fn crashed_holder_first() -> bool {
    CRASHED_HOLDER.try_with(|_| ()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_parses_and_prints_back() {
        let spec = "seed=7;insertMany:drop@p=0.2;*:delay=50ms@every=3;updateByCloseExpiresAt:hold;*:occ@every=10;getManyById:fail";
        let plan = FaultPlan::parse_spec(spec).unwrap();
        assert_eq!(plan.seed, 7);
        assert_eq!(plan.rules.len(), 5);
        assert_eq!(plan.rules[1].delay_ms, Some(50));
        assert_eq!(plan.rules[1].every, Some(3));
        assert_eq!(plan.to_string(), spec);
        assert_eq!(FaultPlan::parse_spec(&plan.to_string()).unwrap(), plan);
        assert_eq!(
            FaultPlan::parse_spec(" seed=1 ; ").unwrap(),
            FaultPlan {
                seed: 1,
                rules: vec![]
            }
        );
    }

    #[test]
    fn bad_specs_are_refused_with_a_reason() {
        for (spec, reason) in [
            ("seed=x", "u64"),
            ("nope:fail", "unknown function"),
            ("insertMany:explode", "unknown fault"),
            ("insertMany:fail@p=2", "within [0, 1]"),
            ("insertMany:fail@every=0", "at least 1"),
            ("insertMany:fail@sometimes", "unknown trigger"),
            ("insertMany:hold", "selector lock"),
            ("insertMany", "TARGET:FAULT"),
            ("*:delay=999999ms", "at most"),
        ] {
            let error = FaultPlan::parse_spec(spec).unwrap_err();
            assert!(error.contains(reason), "{spec}: {error}");
        }
    }

    #[test]
    fn every_nth_strikes_on_the_nth_matching_call_only() {
        let faults = Faults::new(FaultPlan::parse_spec("insertMany:fail@every=3").unwrap());
        let struck: Vec<bool> = (0..7)
            .map(|i| {
                let f = if i % 2 == 0 {
                    Operation::InsertMany
                } else {
                    Operation::GetManyById
                };
                faults.decide(f).is_some()
            })
            .collect();
        // insertMany calls are 0, 2, 4, 6: the third of them is call 4.
        assert_eq!(struck, [false, false, false, false, true, false, false]);
        let report = faults.report();
        assert_eq!(report.calls, 7);
        assert_eq!(report.injected.len(), 1);
        assert_eq!(report.injected[0].call, 5);
    }

    #[test]
    fn the_same_seed_and_calls_give_the_same_faults() {
        let run = |seed: u64| {
            let plan =
                FaultPlan::parse_spec(&format!("seed={seed};*:drop@p=0.3;*:fail@p=0.3")).unwrap();
            let faults = Faults::new(plan);
            (0..200)
                .map(|i| faults.decide(Operation::ALL[i % 17]))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let struck = run(7).iter().filter(|f| f.is_some()).count();
        assert!((60..180).contains(&struck), "about half of 200: {struck}");
    }

    #[test]
    fn hold_only_strikes_functions_that_take_a_lock() {
        let faults = Faults::new(FaultPlan::parse_spec("*:hold").unwrap());
        assert_eq!(faults.decide(Operation::InsertMany), None);
        assert_eq!(
            faults.decide(Operation::UpdateByCloseExpiresAt),
            Some(Fault::Hold)
        );
    }

    #[test]
    fn setting_a_plan_starts_afresh() {
        let faults = Faults::new(FaultPlan::parse_spec("*:fail").unwrap());
        faults.decide(Operation::InsertMany);
        faults.set(FaultPlan::default());
        assert_eq!(faults.decide(Operation::InsertMany), None);
        let report = faults.report();
        assert_eq!((report.calls, report.injected.len()), (1, 0));
    }
}
