//! Proptest strategies: values, updates and transitions drawn from [`super::pools`].
//!
//! Transitions look at the model's state only through a [`Shape`]: which pool ids exist. Ids
//! of reads, updates and parents lean towards existing rows (3 : 1), ids of inserts towards
//! absent ones (3 : 1), so that most calls touch something while duplicates and "missing" paths
//! stay common. An almost empty store is filled first. Weights favour the writes and the
//! selectors, which carry most of the behaviour.

use durable_execution_storage_convex::{
    DurableExecutionErrorStorageValue, DurableExecutionErrorType,
    OnChildrenFinishedProcessingStatus, ParentTaskExecutionSummary, TaskExecutionCloseStatus,
    TaskExecutionStatus, TaskExecutionStorageGetByIdFilters, TaskExecutionStorageUnset,
    TaskExecutionStorageUpdate, TaskExecutionStorageValue, TaskExecutionSummary, TaskRetryOptions,
};
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::select;

use super::pools::*;
use super::transition::{IdUpdate, IdUpdateWithChildren, Lookup, ParentUpdate, Transition};

/// How often a generated child is its parent's only child.
const ONLY_CHILD_PROBABILITY: f64 = 0.3;
/// How often a generated child is its parent's finalize task (never decrements it).
const FINALIZE_CHILD_PROBABILITY: f64 = 0.2;
/// How often an optional field of a generated value or update is present.
const FIELD_PRESENT_PROBABILITY: f64 = 0.3;

fn id(pool: &'static [&'static str]) -> BoxedStrategy<String> {
    select(pool).prop_map(str::to_string).boxed()
}

/// What the generators know of the model's state: which pool ids exist, and the selector
/// keys the stored rows would match, so that selectors are aimed at rows 3 times in 4.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// Pool ids that are stored.
    pub existing: Vec<String>,
    /// Pool ids that are not.
    pub absent: Vec<String>,
    /// Parent execution ids named by stored children.
    pub parents: Vec<String>,
    /// Statuses of stored rows (start-at claim).
    pub statuses: Vec<TaskExecutionStatus>,
    /// (status, ocfpStatus) of stored rows with acc = 0.
    pub ocfp_keys: Vec<(TaskExecutionStatus, OnChildrenFinishedProcessingStatus)>,
    /// Close statuses of stored rows.
    pub close_statuses: Vec<TaskExecutionCloseStatus>,
    /// (status, isSleepingTask) of stored rows with an expiresAt.
    pub expiry_keys: Vec<(TaskExecutionStatus, bool)>,
    /// (executorId, npc) of stored rows with an executor.
    pub executor_keys: Vec<(String, bool)>,
    /// (isFinished, closeStatus) of stored rows (the decrement sweep).
    pub sweep_keys: Vec<(bool, TaskExecutionCloseStatus)>,
}

impl Shape {
    /// The shape of a store holding `rows`.
    pub fn of(rows: &[TaskExecutionStorageValue]) -> Self {
        let stored: Vec<&str> = rows.iter().map(|v| v.execution_id.as_str()).collect();
        let (existing, absent) = EXECUTION_IDS
            .iter()
            .map(|id| id.to_string())
            .partition(|id| stored.contains(&id.as_str()));
        Self {
            existing,
            absent,
            parents: rows
                .iter()
                .filter_map(|v| v.parent.as_ref().map(|p| p.execution_id.clone()))
                .collect(),
            statuses: rows.iter().map(|v| v.status).collect(),
            ocfp_keys: rows
                .iter()
                .filter(|v| v.active_children_count == 0)
                .map(|v| (v.status, v.on_children_finished_processing_status))
                .collect(),
            close_statuses: rows.iter().map(|v| v.close_status).collect(),
            expiry_keys: rows
                .iter()
                .filter(|v| v.expires_at.is_some())
                .map(|v| (v.status, v.is_sleeping_task))
                .collect(),
            executor_keys: rows
                .iter()
                .filter_map(|v| {
                    v.executor_id
                        .clone()
                        .map(|e| (e, v.needs_promise_cancellation))
                })
                .collect(),
            // Children first: only they make the sweep decrement a parent.
            sweep_keys: {
                let keys = |children_only: bool| -> Vec<(bool, TaskExecutionCloseStatus)> {
                    rows.iter()
                        .filter(|v| !children_only || v.parent.is_some())
                        .map(|v| (v.is_finished, v.close_status))
                        .collect()
                };
                let children = keys(true);
                if children.is_empty() {
                    keys(false)
                } else {
                    children
                }
            },
        }
    }
}

/// Odds of aiming a selector at stored rows over a blind pick.
const AIMED_WEIGHT: u32 = 3;

/// One of `candidates` 3 times in 4 (when there are any), otherwise `blind`.
fn aimed<T: Clone + std::fmt::Debug + 'static>(
    candidates: &[T],
    blind: BoxedStrategy<T>,
) -> BoxedStrategy<T> {
    if candidates.is_empty() {
        return blind;
    }
    prop_oneof![AIMED_WEIGHT => select(candidates.to_vec()), 1 => blind].boxed()
}

/// Odds of picking from the preferred side (existing or absent ids) over the whole pool.
const PREFERRED_ID_WEIGHT: u32 = 3;

fn biased_id(preferred: &[String]) -> BoxedStrategy<String> {
    if preferred.is_empty() {
        return id(&EXECUTION_IDS);
    }
    prop_oneof![
        PREFERRED_ID_WEIGHT => select(preferred.to_vec()),
        1 => id(&EXECUTION_IDS),
    ]
    .boxed()
}

/// An id that probably exists.
fn existing_id(shape: &Shape) -> BoxedStrategy<String> {
    biased_id(&shape.existing)
}

/// An update's `updatedAt`: mostly clamped to now, sometimes 0, rarely in the future (a row
/// updated so is never stale again, which would starve the staleness selectors).
fn updated_at() -> BoxedStrategy<i64> {
    prop_oneof![6 => select(&TIMESTAMPS_MS[..3]), 1 => select(&TIMESTAMPS_MS[3..])].boxed()
}

/// The ids of one inserted batch: mostly distinct absent ids (so the batch goes in), one time
/// in five any pool ids (so duplicates within the batch and with stored rows stay common).
fn batch_ids(shape: &Shape, len_max: usize) -> BoxedStrategy<Vec<String>> {
    let any_ids = proptest::collection::vec(id(&EXECUTION_IDS), 0..=len_max).boxed();
    if shape.absent.is_empty() {
        return any_ids;
    }
    let distinct =
        proptest::sample::subsequence(shape.absent.clone(), 0..=len_max.min(shape.absent.len()))
            .prop_shuffle()
            .boxed();
    prop_oneof![4 => distinct, 1 => any_ids].boxed()
}

/// Filters for the parent of inserted children: mostly none, so children do get inserted.
fn sparse_filters() -> BoxedStrategy<Option<TaskExecutionStorageGetByIdFilters>> {
    prop_oneof![3 => Just(None), 1 => filters()].boxed()
}

/// A count of active children: 0 most of the time, so the acc = 0 claim bites.
fn acc() -> BoxedStrategy<i64> {
    prop_oneof![3 => Just(0i64), 1 => 1i64..3].boxed()
}

fn timestamp() -> BoxedStrategy<i64> {
    select(&TIMESTAMPS_MS[..]).boxed()
}

fn maybe<T: std::fmt::Debug + Clone + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Option<T>> {
    weighted(FIELD_PRESENT_PROBABILITY, s).boxed()
}

fn status() -> BoxedStrategy<TaskExecutionStatus> {
    select(&STATUSES[..]).boxed()
}

fn ocfp_status() -> BoxedStrategy<OnChildrenFinishedProcessingStatus> {
    select(&OnChildrenFinishedProcessingStatus::ALL[..]).boxed()
}

fn close_status() -> BoxedStrategy<TaskExecutionCloseStatus> {
    select(&TaskExecutionCloseStatus::ALL[..]).boxed()
}

fn limit() -> BoxedStrategy<u32> {
    select(&LIMITS[..]).boxed()
}

fn bound() -> BoxedStrategy<i64> {
    select(&BOUNDS_MS[..]).boxed()
}

fn summary() -> BoxedStrategy<TaskExecutionSummary> {
    (id(&TASK_IDS), id(&EXECUTION_IDS))
        .prop_map(|(task_id, execution_id)| TaskExecutionSummary {
            task_id,
            execution_id,
        })
        .boxed()
}

fn error_value() -> BoxedStrategy<DurableExecutionErrorStorageValue> {
    (
        select(
            &[
                DurableExecutionErrorType::Generic,
                DurableExecutionErrorType::TimedOut,
            ][..],
        ),
        any::<bool>(),
    )
        .prop_map(
            |(error_type, is_retryable)| DurableExecutionErrorStorageValue {
                error_type,
                message: "boom".to_string(),
                is_retryable,
                is_internal: !is_retryable,
            },
        )
        .boxed()
}

fn retry_options() -> BoxedStrategy<TaskRetryOptions> {
    prop_oneof![
        Just(TaskRetryOptions {
            max_attempts: 0,
            base_delay_ms: None,
            max_delay_ms: None,
            delay_multiplier: None
        }),
        Just(TaskRetryOptions {
            max_attempts: 3,
            base_delay_ms: Some(100),
            max_delay_ms: Some(1_000),
            delay_multiplier: Some(1.5),
        }),
    ]
    .boxed()
}

/// Filters of the by-id family: absent half the time, otherwise any subset.
pub fn filters() -> BoxedStrategy<Option<TaskExecutionStorageGetByIdFilters>> {
    weighted(
        0.5,
        (
            maybe(any::<bool>().boxed()),
            maybe(status()),
            maybe(any::<bool>().boxed()),
        )
            .prop_map(|(is_sleeping_task, status, is_finished)| {
                TaskExecutionStorageGetByIdFilters {
                    is_sleeping_task,
                    status,
                    is_finished,
                }
            }),
    )
    .boxed()
}

/// A value as an executor would insert it, with every optional field sometimes present.
pub fn execution(
    shape: &Shape,
    execution_id: BoxedStrategy<String>,
) -> BoxedStrategy<TaskExecutionStorageValue> {
    let identity = (
        maybe(summary()),
        maybe(parent(existing_id(shape))),
        id(&TASK_IDS),
        execution_id,
        any::<bool>(),
        maybe(id(&SLEEPING_TASK_UNIQUE_IDS)),
        retry_options(),
        select(&DURATIONS_MS[..]),
        select(&DURATIONS_MS[..]),
        any::<bool>(),
    );
    let run = (
        maybe(id(&EXECUTOR_IDS)),
        status(),
        any::<bool>(),
        maybe(Just("run-out".to_string()).boxed()),
        maybe(Just("out".to_string()).boxed()),
        maybe(error_value()),
        0i64..3,
        timestamp(),
        maybe(timestamp()),
        maybe(timestamp()),
        maybe(timestamp()),
        maybe(timestamp()),
    );
    let tail = (
        maybe(timestamp()),
        maybe(proptest::collection::vec(summary(), 0..3).boxed()),
        acc(),
        ocfp_status(),
        maybe(timestamp()),
        maybe(timestamp()),
        maybe(summary()),
        close_status(),
        maybe(timestamp()),
        maybe(timestamp()),
        any::<bool>(),
        (timestamp(), timestamp()),
    );
    (identity, run, tail)
        .prop_map(|(identity, run, tail)| {
            let (
                root,
                parent,
                task_id,
                execution_id,
                is_sleeping_task,
                sleeping_task_unique_id,
                retry_options,
                sleep_ms_before_run,
                timeout_ms,
                are_children_sequential,
            ) = identity;
            let (
                executor_id,
                status,
                is_finished,
                run_output,
                output,
                error,
                retry_attempts,
                start_at,
                started_at,
                expires_at,
                waiting_for_children_started_at,
                waiting_for_finalize_started_at,
            ) = run;
            let (
                finished_at,
                children,
                active_children_count,
                ocfp_status,
                ocfp_expires_at,
                ocfp_finished_at,
                finalize,
                close_status,
                close_expires_at,
                closed_at,
                npc,
                (created_at, updated_at),
            ) = tail;
            TaskExecutionStorageValue {
                root,
                parent,
                task_id,
                execution_id,
                is_sleeping_task,
                sleeping_task_unique_id,
                retry_options,
                sleep_ms_before_run,
                timeout_ms,
                are_children_sequential,
                input: "in".to_string(),
                executor_id,
                status,
                is_finished,
                run_output,
                output,
                error,
                retry_attempts,
                start_at,
                started_at,
                expires_at,
                waiting_for_children_started_at,
                waiting_for_finalize_started_at,
                finished_at,
                children,
                active_children_count,
                on_children_finished_processing_status: ocfp_status,
                on_children_finished_processing_expires_at: ocfp_expires_at,
                on_children_finished_processing_finished_at: ocfp_finished_at,
                finalize,
                close_status,
                close_expires_at,
                closed_at,
                needs_promise_cancellation: npc,
                created_at,
                updated_at,
            }
        })
        .boxed()
}

fn parent(execution_id: BoxedStrategy<String>) -> BoxedStrategy<ParentTaskExecutionSummary> {
    (
        id(&TASK_IDS),
        execution_id,
        0i64..3,
        proptest::bool::weighted(ONLY_CHILD_PROBABILITY),
        proptest::bool::weighted(FINALIZE_CHILD_PROBABILITY),
    )
        .prop_map(
            |(task_id, execution_id, index, is_only_child_of_parent, is_finalize_of_parent)| {
                ParentTaskExecutionSummary {
                    task_id,
                    execution_id,
                    index_in_parent_children: index,
                    is_only_child_of_parent,
                    is_finalize_of_parent,
                }
            },
        )
        .boxed()
}

/// A child of `parent_id`, as the executor inserts it with its parent's update.
fn child_of(
    parent_id: String,
    child_id: String,
    shape: &Shape,
) -> BoxedStrategy<TaskExecutionStorageValue> {
    (
        execution(shape, Just(child_id).boxed()),
        parent(Just(parent_id).boxed()),
    )
        .prop_map(|(mut child, parent)| {
            child.parent = Some(parent);
            child
        })
        .boxed()
}

/// Unset flags: absent most of the time, otherwise any subset.
fn unset() -> BoxedStrategy<Option<TaskExecutionStorageUnset>> {
    weighted(
        FIELD_PRESENT_PROBABILITY,
        proptest::collection::vec(any::<bool>(), 7).prop_map(|f| TaskExecutionStorageUnset {
            executor_id: f[0],
            run_output: f[1],
            error: f[2],
            started_at: f[3],
            expires_at: f[4],
            on_children_finished_processing_expires_at: f[5],
            close_expires_at: f[6],
        }),
    )
    .boxed()
}

/// An update with any subset of the mutable fields and sometimes unset flags.
pub fn update() -> BoxedStrategy<TaskExecutionStorageUpdate> {
    let a = (
        maybe(id(&EXECUTOR_IDS)),
        maybe(status()),
        maybe(any::<bool>().boxed()),
        maybe(Just("run-out-2".to_string()).boxed()),
        maybe(Just("out-2".to_string()).boxed()),
        maybe(error_value()),
        maybe((0i64..3).boxed()),
        maybe(timestamp()),
        maybe(timestamp()),
        maybe(timestamp()),
        maybe(timestamp()),
        maybe(timestamp()),
    );
    let b = (
        maybe(timestamp()),
        maybe(proptest::collection::vec(summary(), 0..3).boxed()),
        maybe(acc()),
        maybe(ocfp_status()),
        maybe(timestamp()),
        maybe(timestamp()),
        maybe(summary()),
        maybe(close_status()),
        maybe(timestamp()),
        maybe(timestamp()),
        maybe(any::<bool>().boxed()),
        (updated_at(), unset()),
    );
    (a, b)
        .prop_map(|(a, b)| {
            let (
                executor_id,
                status,
                is_finished,
                run_output,
                output,
                error,
                retry_attempts,
                start_at,
                started_at,
                expires_at,
                waiting_for_children_started_at,
                waiting_for_finalize_started_at,
            ) = a;
            let (
                finished_at,
                children,
                active_children_count,
                ocfp_status,
                ocfp_expires_at,
                ocfp_finished_at,
                finalize,
                close_status,
                close_expires_at,
                closed_at,
                npc,
                (updated_at, unset),
            ) = b;
            TaskExecutionStorageUpdate {
                executor_id,
                status,
                is_finished,
                run_output,
                output,
                error,
                retry_attempts,
                start_at,
                started_at,
                expires_at,
                waiting_for_children_started_at,
                waiting_for_finalize_started_at,
                finished_at,
                children,
                active_children_count,
                on_children_finished_processing_status: ocfp_status,
                on_children_finished_processing_expires_at: ocfp_expires_at,
                on_children_finished_processing_finished_at: ocfp_finished_at,
                finalize,
                close_status,
                close_expires_at,
                closed_at,
                needs_promise_cancellation: npc,
                updated_at,
                unset,
            }
        })
        .boxed()
}

fn requests<T: std::fmt::Debug + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
    proptest::collection::vec(s, 0..=REQUESTS_LEN_MAX).boxed()
}

/// One transition given what the model holds; weights favour the writes that build
/// interesting states, and an almost empty store is mostly filled.
pub fn transition(shape: &Shape) -> BoxedStrategy<Transition> {
    let insert_weight = if shape.existing.len() < 2 { 30 } else { 6 };
    let shape = shape.clone();
    let children_shape = shape.clone();
    let with_children = (existing_id(&shape), batch_ids(&shape, CHILDREN_LEN_MAX))
        .prop_flat_map(move |(parent_id, child_ids)| {
            let children: Vec<_> = child_ids
                .into_iter()
                .map(|child_id| child_of(parent_id.clone(), child_id, &children_shape))
                .collect();
            (Just(parent_id), sparse_filters(), update(), children)
        })
        .prop_map(
            |(execution_id, filters, update, children)| IdUpdateWithChildren {
                execution_id,
                filters,
                update,
                children,
            },
        );
    let claim_status = aimed(&shape.statuses, status());
    let ocfp_key = aimed(&shape.ocfp_keys, (status(), ocfp_status()).boxed());
    let close_key = aimed(&shape.close_statuses, close_status());
    let expiry_key = aimed(&shape.expiry_keys, (status(), any::<bool>()).boxed());
    let executor_key = aimed(
        &shape.executor_keys,
        (id(&EXECUTOR_IDS), any::<bool>()).boxed(),
    );
    let sweep_key = aimed(&shape.sweep_keys, (any::<bool>(), close_status()).boxed());
    let parent_id = aimed(&shape.parents, existing_id(&shape));
    prop_oneof![
        insert_weight => {
            let batch_shape = shape.clone();
            batch_ids(&shape, BATCH_LEN_MAX)
                .prop_flat_map(move |ids| ids.into_iter().map(|id| execution(&batch_shape, Just(id).boxed())).collect::<Vec<_>>())
                .prop_map(|executions| Transition::InsertMany { executions })
        },
        2 => requests((existing_id(&shape), filters()).prop_map(|(execution_id, filters)| Lookup { execution_id, filters }).boxed())
            .prop_map(|requests| Transition::GetManyById { requests }),
        2 => requests(id(&SLEEPING_TASK_UNIQUE_IDS))
            .prop_map(|sleeping_task_unique_ids| Transition::GetManyBySleepingTaskUniqueId { sleeping_task_unique_ids }),
        6 => requests((existing_id(&shape), filters(), update()).prop_map(|(execution_id, filters, update)| IdUpdate { execution_id, filters, update }).boxed())
            .prop_map(|requests| Transition::UpdateManyById { requests }),
        6 => proptest::collection::vec(with_children, 0..=2)
            .prop_map(|requests| Transition::UpdateManyByIdAndInsertChildrenIfUpdated { requests }),
        6 => (claim_status, bound(), update(), select(&EXPIRES_BASES_MS[..]), limit()).prop_map(
            |(status, start_at_less_than, update, update_expires_at_with_started_at, limit)| Transition::ClaimByStartAt {
                status,
                start_at_less_than,
                update,
                update_expires_at_with_started_at,
                limit,
            }
        ),
        4 => (ocfp_key, update(), limit()).prop_map(|((status, ocfp_status), update, limit)| {
            Transition::ClaimByOcfpStatusAndAccZero { status, ocfp_status, update, limit }
        }),
        4 => (close_key, update(), limit())
            .prop_map(|(close_status, update, limit)| Transition::ClaimByCloseStatus { close_status, update, limit }),
        4 => (expiry_key, bound(), update(), limit()).prop_map(
            |((status, is_sleeping_task), expires_at_less_than, update, limit)| Transition::ExpireByStatusAndIsSleepingTask {
                status,
                is_sleeping_task,
                expires_at_less_than,
                update,
                limit,
            }
        ),
        2 => (bound(), update(), limit()).prop_map(|(less_than, update, limit)| Transition::ExpireOcfp { less_than, update, limit }),
        2 => (bound(), update(), limit()).prop_map(|(less_than, update, limit)| Transition::ExpireClose { less_than, update, limit }),
        4 => (executor_key, update(), limit()).prop_map(|((executor_id, npc), update, limit)| {
            Transition::ClaimByExecutorIdAndNpc { executor_id, npc, update, limit }
        }),
        2 => requests(parent_id.clone())
            .prop_map(|parent_execution_ids| Transition::GetManyByParentExecutionId { parent_execution_ids }),
        4 => requests((parent_id, any::<bool>(), update()).prop_map(|(parent_execution_id, is_finished, update)| ParentUpdate { parent_execution_id, is_finished, update }).boxed())
            .prop_map(|requests| Transition::UpdateManyByParentExecutionIdAndIsFinished { requests }),
        6 => (sweep_key, update(), limit()).prop_map(|((is_finished, close_status), update, limit)| {
            Transition::CloseAndDecrementParents { is_finished, close_status, update, limit }
        }),
        2 => existing_id(&shape).prop_map(|execution_id| Transition::DeleteById { execution_id }),
        1 => Just(Transition::DeleteAll),
    ]
    .boxed()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    use super::*;
    use crate::operation::Operation;

    /// Transitions drawn: on an empty store the rarest operation (`deleteAll`) has weight 1 of
    /// 87, so a generator that can produce every operation misses one in this many draws with
    /// a chance of about e^-46 (and the seed is fixed, so the test is deterministic anyway).
    const DRAWS: usize = 4_000;

    /// The generator derives from the registry: a new operation that the generator cannot
    /// produce fails here, not silently in the property tests' coverage.
    #[test]
    fn the_generator_produces_every_operation() {
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let strategy = transition(&Shape::of(&[]));
        let mut seen = BTreeSet::new();
        for _ in 0..DRAWS {
            let tree = strategy.new_tree(&mut runner).expect("a transition");
            seen.insert(tree.current().operation());
        }
        let missing: Vec<_> = Operation::ALL
            .into_iter()
            .filter(|op| !seen.contains(op))
            .collect();
        assert!(missing.is_empty(), "never generated: {missing:?}");
    }
}
