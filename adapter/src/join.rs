//! Waiting for several futures at once, results in input order.
//!
//! The sharded selectors call the deployment once per shard concurrently, like upstream's
//! `Promise.all`. This small join polls every pending future on each wake-up, which is plenty
//! for at most 64 shards and keeps the calls on the caller's task (no spawning, no `'static`).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// A boxed future borrowing from its caller.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs all futures concurrently and returns their outputs in the order given.
pub(crate) async fn join_all<T>(futures: Vec<BoxFuture<'_, T>>) -> Vec<T> {
    let mut pending: Vec<Option<BoxFuture<'_, T>>> = futures.into_iter().map(Some).collect();
    let mut outputs: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (slot, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => {
                        *output = Some(value);
                        *slot = None;
                    }
                    Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_input_order_and_runs_concurrently() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        // The first future can only finish after the second one ran: a sequential join hangs.
        let first: BoxFuture<'_, u32> = Box::pin(async move { rx.await.unwrap() + 1 });
        let second: BoxFuture<'_, u32> = Box::pin(async move {
            tx.send(10).unwrap();
            2
        });
        assert_eq!(join_all(vec![first, second]).await, vec![11, 2]);
    }

    #[tokio::test]
    async fn empty_input_gives_empty_output() {
        let none: Vec<BoxFuture<'_, u32>> = Vec::new();
        assert!(join_all(none).await.is_empty());
    }
}
