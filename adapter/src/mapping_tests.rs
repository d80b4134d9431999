//! Unit tests of the wire mapping: every renamed field both ways, the root/parent rules, the
//! unset mapping, no nulls, lenient integers, and garbage rejected without a panic.

use serde_json::{json, Value};

use super::*;
use crate::fixtures::{full_execution, full_update, minimal_execution, unset_all, F0, F1};
use crate::types::TaskExecutionStorageUnset;

/// The stored document of [`full_execution`] with id `exec`, with system fields and floats
/// printed as `5.0`, as the real backend returns it.
fn full_document() -> Value {
    json!({
        "_id": "j57004926d25askqh2ctneycvn77kce2",
        "_creationTime": 1732646400123.4568,
        "shard": 2.0,
        "parentExecutionDocId": "j57004926d25askqh2ctneycvn77kce3",
        "rootTaskId": "rootTask",
        "rootExecutionId": "rootExec",
        "parentTaskId": "parentTask",
        "parentExecutionId": "parentExec",
        "indexInParentChildren": 3.0,
        "isOnlyChildOfParent": true,
        "isFinalizeOfParent": false,
        "taskId": "task",
        "executionId": "exec",
        "isSleepingTask": true,
        "sleepingTaskUniqueId": "exec-sleep",
        "retryOptions": {"maxAttempts": 5.0, "baseDelayMs": 100.0, "maxDelayMs": 2000, "delayMultiplier": 1.5},
        "sleepMsBeforeRun": 10.0,
        "timeoutMs": 20.0,
        "areChildrenSequential": true,
        "input": "{\"in\":[1,2],\"s\":\"ü\"}",
        "executorId": "executor",
        "status": "waiting_for_children",
        "isFinished": false,
        "runOutput": "run",
        "output": "out",
        "error": {"errorType": "not_found", "message": "missing", "isRetryable": true, "isInternal": false},
        "retryAttempts": 2.0,
        "startAt": F0 as f64,
        "startedAt": (F0 + 1) as f64,
        "expiresAt": (F0 + 2) as f64,
        "waitingForChildrenStartedAt": (F0 + 3) as f64,
        "waitingForFinalizeStartedAt": (F0 + 4) as f64,
        "finishedAt": (F0 + 5) as f64,
        "children": [{"taskId": "c1", "executionId": "ce1"}, {"taskId": "c2", "executionId": "ce2"}],
        "acc": 2.0,
        "ocfpStatus": "processing",
        "ocfpExpiresAt": (F0 + 6) as f64,
        "ocfpFinishedAt": (F0 + 7) as f64,
        "finalize": {"taskId": "fin", "executionId": "finExec"},
        "closeStatus": "closing",
        "closeExpiresAt": (F0 + 8) as f64,
        "closedAt": (F0 + 9) as f64,
        "npc": true,
        "createdAt": (F0 + 10) as f64,
        "updatedAt": (F0 + 11) as f64
    })
}

fn decode_one(document: Value) -> Result<TaskExecutionStorageValue, String> {
    let mut values = decode_values(Value::Array(vec![document]))?;
    Ok(values.remove(0))
}

fn integral_floats_as_integers(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && !n.is_i64() && !n.is_u64() => json!(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(integral_floats_as_integers).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, integral_floats_as_integers(v)))
                .collect(),
        ),
        other => other,
    }
}

fn contains_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(contains_null),
        Value::Object(fields) => fields.values().any(contains_null),
        _ => false,
    }
}

#[test]
fn insert_value_renames_and_flattens_every_field() {
    let mut expected = full_document();
    let fields = expected.as_object_mut().unwrap();
    for system in ["_id", "_creationTime", "parentExecutionDocId"] {
        fields.remove(system);
    }
    fields.insert("shard".into(), json!(2));
    // Integral numbers go out as JSON integers, while the document above prints them as the
    // backend does (`5.0`); serde_json tells the two apart, so compare like with like.
    let expected = integral_floats_as_integers(expected);

    let encoded = encode_insert_value(&full_execution("exec"), 2);
    assert_eq!(encoded, expected);
}

#[test]
fn insert_value_leaves_absent_fields_out_and_never_sends_null() {
    let encoded = encode_insert_value(&minimal_execution("e1"), 0);
    let fields = encoded.as_object().unwrap();
    let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "acc",
            "areChildrenSequential",
            "closeStatus",
            "createdAt",
            "executionId",
            "input",
            "isFinished",
            "isSleepingTask",
            "npc",
            "ocfpStatus",
            "retryAttempts",
            "retryOptions",
            "shard",
            "sleepMsBeforeRun",
            "startAt",
            "status",
            "taskId",
            "timeoutMs",
            "updatedAt",
        ]
    );
    assert_eq!(fields["retryOptions"], json!({"maxAttempts": 1}));
    assert!(!contains_null(&encoded));
}

#[test]
fn numbers_are_plain_json_numbers() {
    let text = encode_insert_value(&full_execution("exec"), 1).to_string();
    assert!(!text.contains("$integer"), "{text}");
    assert!(text.contains(&format!("\"startAt\":{F0},")), "{text}");
    assert!(text.contains("\"delayMultiplier\":1.5"), "{text}");
}

#[test]
fn non_finite_multipliers_use_convex_float_encoding_and_come_back() {
    let cases = [
        (f64::NAN, "AAAAAAAA+H8="),
        (f64::INFINITY, "AAAAAAAA8H8="),
        (f64::NEG_INFINITY, "AAAAAAAA8P8="),
        (-0.0, "AAAAAAAAAIA="),
    ];
    for (multiplier, base64) in cases {
        let mut value = minimal_execution("e1");
        value.retry_options.delay_multiplier = Some(multiplier);
        let encoded = encode_insert_value(&value, 0);
        assert_eq!(
            encoded["retryOptions"]["delayMultiplier"],
            json!({ "$float": base64 })
        );
        let decoded = decode_one(encoded).unwrap();
        let back = decoded.retry_options.delay_multiplier.unwrap();
        assert_eq!(back.to_bits(), multiplier.to_bits(), "{multiplier}");
    }
}

#[test]
fn base64_round_trips_every_length() {
    for len in 0..10u8 {
        let bytes: Vec<u8> = (0..len)
            .map(|i| i.wrapping_mul(77).wrapping_add(200))
            .collect();
        assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
    }
    assert_eq!(base64_encode(&[0x00, 0xff, 0x10]), "AP8Q");
    for bad in ["A", "AP8", "A=AA", "AA==AAAA", "AA*=", "A==="] {
        assert_eq!(base64_decode(bad), None, "{bad}");
    }
}

#[test]
fn insert_then_read_round_trips() {
    let value = full_execution("exec");
    assert_eq!(decode_one(encode_insert_value(&value, 5)).unwrap(), value);
    let value = minimal_execution("e1");
    assert_eq!(decode_one(encode_insert_value(&value, 0)).unwrap(), value);
}

#[test]
fn decodes_a_stored_document_ignoring_system_fields() {
    assert_eq!(decode_one(full_document()).unwrap(), full_execution("exec"));
}

#[test]
fn root_needs_both_ids_non_empty() {
    let cases = [
        (json!({"rootTaskId": "t"}), false),
        (json!({"rootExecutionId": "e"}), false),
        (json!({"rootTaskId": "", "rootExecutionId": "e"}), false),
        (json!({"rootTaskId": "t", "rootExecutionId": ""}), false),
        (json!({"rootTaskId": "t", "rootExecutionId": "e"}), true),
    ];
    for (fields, present) in cases {
        let mut document = encode_insert_value(&minimal_execution("e1"), 0);
        document
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let value = decode_one(document).unwrap();
        assert_eq!(value.root.is_some(), present, "{fields}");
    }
}

#[test]
fn parent_needs_both_ids_non_empty_and_defaults_the_rest() {
    let mut document = encode_insert_value(&minimal_execution("e1"), 0);
    document["parentTaskId"] = json!("pt");
    document["parentExecutionId"] = json!("pe");
    let parent = decode_one(document.clone()).unwrap().parent.unwrap();
    assert_eq!(
        parent,
        ParentTaskExecutionSummary {
            task_id: "pt".into(),
            execution_id: "pe".into(),
            index_in_parent_children: 0,
            is_only_child_of_parent: false,
            is_finalize_of_parent: false,
        }
    );
    document["parentTaskId"] = json!("");
    document["isFinalizeOfParent"] = json!(true);
    assert_eq!(decode_one(document).unwrap().parent, None);
}

#[test]
fn update_renames_every_field() {
    let encoded = encode_update(&full_update());
    assert_eq!(
        encoded,
        json!({
            "executorId": "ex2",
            "status": "completed",
            "isFinished": true,
            "runOutput": "run2",
            "output": "out2",
            "error": {"errorType": "timed_out", "message": "late", "isRetryable": false, "isInternal": true},
            "retryAttempts": 7,
            "startAt": F0 + 20,
            "startedAt": F0 + 21,
            "expiresAt": F0 + 22,
            "waitingForChildrenStartedAt": F0 + 23,
            "waitingForFinalizeStartedAt": F0 + 24,
            "finishedAt": F0 + 25,
            "children": [{"taskId": "c3", "executionId": "ce3"}],
            "acc": 9,
            "ocfpStatus": "processed",
            "ocfpExpiresAt": F0 + 26,
            "ocfpFinishedAt": F0 + 27,
            "finalize": {"taskId": "fin2", "executionId": "finExec2"},
            "closeStatus": "closed",
            "closeExpiresAt": F0 + 28,
            "closedAt": F0 + 29,
            "npc": false,
            "updatedAt": F1
        })
    );
}

#[test]
fn update_omits_absent_fields() {
    let update = TaskExecutionStorageUpdate {
        updated_at: 5,
        ..Default::default()
    };
    assert_eq!(encode_update(&update), json!({"updatedAt": 5}));
}

#[test]
fn unset_maps_the_ocfp_flag_and_sends_only_set_flags() {
    let mut update = TaskExecutionStorageUpdate {
        updated_at: 5,
        unset: Some(unset_all()),
        ..Default::default()
    };
    assert_eq!(
        encode_update(&update)["unset"],
        json!({
            "executorId": true,
            "runOutput": true,
            "error": true,
            "startedAt": true,
            "expiresAt": true,
            "ocfpExpiresAt": true,
            "closeExpiresAt": true
        })
    );
    update.unset = Some(TaskExecutionStorageUnset {
        on_children_finished_processing_expires_at: true,
        ..Default::default()
    });
    assert_eq!(
        encode_update(&update)["unset"],
        json!({"ocfpExpiresAt": true})
    );
}

#[test]
fn an_update_without_set_flags_has_no_unset() {
    for unset in [None, Some(TaskExecutionStorageUnset::default())] {
        let update = TaskExecutionStorageUpdate {
            updated_at: 5,
            unset,
            ..Default::default()
        };
        assert!(encode_update(&update).get("unset").is_none());
    }
}

#[test]
fn get_by_id_requests_send_filters_only_when_given() {
    let plain = GetByIdRequest {
        execution_id: "e1".into(),
        filters: None,
    };
    assert_eq!(
        encode_get_by_id_request(&plain),
        json!({"executionId": "e1"})
    );
    let filtered = GetByIdRequest {
        execution_id: "e1".into(),
        filters: Some(TaskExecutionStorageGetByIdFilters {
            is_sleeping_task: Some(false),
            status: Some(TaskExecutionStatus::TimedOut),
            is_finished: None,
        }),
    };
    assert_eq!(
        encode_get_by_id_request(&filtered),
        json!({"executionId": "e1", "filters": {"isSleepingTask": false, "status": "timed_out"}})
    );
}

#[test]
fn integer_fields_accept_integral_floats_only() {
    let accepted = [json!(5), json!(5.0), json!(5e0), json!(-0.0), json!(-3)];
    let expected = [5, 5, 5, 0, -3];
    for (number, expected) in accepted.into_iter().zip(expected) {
        let mut document = full_document();
        document["retryAttempts"] = number.clone();
        assert_eq!(
            decode_one(document).unwrap().retry_attempts,
            expected,
            "{number}"
        );
    }
    let rejected = [
        json!(5.5),
        json!(1e300),
        json!(-1e300),
        json!(9.3e18),
        json!(18446744073709551615u64),
        json!("5"),
        json!({"$integer": "BQAAAAAAAAA="}),
        json!(true),
        json!(null),
    ];
    for number in rejected {
        let mut document = full_document();
        document["startAt"] = number.clone();
        assert!(decode_one(document).is_err(), "{number} was accepted");
    }
}

#[test]
fn counts_are_non_negative_integers() {
    assert_eq!(decode_count(json!(3)).unwrap(), 3);
    assert_eq!(decode_count(json!(3.0)).unwrap(), 3);
    for bad in [json!(-1), json!(1.5), json!("3"), json!(null), json!([3])] {
        assert!(decode_count(bad.clone()).is_err(), "{bad}");
    }
}

#[test]
fn garbage_is_rejected_without_panicking() {
    let mut garbage = vec![
        json!(null),
        json!(1),
        json!("doc"),
        json!({}),
        json!([1, 2]),
        json!({"status": "ready"}),
    ];
    // Every required field removed in turn, and every field replaced by wrong types.
    let document = full_document();
    for key in document.as_object().unwrap().keys() {
        let mut without = document.clone();
        without.as_object_mut().unwrap().remove(key);
        garbage.push(without);
        for wrong in [
            json!("x"),
            json!(1.25),
            json!([]),
            json!({"$float": "!!"}),
            json!(-1e300),
        ] {
            let mut replaced = document.clone();
            replaced[key] = wrong;
            garbage.push(replaced);
        }
    }
    let mut rejected = 0;
    for value in garbage {
        let _ = decode_optional_values(Value::Array(vec![value.clone()]));
        let _ = decode_value_lists(Value::Array(vec![Value::Array(vec![value.clone()])]));
        let _ = decode_count(value.clone());
        let _ = decode_null(value.clone());
        if decode_one(value).is_err() {
            rejected += 1;
        }
    }
    // The optional fields may go missing and `_id`-like fields may hold anything, but most of
    // these must be errors; the point of the loop is that none of them panicked.
    assert!(rejected > 100, "only {rejected} rejected");
}

#[test]
fn unknown_enum_strings_are_rejected() {
    for (key, wrong) in [
        ("status", "sleeping"),
        ("ocfpStatus", "done"),
        ("closeStatus", "open"),
    ] {
        let mut document = full_document();
        document[key] = json!(wrong);
        assert!(decode_one(document).is_err(), "{key}={wrong}");
    }
    let mut document = full_document();
    document["error"]["errorType"] = json!("weird");
    assert!(decode_one(document).is_err());
}

#[test]
fn lists_decode_in_order_with_nulls() {
    let values = decode_optional_values(json!([null, full_document(), null])).unwrap();
    assert_eq!(values, vec![None, Some(full_execution("exec")), None]);
    let lists = decode_value_lists(json!([[], [full_document(), full_document()]])).unwrap();
    assert_eq!(lists.iter().map(Vec::len).collect::<Vec<_>>(), vec![0, 2]);
    assert!(decode_null(json!(null)).is_ok());
    assert!(decode_null(json!(0)).is_err());
}
