//! Unit tests of the in-memory model against docs/SPEC.md sections 3-5 (upstream's behaviour),
//! with an injected clock so every timestamp is exact.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::*;
use crate::fixtures::minimal_execution;
use crate::types::*;

/// The clock every test starts at; writes then happen at `now = CLOCK_START + 50`.
const CLOCK_START: i64 = 1_000_000;
const NOW: i64 = CLOCK_START + WRITE_CLOCK_OFFSET_MS;

struct Fixture {
    storage: InMemoryTaskExecutionsStorage,
    clock: Arc<AtomicI64>,
}

impl Fixture {
    fn new() -> Self {
        Self::with(1, None, None)
    }

    /// Shards chosen from the execution id's trailing digit, so tests know where rows land.
    fn sharded(total_shards: u32, shards: Option<Vec<u32>>) -> Self {
        let by_last_digit: ShardChooser =
            Arc::new(|id: &str| id.chars().last().and_then(|c| c.to_digit(10)).unwrap_or(0));
        Self::with(total_shards, shards, Some(by_last_digit))
    }

    fn with(total_shards: u32, shards: Option<Vec<u32>>, shard_for: Option<ShardChooser>) -> Self {
        let clock = Arc::new(AtomicI64::new(CLOCK_START));
        let reading = clock.clone();
        let storage = InMemoryTaskExecutionsStorage::with_options(InMemoryOptions {
            total_shards,
            shards,
            clock: Some(Arc::new(move || reading.load(Ordering::SeqCst))),
            shard_for,
        })
        .unwrap();
        Self { storage, clock }
    }

    fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    async fn get(&self, id: &str) -> Option<TaskExecutionStorageValue> {
        self.storage
            .get_many_by_id(vec![GetByIdRequest {
                execution_id: id.into(),
                filters: None,
            }])
            .await
            .unwrap()
            .remove(0)
    }

    async fn insert(&self, values: Vec<TaskExecutionStorageValue>) {
        self.storage.insert_many(values).await.unwrap();
    }

    fn ids(&self) -> Vec<String> {
        self.storage
            .snapshot()
            .into_iter()
            .map(|v| v.execution_id)
            .collect()
    }
}

fn update(updated_at: i64) -> TaskExecutionStorageUpdate {
    TaskExecutionStorageUpdate {
        updated_at,
        ..Default::default()
    }
}

fn child_of(parent: &str, id: &str, only_child: bool, finalize: bool) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue {
        parent: Some(ParentTaskExecutionSummary {
            task_id: "task".into(),
            execution_id: parent.into(),
            index_in_parent_children: 0,
            is_only_child_of_parent: only_child,
            is_finalize_of_parent: finalize,
        }),
        ..minimal_execution(id)
    }
}

fn thrown(error: StorageError) -> String {
    assert!(
        matches!(&error, StorageError::Function { data: None, .. }),
        "{error:?}"
    );
    error.thrown_message().unwrap()
}

#[tokio::test]
async fn insert_clamps_times_to_now() {
    let f = Fixture::new();
    let mut value = minimal_execution("e1");
    value.start_at = 0; // No zero guard for startAt at insert.
    value.created_at = 5;
    value.updated_at = 6;
    value.expires_at = Some(10);
    value.on_children_finished_processing_expires_at = Some(0); // Zero is never clamped.
    value.close_expires_at = Some(NOW + 5);
    value.waiting_for_children_started_at = Some(1); // Not a clamped field.
    f.insert(vec![value]).await;
    let stored = f.get("e1").await.unwrap();
    assert_eq!(
        (stored.created_at, stored.updated_at, stored.start_at),
        (NOW, NOW, NOW)
    );
    assert_eq!(stored.expires_at, Some(NOW + EXPIRY_CLAMP_OFFSET_MS));
    assert_eq!(stored.on_children_finished_processing_expires_at, Some(0));
    assert_eq!(stored.close_expires_at, Some(NOW + 5));
    assert_eq!(stored.waiting_for_children_started_at, Some(1));

    let mut future = minimal_execution("e2");
    future.start_at = NOW + 1;
    f.insert(vec![future]).await;
    assert_eq!(f.get("e2").await.unwrap().start_at, NOW + 1);
}

#[tokio::test]
async fn duplicates_fail_the_whole_batch() {
    let f = Fixture::new();
    let error = f
        .storage
        .insert_many(vec![
            minimal_execution("a"),
            minimal_execution("b"),
            minimal_execution("a"),
        ])
        .await
        .unwrap_err();
    assert_eq!(thrown(error), "Execution id already exists");
    assert!(f.ids().is_empty(), "nothing inserted");

    f.insert(vec![minimal_execution("a")]).await;
    let error = f
        .storage
        .insert_many(vec![minimal_execution("b"), minimal_execution("a")])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::Function { path, .. } if path == "taskExecutionsStorage:insertMany")
    );
    assert_eq!(thrown(error), "Execution id already exists");
    assert_eq!(f.ids(), vec!["a"]);
}

#[tokio::test]
async fn sleeping_task_unique_ids_are_unique_unless_empty() {
    let f = Fixture::new();
    let sleeping = |id: &str, unique: &str| TaskExecutionStorageValue {
        is_sleeping_task: true,
        sleeping_task_unique_id: Some(unique.into()),
        ..minimal_execution(id)
    };
    f.insert(vec![
        sleeping("a", "u1"),
        sleeping("b", ""),
        sleeping("c", ""),
    ])
    .await;
    let error = f
        .storage
        .insert_many(vec![sleeping("d", "u2"), sleeping("e", "u1")])
        .await
        .unwrap_err();
    assert_eq!(thrown(error), "Sleeping task unique id already exists");
    let error = f
        .storage
        .insert_many(vec![sleeping("d", "u2"), sleeping("e", "u2")])
        .await
        .unwrap_err();
    assert_eq!(thrown(error), "Sleeping task unique id already exists");
    assert_eq!(f.ids(), vec!["a", "b", "c"]);

    let found = f
        .storage
        .get_many_by_sleeping_task_unique_id(vec!["u1".into(), "nope".into(), "".into()])
        .await
        .unwrap();
    let ids: Vec<Option<&str>> = found
        .iter()
        .map(|v| v.as_ref().map(|v| v.execution_id.as_str()))
        .collect();
    assert_eq!(
        ids,
        vec![Some("a"), None, Some("b")],
        "the oldest match comes back"
    );
}

#[tokio::test]
async fn updates_clamp_set_and_unset() {
    let f = Fixture::new();
    let mut value = minimal_execution("e1");
    value.executor_id = Some("old".into());
    value.close_expires_at = Some(NOW + 10_000);
    f.insert(vec![value]).await;
    f.advance(100);
    let now = NOW + 100;
    let u = TaskExecutionStorageUpdate {
        executor_id: Some("new".into()),
        start_at: Some(1),
        started_at: Some(0),
        finished_at: Some(now + 7),
        closed_at: Some(-5),
        on_children_finished_processing_finished_at: Some(2),
        expires_at: Some(3),
        on_children_finished_processing_expires_at: Some(0),
        waiting_for_finalize_started_at: Some(4),
        updated_at: 10,
        unset: Some(TaskExecutionStorageUnset {
            executor_id: true,
            close_expires_at: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    f.storage
        .update_many_by_id(vec![UpdateByIdRequest {
            execution_id: "e1".into(),
            filters: None,
            update: u,
        }])
        .await
        .unwrap();
    let stored = f.get("e1").await.unwrap();
    assert_eq!(stored.updated_at, now);
    assert_eq!(stored.start_at, now);
    assert_eq!(stored.started_at, Some(0), "0 is not clamped");
    assert_eq!(stored.finished_at, Some(now + 7));
    assert_eq!(stored.closed_at, Some(now), "negative values are clamped");
    assert_eq!(
        stored.on_children_finished_processing_finished_at,
        Some(now)
    );
    assert_eq!(stored.expires_at, Some(now + EXPIRY_CLAMP_OFFSET_MS));
    assert_eq!(stored.on_children_finished_processing_expires_at, Some(0));
    assert_eq!(
        stored.waiting_for_finalize_started_at,
        Some(4),
        "not a clamped field"
    );
    assert_eq!(stored.executor_id, None, "unset wins");
    assert_eq!(stored.close_expires_at, None);
}

#[tokio::test]
async fn children_are_inserted_only_for_updated_parents_and_atomically() {
    let f = Fixture::new();
    f.insert(vec![
        minimal_execution("p1"),
        minimal_execution("p2"),
        minimal_execution("taken"),
    ])
    .await;
    let request = |parent: &str, status, children: Vec<TaskExecutionStorageValue>| {
        UpdateByIdAndInsertChildrenRequest {
            execution_id: parent.into(),
            filters: Some(TaskExecutionStorageGetByIdFilters {
                status: Some(status),
                ..Default::default()
            }),
            update: TaskExecutionStorageUpdate {
                status: Some(TaskExecutionStatus::WaitingForChildren),
                active_children_count: Some(children.len() as i64),
                ..update(0)
            },
            children_task_executions_to_insert_if_any_updated: children,
        }
    };
    // A duplicate child fails the call: the first parent's update and children are undone.
    let error = f
        .storage
        .update_many_by_id_and_insert_children_if_updated(vec![
            request(
                "p1",
                TaskExecutionStatus::Ready,
                vec![child_of("p1", "c1", false, false)],
            ),
            request(
                "p2",
                TaskExecutionStatus::Ready,
                vec![child_of("p2", "taken", true, false)],
            ),
        ])
        .await
        .unwrap_err();
    assert_eq!(thrown(error), "Execution id already exists");
    assert_eq!(
        f.get("p1").await.unwrap().status,
        TaskExecutionStatus::Ready
    );
    assert_eq!(f.ids(), vec!["p1", "p2", "taken"]);

    f.storage
        .update_many_by_id_and_insert_children_if_updated(vec![
            request(
                "p1",
                TaskExecutionStatus::Ready,
                vec![
                    child_of("p1", "c1", false, false),
                    child_of("p1", "c2", false, false),
                ],
            ),
            // Filtered out: no update, no children.
            request(
                "p2",
                TaskExecutionStatus::Running,
                vec![child_of("p2", "c3", true, false)],
            ),
        ])
        .await
        .unwrap();
    assert_eq!(f.ids(), vec!["p1", "p2", "taken", "c1", "c2"]);
    let p1 = f.get("p1").await.unwrap();
    assert_eq!(
        (p1.status, p1.active_children_count),
        (TaskExecutionStatus::WaitingForChildren, 2)
    );
    let c1 = f.get("c1").await.unwrap();
    assert_eq!(
        (c1.created_at, c1.start_at),
        (NOW, NOW),
        "children are clamped like inserts"
    );
}

#[tokio::test]
async fn start_at_claim_orders_by_start_at_then_insertion_and_returns_pre_update_values() {
    let f = Fixture::new();
    let at = |id: &str, start_at| TaskExecutionStorageValue {
        start_at,
        timeout_ms: 100,
        ..minimal_execution(id)
    };
    // Stored start times: late=NOW+10, a=NOW, b=NOW (clamped), c=NOW+5, too_late=NOW+50.
    f.insert(vec![
        at("late", NOW + 10),
        at("a", 1),
        at("b", 2),
        at("c", NOW + 5),
        at("too_late", NOW + 50),
    ])
    .await;
    let mut running = at("running", 0);
    running.status = TaskExecutionStatus::Running;
    f.insert(vec![running]).await;
    f.advance(1_000);
    let claim = TaskExecutionStorageUpdate {
        status: Some(TaskExecutionStatus::Running),
        executor_id: Some("ex".into()),
        started_at: Some(7),
        unset: Some(TaskExecutionStorageUnset {
            expires_at: true,
            ..Default::default()
        }),
        ..update(8)
    };
    let request = |limit| UpdateByStatusAndStartAtLessThanRequest {
        status: TaskExecutionStatus::Ready,
        start_at_less_than: NOW + 50,
        update: claim.clone(),
        update_expires_at_with_started_at: 5_000_000,
        limit,
    };
    let claimed = f
        .storage
        .update_by_status_and_start_at_less_than_and_return(request(3))
        .await
        .unwrap();
    let ids: Vec<&str> = claimed.iter().map(|v| v.execution_id.as_str()).collect();
    assert_eq!(ids, vec!["a", "b", "c"]);
    for value in &claimed {
        // What the client computes: the update as given, then the expiry.
        assert_eq!(value.status, TaskExecutionStatus::Running);
        assert_eq!((value.started_at, value.updated_at), (Some(7), 8));
        assert_eq!(value.expires_at, Some(5_000_100));
        assert_eq!(value.created_at, NOW, "the rest is the document as read");
    }
    let stored = f.get("a").await.unwrap();
    let now = NOW + 1_000;
    assert_eq!(
        (stored.status, stored.started_at, stored.updated_at),
        (TaskExecutionStatus::Running, Some(now), now)
    );
    assert_eq!(
        stored.expires_at, None,
        "the server's unset wins over the computed expiry"
    );

    let rest = f
        .storage
        .update_by_status_and_start_at_less_than_and_return(request(10))
        .await
        .unwrap();
    let ids: Vec<&str> = rest.iter().map(|v| v.execution_id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["late"],
        "claimed rows are not ready any more; too_late is not below the bound"
    );
}

#[tokio::test]
async fn start_at_claim_stores_the_computed_expiry_clamped() {
    let f = Fixture::new();
    f.insert(vec![TaskExecutionStorageValue {
        timeout_ms: 10,
        ..minimal_execution("a")
    }])
    .await;
    f.insert(vec![TaskExecutionStorageValue {
        timeout_ms: 10,
        ..minimal_execution("b")
    }])
    .await;
    let request = |ues| UpdateByStatusAndStartAtLessThanRequest {
        status: TaskExecutionStatus::Ready,
        start_at_less_than: i64::MAX,
        update: TaskExecutionStorageUpdate {
            status: Some(TaskExecutionStatus::Running),
            ..update(0)
        },
        update_expires_at_with_started_at: ues,
        limit: 1,
    };
    let claimed = f
        .storage
        .update_by_status_and_start_at_less_than_and_return(request(NOW + 500))
        .await
        .unwrap();
    assert_eq!(claimed[0].expires_at, Some(NOW + 510));
    assert_eq!(f.get("a").await.unwrap().expires_at, Some(NOW + 510));
    // Zero: the client sets nothing, the server stores 0 + timeout, which is in the past.
    let claimed = f
        .storage
        .update_by_status_and_start_at_less_than_and_return(request(0))
        .await
        .unwrap();
    assert_eq!(claimed[0].expires_at, None);
    assert_eq!(
        f.get("b").await.unwrap().expires_at,
        Some(NOW + EXPIRY_CLAMP_OFFSET_MS)
    );
}

#[tokio::test]
async fn stale_selectors_need_updated_at_below_the_clock() {
    let f = Fixture::new();
    let mut parent = minimal_execution("p");
    parent.status = TaskExecutionStatus::WaitingForChildren;
    f.insert(vec![parent]).await;
    let request =
        || UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest {
            status: TaskExecutionStatus::WaitingForChildren,
            on_children_finished_processing_status: OnChildrenFinishedProcessingStatus::Idle,
            update: TaskExecutionStorageUpdate {
                on_children_finished_processing_status: Some(
                    OnChildrenFinishedProcessingStatus::Processing,
                ),
                ..update(0)
            },
            limit: 10,
        };
    let select = || async {
        f.storage
            .update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(request())
            .await
            .unwrap()
    };
    f.advance(WRITE_CLOCK_OFFSET_MS); // clock == updatedAt: not stale yet.
    assert!(select().await.is_empty());
    f.advance(1);
    let claimed = select().await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].on_children_finished_processing_status,
        OnChildrenFinishedProcessingStatus::Processing
    );
    assert_eq!(
        claimed[0].updated_at, 0,
        "the client applies the update's updatedAt as given"
    );
    f.advance(1_000);
    assert!(select().await.is_empty(), "now processing");
}

#[tokio::test]
async fn expiry_sweeps_take_zero_up_to_the_bound_in_expiry_order() {
    let f = Fixture::new();
    let expiring = |id: &str, expires_at: Option<i64>| TaskExecutionStorageValue {
        status: TaskExecutionStatus::Running,
        expires_at,
        on_children_finished_processing_expires_at: expires_at,
        close_expires_at: expires_at,
        ..minimal_execution(id)
    };
    let bound = NOW + 3_000;
    f.insert(vec![
        expiring("late", Some(NOW + 2_000)),
        expiring("none", None),
        expiring("zero", Some(0)),
        expiring("early", Some(NOW + 1_500)),
        expiring("beyond", Some(bound)),
    ])
    .await;
    let mut sleeping = expiring("sleeping", Some(NOW + 1_200));
    sleeping.is_sleeping_task = true;
    f.insert(vec![sleeping]).await;

    let touched = |f: &Fixture| -> Vec<String> {
        f.storage
            .snapshot()
            .into_iter()
            .filter(|v| v.retry_attempts > 0)
            .map(|v| v.execution_id)
            .collect()
    };
    let mark = TaskExecutionStorageUpdate {
        retry_attempts: Some(1),
        ..update(0)
    };

    let count = f
        .storage
        .update_by_status_and_is_sleeping_task_and_expires_at_less_than(
            UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest {
                status: TaskExecutionStatus::Running,
                is_sleeping_task: false,
                expires_at_less_than: bound,
                update: mark.clone(),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(
        touched(&f),
        vec!["zero", "early"],
        "0 first, then by expiry; limit 2"
    );

    let f = Fixture::new();
    f.insert(vec![
        expiring("late", Some(NOW + 2_000)),
        expiring("none", None),
        expiring("zero", Some(0)),
    ])
    .await;
    let count = f
        .storage
        .update_by_on_children_finished_processing_expires_at_less_than(
            UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest {
                on_children_finished_processing_expires_at_less_than: bound,
                update: mark.clone(),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(touched(&f), vec!["late", "zero"]);

    let f = Fixture::new();
    f.insert(vec![
        expiring("late", Some(NOW + 2_000)),
        expiring("beyond", Some(bound)),
    ])
    .await;
    let count = f
        .storage
        .update_by_close_expires_at_less_than(UpdateByCloseExpiresAtLessThanRequest {
            close_expires_at_less_than: bound,
            update: mark,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(count, 1);
    assert_eq!(touched(&f), vec!["late"]);
}

/// Inserts `parent` (with `acc`) and its `children` the way the executor does: through the
/// parent's update, so the children carry `parentExecutionDocId`.
async fn spawn(f: &Fixture, parent: &str, acc: i64, children: Vec<TaskExecutionStorageValue>) {
    f.insert(vec![TaskExecutionStorageValue {
        status: TaskExecutionStatus::Running,
        ..minimal_execution(parent)
    }])
    .await;
    f.storage
        .update_many_by_id_and_insert_children_if_updated(vec![
            UpdateByIdAndInsertChildrenRequest {
                execution_id: parent.into(),
                filters: None,
                update: TaskExecutionStorageUpdate {
                    status: Some(TaskExecutionStatus::WaitingForChildren),
                    active_children_count: Some(acc),
                    ..update(0)
                },
                children_task_executions_to_insert_if_any_updated: children
                    .into_iter()
                    .map(|c| TaskExecutionStorageValue {
                        is_finished: true,
                        close_status: TaskExecutionCloseStatus::Ready,
                        ..c
                    })
                    .collect(),
            },
        ])
        .await
        .unwrap();
}

#[tokio::test]
async fn decrement_sweep_skips_deleted_parents_and_respects_the_limit() {
    let f = Fixture::new();
    spawn(
        &f,
        "p1",
        2,
        vec![
            child_of("p1", "a1", false, false),
            child_of("p1", "a2", false, false),
        ],
    )
    .await;
    spawn(&f, "p2", 1, vec![child_of("p2", "only", true, false)]).await;
    f.storage.delete_by_id("p2").await.unwrap();
    // A new row with the old parent's execution id is a different document: not touched.
    f.insert(vec![TaskExecutionStorageValue {
        active_children_count: 9,
        ..minimal_execution("p2")
    }])
    .await;
    f.advance(100);
    let sweep = |limit| UpdateAndDecrementParentActiveChildrenCountRequest {
        is_finished: true,
        close_status: TaskExecutionCloseStatus::Ready,
        update: TaskExecutionStorageUpdate {
            close_status: Some(TaskExecutionCloseStatus::Closed),
            ..update(0)
        },
        limit,
    };
    let storage = &f.storage;
    assert_eq!(
        storage
            .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
                sweep(1)
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(f.get("p1").await.unwrap().active_children_count, 1);
    f.advance(100);
    // The only child's parent is gone: upstream's blind patch throws, and nothing of the
    // sweep is kept (a1 stays `ready`, the new p2 keeps its acc).
    let err = storage
        .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(sweep(
            10,
        ))
        .await
        .unwrap_err();
    let message = err.thrown_message().unwrap();
    assert!(
        message.starts_with("Update on nonexistent document ID "),
        "{message}"
    );
    assert_eq!(f.get("p1").await.unwrap().active_children_count, 1);
    assert_eq!(f.get("p2").await.unwrap().active_children_count, 9);
    // Without the only child, the sweep goes through and decrements p1.
    storage.delete_by_id("only").await.unwrap();
    f.advance(100);
    assert_eq!(
        storage
            .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
                sweep(10)
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(f.get("p1").await.unwrap().active_children_count, 0);
    assert_eq!(f.get("p2").await.unwrap().active_children_count, 9);
}

/// Convex's read limits, counted by the model as a deployment counts them.
#[tokio::test]
async fn reads_are_held_to_convex_limits() {
    let f = Fixture::new();
    let big = TaskExecutionStorageValue {
        input: "x".repeat(900 * 1024),
        ..minimal_execution("big")
    };
    f.insert(vec![big]).await;
    let requests = |n: usize, id: &dyn Fn(usize) -> String| -> Vec<GetByIdRequest> {
        (0..n)
            .map(|i| GetByIdRequest {
                execution_id: id(i),
                filters: None,
            })
            .collect()
    };
    let err = f
        .storage
        .get_many_by_id(requests(512, &|_| "big".to_string()))
        .await
        .unwrap_err();
    assert!(err.thrown_message().unwrap().starts_with(
        "Too many bytes read in a single function execution (limit: 16777216 bytes)."
    ));
    assert_eq!(
        f.storage
            .get_many_by_id(requests(18, &|_| "big".to_string()))
            .await
            .unwrap()
            .len(),
        18
    );
    let err = f
        .storage
        .get_many_by_id(requests(4097, &|i| format!("id-{i}")))
        .await
        .unwrap_err();
    assert!(err
        .thrown_message()
        .unwrap()
        .starts_with("Too many reads in a single function execution (limit: 4096)."));
    let err = f
        .storage
        .insert_many(
            (0..4097)
                .map(|i| minimal_execution(&format!("n{i}")))
                .collect(),
        )
        .await
        .unwrap_err();
    assert!(err.thrown_message().unwrap().starts_with("Too many reads"));
    assert!(
        f.get("n0").await.is_none(),
        "nothing of the failed insert was kept"
    );
}

#[tokio::test]
async fn sharded_selectors_visit_configured_shards_in_order() {
    let f = Fixture::sharded(4, Some(vec![3, 1]));
    let shard_of = [3, 1, 0, 2, 1, 3, 0, 2];
    f.insert(
        (0..8)
            .map(|i| minimal_execution(&format!("x{i}_{}", shard_of[i])))
            .collect(),
    )
    .await;
    let shards: Vec<(u32, String)> = f
        .storage
        .snapshot_with_shards()
        .into_iter()
        .map(|(s, v)| (s, v.execution_id))
        .collect();
    assert!(
        shards.iter().all(|(s, id)| id.ends_with(&s.to_string())),
        "{shards:?}"
    );
    f.advance(100);
    let claimed = f
        .storage
        .update_by_status_and_start_at_less_than_and_return(
            UpdateByStatusAndStartAtLessThanRequest {
                status: TaskExecutionStatus::Ready,
                start_at_less_than: i64::MAX,
                update: TaskExecutionStorageUpdate {
                    status: Some(TaskExecutionStatus::Running),
                    ..update(0)
                },
                update_expires_at_with_started_at: 0,
                limit: 10,
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = claimed.iter().map(|v| v.execution_id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["x1_1", "x4_1", "x0_3", "x5_3"],
        "shard 1 first, then shard 3; shards 0 and 2 untouched"
    );
}

#[tokio::test]
async fn sharded_decrement_sweep_splits_the_limit() {
    let f = Fixture::sharded(2, None);
    f.insert(
        (0..6)
            .map(|i| TaskExecutionStorageValue {
                is_finished: true,
                close_status: TaskExecutionCloseStatus::Ready,
                ..minimal_execution(&format!("x{i}_{}", i % 2))
            })
            .collect(),
    )
    .await;
    f.advance(100);
    let count = f
        .storage
        .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
            UpdateAndDecrementParentActiveChildrenCountRequest {
                is_finished: true,
                close_status: TaskExecutionCloseStatus::Ready,
                update: TaskExecutionStorageUpdate {
                    close_status: Some(TaskExecutionCloseStatus::Closed),
                    ..update(0)
                },
                limit: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(count, 4, "ceil(3 / 2) = 2 per shard");
}

#[tokio::test]
async fn random_shards_stay_in_range_and_bad_choosers_are_reported() {
    let f = Fixture::with(3, None, None);
    f.insert(
        (0..50)
            .map(|i| minimal_execution(&format!("e{i}")))
            .collect(),
    )
    .await;
    assert!(f.storage.snapshot_with_shards().iter().all(|(s, _)| *s < 3));

    let f = Fixture::with(2, None, Some(Arc::new(|_: &str| 2)));
    let error = f
        .storage
        .insert_many(vec![minimal_execution("e1")])
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::InvalidOptions(_)),
        "{error:?}"
    );
    assert!(
        InMemoryTaskExecutionsStorage::with_options(InMemoryOptions {
            total_shards: 0,
            ..Default::default()
        })
        .is_err()
    );
}

#[tokio::test]
async fn reads_hide_root_and_parent_with_empty_ids_but_the_index_still_sees_them() {
    let f = Fixture::new();
    let mut value = child_of("p", "c", false, false);
    value.parent.as_mut().unwrap().task_id = String::new();
    value.root = Some(TaskExecutionSummary {
        task_id: "r".into(),
        execution_id: String::new(),
    });
    f.insert(vec![value]).await;
    let read = f.get("c").await.unwrap();
    assert_eq!((read.root, read.parent), (None, None));
    let children = f
        .storage
        .get_many_by_parent_execution_id(vec!["p".into()])
        .await
        .unwrap();
    assert_eq!(children[0].len(), 1);
    assert_eq!(f.storage.snapshot()[0].parent, None);
}

#[tokio::test]
async fn deletes_always_work_in_memory() {
    let f = Fixture::new();
    f.insert(vec![
        minimal_execution("a"),
        minimal_execution("b"),
        minimal_execution("c"),
    ])
    .await;
    f.storage.delete_by_id("b").await.unwrap();
    f.storage.delete_by_id("missing").await.unwrap();
    assert_eq!(f.ids(), vec!["a", "c"]);
    f.storage.delete_all().await.unwrap();
    assert!(f.ids().is_empty());
    f.insert(vec![minimal_execution("a")]).await;
    assert_eq!(f.ids(), vec!["a"], "ids are free again after a delete");
}
