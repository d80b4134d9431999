//! durable-execution's task-executions storage, over the Convex HTTP API.
//!
//! - [`TaskExecutionsStorage`]: the 17 operations of durable-execution's storage interface.
//! - [`ConvexTaskExecutionsStorage`]: talks to a Convex deployment that has the storage
//!   component and its public `taskExecutionsStorage` module, or to the emulator.
//! - [`InMemoryTaskExecutionsStorage`]: the same semantics in memory, for unit tests and as
//!   the conformance suite's model.
//! - [`types`]: the storage value and update in durable-execution's own field names, and
//!   [`TaskExecutionStorageValue::apply_update`], the client-side update application.
//!
//! # Codemap
//!
//! - `storage.rs`: the trait and its request structs.
//! - `convex.rs`: the Convex storage: options, sharding, one public function per method.
//! - `transport.rs`: one HTTP call and how its answer becomes a value or a [`StorageError`].
//! - `mapping.rs`: the stored (wire) shapes and the conversions both ways.
//! - `update.rs`: applying an update to a value (set, then unset).
//! - `memory.rs`: the in-memory model; `shards.rs`: the shard options both storages share;
//!   `join.rs`: waiting for the per-shard calls together; `error.rs`: [`StorageError`].
//!
//! Invariants: only `mapping.rs` knows the stored field names (`acc`, `ocfpStatus`, `npc`, ...);
//! only `transport.rs` knows HTTP; the in-memory model shares no code with the emulator (the two
//! are independent readings of SPEC.md, which is what lets the conformance suite catch a
//! mistake in either).

#![warn(missing_docs)]
// The big `json!` documents of the unit tests need more macro depth than the default.
#![cfg_attr(test, recursion_limit = "256")]

mod convex;
mod error;
mod join;
mod mapping;
mod memory;
mod shards;
mod storage;
mod transport;
pub mod types;
mod update;

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
#[cfg(test)]
#[path = "../tests/support/stub_server.rs"]
mod stub_server;

pub use convex::{
    ConvexStorageOptions, ConvexTaskExecutionsStorage, DEFAULT_MODULE, DEFAULT_REQUEST_TIMEOUT_MS,
};
pub use error::{CallOutcome, StorageError, STATUS_RATE_LIMITED, STATUS_UNAVAILABLE};
pub use memory::{
    Clock, InMemoryOptions, InMemoryTaskExecutionsStorage, EXPIRY_CLAMP_OFFSET_MS,
    WRITE_CLOCK_OFFSET_MS,
};
pub use shards::ShardChooser;
pub use storage::*;
pub use types::*;
