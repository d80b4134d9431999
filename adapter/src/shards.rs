//! The shard options both storages share: how many shards exist and which ones this client serves.

use crate::error::StorageError;

/// Picks the shard of an inserted execution from its execution id, in place of the uniformly
/// random choice. Deterministic placement is what a test harness needs to predict where a row
/// lands; a production client leaves it unset.
pub type ShardChooser = std::sync::Arc<dyn Fn(&str) -> u32 + Send + Sync>;

/// The most shards a store may be split into, as upstream's options schema allows.
pub(crate) const TOTAL_SHARDS_MAX: u32 = 64;

/// Checks `total_shards` and resolves `shards` to the list this client works on.
///
/// `None` means every shard; a given list is deduplicated and sorted, so fan-out order (and
/// therefore the order of concatenated results) never depends on how the caller wrote it.
pub(crate) fn resolve_shards(
    total_shards: u32,
    shards: Option<&[u32]>,
) -> Result<Vec<u32>, StorageError> {
    if !(1..=TOTAL_SHARDS_MAX).contains(&total_shards) {
        return Err(StorageError::InvalidOptions(format!(
            "total_shards must be between 1 and {TOTAL_SHARDS_MAX}, got {total_shards}"
        )));
    }
    let Some(shards) = shards else {
        return Ok((0..total_shards).collect());
    };
    if let Some(bad) = shards.iter().find(|&&shard| shard >= total_shards) {
        return Err(StorageError::InvalidOptions(format!(
            "shards must be between 0 and total_shards - 1 ({}), got {bad}",
            total_shards - 1
        )));
    }
    if shards.is_empty() {
        return Err(StorageError::InvalidOptions(
            "shards must name at least one shard (leave it unset for all shards)".to_string(),
        ));
    }
    let mut resolved = shards.to_vec();
    resolved.sort_unstable();
    resolved.dedup();
    Ok(resolved)
}

/// The shard of a new execution: `chooser`'s pick, or uniformly random over all
/// `total_shards` (upstream's `Math.floor(Math.random() * totalShards)`).
pub(crate) fn choose_shard(
    chooser: Option<&ShardChooser>,
    total_shards: u32,
    execution_id: &str,
) -> Result<u32, StorageError> {
    let shard = match chooser {
        Some(choose) => choose(execution_id),
        None => rand::Rng::gen_range(&mut rand::thread_rng(), 0..total_shards),
    };
    if shard >= total_shards {
        return Err(StorageError::InvalidOptions(format!(
            "shard_for chose shard {shard} for {execution_id:?}, but total_shards is {total_shards}"
        )));
    }
    Ok(shard)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<Vec<u32>, StorageError>) -> String {
        match result {
            Err(StorageError::InvalidOptions(message)) => message,
            other => panic!("expected InvalidOptions, got {other:?}"),
        }
    }

    #[test]
    fn defaults_to_every_shard() {
        assert_eq!(resolve_shards(1, None).unwrap(), vec![0]);
        assert_eq!(resolve_shards(4, None).unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(resolve_shards(64, None).unwrap().len(), 64);
    }

    #[test]
    fn deduplicates_and_sorts() {
        assert_eq!(
            resolve_shards(8, Some(&[5, 1, 5, 0, 1])).unwrap(),
            vec![0, 1, 5]
        );
    }

    #[test]
    fn rejects_total_shards_out_of_range() {
        assert!(message(resolve_shards(0, None)).contains("between 1 and 64, got 0"));
        assert!(message(resolve_shards(65, None)).contains("got 65"));
    }

    #[test]
    fn rejects_shard_out_of_range() {
        assert!(message(resolve_shards(4, Some(&[1, 4]))).contains("(3), got 4"));
    }

    #[test]
    fn rejects_an_empty_shard_list() {
        assert!(message(resolve_shards(4, Some(&[]))).contains("at least one shard"));
    }
}
