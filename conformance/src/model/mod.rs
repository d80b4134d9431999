//! Model-based and differential testing with proptest-state-machine.
//!
//! Split by role, as in proptest-state-machine's own examples:
//!
//! - [`pools`]: the small value pools that make collisions and selectors bite;
//! - [`transition`]: one documented variant per storage operation (all 17);
//! - [`strategy`]: generators of values, updates and transitions;
//! - [`reference`]: the reference state machine, i.e. the adapter's in-memory storage under an
//!   injected clock;
//! - [`driver`]: turns the answer of a call (made by [`transition::Transition::perform`]) into
//!   JSON;
//! - [`side`], [`pacing`], [`harness`]: the systems under test, the pauses that keep real
//!   clocks in step with the model, and the step-by-step comparison;
//! - [`runner`]: the proptest runner with printed seeds and regression files;
//! - [`replay`]: committed sequences of transitions replayed in every run.
//!
//! # Properties
//!
//! 1. Every answer of a backend equals the model's, with clock-written timestamps tokenized.
//! 2. After every step, the rows of every pool id on the backend equal the model's.
//! 3. Differential: two backends (emulator and reference server by default) give equal answers
//!    and hold equal rows after every step.

pub mod driver;
pub mod harness;
pub mod pacing;
pub mod pools;
pub mod reference;
pub mod replay;
pub mod runner;
pub mod side;
pub mod strategy;
pub mod transition;
