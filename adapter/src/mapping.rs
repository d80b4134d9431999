//! The Convex wire shapes of the `taskExecutions` table and the conversions to and from ours.
//!
//! Only this module knows the stored field names (`acc`, `ocfpStatus`, `npc`, the flattened
//! `root*`/`parent*` fields; SPEC.md sections 2 and 6). Encoding never writes `null` (an absent
//! field is left out) and writes numbers as plain JSON numbers, never `$integer`: Convex's
//! `v.number()` is a float64. The three non-finite floats and `-0` have no JSON number, so a
//! `delayMultiplier` holding one is written as Convex's `{"$float": ...}` instead, as the
//! official client would.
//!
//! Decoding is lenient where the backend legitimately varies and strict where a value could be
//! misread: integer fields accept `5` and `5.0` (the real backend prints integral floats as
//! `5.0`) but reject `5.5`, non-finite and out-of-range numbers; system fields (`_id`,
//! `_creationTime`), `shard`, `parentExecutionDocId` and any field we do not know are ignored.
//! Nothing a server sends can make these functions panic.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Value};

use crate::storage::{
    GetByIdRequest, UpdateByExecutorIdAndNeedsPromiseCancellationRequest,
    UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest,
};
use crate::types::{
    DurableExecutionErrorStorageValue, OnChildrenFinishedProcessingStatus,
    ParentTaskExecutionSummary, TaskExecutionCloseStatus, TaskExecutionStatus,
    TaskExecutionStorageGetByIdFilters, TaskExecutionStorageUnset, TaskExecutionStorageUpdate,
    TaskExecutionStorageValue, TaskExecutionSummary, TaskRetryOptions,
};

/// Encodes one execution as the insert value the `insertMany` family expects.
pub(crate) fn encode_insert_value(value: &TaskExecutionStorageValue, shard: u32) -> Value {
    to_value(&DbInsertValue::new(value, shard))
}

/// Encodes an update as the DB update request (`acc`, `ocfpStatus`, ..., `unset`).
pub(crate) fn encode_update(update: &TaskExecutionStorageUpdate) -> Value {
    to_value(&DbUpdateRequest::new(update))
}

/// Encodes one lookup of `getManyById`: `{executionId, filters?}`.
/// The arguments of `updateByStatusAndOCFPStatusAndACCZeroAndReturn` (without `shard`).
pub(crate) fn encode_ocfp_acc_zero_args(
    request: &UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest,
) -> Value {
    json!({
        "status": request.status,
        "ocfpStatus": request.on_children_finished_processing_status,
        "update": encode_update(&request.update),
        "limit": request.limit,
    })
}

/// The arguments of `updateByExecutorIdAndNPCAndReturn` (without `shard`).
pub(crate) fn encode_executor_npc_args(
    request: &UpdateByExecutorIdAndNeedsPromiseCancellationRequest,
) -> Value {
    json!({
        "executorId": request.executor_id,
        "npc": request.needs_promise_cancellation,
        "update": encode_update(&request.update),
        "limit": request.limit,
    })
}

pub(crate) fn encode_get_by_id_request(request: &GetByIdRequest) -> Value {
    to_value(&DbGetByIdRequest {
        execution_id: &request.execution_id,
        filters: request.filters.as_ref().map(DbFilters::new),
    })
}

/// Encodes get-by-id filters: `{isSleepingTask?, status?, isFinished?}`.
pub(crate) fn encode_filters(filters: &TaskExecutionStorageGetByIdFilters) -> Value {
    to_value(&DbFilters::new(filters))
}

/// Decodes `(doc | null)[]`.
pub(crate) fn decode_optional_values(
    value: Value,
) -> Result<Vec<Option<TaskExecutionStorageValue>>, String> {
    let docs: Vec<Option<DbValue>> = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(docs
        .into_iter()
        .map(|doc| doc.map(DbValue::into_storage_value))
        .collect())
}

/// Decodes `doc[]`.
pub(crate) fn decode_values(value: Value) -> Result<Vec<TaskExecutionStorageValue>, String> {
    let docs: Vec<DbValue> = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().map(DbValue::into_storage_value).collect())
}

/// Decodes `doc[][]`.
pub(crate) fn decode_value_lists(
    value: Value,
) -> Result<Vec<Vec<TaskExecutionStorageValue>>, String> {
    let lists: Vec<Vec<DbValue>> = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(lists
        .into_iter()
        .map(|docs| docs.into_iter().map(DbValue::into_storage_value).collect())
        .collect())
}

/// Decodes a count: a non-negative integral number.
pub(crate) fn decode_count(value: Value) -> Result<u64, String> {
    let count: WireInt = serde_json::from_value(value).map_err(|e| e.to_string())?;
    u64::try_from(count.0).map_err(|_| format!("a count must not be negative, got {}", count.0))
}

/// Decodes the `null` a function without a result returns.
pub(crate) fn decode_null(value: Value) -> Result<(), String> {
    match value {
        Value::Null => Ok(()),
        other => Err(format!("expected null, got {}", short(&other))),
    }
}

/// The start of a JSON value, for error messages that must stay readable.
pub(crate) fn short(value: &Value) -> String {
    /// How much of an unexpected value an error message quotes.
    const QUOTE_CHARS_MAX: usize = 200;
    let text = value.to_string();
    match text.char_indices().nth(QUOTE_CHARS_MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

fn to_value<T: Serialize>(wire: &T) -> Value {
    // Our wire structs hold only strings, bools, integers, finite floats (others go through
    // `$float`) and string-keyed maps, which always serialize.
    serde_json::to_value(wire).expect("wire structs always serialize to JSON")
}

// ---------------------------------------------------------------------------------------------
// Encoding: insert value, update request, filters.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DbInsertValue<'a> {
    shard: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    root_task_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    root_execution_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_task_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_execution_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index_in_parent_children: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_only_child_of_parent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_finalize_of_parent: Option<bool>,
    task_id: &'a str,
    execution_id: &'a str,
    is_sleeping_task: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sleeping_task_unique_id: Option<&'a str>,
    retry_options: DbRetryOptionsOut,
    sleep_ms_before_run: i64,
    timeout_ms: i64,
    are_children_sequential: bool,
    input: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    executor_id: Option<&'a str>,
    status: TaskExecutionStatus,
    is_finished: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_output: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a DurableExecutionErrorStorageValue>,
    retry_attempts: i64,
    start_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting_for_children_started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting_for_finalize_started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    children: Option<&'a [TaskExecutionSummary]>,
    acc: i64,
    ocfp_status: OnChildrenFinishedProcessingStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    ocfp_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ocfp_finished_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finalize: Option<&'a TaskExecutionSummary>,
    close_status: TaskExecutionCloseStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    close_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed_at: Option<i64>,
    npc: bool,
    created_at: i64,
    updated_at: i64,
}

impl<'a> DbInsertValue<'a> {
    fn new(value: &'a TaskExecutionStorageValue, shard: u32) -> Self {
        let root = value.root.as_ref();
        let parent = value.parent.as_ref();
        Self {
            shard,
            root_task_id: root.map(|r| r.task_id.as_str()),
            root_execution_id: root.map(|r| r.execution_id.as_str()),
            parent_task_id: parent.map(|p| p.task_id.as_str()),
            parent_execution_id: parent.map(|p| p.execution_id.as_str()),
            index_in_parent_children: parent.map(|p| p.index_in_parent_children),
            is_only_child_of_parent: parent.map(|p| p.is_only_child_of_parent),
            is_finalize_of_parent: parent.map(|p| p.is_finalize_of_parent),
            task_id: &value.task_id,
            execution_id: &value.execution_id,
            is_sleeping_task: value.is_sleeping_task,
            sleeping_task_unique_id: value.sleeping_task_unique_id.as_deref(),
            retry_options: DbRetryOptionsOut::new(&value.retry_options),
            sleep_ms_before_run: value.sleep_ms_before_run,
            timeout_ms: value.timeout_ms,
            are_children_sequential: value.are_children_sequential,
            input: &value.input,
            executor_id: value.executor_id.as_deref(),
            status: value.status,
            is_finished: value.is_finished,
            run_output: value.run_output.as_deref(),
            output: value.output.as_deref(),
            error: value.error.as_ref(),
            retry_attempts: value.retry_attempts,
            start_at: value.start_at,
            started_at: value.started_at,
            expires_at: value.expires_at,
            waiting_for_children_started_at: value.waiting_for_children_started_at,
            waiting_for_finalize_started_at: value.waiting_for_finalize_started_at,
            finished_at: value.finished_at,
            children: value.children.as_deref(),
            acc: value.active_children_count,
            ocfp_status: value.on_children_finished_processing_status,
            ocfp_expires_at: value.on_children_finished_processing_expires_at,
            ocfp_finished_at: value.on_children_finished_processing_finished_at,
            finalize: value.finalize.as_ref(),
            close_status: value.close_status,
            close_expires_at: value.close_expires_at,
            closed_at: value.closed_at,
            npc: value.needs_promise_cancellation,
            created_at: value.created_at,
            updated_at: value.updated_at,
        }
    }
}

/// `retryOptions` as sent; `delayMultiplier` is the one float field of the table.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DbRetryOptionsOut {
    max_attempts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_delay_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_delay_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_multiplier: Option<WireFloat>,
}

impl DbRetryOptionsOut {
    fn new(options: &TaskRetryOptions) -> Self {
        Self {
            max_attempts: options.max_attempts,
            base_delay_ms: options.base_delay_ms,
            max_delay_ms: options.max_delay_ms,
            delay_multiplier: options.delay_multiplier.map(WireFloat),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DbUpdateRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    executor_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<TaskExecutionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_finished: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_output: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a DurableExecutionErrorStorageValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_attempts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting_for_children_started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting_for_finalize_started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    children: Option<&'a [TaskExecutionSummary]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acc: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ocfp_status: Option<OnChildrenFinishedProcessingStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ocfp_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ocfp_finished_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finalize: Option<&'a TaskExecutionSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close_status: Option<TaskExecutionCloseStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    npc: Option<bool>,
    updated_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    unset: Option<DbUnset>,
}

impl<'a> DbUpdateRequest<'a> {
    fn new(update: &'a TaskExecutionStorageUpdate) -> Self {
        Self {
            executor_id: update.executor_id.as_deref(),
            status: update.status,
            is_finished: update.is_finished,
            run_output: update.run_output.as_deref(),
            output: update.output.as_deref(),
            error: update.error.as_ref(),
            retry_attempts: update.retry_attempts,
            start_at: update.start_at,
            started_at: update.started_at,
            expires_at: update.expires_at,
            waiting_for_children_started_at: update.waiting_for_children_started_at,
            waiting_for_finalize_started_at: update.waiting_for_finalize_started_at,
            finished_at: update.finished_at,
            children: update.children.as_deref(),
            acc: update.active_children_count,
            ocfp_status: update.on_children_finished_processing_status,
            ocfp_expires_at: update.on_children_finished_processing_expires_at,
            ocfp_finished_at: update.on_children_finished_processing_finished_at,
            finalize: update.finalize.as_ref(),
            close_status: update.close_status,
            close_expires_at: update.close_expires_at,
            closed_at: update.closed_at,
            npc: update.needs_promise_cancellation,
            updated_at: update.updated_at,
            unset: update.unset.as_ref().and_then(DbUnset::new),
        }
    }
}

/// The `unset` object: only the flags that are set, so "no flag" and "all false" look alike.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DbUnset {
    #[serde(skip_serializing_if = "is_false")]
    executor_id: bool,
    #[serde(skip_serializing_if = "is_false")]
    run_output: bool,
    #[serde(skip_serializing_if = "is_false")]
    error: bool,
    #[serde(skip_serializing_if = "is_false")]
    started_at: bool,
    #[serde(skip_serializing_if = "is_false")]
    expires_at: bool,
    #[serde(skip_serializing_if = "is_false")]
    ocfp_expires_at: bool,
    #[serde(skip_serializing_if = "is_false")]
    close_expires_at: bool,
}

impl DbUnset {
    /// `None` when no flag is set: the request then carries no `unset` at all.
    fn new(unset: &TaskExecutionStorageUnset) -> Option<Self> {
        if unset.is_empty() {
            return None;
        }
        Some(Self {
            executor_id: unset.executor_id,
            run_output: unset.run_output,
            error: unset.error,
            started_at: unset.started_at,
            expires_at: unset.expires_at,
            ocfp_expires_at: unset.on_children_finished_processing_expires_at,
            close_expires_at: unset.close_expires_at,
        })
    }
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DbGetByIdRequest<'a> {
    execution_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    filters: Option<DbFilters>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DbFilters {
    #[serde(skip_serializing_if = "Option::is_none")]
    is_sleeping_task: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<TaskExecutionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_finished: Option<bool>,
}

impl DbFilters {
    fn new(filters: &TaskExecutionStorageGetByIdFilters) -> Self {
        Self {
            is_sleeping_task: filters.is_sleeping_task,
            status: filters.status,
            is_finished: filters.is_finished,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding: the stored document.

/// A stored document as the server returns it. Unknown fields (`_id`, `_creationTime`, `shard`,
/// `parentExecutionDocId`, anything newer) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DbValue {
    #[serde(default)]
    root_task_id: Option<String>,
    #[serde(default)]
    root_execution_id: Option<String>,
    #[serde(default)]
    parent_task_id: Option<String>,
    #[serde(default)]
    parent_execution_id: Option<String>,
    #[serde(default)]
    index_in_parent_children: Option<WireInt>,
    #[serde(default)]
    is_only_child_of_parent: Option<bool>,
    #[serde(default)]
    is_finalize_of_parent: Option<bool>,
    task_id: String,
    execution_id: String,
    is_sleeping_task: bool,
    #[serde(default)]
    sleeping_task_unique_id: Option<String>,
    retry_options: DbRetryOptionsIn,
    sleep_ms_before_run: WireInt,
    timeout_ms: WireInt,
    are_children_sequential: bool,
    input: String,
    #[serde(default)]
    executor_id: Option<String>,
    status: TaskExecutionStatus,
    is_finished: bool,
    #[serde(default)]
    run_output: Option<String>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    error: Option<DbError>,
    retry_attempts: WireInt,
    start_at: WireInt,
    #[serde(default)]
    started_at: Option<WireInt>,
    #[serde(default)]
    expires_at: Option<WireInt>,
    #[serde(default)]
    waiting_for_children_started_at: Option<WireInt>,
    #[serde(default)]
    waiting_for_finalize_started_at: Option<WireInt>,
    #[serde(default)]
    finished_at: Option<WireInt>,
    #[serde(default)]
    children: Option<Vec<DbSummary>>,
    acc: WireInt,
    ocfp_status: OnChildrenFinishedProcessingStatus,
    #[serde(default)]
    ocfp_expires_at: Option<WireInt>,
    #[serde(default)]
    ocfp_finished_at: Option<WireInt>,
    #[serde(default)]
    finalize: Option<DbSummary>,
    close_status: TaskExecutionCloseStatus,
    #[serde(default)]
    close_expires_at: Option<WireInt>,
    #[serde(default)]
    closed_at: Option<WireInt>,
    npc: bool,
    created_at: WireInt,
    updated_at: WireInt,
}

impl DbValue {
    /// SPEC.md section 6: `root` only when both root ids are non-empty, `parent` only when
    /// both parent ids are (with defaults 0 / false / false for the rest).
    fn into_storage_value(self) -> TaskExecutionStorageValue {
        let root = match (self.root_task_id, self.root_execution_id) {
            (Some(task_id), Some(execution_id))
                if !task_id.is_empty() && !execution_id.is_empty() =>
            {
                Some(TaskExecutionSummary {
                    task_id,
                    execution_id,
                })
            }
            _ => None,
        };
        let parent = match (self.parent_task_id, self.parent_execution_id) {
            (Some(task_id), Some(execution_id))
                if !task_id.is_empty() && !execution_id.is_empty() =>
            {
                Some(ParentTaskExecutionSummary {
                    task_id,
                    execution_id,
                    index_in_parent_children: self.index_in_parent_children.map_or(0, |i| i.0),
                    is_only_child_of_parent: self.is_only_child_of_parent.unwrap_or(false),
                    is_finalize_of_parent: self.is_finalize_of_parent.unwrap_or(false),
                })
            }
            _ => None,
        };
        TaskExecutionStorageValue {
            root,
            parent,
            task_id: self.task_id,
            execution_id: self.execution_id,
            is_sleeping_task: self.is_sleeping_task,
            sleeping_task_unique_id: self.sleeping_task_unique_id,
            retry_options: self.retry_options.into(),
            sleep_ms_before_run: self.sleep_ms_before_run.0,
            timeout_ms: self.timeout_ms.0,
            are_children_sequential: self.are_children_sequential,
            input: self.input,
            executor_id: self.executor_id,
            status: self.status,
            is_finished: self.is_finished,
            run_output: self.run_output,
            output: self.output,
            error: self.error.map(Into::into),
            retry_attempts: self.retry_attempts.0,
            start_at: self.start_at.0,
            started_at: self.started_at.map(|t| t.0),
            expires_at: self.expires_at.map(|t| t.0),
            waiting_for_children_started_at: self.waiting_for_children_started_at.map(|t| t.0),
            waiting_for_finalize_started_at: self.waiting_for_finalize_started_at.map(|t| t.0),
            finished_at: self.finished_at.map(|t| t.0),
            children: self
                .children
                .map(|c| c.into_iter().map(Into::into).collect()),
            active_children_count: self.acc.0,
            on_children_finished_processing_status: self.ocfp_status,
            on_children_finished_processing_expires_at: self.ocfp_expires_at.map(|t| t.0),
            on_children_finished_processing_finished_at: self.ocfp_finished_at.map(|t| t.0),
            finalize: self.finalize.map(Into::into),
            close_status: self.close_status,
            close_expires_at: self.close_expires_at.map(|t| t.0),
            closed_at: self.closed_at.map(|t| t.0),
            needs_promise_cancellation: self.npc,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DbRetryOptionsIn {
    max_attempts: WireInt,
    #[serde(default)]
    base_delay_ms: Option<WireInt>,
    #[serde(default)]
    max_delay_ms: Option<WireInt>,
    #[serde(default)]
    delay_multiplier: Option<WireFloat>,
}

impl From<DbRetryOptionsIn> for TaskRetryOptions {
    fn from(options: DbRetryOptionsIn) -> Self {
        Self {
            max_attempts: options.max_attempts.0,
            base_delay_ms: options.base_delay_ms.map(|d| d.0),
            max_delay_ms: options.max_delay_ms.map(|d| d.0),
            delay_multiplier: options.delay_multiplier.map(|m| m.0),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DbError {
    error_type: crate::types::DurableExecutionErrorType,
    message: String,
    is_retryable: bool,
    is_internal: bool,
}

impl From<DbError> for DurableExecutionErrorStorageValue {
    fn from(error: DbError) -> Self {
        Self {
            error_type: error.error_type,
            message: error.message,
            is_retryable: error.is_retryable,
            is_internal: error.is_internal,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DbSummary {
    task_id: String,
    execution_id: String,
}

impl From<DbSummary> for TaskExecutionSummary {
    fn from(summary: DbSummary) -> Self {
        Self {
            task_id: summary.task_id,
            execution_id: summary.execution_id,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers.

/// An integer field of the table. Convex stores it as a float64, so the wire may say `5`,
/// `5.0` or `5e0`; anything that is not exactly an integer in `i64` range is rejected.
struct WireInt(i64);

/// 2^63 as a float: the first float above `i64::MAX`.
const I64_END_F64: f64 = 9_223_372_036_854_775_808.0;

impl<'de> Deserialize<'de> for WireInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = WireInt;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integral number")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireInt, E> {
                Ok(WireInt(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireInt, E> {
                i64::try_from(v)
                    .map(WireInt)
                    .map_err(|_| E::custom(format!("integer {v} is out of range")))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WireInt, E> {
                if v.is_finite() && v.fract() == 0.0 && (-I64_END_F64..I64_END_F64).contains(&v) {
                    // Exact: integral and inside the i64 range.
                    Ok(WireInt(v as i64))
                } else {
                    Err(E::custom(format!("{v} is not an integer in range")))
                }
            }
        }
        deserializer.deserialize_any(IntVisitor)
    }
}

/// A float field. Finite values other than `-0` travel as JSON numbers; NaN, the infinities
/// and `-0` as Convex's `{"$float": "<base64 of 8 little-endian bytes>"}`.
struct WireFloat(f64);

impl Serialize for WireFloat {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        let plain = value.is_finite() && !(value == 0.0 && value.is_sign_negative());
        if plain {
            return serializer.serialize_f64(value);
        }
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("$float", &base64_encode(&value.to_le_bytes()))?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for WireFloat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Float {
            Plain(f64),
            Special {
                #[serde(rename = "$float")]
                float: String,
            },
        }
        match Float::deserialize(deserializer)? {
            Float::Plain(value) => Ok(WireFloat(value)),
            Float::Special { float } => {
                let bytes = base64_decode(&float)
                    .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                    .ok_or_else(|| de::Error::custom("`$float` must be base64 of 8 bytes"))?;
                Ok(WireFloat(f64::from_le_bytes(bytes)))
            }
        }
    }
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding, as Convex writes `$float` payloads.
fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64_ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The inverse of [`base64_encode`]; `None` for anything that is not canonical padded base64.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (index, quad) in text.chunks(4).enumerate() {
        let last = index == text.len() / 4 - 1;
        let padding = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - padding] {
            let digit = BASE64_ALPHABET.iter().position(|&a| a == c)? as u32;
            n = (n << 6) | digit;
        }
        n <<= 6 * padding as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Some(out)
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
