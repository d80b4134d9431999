//! The small value pools the generators draw from, so that collisions, filters and selectors
//! bite: six execution ids for every insert and lookup, three statuses, two executors, a couple
//! of sleeping ids, and timestamps and bounds from the two bands of [`crate::normalize`].

use durable_execution_storage_convex::TaskExecutionStatus;

use crate::normalize::FUTURE_BAND_START_MS;

/// Every execution id a generated call mentions; reading all of them reads the whole store.
pub const EXECUTION_IDS: [&str; 6] = ["e0", "e1", "e2", "e3", "e4", "e5"];
/// Task ids (they only ride along).
pub const TASK_IDS: [&str; 2] = ["t0", "t1"];
/// Sleeping task unique ids; the empty one is stored but never checked for uniqueness.
pub const SLEEPING_TASK_UNIQUE_IDS: [&str; 3] = ["s0", "s1", ""];
/// Executor ids.
pub const EXECUTOR_IDS: [&str; 2] = ["x0", "x1"];
/// The statuses that the selectors look for; the other six behave like any of these.
pub const STATUSES: [TaskExecutionStatus; 3] = [
    TaskExecutionStatus::Ready,
    TaskExecutionStatus::Running,
    TaskExecutionStatus::WaitingForChildren,
];

/// Timestamps a generated value or update may carry, in milliseconds.
///
/// `0` is never clamped; `7` and `500` are always clamped to the store's now; the rest are in
/// the future band, never clamped and never stale.
pub const TIMESTAMPS_MS: [i64; 6] = [
    0,
    7,
    500,
    FUTURE_BAND_START_MS,
    FUTURE_BAND_START_MS + 1_000,
    FUTURE_BAND_START_MS + 500_000_000_000,
];

/// Upper bounds (`x < bound`) of the selectors, in milliseconds.
///
/// `0` selects nothing and `1` only stored zeros; `FUTURE_BAND_START_MS` selects the zeros and
/// every clock-written value but not itself, the next one also the first future timestamp but
/// not the second (two bounds equal to stored values, so `<` vs `<=` shows); the last one
/// selects everything.
pub const BOUNDS_MS: [i64; 5] = [
    0,
    1,
    FUTURE_BAND_START_MS,
    FUTURE_BAND_START_MS + 1_000,
    2 * FUTURE_BAND_START_MS,
];

/// Values of `updateExpiresAtWithStartedAt`, in milliseconds (added to `timeoutMs`).
pub const EXPIRES_BASES_MS: [i64; 3] = [0, 7, FUTURE_BAND_START_MS];

/// Durations (`timeoutMs`, `sleepMsBeforeRun`), in milliseconds.
pub const DURATIONS_MS: [i64; 2] = [0, 1_000];

/// Selector limits; 0 selects nothing, 10 more than the pool holds.
pub const LIMITS: [u32; 5] = [0, 1, 2, 3, 10];

/// How many executions one generated batch inserts at most.
pub const BATCH_LEN_MAX: usize = 3;
/// How many children one generated parent update inserts at most.
pub const CHILDREN_LEN_MAX: usize = 3;
/// How many requests one generated read or update batch holds at most.
pub const REQUESTS_LEN_MAX: usize = 3;
