//! The conformance suite of the Convex task-executions storage: one body of checks that runs
//! against every backend through the adapter's `TaskExecutionsStorage` trait, and nothing else.
//!
//! # What runs
//!
//! - [`scenarios`]: hand-written checks of SPEC.md, one family per file (inserts, reads,
//!   updates, claims, expiries, children, the decrement sweep, deletes, shards, clock rules,
//!   auth), each a named scenario.
//! - [`model`]: model-based properties with proptest-state-machine (the adapter's in-memory
//!   storage is the reference state machine; one transition variant per operation) and
//!   differential runs (the same generated sequence on two backends), with committed
//!   regressions replayed in every run.
//! - [`concurrency`]: exclusive claims, decrements never lost, one winner among duplicate
//!   inserts.
//! - [`faults`]: an executor-like workload against an emulator that injects seeded faults, on
//!   its manual clock, with invariants checked after every call.
//! - [`suite`]: all of it against one backend, with a per-operation table; used by the
//!   `convex-storage-conformance` binary.
//!
//! # Backends
//!
//! [`backend`] starts or reaches them: `memory` (the in-memory storage, on a manual clock),
//! `emulator` (the binary, a fresh process per test group, on its manual clock), `reference` (the Node reference server), `deployment` (a
//! real Convex deployment named by `CONVEX_URL` and `CONVEX_STORAGE_AUTH_SECRET`; cargo tests
//! against it are ignored unless run with `--ignored`).
//!
//! # Time
//!
//! Stores rewrite timestamps with their own clock: `now` is the clock plus 50 ms in writes,
//! and four selectors pick rows with `updatedAt < clock`. The model runs on an injected clock
//! that moves 100 ms before every transition. The emulator and the in-memory backend run on
//! manual clocks ([`backend::BackendClock`]) that the harness moves with the model's and the
//! scenarios move instead of sleeping, so nothing waits on them. The reference server and a
//! deployment run on the wall clock; four rules keep them in agreement with the model, every
//! time (rules 3 and 4 apply only when a side is on the wall clock):
//!
//! 1. **Two bands of generated time** ([`normalize`]): every timestamp a generator supplies is
//!    either in the past band (`0` or tiny values; non-zero ones are always clamped to now, `0`
//!    never) or in the future band (≥ 4·10¹² ms, never clamped, never stale). Selector bounds
//!    come from the same bands. No generated value is ever near a clock.
//! 2. **Clock values are tokens**: any number between the bands was written by a clock and is
//!    compared as `<clock>`. Their relative order is still checked, because selectors answer in
//!    index order and answers are compared element by element.
//! 3. **Stale before a staleness selector** ([`model::pacing`]): before a transition that
//!    selects `updatedAt < clock`, the harness waits until 60 ms have passed since the last
//!    write's answer, so every clock-written row is stale on the backend, as it always is in the
//!    model one 100 ms step later. Future-band `updatedAt` values are never stale on either.
//! 4. **A fresh millisecond per write**: each write is sent at least 2 ms after the previous
//!    write's answer, so backend clock readings strictly increase like the model's and index
//!    ties never fall back to creation order on one side only.
//!
//! Placement: the Convex client picks insert shards at random unless given a `shard_for`
//! chooser. Model-based and differential runs use two shards and give the model and every
//! Convex client the same chooser ([`backend::model_shard_for`]), which puts every row on
//! shard 0: fan-out and the decrement sweep's `ceil(limit / 2)` are still exercised, while all
//! writes of one step stay in one mutation (that function says why spreading rows would make
//! clamped times tie on one side only). Random placement itself is checked by the shard
//! scenarios and the concurrency properties.
//!
//! Invariant: the suite knows the adapter's public API and SPEC.md, never the emulator's or
//! the reference server's internals.

pub mod backend;
pub mod concurrency;
pub mod error;
pub mod faults;
pub mod json_diff;
pub mod model;
pub mod normalize;
pub mod operation;
pub mod scenarios;
pub mod suite;
pub mod testing;

pub use error::ConformanceError;
