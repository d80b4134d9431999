//! [`InMemoryTaskExecutionsStorage`]: the storage semantics of SPEC.md sections 3-5, in memory.
//!
//! This is the conformance suite's model, so it is written to be obviously correct rather than
//! fast: every operation locks the whole store, works on a copy of the documents and commits
//! the copy only when the operation succeeded (atomicity for free), and every selector is a
//! linear scan followed by a sort on the index key. It shares no code with the emulator.
//!
//! What it models of the deployment:
//! - the "DB documents": each value with its shard, an insertion sequence number standing for
//!   `_creationTime` (and for `_id`), and `parentExecutionDocId` for children inserted by
//!   their parent;
//! - time: writes clamp to `now = clock + 50 ms`; stale-row selectors compare
//!   `updatedAt < clock`; a value of exactly 0 is never clamped, except the insert's `startAt`;
//! - index order: the index fields, then insertion order; `0 <= x < bound` for the three
//!   expiry sweeps (a missing field never matches);
//! - the client side: sharded selectors run once per configured shard, in shard order, and
//!   return the documents as read before the update with the update applied as the Convex
//!   client applies it.
//!
//! What it leaves out: locks. Each call holds the store's mutex from start to end, so a lock
//! could never be found busy; the observable behaviour of a lock (a second concurrent claimer
//! gets nothing rather than the same rows) is implied by that serialization.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::convex::DEFAULT_MODULE;
use crate::error::StorageError;
use crate::mapping::encode_insert_value;
use crate::shards::{choose_shard, resolve_shards, ShardChooser};
use crate::storage::*;
use crate::types::{
    TaskExecutionStorageGetByIdFilters, TaskExecutionStorageUpdate, TaskExecutionStorageValue,
};

/// How far ahead of the clock a mutation's `now` is, as upstream's `Date.now() + 50`.
pub const WRITE_CLOCK_OFFSET_MS: i64 = 50;
/// How far past `now` an expiry in the past is moved, as upstream's `now + 1000`.
pub const EXPIRY_CLAMP_OFFSET_MS: i64 = 1_000;

/// The clock: milliseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// How an [`InMemoryTaskExecutionsStorage`] is set up.
#[derive(Clone)]
pub struct InMemoryOptions {
    /// How many shards documents are spread over, 1..=64.
    pub total_shards: u32,
    /// The shards the sharded selectors visit; `None` = all. Deduplicated and sorted.
    pub shards: Option<Vec<u32>>,
    /// The clock; `None` = the system clock.
    pub clock: Option<Clock>,
    /// Picks each inserted execution's shard; `None` = uniformly random over all shards, as
    /// the Convex client does. Must return a shard below `total_shards`.
    pub shard_for: Option<ShardChooser>,
}

impl Default for InMemoryOptions {
    fn default() -> Self {
        Self {
            total_shards: 1,
            shards: None,
            clock: None,
            shard_for: None,
        }
    }
}

impl std::fmt::Debug for InMemoryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryOptions")
            .field("total_shards", &self.total_shards)
            .field("shards", &self.shards)
            .field("clock", &self.clock.as_ref().map(|_| "custom"))
            .field("shard_for", &self.shard_for.as_ref().map(|_| "custom"))
            .finish()
    }
}

/// durable-execution's task-executions storage in memory, with the deployment's semantics.
///
/// `delete_by_id` and `delete_all` always work: this is a test store.
pub struct InMemoryTaskExecutionsStorage {
    store: Mutex<Store>,
    clock: Clock,
    total_shards: u32,
    shards: Vec<u32>,
    shard_for: Option<ShardChooser>,
}

impl std::fmt::Debug for InMemoryTaskExecutionsStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryTaskExecutionsStorage")
            .field("total_shards", &self.total_shards)
            .field("shards", &self.shards)
            .field("documents", &self.lock().docs.len())
            .finish()
    }
}

impl Default for InMemoryTaskExecutionsStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryTaskExecutionsStorage {
    /// One shard, the system clock.
    pub fn new() -> Self {
        Self::with_options(InMemoryOptions::default()).expect("the default options are valid")
    }

    /// One shard, the given clock.
    pub fn with_clock(clock: Clock) -> Self {
        Self::with_options(InMemoryOptions {
            clock: Some(clock),
            ..InMemoryOptions::default()
        })
        .expect("the default shard options are valid")
    }

    /// Any options; fails like the Convex storage on invalid shard options.
    pub fn with_options(options: InMemoryOptions) -> Result<Self, StorageError> {
        let shards = resolve_shards(options.total_shards, options.shards.as_deref())?;
        Ok(Self {
            store: Mutex::new(Store::default()),
            clock: options.clock.unwrap_or_else(|| Arc::new(system_clock_ms)),
            total_shards: options.total_shards,
            shards,
            shard_for: options.shard_for,
        })
    }

    /// Every stored execution, in insertion order, as a read would return it.
    pub fn snapshot(&self) -> Vec<TaskExecutionStorageValue> {
        self.lock().docs.iter().map(Doc::read).collect()
    }

    /// Every stored execution with its shard, in insertion order.
    pub fn snapshot_with_shards(&self) -> Vec<(u32, TaskExecutionStorageValue)> {
        self.lock()
            .docs
            .iter()
            .map(|doc| (doc.shard, doc.read()))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic elsewhere cannot leave the store half-changed (writes go to a copy), so a
        // poisoned lock still guards consistent data.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs one "mutation": on a copy of the store, committed only if `f` succeeds.
    fn mutate<T>(
        &self,
        f: impl FnOnce(&mut Store, Time) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut store = self.lock();
        let mut draft = store.clone();
        draft.meter.reset();
        let result = f(&mut draft, Time::at((self.clock)()));
        // A limit passed first is the call's failure, whatever happened after it.
        draft.meter.outcome(DEFAULT_MODULE)?;
        let result = result?;
        *store = draft;
        Ok(result)
    }

    /// Runs a read-only call under the read limits.
    fn query<T>(&self, f: impl FnOnce(&Store) -> T) -> Result<T, StorageError> {
        let store = self.lock();
        store.meter.reset();
        let result = f(&store);
        store.meter.outcome(DEFAULT_MODULE)?;
        Ok(result)
    }

    fn choose_shard(&self, execution_id: &str) -> Result<u32, StorageError> {
        choose_shard(self.shard_for.as_ref(), self.total_shards, execution_id)
    }

    /// Pairs each execution with its shard, before any store is touched.
    fn with_shards(
        &self,
        executions: Vec<TaskExecutionStorageValue>,
    ) -> Result<Vec<(u32, TaskExecutionStorageValue)>, StorageError> {
        executions
            .into_iter()
            .map(|value| Ok((self.choose_shard(&value.execution_id)?, value)))
            .collect()
    }

    /// A sharded `...AndReturn` selector: once per configured shard (each its own mutation,
    /// as each is its own call on a deployment), concatenated in shard order, each value with
    /// `apply` run on it as the client does.
    fn claim_per_shard(
        &self,
        select: impl Fn(&Store, u32, Time) -> Vec<usize>,
        server_update: impl Fn(&Doc) -> TaskExecutionStorageUpdate,
        client_apply: impl Fn(&mut TaskExecutionStorageValue),
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        let mut claimed = Vec::new();
        for &shard in &self.shards {
            let before = self.mutate(|store, time| {
                let selected = select(store, shard, time);
                let before: Vec<TaskExecutionStorageValue> =
                    selected.iter().map(|&i| store.docs[i].read()).collect();
                for i in selected {
                    let update = server_update(&store.docs[i]);
                    store.patch(i, &update, time.now);
                }
                Ok(before)
            })?;
            claimed.extend(before.into_iter().map(|mut value| {
                client_apply(&mut value);
                value
            }));
        }
        Ok(claimed)
    }

    /// A counting sweep over the whole store (the three expiry sweeps are not sharded).
    fn sweep(
        &self,
        select: impl Fn(&Store, Time) -> Vec<usize>,
        update: &TaskExecutionStorageUpdate,
    ) -> Result<u64, StorageError> {
        self.mutate(|store, time| {
            let selected = select(store, time);
            for &i in &selected {
                store.patch(i, update, time.now);
            }
            Ok(selected.len() as u64)
        })
    }
}

fn system_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// One reading of the clock, as a mutation sees it.
#[derive(Debug, Clone, Copy)]
struct Time {
    /// The plain clock: what stale-row selectors compare `updatedAt` with.
    clock: i64,
    /// `clock + 50`: what writes clamp to.
    now: i64,
}

impl Time {
    fn at(clock: i64) -> Self {
        Self {
            clock,
            now: clock.saturating_add(WRITE_CLOCK_OFFSET_MS),
        }
    }
}

/// The documents, in insertion order, and the next insertion sequence number.
#[derive(Debug, Clone, Default)]
struct Store {
    docs: Vec<Doc>,
    next_seq: u64,
    /// What the running call has read, held to Convex's per-call limits.
    meter: Meter,
}

/// Convex's per-call read limits, as the model counts them: at most
/// [`TRANSACTION_READ_RANGES_MAX`] distinct index ranges (each point lookup, each query, and
/// the read by id that every `db.patch` and `db.get` does), [`TRANSACTION_DOCUMENTS_READ_MAX`]
/// documents and [`TRANSACTION_READ_BYTES_MAX`] bytes (Convex's size of each document read,
/// counted at every read). The write limits cannot be reached by these functions before the
/// range limit (every write follows a lookup), so the model does not count writes.
///
/// The first limit passed is remembered and the call fails with it, whatever happened after.
#[derive(Debug, Clone, Default)]
struct Meter {
    ranges: RefCell<HashSet<String>>,
    documents_read: Cell<u64>,
    bytes_read: Cell<u64>,
    exceeded: RefCell<Option<String>>,
}

/// Index ranges one call may read.
pub const TRANSACTION_READ_RANGES_MAX: usize = 4096;
/// Documents one call may read.
pub const TRANSACTION_DOCUMENTS_READ_MAX: u64 = 32_000;
/// Bytes one call may read, in Convex's size accounting.
pub const TRANSACTION_READ_BYTES_MAX: u64 = 16 * 1024 * 1024;
const OVER_LIMIT_HELP: &str = "Consider using smaller limits in your queries, paginating your \
    queries, or using indexed queries with a selective index range expressions.";

impl Meter {
    fn reset(&self) {
        self.ranges.borrow_mut().clear();
        self.documents_read.set(0);
        self.bytes_read.set(0);
        self.exceeded.borrow_mut().take();
    }

    fn exceed(&self, message: String) {
        self.exceeded.borrow_mut().get_or_insert(message);
    }

    /// One index range, named by what it reads; the same range twice counts once.
    fn range(&self, name: String) {
        let mut ranges = self.ranges.borrow_mut();
        ranges.insert(name);
        if ranges.len() > TRANSACTION_READ_RANGES_MAX {
            self.exceed(format!(
                "Too many reads in a single function execution (limit: \
                 {TRANSACTION_READ_RANGES_MAX}). {OVER_LIMIT_HELP}"
            ));
        }
    }

    /// One document read.
    fn read(&self, doc: &Doc) {
        self.documents_read.set(self.documents_read.get() + 1);
        self.bytes_read
            .set(self.bytes_read.get() + doc.convex_size());
        if self.documents_read.get() > TRANSACTION_DOCUMENTS_READ_MAX {
            self.exceed(format!(
                "Too many documents read in a single function execution (limit: \
                 {TRANSACTION_DOCUMENTS_READ_MAX}). {OVER_LIMIT_HELP}"
            ));
        }
        if self.bytes_read.get() > TRANSACTION_READ_BYTES_MAX {
            self.exceed(format!(
                "Too many bytes read in a single function execution (limit: \
                 {TRANSACTION_READ_BYTES_MAX} bytes). {OVER_LIMIT_HELP}"
            ));
        }
    }

    /// The call's failure, if it passed a limit.
    fn outcome(&self, function: &str) -> Result<(), StorageError> {
        match self.exceeded.borrow().as_deref() {
            Some(message) => Err(rejection(function, message)),
            None => Ok(()),
        }
    }
}

/// One stored document.
#[derive(Debug, Clone)]
struct Doc {
    /// Insertion order: stands for `_creationTime` in every index and for `_id`.
    seq: u64,
    shard: u32,
    /// `parentExecutionDocId`: the `seq` of the parent that inserted this child.
    parent_doc: Option<u64>,
    /// The value as stored: `root`/`parent` exactly as inserted, even with empty ids.
    value: TaskExecutionStorageValue,
}

impl Doc {
    /// The value as a read returns it (SPEC.md section 6): `root`/`parent` only when both of
    /// their ids are non-empty.
    fn read(&self) -> TaskExecutionStorageValue {
        let mut value = self.value.clone();
        if value
            .root
            .as_ref()
            .is_some_and(|r| r.task_id.is_empty() || r.execution_id.is_empty())
        {
            value.root = None;
        }
        if value
            .parent
            .as_ref()
            .is_some_and(|p| p.task_id.is_empty() || p.execution_id.is_empty())
        {
            value.parent = None;
        }
        value
    }

    /// Convex's size of the stored document: its fields as the wire carries them (numbers 9
    /// bytes, strings 2 plus their length, objects and arrays 2 plus their parts), plus
    /// `parentExecutionDocId`, `_id` and `_creationTime` (ids are 32 characters).
    fn convex_size(&self) -> u64 {
        const ID_BYTES: u64 = 2 + 32;
        let mut size = json_convex_size(&encode_insert_value(&self.value, self.shard));
        if self.parent_doc.is_some() {
            size += "parentExecutionDocId".len() as u64 + 1 + ID_BYTES;
        }
        size + ("_id".len() as u64 + 1 + ID_BYTES) + ("_creationTime".len() as u64 + 1 + 9)
    }

    /// The server's update of one document: clamp, set, then unset.
    fn patch(&mut self, update: &TaskExecutionStorageUpdate, now: i64) {
        self.value.apply_update(&clamp_update(update, now));
    }

    fn parent_execution_id(&self) -> Option<&str> {
        self.value.parent.as_ref().map(|p| p.execution_id.as_str())
    }

    fn is_only_child_of_parent(&self) -> bool {
        self.value
            .parent
            .as_ref()
            .is_some_and(|p| p.is_only_child_of_parent)
    }

    fn is_finalize_of_parent(&self) -> bool {
        self.value
            .parent
            .as_ref()
            .is_some_and(|p| p.is_finalize_of_parent)
    }
}

/// SPEC.md section 3 for updates, with upstream's `if (x && x < now)` guards: a value of exactly
/// 0 is never clamped (docs/SPEC.md section 3).
fn clamp_update(update: &TaskExecutionStorageUpdate, now: i64) -> TaskExecutionStorageUpdate {
    let to_now = |t: Option<i64>| t.map(|t| if t != 0 && t < now { now } else { t });
    let expiry = |t: Option<i64>| {
        t.map(|t| {
            if t != 0 && t < now {
                now.saturating_add(EXPIRY_CLAMP_OFFSET_MS)
            } else {
                t
            }
        })
    };
    let mut clamped = update.clone();
    clamped.updated_at = update.updated_at.max(now);
    clamped.start_at = to_now(update.start_at);
    clamped.started_at = to_now(update.started_at);
    clamped.finished_at = to_now(update.finished_at);
    clamped.on_children_finished_processing_finished_at =
        to_now(update.on_children_finished_processing_finished_at);
    clamped.closed_at = to_now(update.closed_at);
    clamped.expires_at = expiry(update.expires_at);
    clamped.on_children_finished_processing_expires_at =
        expiry(update.on_children_finished_processing_expires_at);
    clamped.close_expires_at = expiry(update.close_expires_at);
    clamped
}

/// SPEC.md section 3 for inserts: `createdAt = updatedAt = now`, `startAt` raised to `now`
/// (no zero guard upstream), past expiries moved to `now + 1000` (0 left alone).
fn clamp_insert(value: &mut TaskExecutionStorageValue, now: i64) {
    let expiry = |t: &mut Option<i64>| {
        if let Some(t) = t {
            if *t != 0 && *t < now {
                *t = now.saturating_add(EXPIRY_CLAMP_OFFSET_MS);
            }
        }
    };
    value.created_at = now;
    value.updated_at = now;
    value.start_at = value.start_at.max(now);
    expiry(&mut value.expires_at);
    expiry(&mut value.on_children_finished_processing_expires_at);
    expiry(&mut value.close_expires_at);
}

/// Convex's size of a JSON value as the wire carries Convex values.
fn json_convex_size(value: &serde_json::Value) -> u64 {
    use serde_json::Value as J;
    match value {
        J::Null | J::Bool(_) => 1,
        J::Number(_) => 9,
        J::String(s) => 2 + s.len() as u64,
        J::Array(items) => 2 + items.iter().map(json_convex_size).sum::<u64>(),
        J::Object(fields) => {
            2 + fields
                .iter()
                .map(|(k, v)| k.len() as u64 + 1 + json_convex_size(v))
                .sum::<u64>()
        }
    }
}

fn rejection(function: &str, message: &str) -> StorageError {
    StorageError::Function {
        path: format!("{DEFAULT_MODULE}:{function}"),
        message: message.to_string(),
        data: None,
    }
}

fn matches_filters(doc: &Doc, filters: Option<&TaskExecutionStorageGetByIdFilters>) -> bool {
    filters.is_none_or(|f| f.matches(&doc.value))
}

impl Store {
    /// `by_executionId`, first match: one range, and the document if there is one.
    fn position_by_execution_id(&self, execution_id: &str) -> Option<usize> {
        self.meter.range(format!("by_executionId:{execution_id}"));
        let found = self
            .docs
            .iter()
            .position(|doc| doc.value.execution_id == execution_id);
        if let Some(i) = found {
            self.meter.read(&self.docs[i]);
        }
        found
    }

    /// `by_sleepingTaskUniqueId`, oldest match.
    fn position_by_sleeping_task_unique_id(&self, unique_id: &str) -> Option<usize> {
        self.meter
            .range(format!("by_sleepingTaskUniqueId:{unique_id}"));
        let found = self
            .docs
            .iter()
            .position(|doc| doc.value.sleeping_task_unique_id.as_deref() == Some(unique_id));
        if let Some(i) = found {
            self.meter.read(&self.docs[i]);
        }
        found
    }

    /// `db.patch`: reads the document by id, then writes it.
    fn patch(&mut self, i: usize, update: &TaskExecutionStorageUpdate, now: i64) {
        self.meter.range(format!("by_id:{}", self.docs[i].seq));
        self.meter.read(&self.docs[i]);
        self.docs[i].patch(update, now);
    }

    /// Inserts in order, failing (for the whole call: the caller drops the draft) on the first
    /// duplicate execution id or non-empty sleeping task unique id.
    fn insert_all(
        &mut self,
        function: &str,
        executions: Vec<(u32, TaskExecutionStorageValue)>,
        parent_doc: Option<u64>,
        now: i64,
    ) -> Result<(), StorageError> {
        for (shard, mut value) in executions {
            if self.position_by_execution_id(&value.execution_id).is_some() {
                return Err(rejection(function, "Execution id already exists"));
            }
            if let Some(unique_id) = value.sleeping_task_unique_id.as_deref() {
                let taken = !unique_id.is_empty()
                    && self
                        .position_by_sleeping_task_unique_id(unique_id)
                        .is_some();
                if taken {
                    return Err(rejection(
                        function,
                        "Sleeping task unique id already exists",
                    ));
                }
            }
            clamp_insert(&mut value, now);
            let seq = self.next_seq;
            self.next_seq += 1;
            self.docs.push(Doc {
                seq,
                shard,
                parent_doc,
                value,
            });
        }
        Ok(())
    }

    /// The positions of the documents passing `filter`, in index order (`key`, then
    /// insertion order), at most `limit` of them.
    ///
    /// `range` names the index range for the read limits; every selected document is read.
    fn select<K: Ord>(
        &self,
        range: String,
        filter: impl Fn(&Doc) -> bool,
        key: impl Fn(&Doc) -> K,
        limit: u32,
    ) -> Vec<usize> {
        self.meter.range(range);
        let mut positions: Vec<usize> = (0..self.docs.len())
            .filter(|&i| filter(&self.docs[i]))
            .collect();
        positions.sort_by(|&a, &b| {
            key(&self.docs[a])
                .cmp(&key(&self.docs[b]))
                .then(self.docs[a].seq.cmp(&self.docs[b].seq))
        });
        positions.truncate(limit as usize);
        for &i in &positions {
            self.meter.read(&self.docs[i]);
        }
        positions
    }

    /// `db.get(id)`: one range by id, and the document if there is one.
    fn position_by_seq(&self, seq: u64) -> Option<usize> {
        self.meter.range(format!("by_id:{seq}"));
        let found = self.docs.iter().position(|doc| doc.seq == seq);
        if let Some(i) = found {
            self.meter.read(&self.docs[i]);
        }
        found
    }
}

/// `0 <= x < bound`: the range the expiry sweeps scan, which skips a missing field.
fn expiry_in_range(value: Option<i64>, bound: i64) -> bool {
    value.is_some_and(|x| 0 <= x && x < bound)
}

#[async_trait]
impl TaskExecutionsStorage for InMemoryTaskExecutionsStorage {
    async fn insert_many(
        &self,
        executions: Vec<TaskExecutionStorageValue>,
    ) -> Result<(), StorageError> {
        if executions.is_empty() {
            return Ok(());
        }
        let executions = self.with_shards(executions)?;
        self.mutate(|store, time| store.insert_all("insertMany", executions, None, time.now))
    }

    async fn get_many_by_id(
        &self,
        requests: Vec<GetByIdRequest>,
    ) -> Result<Vec<Option<TaskExecutionStorageValue>>, StorageError> {
        self.query(|store| {
            requests
                .iter()
                .map(|request| {
                    store
                        .position_by_execution_id(&request.execution_id)
                        .map(|i| &store.docs[i])
                        .filter(|doc| matches_filters(doc, request.filters.as_ref()))
                        .map(Doc::read)
                })
                .collect()
        })
    }

    async fn get_many_by_sleeping_task_unique_id(
        &self,
        sleeping_task_unique_ids: Vec<String>,
    ) -> Result<Vec<Option<TaskExecutionStorageValue>>, StorageError> {
        self.query(|store| {
            sleeping_task_unique_ids
                .iter()
                .map(|unique_id| {
                    // Documents are kept in insertion order, so the first match is the oldest.
                    store
                        .position_by_sleeping_task_unique_id(unique_id)
                        .map(|i| store.docs[i].read())
                })
                .collect()
        })
    }

    async fn update_many_by_id(
        &self,
        requests: Vec<UpdateByIdRequest>,
    ) -> Result<(), StorageError> {
        self.mutate(|store, time| {
            for request in &requests {
                let Some(i) = store.position_by_execution_id(&request.execution_id) else {
                    continue;
                };
                if matches_filters(&store.docs[i], request.filters.as_ref()) {
                    store.patch(i, &request.update, time.now);
                }
            }
            Ok(())
        })
    }

    async fn update_many_by_id_and_insert_children_if_updated(
        &self,
        requests: Vec<UpdateByIdAndInsertChildrenRequest>,
    ) -> Result<(), StorageError> {
        let mut prepared = Vec::with_capacity(requests.len());
        for request in requests {
            let children =
                self.with_shards(request.children_task_executions_to_insert_if_any_updated)?;
            prepared.push((
                request.execution_id,
                request.filters,
                request.update,
                children,
            ));
        }
        self.mutate(|store, time| {
            for (execution_id, filters, update, children) in prepared {
                let Some(i) = store.position_by_execution_id(&execution_id) else {
                    continue;
                };
                if !matches_filters(&store.docs[i], filters.as_ref()) {
                    continue;
                }
                store.patch(i, &update, time.now);
                let parent_seq = store.docs[i].seq;
                store.insert_all(
                    "updateManyByIdAndInsertChildrenIfUpdated",
                    children,
                    Some(parent_seq),
                    time.now,
                )?;
            }
            Ok(())
        })
    }

    async fn update_by_status_and_start_at_less_than_and_return(
        &self,
        request: UpdateByStatusAndStartAtLessThanRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        let r = &request;
        self.claim_per_shard(
            |store, shard, _time| {
                store.select(
                    "selector".to_string(),
                    |doc| {
                        doc.shard == shard
                            && doc.value.status == r.status
                            && doc.value.start_at < r.start_at_less_than
                    },
                    |doc| doc.value.start_at,
                    r.limit,
                )
            },
            |doc| TaskExecutionStorageUpdate {
                expires_at: Some(
                    r.update_expires_at_with_started_at
                        .saturating_add(doc.value.timeout_ms),
                ),
                ..r.update.clone()
            },
            |value| value.apply_start_update(&r.update, r.update_expires_at_with_started_at),
        )
    }

    async fn update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
        &self,
        request: UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        let r = &request;
        self.claim_per_shard(
            |store, shard, time| {
                store.select(
                    "selector".to_string(),
                    |doc| {
                        doc.shard == shard
                            && doc.value.status == r.status
                            && doc.value.on_children_finished_processing_status
                                == r.on_children_finished_processing_status
                            && doc.value.active_children_count == 0
                            && doc.value.updated_at < time.clock
                    },
                    |doc| doc.value.updated_at,
                    r.limit,
                )
            },
            |_| r.update.clone(),
            |value| value.apply_update(&r.update),
        )
    }

    async fn update_by_close_status_and_return(
        &self,
        request: UpdateByCloseStatusRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        let r = &request;
        self.claim_per_shard(
            |store, shard, time| {
                store.select(
                    "selector".to_string(),
                    |doc| {
                        doc.shard == shard
                            && doc.value.close_status == r.close_status
                            && doc.value.updated_at < time.clock
                    },
                    |doc| doc.value.updated_at,
                    r.limit,
                )
            },
            |_| r.update.clone(),
            |value| value.apply_update(&r.update),
        )
    }

    async fn update_by_status_and_is_sleeping_task_and_expires_at_less_than(
        &self,
        request: UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError> {
        let r = &request;
        self.sweep(
            |store, _time| {
                store.select(
                    "selector".to_string(),
                    |doc| {
                        doc.value.status == r.status
                            && doc.value.is_sleeping_task == r.is_sleeping_task
                            && expiry_in_range(doc.value.expires_at, r.expires_at_less_than)
                    },
                    |doc| doc.value.expires_at,
                    r.limit,
                )
            },
            &r.update,
        )
    }

    async fn update_by_on_children_finished_processing_expires_at_less_than(
        &self,
        request: UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError> {
        let r = &request;
        self.sweep(
            |store, _time| {
                store.select(
                    "selector".to_string(),
                    |doc| {
                        expiry_in_range(
                            doc.value.on_children_finished_processing_expires_at,
                            r.on_children_finished_processing_expires_at_less_than,
                        )
                    },
                    |doc| doc.value.on_children_finished_processing_expires_at,
                    r.limit,
                )
            },
            &r.update,
        )
    }

    async fn update_by_close_expires_at_less_than(
        &self,
        request: UpdateByCloseExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError> {
        let r = &request;
        self.sweep(
            |store, _time| {
                store.select(
                    "selector".to_string(),
                    |doc| expiry_in_range(doc.value.close_expires_at, r.close_expires_at_less_than),
                    |doc| doc.value.close_expires_at,
                    r.limit,
                )
            },
            &r.update,
        )
    }

    async fn update_by_executor_id_and_needs_promise_cancellation_and_return(
        &self,
        request: UpdateByExecutorIdAndNeedsPromiseCancellationRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        let r = &request;
        self.claim_per_shard(
            |store, shard, time| {
                store.select(
                    "selector".to_string(),
                    |doc| {
                        doc.shard == shard
                            && doc.value.executor_id.as_deref() == Some(r.executor_id.as_str())
                            && doc.value.needs_promise_cancellation == r.needs_promise_cancellation
                            && doc.value.updated_at < time.clock
                    },
                    |doc| doc.value.updated_at,
                    r.limit,
                )
            },
            |_| r.update.clone(),
            |value| value.apply_update(&r.update),
        )
    }

    async fn get_many_by_parent_execution_id(
        &self,
        parent_execution_ids: Vec<String>,
    ) -> Result<Vec<Vec<TaskExecutionStorageValue>>, StorageError> {
        self.query(|store| {
            parent_execution_ids
                .iter()
                .map(|parent_id| {
                    store
                        .select(
                            format!("by_parentExecutionId:{parent_id}"),
                            |doc| doc.parent_execution_id() == Some(parent_id.as_str()),
                            |doc| doc.value.is_finished,
                            u32::MAX,
                        )
                        .into_iter()
                        .map(|i| store.docs[i].read())
                        .collect()
                })
                .collect()
        })
    }

    async fn update_many_by_parent_execution_id_and_is_finished(
        &self,
        requests: Vec<UpdateByParentExecutionIdAndIsFinishedRequest>,
    ) -> Result<(), StorageError> {
        self.mutate(|store, time| {
            for request in &requests {
                let selected = store.select(
                    format!(
                        "by_parentExecutionId_isFinished:{}:{}",
                        request.parent_execution_id, request.is_finished
                    ),
                    |doc| {
                        doc.parent_execution_id() == Some(request.parent_execution_id.as_str())
                            && doc.value.is_finished == request.is_finished
                    },
                    |_| (),
                    u32::MAX,
                );
                for i in selected {
                    store.patch(i, &request.update, time.now);
                }
            }
            Ok(())
        })
    }

    async fn update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
        &self,
        request: UpdateAndDecrementParentActiveChildrenCountRequest,
    ) -> Result<u64, StorageError> {
        let limit_per_shard = request.limit.div_ceil(self.shards.len() as u32);
        let mut total = 0;
        for &shard in &self.shards {
            total += self.mutate(|store, time| {
                let selected = store.select(
                    "selector".to_string(),
                    |doc| {
                        doc.shard == shard
                            && doc.value.is_finished == request.is_finished
                            && doc.value.close_status == request.close_status
                            && doc.value.updated_at < time.clock
                    },
                    |doc| doc.value.updated_at,
                    limit_per_shard,
                );
                // What the children said about their parents, read before their update.
                let mut only_child_parents: Vec<u64> = Vec::new();
                let mut seen_only_child_parents = HashSet::new();
                let mut decrements: BTreeMap<u64, i64> = BTreeMap::new();
                for &i in &selected {
                    let doc = &store.docs[i];
                    let Some(parent) = doc.parent_doc else {
                        continue;
                    };
                    if doc.is_finalize_of_parent() {
                        continue;
                    }
                    if doc.is_only_child_of_parent() {
                        if seen_only_child_parents.insert(parent) {
                            only_child_parents.push(parent);
                        }
                    } else {
                        *decrements.entry(parent).or_insert(0) += 1;
                    }
                }

                for &i in &selected {
                    store.patch(i, &request.update, time.now);
                }
                // Upstream clamps the request's `updatedAt` in place while updating the
                // children, so the parents get the clamped value.
                let updated_at = request.update.updated_at.max(time.now);
                for parent in only_child_parents {
                    // Upstream patches an only child's parent without reading it first, and
                    // Convex's patch of a missing document throws: the whole sweep of this
                    // shard fails and nothing of it is kept. (The grouped decrement below
                    // reads first and skips a missing parent.)
                    let Some(p) = store.position_by_seq(parent) else {
                        return Err(rejection(
                            "updateAndDecrementParentACCByIsFinishedAndCloseStatus",
                            &format!("Update on nonexistent document ID {parent}"),
                        ));
                    };
                    store.docs[p].value.active_children_count = 0;
                    store.docs[p].value.updated_at = updated_at;
                }
                for (parent, count) in decrements {
                    if let Some(p) = store.position_by_seq(parent) {
                        let acc = store.docs[p]
                            .value
                            .active_children_count
                            .saturating_sub(count);
                        let update = TaskExecutionStorageUpdate {
                            active_children_count: Some(acc),
                            updated_at,
                            ..TaskExecutionStorageUpdate::default()
                        };
                        store.patch(p, &update, time.now);
                    }
                }
                Ok(selected.len() as u64)
            })?;
        }
        Ok(total)
    }

    async fn delete_by_id(&self, execution_id: &str) -> Result<(), StorageError> {
        self.lock()
            .docs
            .retain(|doc| doc.value.execution_id != execution_id);
        Ok(())
    }

    async fn delete_all(&self) -> Result<(), StorageError> {
        self.lock().docs.clear();
        Ok(())
    }
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
