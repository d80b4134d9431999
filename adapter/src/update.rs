//! Applying an update to a value, as durable-execution's `applyTaskExecutionStorageUpdate` does.
//!
//! Both storages use this to build what the `...AndReturn` selectors hand back: the documents
//! as read before the server's update, with the request's update applied on the client
//! (SPEC.md section 6). The in-memory storage also uses it, after its own clamping, as the
//! server-side patch. No clamping happens here: the client applies the caller's values as given.

use crate::types::{TaskExecutionStorageUpdate, TaskExecutionStorageValue};

impl TaskExecutionStorageValue {
    /// Sets every field the update carries, `updated_at` included, then removes every field
    /// whose unset flag is true (so unset wins over a value given in the same update).
    pub fn apply_update(&mut self, update: &TaskExecutionStorageUpdate) {
        set_if_some(&mut self.executor_id, &update.executor_id);
        set(&mut self.status, update.status);
        set(&mut self.is_finished, update.is_finished);
        set_if_some(&mut self.run_output, &update.run_output);
        set_if_some(&mut self.output, &update.output);
        set_if_some(&mut self.error, &update.error);
        set(&mut self.retry_attempts, update.retry_attempts);
        set(&mut self.start_at, update.start_at);
        set_if_some(&mut self.started_at, &update.started_at);
        set_if_some(&mut self.expires_at, &update.expires_at);
        set_if_some(
            &mut self.waiting_for_children_started_at,
            &update.waiting_for_children_started_at,
        );
        set_if_some(
            &mut self.waiting_for_finalize_started_at,
            &update.waiting_for_finalize_started_at,
        );
        set_if_some(&mut self.finished_at, &update.finished_at);
        set_if_some(&mut self.children, &update.children);
        set(
            &mut self.active_children_count,
            update.active_children_count,
        );
        set(
            &mut self.on_children_finished_processing_status,
            update.on_children_finished_processing_status,
        );
        set_if_some(
            &mut self.on_children_finished_processing_expires_at,
            &update.on_children_finished_processing_expires_at,
        );
        set_if_some(
            &mut self.on_children_finished_processing_finished_at,
            &update.on_children_finished_processing_finished_at,
        );
        set_if_some(&mut self.finalize, &update.finalize);
        set(&mut self.close_status, update.close_status);
        set_if_some(&mut self.close_expires_at, &update.close_expires_at);
        set_if_some(&mut self.closed_at, &update.closed_at);
        set(
            &mut self.needs_promise_cancellation,
            update.needs_promise_cancellation,
        );
        self.updated_at = update.updated_at;

        if let Some(unset) = &update.unset {
            clear_if(&mut self.executor_id, unset.executor_id);
            clear_if(&mut self.run_output, unset.run_output);
            clear_if(&mut self.error, unset.error);
            clear_if(&mut self.started_at, unset.started_at);
            clear_if(&mut self.expires_at, unset.expires_at);
            clear_if(
                &mut self.on_children_finished_processing_expires_at,
                unset.on_children_finished_processing_expires_at,
            );
            clear_if(&mut self.close_expires_at, unset.close_expires_at);
        }
    }

    /// [`apply_update`](Self::apply_update) for the start-at claim, then
    /// `expires_at = update_expires_at_with_started_at + timeout_ms`.
    ///
    /// Like upstream (`if (updateExpiresAtWithStartedAt)`), a value of exactly 0 sets nothing.
    /// The expiry is set after the unset flags, so it survives `unset.expires_at` here, while
    /// the server's own patch removes it (unset wins there): upstream behaves the same way.
    pub fn apply_start_update(
        &mut self,
        update: &TaskExecutionStorageUpdate,
        update_expires_at_with_started_at: i64,
    ) {
        self.apply_update(update);
        if update_expires_at_with_started_at != 0 {
            self.expires_at =
                Some(update_expires_at_with_started_at.saturating_add(self.timeout_ms));
        }
    }
}

/// A required field: replaced when the update carries it.
fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// An optional field: replaced when the update carries it, left alone otherwise.
fn set_if_some<T: Clone>(field: &mut Option<T>, value: &Option<T>) {
    if value.is_some() {
        field.clone_from(value);
    }
}

fn clear_if<T>(field: &mut Option<T>, flag: bool) {
    if flag {
        *field = None;
    }
}
