//! Sharding on the client: random placement, fan-out of the four sharded claims over the
//! configured shards, `shards` subsets, the decrement sweep's `ceil(limit / shards)`, and
//! option validation.

use std::collections::BTreeSet;

use durable_execution_storage_convex::{
    TaskExecutionCloseStatus as Close, TaskExecutionStatus as Status, TaskExecutionsStorage,
};

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::backend::ClientOptions;
use crate::error::{ConformanceError, StorageResultExt};
use crate::model::transition::requests;

/// Rows placed at random over two shards; both shards get at least one except with
/// probability 2 · 2^-40, i.e. never in practice.
const PLACED_ROWS: usize = 40;

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Shards;
        shard_subsets_partition_the_claims: [InsertMany, UpdateByStatusAndStartAtLessThanAndReturn],
        claims_fan_out_over_every_configured_shard: [
            UpdateByStatusAndStartAtLessThanAndReturn, UpdateByCloseStatusAndReturn
        ],
        the_decrement_sweep_divides_its_limit_by_the_shard_count: [
            UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
        ],
        invalid_shard_options_are_rejected: [InsertMany],
    }
}

fn claim_update() -> durable_execution_storage_convex::TaskExecutionStorageUpdate {
    let mut u = touch(PAST_MS);
    u.status = Some(Status::Running);
    u
}

async fn claim_all(
    s: &dyn TaskExecutionsStorage,
    limit: u32,
) -> Result<Vec<String>, ConformanceError> {
    let claimed = s
        .update_by_status_and_start_at_less_than_and_return(requests::start_at(
            Status::Ready,
            2 * F0,
            &claim_update(),
            F0,
            limit,
        ))
        .await
        .during("start-at claim")?;
    Ok(ids(&claimed))
}

async fn shard_subsets_partition_the_claims(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let placing = ctx.client(&ClientOptions::shards(2))?;
    let only0 = ctx.client(&ClientOptions::shard_subset(2, &[0]))?;
    let only1 = ctx.client(&ClientOptions::shard_subset(2, &[1]))?;
    let all: BTreeSet<String> = (0..PLACED_ROWS).map(|i| format!("r{i:02}")).collect();
    placing
        .insert_many(all.iter().map(|id| minimal_execution(id)).collect())
        .await
        .during("insertMany")?;
    let zero: BTreeSet<String> = claim_all(&*only0, 100).await?.into_iter().collect();
    let one: BTreeSet<String> = claim_all(&*only1, 100).await?.into_iter().collect();
    ensure(
        zero.is_disjoint(&one),
        format!(
            "a row was claimed through both shards: {:?}",
            zero.intersection(&one).collect::<Vec<_>>()
        ),
    )?;
    ensure_eq(
        "rows claimed through shard 0 or shard 1",
        &all,
        &zero.union(&one).cloned().collect::<BTreeSet<_>>(),
    )?;
    ensure(
        !zero.is_empty() && !one.is_empty(),
        format!(
            "random placement put every row on one shard ({} / {})",
            zero.len(),
            one.len()
        ),
    )
}

async fn claims_fan_out_over_every_configured_shard(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let three = ctx.client(&ClientOptions::shards(3))?;
    let rows: Vec<String> = (0..PLACED_ROWS).map(|i| format!("r{i:02}")).collect();
    three
        .insert_many(
            rows.iter()
                .map(|id| {
                    let mut v = minimal_execution(id);
                    v.close_status = Close::Ready;
                    v
                })
                .collect(),
        )
        .await
        .during("insertMany")?;
    // Limit 1 per shard: at most one row per shard, and at least one from every shard that has one.
    let first = claim_all(&*three, 1).await?;
    ensure(
        !first.is_empty() && first.len() <= 3,
        format!("limit 1 over 3 shards answered {} rows", first.len()),
    )?;
    let mut claimed: BTreeSet<String> = first.into_iter().collect();
    for _ in 0..PLACED_ROWS {
        let more = claim_all(&*three, 100).await?;
        if more.is_empty() {
            break;
        }
        for id in more {
            ensure(
                claimed.insert(id.clone()),
                format!("{id} was claimed twice"),
            )?;
        }
    }
    ensure_eq(
        "claimed rows",
        &rows.iter().cloned().collect::<BTreeSet<_>>(),
        &claimed,
    )?;
    ctx.wait_until_stale().await?;
    let mut u = touch(PAST_MS);
    u.close_status = Some(Close::Closing);
    let closing = three
        .update_by_close_status_and_return(requests::close_status(Close::Ready, &u, 100))
        .await
        .during("close claim")?;
    ensure_eq(
        "rows answered by the close claim over three shards",
        &PLACED_ROWS,
        &closing.len(),
    )
}

async fn the_decrement_sweep_divides_its_limit_by_the_shard_count(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    // Every row on shard 0 (a one-shard client places there), swept by a two-shard client.
    let placing = ctx.client(&ClientOptions::shards(1))?;
    let two = ctx.client(&ClientOptions::shards(2))?;
    let mut p = minimal_execution("p");
    p.active_children_count = 5;
    insert(&*placing, vec![p]).await?;
    let kids = (0..5)
        .map(|i| {
            let mut c = child_execution(&format!("c{i}"), "p", i, false, false);
            c.is_finished = true;
            c.close_status = Close::Ready;
            c
        })
        .collect();
    insert_children(&*placing, "p", kids).await?;
    ctx.wait_until_stale().await?;
    let mut u = touch(PAST_MS);
    u.close_status = Some(Close::Closed);
    let count = two
        .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
            requests::decrement(true, Close::Ready, &u, 3),
        )
        .await
        .during("decrement sweep")?;
    ensure_eq(
        "count with limit 3 over 2 shards (ceil(3 / 2) = 2 from shard 0)",
        &2,
        &count,
    )?;
    ensure_eq(
        "p's acc",
        &3,
        &read_one(&*placing, "p").await?.active_children_count,
    )
}

async fn invalid_shard_options_are_rejected(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    if ctx.is_memory() {
        return Err(ConformanceError::NotApplicable(
            "client options of the Convex client".into(),
        ));
    }
    for options in [
        ClientOptions::shards(0),
        ClientOptions::shards(65),
        ClientOptions::shard_subset(2, &[2]),
    ] {
        match ctx.client(&options) {
            Err(ConformanceError::Storage {
                source: durable_execution_storage_convex::StorageError::InvalidOptions(_),
                ..
            }) => {}
            Err(other) => {
                return Err(ConformanceError::check(format!(
                    "{options:?}: expected InvalidOptions, got {other}"
                )))
            }
            Ok(_) => return Err(ConformanceError::check(format!("{options:?} was accepted"))),
        }
    }
    ensure(
        ctx.client(&ClientOptions::shard_subset(64, &[63, 0, 63]))
            .is_ok(),
        "shards [63, 0, 63] of 64 must be accepted",
    )
}
