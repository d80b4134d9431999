//! durable-execution's task-executions storage, over the Convex HTTP API.
//!
//! - [`TaskExecutionsStorage`]: the 17 operations of durable-execution's storage interface.
//! - [`ConvexTaskExecutionsStorage`]: talks to a Convex deployment that has the storage
//!   component and its public `taskExecutionsStorage` module, or to the emulator.
//! - [`InMemoryTaskExecutionsStorage`]: the same semantics in memory, for unit tests and as
//!   the conformance suite's model.
//! - [`types`]: the storage value and update in durable-execution's own field names.

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

#[cfg(test)]
mod fixtures;
#[cfg(test)]
#[path = "../tests/support/stub_server.rs"]
mod stub_server;

pub use convex::{
    ConvexStorageOptions, ConvexTaskExecutionsStorage, DEFAULT_MODULE, DEFAULT_REQUEST_TIMEOUT_MS,
};
pub use error::StorageError;
pub use memory::{Clock, InMemoryOptions, InMemoryTaskExecutionsStorage, ShardChooser};
pub use storage::*;
pub use types::*;
