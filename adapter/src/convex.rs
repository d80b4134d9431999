//! [`ConvexTaskExecutionsStorage`]: the storage interface over a deployment's public API.
//!
//! A port of upstream's `ConvexTaskExecutionsStorage` (src/client/index.ts): each method calls
//! one public function of the storage module (SPEC.md section 5) through [`ConvexHttp`],
//! translating names with [`crate::mapping`]. The client-side work is the sharding of SPEC.md
//! section 6: inserts pick a random shard, the four sharded selectors run once per configured
//! shard concurrently and apply the request's update to what they return, the decrement sweep
//! splits its limit over the shards.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::error::StorageError;
use crate::join::{join_all, BoxFuture};
use crate::mapping::{
    self, encode_executor_npc_args, encode_filters, encode_insert_value, encode_ocfp_acc_zero_args,
    encode_update,
};
use crate::shards::{choose_shard, resolve_shards, ShardChooser};
use crate::storage::*;
use crate::transport::ConvexHttp;
use crate::types::{TaskExecutionStorageUpdate, TaskExecutionStorageValue};
use convex_storage_operations::Operation;

/// The module the README's setup exposes the public functions from.
pub const DEFAULT_MODULE: &str = "taskExecutionsStorage";

/// How long one HTTP call may take unless configured otherwise, in milliseconds.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// How [`ConvexTaskExecutionsStorage`] talks to the deployment.
#[derive(Clone)]
pub struct ConvexStorageOptions {
    /// How many shards the store is split into, 1..=64. Every client of one store must agree,
    /// since inserts pick among all of them.
    pub total_shards: u32,
    /// The shards this client claims work from; `None` = all. Deduplicated and sorted; a
    /// shard outside `0..total_shards` is an options error.
    pub shards: Option<Vec<u32>>,
    /// Whether `delete_by_id` and `delete_all` do anything; off, they are no-ops, so a
    /// production client can never wipe the store.
    pub enable_test_mode: bool,
    /// The module holding the 17 public functions (`<module>:<fn>` paths).
    pub module: String,
    /// The timeout of each HTTP call, connection included.
    pub request_timeout: Duration,
    /// Picks each inserted execution's shard; `None` = uniformly random over all
    /// `total_shards`, as upstream's client does. Must return a shard below `total_shards`
    /// (a larger one is an `InvalidOptions` error at insert).
    pub shard_for: Option<ShardChooser>,
}

impl std::fmt::Debug for ConvexStorageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvexStorageOptions")
            .field("total_shards", &self.total_shards)
            .field("shards", &self.shards)
            .field("enable_test_mode", &self.enable_test_mode)
            .field("module", &self.module)
            .field("request_timeout", &self.request_timeout)
            .field("shard_for", &self.shard_for.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Default for ConvexStorageOptions {
    fn default() -> Self {
        Self {
            total_shards: 1,
            shards: None,
            enable_test_mode: false,
            module: DEFAULT_MODULE.to_string(),
            request_timeout: Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
            shard_for: None,
        }
    }
}

/// durable-execution's task-executions storage on a Convex deployment (or the emulator).
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct ConvexTaskExecutionsStorage {
    http: ConvexHttp,
    total_shards: u32,
    /// Resolved: deduplicated, sorted, never empty.
    shards: Vec<u32>,
    enable_test_mode: bool,
    shard_for: Option<ShardChooser>,
}

impl std::fmt::Debug for ConvexTaskExecutionsStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvexTaskExecutionsStorage")
            .field("http", &self.http)
            .field("total_shards", &self.total_shards)
            .field("shards", &self.shards)
            .field("enable_test_mode", &self.enable_test_mode)
            .field("shard_for", &self.shard_for.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl ConvexTaskExecutionsStorage {
    /// Connects to the deployment at `url` (`http://` or `https://`, no path), authenticating
    /// every call with `auth_secret`. Nothing is sent until the first call.
    pub fn new(
        url: &str,
        auth_secret: &str,
        options: ConvexStorageOptions,
    ) -> Result<Self, StorageError> {
        let base_url = crate::transport::validate_url(url)?;
        let shards = resolve_shards(options.total_shards, options.shards.as_deref())?;
        if options.module.is_empty() || options.module.contains(':') {
            return Err(StorageError::InvalidOptions(format!(
                "module must be a non-empty module path without `:`, got {:?}",
                options.module
            )));
        }
        if options.request_timeout.is_zero() {
            return Err(StorageError::InvalidOptions(
                "request_timeout must be longer than zero".to_string(),
            ));
        }
        Ok(Self {
            http: ConvexHttp::new(
                base_url,
                auth_secret.to_string(),
                options.module,
                options.request_timeout,
            )?,
            total_shards: options.total_shards,
            shards,
            enable_test_mode: options.enable_test_mode,
            shard_for: options.shard_for,
        })
    }

    /// The shards this client works on, deduplicated and sorted.
    pub fn shards(&self) -> &[u32] {
        &self.shards
    }

    /// The total number of shards inserts choose from.
    pub fn total_shards(&self) -> u32 {
        self.total_shards
    }

    /// Encodes an execution to insert, on the shard `shard_for` picks or else one picked
    /// uniformly from all `total_shards` (upstream's choice), not only the served ones.
    fn insert_value(&self, value: &TaskExecutionStorageValue) -> Result<Value, StorageError> {
        let shard = choose_shard(
            self.shard_for.as_ref(),
            self.total_shards,
            &value.execution_id,
        )?;
        Ok(encode_insert_value(value, shard))
    }

    /// Calls a function and decodes its value, turning a decoding failure into
    /// [`StorageError::Decode`] for that function.
    async fn call<T>(
        &self,
        operation: Operation,
        args: Option<Value>,
        decode: fn(Value) -> Result<T, String>,
    ) -> Result<T, StorageError> {
        let value = self.http.call(operation, args).await?;
        decode(value).map_err(|message| StorageError::Decode {
            path: self.http.path(operation),
            message,
        })
    }

    /// Calls a sharded selector once per configured shard, concurrently; the shard number is
    /// added to `args`. Results come back in shard order; the first failure (in shard order)
    /// wins, like upstream's `Promise.all` would report one.
    async fn call_per_shard<T: Send>(
        &self,
        operation: Operation,
        args: Value,
        decode: fn(Value) -> Result<T, String>,
    ) -> Result<Vec<T>, StorageError> {
        let calls: Vec<BoxFuture<'_, Result<T, StorageError>>> = self
            .shards
            .iter()
            .map(|&shard| {
                let mut args = args.clone();
                args["shard"] = json!(shard);
                Box::pin(self.call(operation, Some(args), decode)) as BoxFuture<'_, _>
            })
            .collect();
        join_all(calls).await.into_iter().collect()
    }

    /// A sharded `...AndReturn` selector: concatenated in shard order, each value with the
    /// request's update applied on the client (SPEC.md section 6).
    async fn claim_per_shard(
        &self,
        operation: Operation,
        args: Value,
        update: &TaskExecutionStorageUpdate,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        let per_shard = self
            .call_per_shard(operation, args, mapping::decode_values)
            .await?;
        Ok(per_shard
            .into_iter()
            .flatten()
            .map(|mut value| {
                value.apply_update(update);
                value
            })
            .collect())
    }
}

fn requests_args(requests: Vec<Value>) -> Option<Value> {
    Some(json!({ "requests": requests }))
}

/// `{executionId, filters?, update}`: the part every update-by-id request shares.
fn update_by_id_args(
    execution_id: &str,
    filters: Option<&crate::types::TaskExecutionStorageGetByIdFilters>,
    update: &TaskExecutionStorageUpdate,
) -> serde_json::Map<String, Value> {
    let mut request = serde_json::Map::new();
    request.insert("executionId".into(), json!(execution_id));
    if let Some(filters) = filters {
        request.insert("filters".into(), encode_filters(filters));
    }
    request.insert("update".into(), encode_update(update));
    request
}

fn expect_len<T>(path: String, expected: usize, values: Vec<T>) -> Result<Vec<T>, StorageError> {
    if values.len() == expected {
        Ok(values)
    } else {
        Err(StorageError::Decode {
            path,
            message: format!("expected {expected} results, got {}", values.len()),
        })
    }
}

#[async_trait]
impl TaskExecutionsStorage for ConvexTaskExecutionsStorage {
    async fn insert_many(
        &self,
        executions: Vec<TaskExecutionStorageValue>,
    ) -> Result<(), StorageError> {
        if executions.is_empty() {
            return Ok(());
        }
        let executions = executions
            .iter()
            .map(|v| self.insert_value(v))
            .collect::<Result<Vec<Value>, _>>()?;
        let args = json!({ "executions": executions });
        self.call(Operation::InsertMany, Some(args), mapping::decode_null)
            .await
    }

    async fn get_many_by_id(
        &self,
        requests: Vec<GetByIdRequest>,
    ) -> Result<Vec<Option<TaskExecutionStorageValue>>, StorageError> {
        let expected = requests.len();
        let requests = requests
            .iter()
            .map(mapping::encode_get_by_id_request)
            .collect();
        let values = self
            .call(
                Operation::GetManyById,
                requests_args(requests),
                mapping::decode_optional_values,
            )
            .await?;
        expect_len(self.http.path(Operation::GetManyById), expected, values)
    }

    async fn get_many_by_sleeping_task_unique_id(
        &self,
        sleeping_task_unique_ids: Vec<String>,
    ) -> Result<Vec<Option<TaskExecutionStorageValue>>, StorageError> {
        let expected = sleeping_task_unique_ids.len();
        let requests = sleeping_task_unique_ids
            .iter()
            .map(|id| json!({ "sleepingTaskUniqueId": id }))
            .collect();
        let values = self
            .call(
                Operation::GetManyBySleepingTaskUniqueId,
                requests_args(requests),
                mapping::decode_optional_values,
            )
            .await?;
        expect_len(
            self.http.path(Operation::GetManyBySleepingTaskUniqueId),
            expected,
            values,
        )
    }

    async fn update_many_by_id(
        &self,
        requests: Vec<UpdateByIdRequest>,
    ) -> Result<(), StorageError> {
        let requests = requests
            .iter()
            .map(|r| {
                Value::Object(update_by_id_args(
                    &r.execution_id,
                    r.filters.as_ref(),
                    &r.update,
                ))
            })
            .collect();
        self.call(
            Operation::UpdateManyById,
            requests_args(requests),
            mapping::decode_null,
        )
        .await
    }

    async fn update_many_by_id_and_insert_children_if_updated(
        &self,
        requests: Vec<UpdateByIdAndInsertChildrenRequest>,
    ) -> Result<(), StorageError> {
        let requests = requests
            .iter()
            .map(|r| {
                let mut request = update_by_id_args(&r.execution_id, r.filters.as_ref(), &r.update);
                let children = r
                    .children_task_executions_to_insert_if_any_updated
                    .iter()
                    .map(|child| self.insert_value(child))
                    .collect::<Result<Vec<Value>, _>>()?;
                request.insert(
                    "childrenTaskExecutionsToInsertIfAnyUpdated".into(),
                    json!(children),
                );
                Ok(Value::Object(request))
            })
            .collect::<Result<Vec<Value>, StorageError>>()?;
        self.call(
            Operation::UpdateManyByIdAndInsertChildrenIfUpdated,
            requests_args(requests),
            mapping::decode_null,
        )
        .await
    }

    async fn update_by_status_and_start_at_less_than_and_return(
        &self,
        request: UpdateByStatusAndStartAtLessThanRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        let args = json!({
            "status": request.status,
            "startAtLessThan": request.start_at_less_than,
            "update": encode_update(&request.update),
            "updateExpiresAtWithStartedAt": request.update_expires_at_with_started_at,
            "limit": request.limit,
        });
        let per_shard = self
            .call_per_shard(
                Operation::UpdateByStatusAndStartAtLessThanAndReturn,
                args,
                mapping::decode_values,
            )
            .await?;
        Ok(per_shard
            .into_iter()
            .flatten()
            .map(|mut value| {
                value
                    .apply_start_update(&request.update, request.update_expires_at_with_started_at);
                value
            })
            .collect())
    }

    async fn update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
        &self,
        request: UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        let args = encode_ocfp_acc_zero_args(&request);
        self.claim_per_shard(
            Operation::UpdateByStatusAndOCFPStatusAndACCZeroAndReturn,
            args,
            &request.update,
        )
        .await
    }

    async fn update_by_close_status_and_return(
        &self,
        request: UpdateByCloseStatusRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        let args = json!({
            "closeStatus": request.close_status,
            "update": encode_update(&request.update),
            "limit": request.limit,
        });
        self.claim_per_shard(
            Operation::UpdateByCloseStatusAndReturn,
            args,
            &request.update,
        )
        .await
    }

    async fn update_by_status_and_is_sleeping_task_and_expires_at_less_than(
        &self,
        request: UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError> {
        let args = json!({
            "status": request.status,
            "isSleepingTask": request.is_sleeping_task,
            "expiresAtLessThan": request.expires_at_less_than,
            "update": encode_update(&request.update),
            "limit": request.limit,
        });
        self.call(
            Operation::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan,
            Some(args),
            mapping::decode_count,
        )
        .await
    }

    async fn update_by_on_children_finished_processing_expires_at_less_than(
        &self,
        request: UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError> {
        let args = json!({
            "ocfpExpiresAtLessThan": request.on_children_finished_processing_expires_at_less_than,
            "update": encode_update(&request.update),
            "limit": request.limit,
        });
        self.call(
            Operation::UpdateByOCFPExpiresAt,
            Some(args),
            mapping::decode_count,
        )
        .await
    }

    async fn update_by_close_expires_at_less_than(
        &self,
        request: UpdateByCloseExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError> {
        let args = json!({
            "closeExpiresAtLessThan": request.close_expires_at_less_than,
            "update": encode_update(&request.update),
            "limit": request.limit,
        });
        self.call(
            Operation::UpdateByCloseExpiresAt,
            Some(args),
            mapping::decode_count,
        )
        .await
    }

    async fn update_by_executor_id_and_needs_promise_cancellation_and_return(
        &self,
        request: UpdateByExecutorIdAndNeedsPromiseCancellationRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        let args = encode_executor_npc_args(&request);
        self.claim_per_shard(
            Operation::UpdateByExecutorIdAndNPCAndReturn,
            args,
            &request.update,
        )
        .await
    }

    async fn get_many_by_parent_execution_id(
        &self,
        parent_execution_ids: Vec<String>,
    ) -> Result<Vec<Vec<TaskExecutionStorageValue>>, StorageError> {
        let expected = parent_execution_ids.len();
        let requests = parent_execution_ids
            .iter()
            .map(|id| json!({ "parentExecutionId": id }))
            .collect();
        let values = self
            .call(
                Operation::GetManyByParentExecutionId,
                requests_args(requests),
                mapping::decode_value_lists,
            )
            .await?;
        expect_len(
            self.http.path(Operation::GetManyByParentExecutionId),
            expected,
            values,
        )
    }

    async fn update_many_by_parent_execution_id_and_is_finished(
        &self,
        requests: Vec<UpdateByParentExecutionIdAndIsFinishedRequest>,
    ) -> Result<(), StorageError> {
        let requests = requests
            .iter()
            .map(|r| {
                json!({
                    "parentExecutionId": r.parent_execution_id,
                    "isFinished": r.is_finished,
                    "update": encode_update(&r.update),
                })
            })
            .collect();
        self.call(
            Operation::UpdateManyByParentExecutionIdAndIsFinished,
            requests_args(requests),
            mapping::decode_null,
        )
        .await
    }

    async fn update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
        &self,
        request: UpdateAndDecrementParentActiveChildrenCountRequest,
    ) -> Result<u64, StorageError> {
        // `shards` is never empty, so the division is defined.
        let shard_count = self.shards.len() as u32;
        let args = json!({
            "isFinished": request.is_finished,
            "closeStatus": request.close_status,
            "update": encode_update(&request.update),
            "limit": request.limit.div_ceil(shard_count),
        });
        let counts = self
            .call_per_shard(
                Operation::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus,
                args,
                mapping::decode_count,
            )
            .await?;
        Ok(counts.into_iter().sum())
    }

    async fn delete_by_id(&self, execution_id: &str) -> Result<(), StorageError> {
        if !self.enable_test_mode {
            return Ok(());
        }
        let args = json!({ "executionId": execution_id });
        self.call(Operation::DeleteById, Some(args), mapping::decode_null)
            .await
    }

    async fn delete_all(&self) -> Result<(), StorageError> {
        if !self.enable_test_mode {
            return Ok(());
        }
        self.call(Operation::DeleteAll, None, mapping::decode_null)
            .await
    }
}

#[cfg(test)]
#[path = "convex_tests.rs"]
mod tests;
