//! The inspector's request log: the last N function calls, in memory.
//!
//! `call.rs` records every call that named a well-formed function path: when it arrived (the
//! emulator's clock), which function, how it ended (success, or the first line of the error),
//! how long it took, what it read and wrote, and which executionIds it changed. Arguments and
//! result are kept as JSON text cut at [`REQUEST_LOG_PAYLOAD_BYTES_MAX`], so the log holds at
//! most N × 2 × that many payload bytes.
//!
//! Invariant: the auth secret is never stored. The value of every `authSecret` field, and any
//! string equal to the secret, is replaced by [`REDACTED`] while the arguments are written out,
//! before the text exists.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value as Json;

use crate::http::codec::{Encode, OutputFormat};
use crate::limits::{
    REQUEST_LOG_CHANGED_IDS_MAX, REQUEST_LOG_PAYLOAD_BYTES_MAX, REQUEST_LOG_SUMMARY_IDS_MAX,
};
use crate::value::Value;

/// What stands in for the secret in logged arguments.
pub const REDACTED: &str = "[redacted]";

/// The last calls, oldest dropped first. Cheap to share; every method takes `&self`.
pub struct RequestLog {
    capacity: usize,
    inner: Mutex<Entries>,
}

struct Entries {
    /// Oldest first.
    entries: VecDeque<Arc<LogEntry>>,
    /// The sequence number the next entry gets; numbers start at 1 and never repeat.
    next_seq: u64,
}

/// One logged call.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Position in the log: increases by one per call, so a client asks for "after n".
    pub seq: u64,
    /// When the call arrived, in milliseconds since the epoch on the emulator's clock.
    pub time_ms: u64,
    /// The function path as sent, e.g. `taskExecutionsStorage:insertMany`.
    pub function: String,
    /// `query`, `mutation`, `action` or `run`: the endpoint it came through.
    pub endpoint: &'static str,
    /// `success` or `error`.
    pub outcome: &'static str,
    /// The first line of the error message (after `Server Error`), for a failed call.
    pub error: Option<String>,
    /// From arrival to the answer being ready, in microseconds.
    pub latency_us: u64,
    /// What the call read and wrote (zero for one refused before it reached the store: a
    /// wrong secret, invalid arguments); `None` when no function was found. Written out by
    /// [`LogEntry::to_json`], which shortens the id list of a summary.
    #[serde(skip)]
    pub usage: Option<LoggedUsage>,
    /// The arguments, secret redacted, as JSON text (cut when large).
    #[serde(skip)]
    pub args: Payload,
    /// The result as clean JSON text (cut when large); `None` for a failed call.
    #[serde(skip)]
    pub result: Option<Payload>,
}

/// Documents and bytes a call read and wrote, and the executionIds it changed.
#[derive(Debug, Clone, Default)]
pub struct LoggedUsage {
    pub documents_read: u64,
    pub bytes_read: u64,
    pub documents_written: u64,
    pub bytes_written: u64,
    /// Up to [`REQUEST_LOG_CHANGED_IDS_MAX`] of the changed executionIds, sorted (so
    /// [`LogEntry::touched`] is a binary search: a 1 000-row insert in each of 1 000 entries
    /// would otherwise be a million comparisons per execution page).
    pub changed_execution_ids: Vec<String>,
    /// How many executionIds it changed in all.
    pub changed_execution_ids_total: usize,
}

/// JSON text kept for display, possibly cut short.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Payload {
    /// The text; when `truncated`, a prefix of the JSON (not itself valid JSON).
    pub text: String,
    /// Whether the text was cut at [`REQUEST_LOG_PAYLOAD_BYTES_MAX`] bytes.
    pub truncated: bool,
}

/// A call being made: what is known before it runs.
pub struct PendingCall {
    time_ms: u64,
    function: String,
    endpoint: &'static str,
    args: Payload,
}

impl RequestLog {
    /// An empty log keeping the last `capacity` calls (0 keeps none).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Entries {
                entries: VecDeque::with_capacity(capacity.min(1024)),
                next_seq: 1,
            }),
        }
    }

    /// How many calls it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Notes a call before it runs: captures its arguments with the secret redacted
    /// (`is_secret` tells which strings are the secret).
    pub fn start(
        &self,
        time_ms: u64,
        function: &str,
        endpoint: &'static str,
        args: &Json,
        is_secret: &dyn Fn(&str) -> bool,
    ) -> PendingCall {
        let args = if self.capacity == 0 {
            Payload::default()
        } else {
            bounded_json(&Redacted {
                json: args,
                is_secret,
            })
        };
        PendingCall {
            time_ms,
            function: function.to_string(),
            endpoint,
            args,
        }
    }

    /// Records how a call ended; drops the oldest entry when full.
    pub fn finish(
        &self,
        call: PendingCall,
        outcome: Result<&Value, &str>,
        usage: Option<LoggedUsage>,
        latency: Duration,
    ) {
        if self.capacity == 0 {
            return;
        }
        let (outcome, error, result) = match outcome {
            Ok(value) => (
                "success",
                None,
                Some(bounded_json(&Encode(value, OutputFormat::Clean))),
            ),
            Err(message) => (
                "error",
                Some(message.lines().next().unwrap_or_default().to_string()),
                None,
            ),
        };
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let entry = LogEntry {
            seq: inner.next_seq,
            time_ms: call.time_ms,
            function: call.function,
            endpoint: call.endpoint,
            outcome,
            error,
            latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            usage,
            args: call.args,
            result,
        };
        inner.next_seq += 1;
        let dropped = if inner.entries.len() >= self.capacity {
            inner.entries.pop_front()
        } else {
            None
        };
        inner.entries.push_back(Arc::new(entry));
        drop(inner);
        // Freed after the lock is let go: the other workers' calls wait on that lock.
        drop(dropped);
    }

    /// Up to `limit` entries with `seq > after`, newest first, that `keep` accepts, and the
    /// newest sequence number handed out so far.
    pub fn newest(
        &self,
        after: u64,
        limit: usize,
        keep: impl Fn(&LogEntry) -> bool,
    ) -> (Vec<Arc<LogEntry>>, u64) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let entries = inner
            .entries
            .iter()
            .rev()
            .take_while(|e| e.seq > after)
            .filter(|e| keep(e))
            .take(limit)
            .cloned()
            .collect();
        (entries, inner.next_seq - 1)
    }

    /// The entry with this sequence number, while it is still kept.
    pub fn get(&self, seq: u64) -> Option<Arc<LogEntry>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let first = inner.entries.front()?.seq;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        inner.entries.get(index).cloned()
    }
}

impl LogEntry {
    /// Whether this call changed `execution_id` or named it in its arguments.
    pub fn touched(&self, execution_id: &str) -> bool {
        let changed = self.usage.as_ref().is_some_and(|u| {
            u.changed_execution_ids
                .binary_search_by(|id| id.as_str().cmp(execution_id))
                .is_ok()
        });
        changed || self.args.text.contains(&quoted(execution_id))
    }

    /// The entry as JSON: a summary lists the first [`REQUEST_LOG_SUMMARY_IDS_MAX`] changed
    /// executionIds (a list of calls stays small), `full` all that were kept, with the
    /// arguments and the result.
    pub fn to_json(&self, full: bool) -> Json {
        let mut body = serde_json::to_value(self).unwrap_or(Json::Null);
        let ids_shown = if full {
            REQUEST_LOG_CHANGED_IDS_MAX
        } else {
            REQUEST_LOG_SUMMARY_IDS_MAX
        };
        body["usage"] = match &self.usage {
            Some(usage) => serde_json::json!({
                "documentsRead": usage.documents_read,
                "bytesRead": usage.bytes_read,
                "documentsWritten": usage.documents_written,
                "bytesWritten": usage.bytes_written,
                "changedExecutionIds": usage.changed_execution_ids.iter().take(ids_shown).collect::<Vec<_>>(),
                "changedExecutionIdsTotal": usage.changed_execution_ids_total,
            }),
            None => Json::Null,
        };
        if full {
            body["args"] = serde_json::to_value(&self.args).unwrap_or(Json::Null);
            body["result"] = serde_json::to_value(&self.result).unwrap_or(Json::Null);
        }
        body
    }
}

impl LoggedUsage {
    /// Usage with the changed ids capped at [`REQUEST_LOG_CHANGED_IDS_MAX`].
    pub fn new(
        documents_read: u64,
        bytes_read: u64,
        documents_written: u64,
        bytes_written: u64,
        changed: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut changed_execution_ids = Vec::new();
        let mut total = 0;
        for id in changed {
            total += 1;
            if changed_execution_ids.len() < REQUEST_LOG_CHANGED_IDS_MAX {
                changed_execution_ids.push(id);
            }
        }
        changed_execution_ids.sort_unstable();
        Self {
            documents_read,
            bytes_read,
            documents_written,
            bytes_written,
            changed_execution_ids,
            changed_execution_ids_total: total,
        }
    }
}

/// `s` as a JSON string literal, to find it in logged JSON text.
fn quoted(s: &str) -> String {
    Json::String(s.to_string()).to_string()
}

/// Serializes `value` into at most [`REQUEST_LOG_PAYLOAD_BYTES_MAX`] bytes, stopping the
/// serializer as soon as the limit is reached (so a 16 MiB argument costs 16 KiB of work).
fn bounded_json(value: &impl Serialize) -> Payload {
    let mut out = Bounded {
        bytes: Vec::new(),
        full: false,
    };
    let _ = serde_json::to_writer(&mut out, value);
    // Only a cut can end inside a character: uncut, the text is taken as it is, not copied.
    let text = String::from_utf8(out.bytes)
        .unwrap_or_else(|cut| String::from_utf8_lossy(cut.as_bytes()).into_owned());
    Payload {
        text,
        truncated: out.full,
    }
}

/// A writer that takes up to the payload limit, then refuses.
struct Bounded {
    bytes: Vec<u8>,
    full: bool,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = REQUEST_LOG_PAYLOAD_BYTES_MAX - self.bytes.len();
        if buf.len() > room {
            self.bytes.extend_from_slice(&buf[..room]);
            self.full = true;
            return Err(std::io::Error::other("request log payload limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// JSON written with every `authSecret` value, and every string that is the secret, replaced.
struct Redacted<'a> {
    json: &'a Json,
    is_secret: &'a dyn Fn(&str) -> bool,
}

impl Serialize for Redacted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let nested = |json| Redacted {
            json,
            is_secret: self.is_secret,
        };
        match self.json {
            Json::String(text) if (self.is_secret)(text) => s.serialize_str(REDACTED),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&nested(item))?;
                }
                seq.end()
            }
            Json::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (name, value) in fields {
                    if name == "authSecret" {
                        map.serialize_entry(name, REDACTED)?;
                    } else {
                        map.serialize_entry(name, &nested(value))?;
                    }
                }
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn is_secret(s: &str) -> bool {
        s == "hunter2"
    }

    fn call(log: &RequestLog, args: Json, outcome: Result<&Value, &str>) {
        let pending = log.start(5, "m:f", "query", &args, &is_secret);
        log.finish(pending, outcome, None, Duration::from_micros(7));
    }

    #[test]
    fn the_secret_never_reaches_the_log() {
        let log = RequestLog::new(10);
        let args = json!([{ "authSecret": "anything", "args": { "note": "hunter2", "x": [1] } }]);
        call(&log, args, Ok(&Value::Null));
        let entry = log.get(1).unwrap();
        assert_eq!(
            entry.args.text,
            r#"[{"args":{"note":"[redacted]","x":[1]},"authSecret":"[redacted]"}]"#
        );
        assert!(!entry.args.text.contains("hunter2") && !entry.args.text.contains("anything"));
    }

    #[test]
    fn keeps_the_last_entries_and_cuts_large_payloads() {
        let log = RequestLog::new(3);
        for i in 0..5 {
            call(
                &log,
                json!({ "i": i }),
                Err("Uncaught Error: boom\n    at f"),
            );
        }
        let (newest, latest) = log.newest(0, 10, |_| true);
        let seqs: Vec<u64> = newest.iter().map(|e| e.seq).collect();
        assert_eq!((seqs, latest), (vec![5, 4, 3], 5));
        assert_eq!(newest[0].error.as_deref(), Some("Uncaught Error: boom"));
        assert!(log.get(2).is_none() && log.get(6).is_none());
        assert_eq!(log.newest(4, 10, |_| true).0.len(), 1);

        let big = Value::String("x".repeat(REQUEST_LOG_PAYLOAD_BYTES_MAX * 2));
        call(&log, json!({ "executionId": "e1" }), Ok(&big));
        let entry = log.get(6).unwrap();
        let result = entry.result.as_ref().unwrap();
        assert!(result.truncated);
        assert_eq!(result.text.len(), REQUEST_LOG_PAYLOAD_BYTES_MAX);
        assert!(entry.touched("e1") && !entry.touched("e"));
    }

    #[test]
    fn changed_ids_are_capped_but_counted() {
        let ids = (0..REQUEST_LOG_CHANGED_IDS_MAX + 5).map(|i| format!("e{i}"));
        let usage = LoggedUsage::new(1, 2, 3, 4, ids);
        assert_eq!(
            usage.changed_execution_ids.len(),
            REQUEST_LOG_CHANGED_IDS_MAX
        );
        assert_eq!(
            usage.changed_execution_ids_total,
            REQUEST_LOG_CHANGED_IDS_MAX + 5
        );

        let log = RequestLog::new(1);
        let pending = log.start(5, "m:f", "mutation", &json!({}), &is_secret);
        log.finish(pending, Ok(&Value::Null), Some(usage), Duration::ZERO);
        let entry = log.get(1).unwrap();
        let shown = |full| {
            entry.to_json(full)["usage"]["changedExecutionIds"]
                .as_array()
                .unwrap()
                .len()
        };
        assert_eq!(
            (shown(false), shown(true)),
            (REQUEST_LOG_SUMMARY_IDS_MAX, REQUEST_LOG_CHANGED_IDS_MAX)
        );
        assert!(entry.touched("e999") && entry.touched("e0") && !entry.touched("e1004"));
    }
}
