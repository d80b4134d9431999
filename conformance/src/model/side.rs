//! A side of a comparison: something that runs transitions and shows its rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use durable_execution_storage_convex::TaskExecutionsStorage;
use serde_json::Value;

use super::harness::read_pool;
use super::transition::Transition;
use crate::backend::BackendClock;

/// A backend the harness drives step by step; it compares each side's answers and rows.
pub trait Side {
    /// A short name for reports: `emulator`, `reference`, `deployment`.
    fn name(&self) -> &str;
    /// Empties the store before a case (`deleteAll`).
    fn reset(&mut self) -> Result<(), String>;
    /// Runs one transition; returns its answer and when the answer arrived.
    fn apply(&mut self, transition: &Transition) -> (Value, Instant, Duration);
    /// Every pool id read back with `getManyById`.
    fn rows(&mut self) -> Value;
    /// Whether this side's time moves only when [`Side::advance_clock`] moves it; the harness
    /// then never waits for its clock (see `super::pacing`).
    fn has_manual_clock(&self) -> bool {
        false
    }
    /// Moves a manual clock by `ms`; nothing on the wall clock.
    fn advance_clock(&mut self, _ms: u64) -> Result<(), String> {
        Ok(())
    }
}

/// A Convex-backed side: the adapter's Convex client against a URL.
pub struct BackendSide {
    name: String,
    storage: Arc<dyn TaskExecutionsStorage>,
    runtime: Arc<tokio::runtime::Runtime>,
    clock: BackendClock,
}

impl BackendSide {
    /// A side that sends its calls through `storage` on `runtime`.
    pub fn new(
        name: impl Into<String>,
        storage: Arc<dyn TaskExecutionsStorage>,
        runtime: Arc<tokio::runtime::Runtime>,
    ) -> Self {
        Self {
            name: name.into(),
            storage,
            runtime,
            clock: BackendClock::Wall,
        }
    }

    /// The same side on `clock` (a manual one is moved by the harness instead of waited for).
    pub fn on_clock(mut self, clock: BackendClock) -> Self {
        self.clock = clock;
        self
    }
}

impl Side for BackendSide {
    fn name(&self) -> &str {
        &self.name
    }

    fn reset(&mut self) -> Result<(), String> {
        self.runtime
            .block_on(self.storage.delete_all())
            .map_err(|e| format!("{}: deleteAll before the case failed: {e}", self.name))
    }

    fn apply(&mut self, transition: &Transition) -> (Value, Instant, Duration) {
        let started = Instant::now();
        let answer = self.runtime.block_on(transition.perform(&self.storage));
        let answered_at = Instant::now();
        (answer, answered_at, answered_at - started)
    }

    fn rows(&mut self) -> Value {
        self.runtime.block_on(read_pool(&self.storage))
    }

    fn has_manual_clock(&self) -> bool {
        self.clock.is_manual()
    }

    fn advance_clock(&mut self, ms: u64) -> Result<(), String> {
        if !self.clock.is_manual() {
            return Ok(());
        }
        self.runtime
            .block_on(self.clock.pass(ms))
            .map_err(|e| format!("{}: moving the clock failed: {e}", self.name))
    }
}
