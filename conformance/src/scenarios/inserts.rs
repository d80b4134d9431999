//! `insertMany`: round trip, empty batches, duplicate ids within a batch and across calls.

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::error::{ConformanceError, StorageResultExt};

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Inserts;
        insert_round_trips_every_field: [InsertMany, GetManyById],
        insert_of_an_empty_batch_changes_nothing: [InsertMany],
        special_float_multipliers_round_trip: [InsertMany, GetManyById],
        duplicate_id_within_a_batch_inserts_nothing: [InsertMany],
        duplicate_id_across_calls_inserts_nothing: [InsertMany],
        duplicate_sleeping_task_unique_id_inserts_nothing: [InsertMany],
        empty_sleeping_task_unique_id_is_not_unique: [InsertMany, GetManyBySleepingTaskUniqueId],
        execution_id_is_checked_before_sleeping_task_unique_id: [InsertMany],
    }
}

async fn insert_round_trips_every_field(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let value = full_execution("a");
    let plain = minimal_execution("b");
    let before = ctx.now_ms().await?;
    insert(&*s, vec![value.clone(), plain.clone()]).await?;
    let after = ctx.now_ms().await?;
    let got = read(&*s, &["a", "b"]).await?;
    let a = got[0]
        .clone()
        .ok_or_else(|| ConformanceError::check("a is missing"))?;
    let b = got[1]
        .clone()
        .ok_or_else(|| ConformanceError::check("b is missing"))?;
    ensure(
        a.created_at == a.updated_at,
        format!("createdAt {} != updatedAt {}", a.created_at, a.updated_at),
    )?;
    ensure_written_at(ctx, "createdAt", a.created_at, (before, after))?;
    let mut expected = value;
    expected.created_at = a.created_at;
    expected.updated_at = a.updated_at;
    ensure_eq("the full value read back", &expected, &a)?;
    let mut expected = plain;
    expected.created_at = b.created_at;
    expected.updated_at = b.updated_at;
    expected.start_at = b.created_at;
    ensure_eq(
        "the plain value read back (startAt 0 is clamped at insert)",
        &expected,
        &b,
    )
}

async fn insert_of_an_empty_batch_changes_nothing(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    s.insert_many(vec![]).await.during("insertMany([])")?;
    s.insert_many(vec![minimal_execution("a")])
        .await
        .during("insertMany")?;
    s.insert_many(vec![]).await.during("insertMany([])")?;
    let got = read(&*s, &["a"]).await?;
    ensure(got[0].is_some(), "a is missing after an empty insert")
}

/// `delayMultiplier` is the one float of a row: NaN, the infinities and -0 travel in Convex's
/// `$float` encoding and must come back bit for bit.
async fn special_float_multipliers_round_trip(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let multipliers = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 2.0, 0.1];
    let ids: Vec<String> = (0..multipliers.len()).map(|i| format!("m{i}")).collect();
    let values = ids
        .iter()
        .zip(multipliers)
        .map(|(id, multiplier)| {
            let mut v = minimal_execution(id);
            v.retry_options.delay_multiplier = Some(multiplier);
            v
        })
        .collect();
    s.insert_many(values).await.during("insertMany")?;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let got = read(&*s, &refs).await?;
    // Compared as bits: NaN equals nothing and -0 equals 0, and JSON has neither.
    let bits = |m: Option<f64>| m.map(f64::to_bits);
    ensure_eq(
        "delayMultiplier bits read back (NaN, inf, -inf, -0, 2, 0.1)",
        &multipliers.map(|m| Some(m.to_bits())).to_vec(),
        &got.iter()
            .map(|v| {
                v.as_ref()
                    .and_then(|v| bits(v.retry_options.delay_multiplier))
            })
            .collect::<Vec<_>>(),
    )
}

async fn duplicate_id_within_a_batch_inserts_nothing(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let result = s
        .insert_many(vec![
            minimal_execution("a"),
            minimal_execution("b"),
            minimal_execution("a"),
        ])
        .await;
    ensure_thrown(
        "insertMany([a, b, a])",
        result,
        "Execution id already exists",
    )?;
    ensure_eq(
        "rows after the failed batch",
        &vec![None::<()>, None],
        &read(&*s, &["a", "b"]).await?,
    )
}

async fn duplicate_id_across_calls_inserts_nothing(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut first = minimal_execution("a");
    first.input = "first".into();
    s.insert_many(vec![first]).await.during("insertMany([a])")?;
    let mut second = minimal_execution("a");
    second.input = "second".into();
    let result = s.insert_many(vec![minimal_execution("b"), second]).await;
    ensure_thrown(
        "insertMany([b, a]) after a",
        result,
        "Execution id already exists",
    )?;
    let got = read(&*s, &["a", "b"]).await?;
    ensure(got[1].is_none(), "b was inserted although its batch failed")?;
    ensure_eq(
        "a's input",
        &"first",
        &got[0].as_ref().map(|v| v.input.clone()),
    )
}

async fn duplicate_sleeping_task_unique_id_inserts_nothing(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let sleeping = |id: &str, unique: &str| {
        let mut v = minimal_execution(id);
        v.is_sleeping_task = true;
        v.sleeping_task_unique_id = Some(unique.to_string());
        v
    };
    let result = s
        .insert_many(vec![sleeping("a", "s0"), sleeping("b", "s0")])
        .await;
    ensure_thrown(
        "two sleeping tasks with one unique id in a batch",
        result,
        "Sleeping task unique id already exists",
    )?;
    ensure_eq(
        "rows after the failed batch",
        &vec![None::<()>, None],
        &read(&*s, &["a", "b"]).await?,
    )?;
    s.insert_many(vec![sleeping("a", "s0")])
        .await
        .during("insertMany([a(s0)])")?;
    let result = s
        .insert_many(vec![sleeping("c", "s1"), sleeping("d", "s0")])
        .await;
    ensure_thrown(
        "a unique id stored by an earlier call",
        result,
        "Sleeping task unique id already exists",
    )?;
    let got = read(&*s, &["a", "c", "d"]).await?;
    ensure(
        got[0].is_some() && got[1].is_none() && got[2].is_none(),
        format!("rows a, c, d: {got:?}"),
    )
}

async fn empty_sleeping_task_unique_id_is_not_unique(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut a = minimal_execution("a");
    a.sleeping_task_unique_id = Some(String::new());
    let mut b = minimal_execution("b");
    b.sleeping_task_unique_id = Some(String::new());
    s.insert_many(vec![a]).await.during("insertMany([a('')])")?;
    s.insert_many(vec![b]).await.during("insertMany([b('')])")?;
    let got = read(&*s, &["a", "b"]).await?;
    ensure(
        got.iter().all(Option::is_some),
        "both executions with an empty unique id must be stored",
    )?;
    let by_unique = s
        .get_many_by_sleeping_task_unique_id(vec![String::new()])
        .await
        .during("getManyBySleepingTaskUniqueId([''])")?;
    ensure_eq(
        "the lookup of '' answers the oldest row with it",
        &vec![Some("a".to_string())],
        &by_unique
            .iter()
            .map(|v| v.as_ref().map(|v| v.execution_id.clone()))
            .collect::<Vec<_>>(),
    )
}

async fn execution_id_is_checked_before_sleeping_task_unique_id(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut a = minimal_execution("a");
    a.sleeping_task_unique_id = Some("s0".into());
    s.insert_many(vec![a.clone()])
        .await
        .during("insertMany([a(s0)])")?;
    ensure_thrown(
        "the same execution again",
        s.insert_many(vec![a]).await,
        "Execution id already exists",
    )
}
