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

#[cfg(test)]
mod tests {
    use crate::fixtures::{full_execution, full_update, minimal_execution, unset_all, F0};
    use crate::types::{TaskExecutionStorageUnset, TaskExecutionStorageUpdate};

    #[test]
    fn sets_every_field_the_update_carries() {
        let mut value = full_execution("exec");
        let update = full_update();
        value.apply_update(&update);
        let u = update;
        assert_eq!(value.executor_id, u.executor_id);
        assert_eq!(Some(value.status), u.status);
        assert_eq!(Some(value.is_finished), u.is_finished);
        assert_eq!(value.run_output, u.run_output);
        assert_eq!(value.output, u.output);
        assert_eq!(value.error, u.error);
        assert_eq!(Some(value.retry_attempts), u.retry_attempts);
        assert_eq!(Some(value.start_at), u.start_at);
        assert_eq!(value.started_at, u.started_at);
        assert_eq!(value.expires_at, u.expires_at);
        assert_eq!(
            value.waiting_for_children_started_at,
            u.waiting_for_children_started_at
        );
        assert_eq!(
            value.waiting_for_finalize_started_at,
            u.waiting_for_finalize_started_at
        );
        assert_eq!(value.finished_at, u.finished_at);
        assert_eq!(value.children, u.children);
        assert_eq!(Some(value.active_children_count), u.active_children_count);
        assert_eq!(
            Some(value.on_children_finished_processing_status),
            u.on_children_finished_processing_status
        );
        assert_eq!(
            value.on_children_finished_processing_expires_at,
            u.on_children_finished_processing_expires_at
        );
        assert_eq!(
            value.on_children_finished_processing_finished_at,
            u.on_children_finished_processing_finished_at
        );
        assert_eq!(value.finalize, u.finalize);
        assert_eq!(Some(value.close_status), u.close_status);
        assert_eq!(value.close_expires_at, u.close_expires_at);
        assert_eq!(value.closed_at, u.closed_at);
        assert_eq!(
            Some(value.needs_promise_cancellation),
            u.needs_promise_cancellation
        );
        assert_eq!(value.updated_at, u.updated_at);
        // The identity and the immutable fields stay.
        let before = full_execution("exec");
        assert_eq!(
            (
                &value.execution_id,
                &value.root,
                &value.parent,
                value.created_at
            ),
            (
                &before.execution_id,
                &before.root,
                &before.parent,
                before.created_at
            )
        );
    }

    #[test]
    fn an_empty_update_only_moves_updated_at() {
        let mut value = full_execution("exec");
        value.apply_update(&TaskExecutionStorageUpdate {
            updated_at: 77,
            ..Default::default()
        });
        assert_eq!(
            value,
            crate::types::TaskExecutionStorageValue {
                updated_at: 77,
                ..full_execution("exec")
            }
        );
    }

    #[test]
    fn unset_wins_over_a_value_in_the_same_update() {
        let mut value = full_execution("exec");
        value.apply_update(&TaskExecutionStorageUpdate {
            unset: Some(unset_all()),
            ..full_update()
        });
        assert_eq!(value.executor_id, None);
        assert_eq!(value.run_output, None);
        assert_eq!(value.error, None);
        assert_eq!(value.started_at, None);
        assert_eq!(value.expires_at, None);
        assert_eq!(value.on_children_finished_processing_expires_at, None);
        assert_eq!(value.close_expires_at, None);
        // Fields without an unset flag keep the update's value.
        assert_eq!(value.output.as_deref(), Some("out2"));
        assert_eq!(value.closed_at, Some(F0 + 29));
    }

    #[test]
    fn each_unset_flag_removes_only_its_field() {
        type SetFlag = fn(&mut TaskExecutionStorageUnset);
        type IsRemoved = fn(&crate::types::TaskExecutionStorageValue) -> bool;
        let flags: [(SetFlag, IsRemoved); 7] = [
            (|u| u.executor_id = true, |v| v.executor_id.is_none()),
            (|u| u.run_output = true, |v| v.run_output.is_none()),
            (|u| u.error = true, |v| v.error.is_none()),
            (|u| u.started_at = true, |v| v.started_at.is_none()),
            (|u| u.expires_at = true, |v| v.expires_at.is_none()),
            (
                |u| u.on_children_finished_processing_expires_at = true,
                |v| v.on_children_finished_processing_expires_at.is_none(),
            ),
            (
                |u| u.close_expires_at = true,
                |v| v.close_expires_at.is_none(),
            ),
        ];
        for (set_flag, is_removed) in flags {
            let mut unset = TaskExecutionStorageUnset::default();
            set_flag(&mut unset);
            let mut value = full_execution("exec");
            value.apply_update(&TaskExecutionStorageUpdate {
                updated_at: 1,
                unset: Some(unset),
                ..Default::default()
            });
            assert!(is_removed(&value));
            let mut expected = full_execution("exec");
            expected.updated_at = 1;
            assert!(!is_removed(&expected));
            // Exactly one field differs from the untouched value.
            let differing = serde_json::to_value(&value)
                .unwrap()
                .as_object()
                .unwrap()
                .len();
            let untouched = serde_json::to_value(&expected)
                .unwrap()
                .as_object()
                .unwrap()
                .len();
            assert_eq!(differing + 1, untouched);
        }
    }

    #[test]
    fn start_update_sets_expiry_from_started_at_and_timeout() {
        let mut value = minimal_execution("e1");
        let update = TaskExecutionStorageUpdate {
            status: Some(crate::types::TaskExecutionStatus::Running),
            updated_at: 10,
            unset: Some(TaskExecutionStorageUnset {
                expires_at: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        value.apply_start_update(&update, 5_000);
        assert_eq!(value.expires_at, Some(5_000 + value.timeout_ms));
        assert_eq!(value.status, crate::types::TaskExecutionStatus::Running);
    }

    #[test]
    fn start_update_with_zero_started_at_sets_no_expiry() {
        let mut value = minimal_execution("e1");
        value.apply_start_update(
            &TaskExecutionStorageUpdate {
                updated_at: 10,
                ..Default::default()
            },
            0,
        );
        assert_eq!(value.expires_at, None);
    }
}
