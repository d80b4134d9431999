//! Every limit and fixed duration of the emulator, with its unit last, in one place.
//!
//! How they relate: a request body may be up to [`BODY_BYTES_MAX`] (Convex's public-API limit);
//! the function it names runs as one SQLite transaction (`deleteAll`: one per
//! [`DELETE_ALL_BATCH_SIZE`] rows), which reads the clock once, and up to
//! [`WRITE_BATCH_JOBS_MAX`] such transactions share one commit. Clamps inside a mutation use
//! `clock + MUTATION_NOW_OFFSET_MS`; expiry clamps push a stale deadline to
//! `that + EXPIRY_CLAMP_OFFSET_MS`; a lock taken at `clock` lasts until `clock + LOCK_EXPIRY_MS`.
//!
//! Each function's transaction is metered as a deployment meters it (docs.convex.dev,
//! production/state/limits): at most [`TRANSACTION_DOCUMENTS_READ_MAX`] documents and
//! [`TRANSACTION_READ_BYTES_MAX`] bytes read over at most [`TRANSACTION_READ_RANGES_MAX`] index
//! ranges, at most [`TRANSACTION_DOCUMENTS_WRITTEN_MAX`] documents and
//! [`TRANSACTION_WRITE_BYTES_MAX`] bytes written, and a result of at most
//! [`RETURN_VALUE_BYTES_MAX`]. Reads are counted as they happen, so a call over a limit fails
//! after reading one document too many, never after building an oversized answer.

/// Largest request body accepted: Convex's `MAX_BACKEND_PUBLIC_API_REQUEST_SIZE`, 16 MiB plus
/// 2000 bytes of envelope. Larger bodies get 400 `BadJsonBody`, as from a deployment.
pub const BODY_BYTES_MAX: usize = 16 * 1024 * 1024 + 2000;

/// Largest stored document, system fields included, in Convex's size accounting
/// (`MAX_USER_SIZE`): a write that makes a document larger fails with `Value is too large`.
pub const DOCUMENT_BYTES_MAX: usize = 1 << 20;

/// What a document's `_id` (a 32-character id) adds to its size: the key, a separator byte,
/// and the string (2 bytes + its length).
pub const DOCUMENT_ID_FIELD_BYTES: usize = "_id".len() + 1 + 2 + 32;

/// What `_creationTime` adds: the key, a separator byte and a float (9 bytes).
pub const CREATION_TIME_FIELD_BYTES: usize = "_creationTime".len() + 1 + 9;

/// Most elements in any array of a value, as Convex's `ConvexArray` allows.
pub const ARRAY_ELEMENTS_MAX: usize = 8192;

/// Most fields in any object of a value, as Convex's `ConvexObject` allows.
pub const OBJECT_FIELDS_MAX: usize = 1024;

/// Upstream's mutations treat "now" as the clock plus 50 ms, so a row they write is not
/// considered stale by the selectors (which compare with the plain clock) for about 50 ms.
pub const MUTATION_NOW_OFFSET_MS: u64 = 50;

/// A deadline (`expiresAt`, `ocfpExpiresAt`, `closeExpiresAt`) already in the past is moved to
/// one second after "now", so the expiry sweeps give the owner that second to finish.
pub const EXPIRY_CLAMP_OFFSET_MS: f64 = 1000.0;

/// How long a selector lock lasts; a crashed holder blocks its key for at most this long.
pub const LOCK_EXPIRY_MS: u64 = 60_000;

/// `deleteAll` deletes this many executions per transaction, like upstream's `deleteMany`.
pub const DELETE_ALL_BATCH_SIZE: usize = 100;

/// Point lookups up to which a `getMany…` query reads on the async worker instead of a
/// blocking thread (see `Store::read_inline`); larger batches take the hand-off.
pub const INLINE_READ_LOOKUPS_MAX: usize = 64;

/// Read connections kept open for a file database; more readers than this open extra
/// connections for the moment and close them afterwards.
pub const READER_CONNECTIONS_MAX: usize = 8;

/// How long a connection waits on SQLite's file lock before giving up. Within this process
/// locks are held for milliseconds at most (the writer's RESTART checkpoint waits for readers
/// to leave the WAL); longer waits mean another process has the file open.
pub const SQLITE_BUSY_TIMEOUT_MS: u64 = 5_000;

/// Pause between two tries of a connection that found a SQLite lock taken, in microseconds
/// (`store::busy`). Locks inside this process are held for microseconds to a few
/// milliseconds, so a waiter wakes within a fraction of a millisecond of the lock's release;
/// the waits still end after [`SQLITE_BUSY_TIMEOUT_MS`] in all.
pub const SQLITE_BUSY_PAUSE_US: u64 = 200;

/// Most jobs the writer runs in one SQLite transaction (group commit). Bounds how long the
/// first job of a batch waits for its acknowledgement behind the others.
pub const WRITE_BATCH_JOBS_MAX: usize = 32;

/// Queued write jobs before callers wait for room; bounds memory under overload.
pub const WRITE_QUEUE_JOBS_MAX: usize = 1024;

/// SQLite page cache of the writer connection, in KiB. The indexes of a million executions
/// are a few hundred MiB; the hot part (recent rows, the ready/running ranges) fits here, so
/// claims do not re-read pages from the file.
pub const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// SQLite page cache of each read connection, in KiB.
pub const READER_CACHE_KIB: i64 = 16 * 1024;

/// A store with no call running or started for this long gives its memory back: the writer
/// drops its page cache, idle read connections are closed, and the allocator returns its free
/// pages to the OS (`store::idle`). The same as [`IDLE_CONNECTION_TIMEOUT_MS`]: by then the
/// clients' keep-alive connections are closed too, so the emulator is idle by every measure.
/// Refilling the caches afterwards reads pages the OS still has cached, so a client that comes
/// back pays well under a millisecond on its first calls.
pub const IDLE_MEMORY_RELEASE_AFTER_MS: u64 = 5_000;

/// How often the store looks whether it has gone idle; a release comes at most this late. A
/// look is two atomic loads, so four a second cost nothing.
pub const IDLE_CHECK_INTERVAL_MS: u64 = 250;

/// How often the background checkpointer copies the WAL back into the database file (a
/// PASSIVE checkpoint, which holds nobody back). The WAL grows by at most this long's worth of
/// writes between checkpoints.
pub const CHECKPOINT_INTERVAL_MS: u64 = 250;

/// WAL length, in pages (4 KiB each), beyond which the WAL is made to start over from its
/// beginning (`store::checkpointer`). Under sustained writes that takes a moment in which no
/// write commits, so this keeps those moments rare (about once a second at 50 MB/s of WAL)
/// while bounding the file.
pub const WAL_RESTART_PAGES: i64 = 16 * 1024;

/// WAL pages not yet copied into the database file up to which the writer restarts the WAL
/// itself: the writer copies them (and fsyncs the WAL and the database file) between two
/// batches, with every write waiting. The copy and its two fsyncs take 1 to 23 ms on the
/// 2-core machine's disk (BENCHMARKS.md), longer with more pages; the checkpointer's catch-up
/// passes bring the rest under this first, without holding anyone back.
pub const WAL_RESTART_TAIL_PAGES: i64 = 256;

/// PASSIVE passes the checkpointer runs back to back, once the WAL is due for a restart, to
/// bring the pages not yet copied under [`WAL_RESTART_TAIL_PAGES`]. Each pass copies what was
/// written during the one before, so a few suffice unless the disk is slower than the writes;
/// the cap keeps a slow disk from keeping the thread busy for good.
pub const CHECKPOINT_CATCH_UP_PASSES_MAX: usize = 8;

/// WAL length, in pages, at which the writer restarts the WAL however many pages are left to
/// copy: the bound on the WAL when the catch-up passes cannot keep up (a disk slower than the
/// writes), paid for by a longer pause of the writes.
pub const WAL_PAGES_MAX: i64 = 2 * WAL_RESTART_PAGES;

/// The WAL file is truncated back to this size after a checkpoint restarts it, in bytes: the
/// longest the WAL gets ([`WAL_PAGES_MAX`]), so that in steady operation the file is reused in
/// place (rewriting cached pages is cheaper for the file system than growing the file again)
/// and only a spike (one huge transaction) is given back. An idle store empties it entirely
/// (`store::idle`).
pub const WAL_SIZE_LIMIT_BYTES: i64 = WAL_PAGES_MAX * 4096;

/// Bytes of stored documents an inline read (see `Store::read_inline`) may decode before it is
/// abandoned and redone on a blocking thread: a few big documents take milliseconds to decode,
/// which would stall every small call sharing the async worker.
pub const INLINE_READ_BYTES_MAX: usize = 64 * 1024;

/// Answers holding more than about this many bytes are encoded to JSON on a blocking thread:
/// encoding tens of MiB takes tens of milliseconds, which on an async worker would delay every
/// small call behind it.
pub const INLINE_ENCODE_BYTES_MAX: usize = 64 * 1024;

/// How long a client may take to send a request's complete headers, counted from when the
/// connection is ready for a request (hyper's `header_read_timeout`). Bounds slow-header
/// ("slowloris") clients; a real client sends its headers in one packet.
pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;

/// How long a client may take to send a whole request body once its headers are in. A 16 MiB
/// body over loopback or a local network takes well under a second; this bounds bodies
/// shorter than their `Content-Length` and trickled uploads, as fast as the header timeout.
pub const BODY_READ_TIMEOUT_MS: u64 = 10_000;

/// A connection on which nothing moves (no byte read or written, no request being answered)
/// for this long is closed. Frees silent sockets and idle keep-alive connections; clients
/// (undici, reqwest, `ConvexHttpClient`) reconnect transparently. Shorter than the header
/// timeout, so a silent socket goes first and only trickling clients meet the header timeout.
pub const IDLE_CONNECTION_TIMEOUT_MS: u64 = 5_000;

/// Most connections served at once. Beyond it a new connection gets an immediate 503
/// `{code, message}` and is closed, so open connections (and the descriptors the store needs)
/// are unharmed. Lowered at startup to what the file-descriptor limit leaves after
/// [`FILE_DESCRIPTORS_RESERVED`].
pub const CONNECTIONS_MAX: usize = 4096;

/// File descriptors kept out of the connection budget: the database, its WAL and shared
/// memory for the writer, the checkpointer and [`READER_CONNECTIONS_MAX`] readers, the lock
/// file, the listener, standard streams and the runtime's own, with room to spare.
pub const FILE_DESCRIPTORS_RESERVED: usize = 64;

/// Connections served before the allocator's free memory is handed back to the OS, which then
/// happens once no connection is open. Rare enough that a client opening one connection per
/// call does not pay for it each time; a burst of this many (a load test, stalled sockets)
/// leaves tens of MiB of buffers worth returning.
pub const MEMORY_TRIM_AFTER_CONNECTIONS: usize = 256;

/// After the first SIGTERM or Ctrl-C, calls in flight get this long to finish before the
/// remaining connections are dropped and the process exits. Long enough for any storage call;
/// short enough for a supervisor's stop timeout (Docker waits 10 s).
pub const SHUTDOWN_GRACE_MS: u64 = 5_000;

/// How long to pause accepting after `accept` fails (e.g. out of descriptors), so the loop does
/// not spin while connections close.
pub const ACCEPT_ERROR_PAUSE_MS: u64 = 50;

/// Most JSON values (every number, string, array, object... counted once) kept from one
/// request's `args` while parsing; a body with more is refused with 400 `BadJsonBody`. Arrays
/// and objects over [`ARRAY_ELEMENTS_MAX`] / [`OBJECT_FIELDS_MAX`] are cut while parsing (the
/// rest is only counted, for Convex's error message), but many small arrays could still hold
/// one value per two bytes of body, at 30-60 bytes of memory each. This budget keeps the
/// parse of a [`BODY_BYTES_MAX`] body to a few times its size, and is far above any real call:
/// an execution is about 30 values, so `insertMany` of 8192 executions holds about 250 000. Nesting is bounded by
/// `serde_json` (128 levels), also while parsing.
pub const JSON_VALUES_MAX: usize = 512 * 1024;
/// Calls the inspector's request log keeps when `--request-log-size` is not given; the oldest
/// is dropped when a new one arrives.
pub const REQUEST_LOG_ENTRIES_DEFAULT: usize = 1_000;

/// Largest `--request-log-size` accepted: with [`REQUEST_LOG_PAYLOAD_BYTES_MAX`] per payload,
/// this bounds the log's memory to a few GiB at worst, and it is far more than a page can show.
pub const REQUEST_LOG_ENTRIES_MAX: usize = 100_000;

/// Bytes of a call's arguments, and of its result, kept in the request log. A 16 MiB
/// `insertMany` is cut here, so the log stays within entries × 2 × this size.
pub const REQUEST_LOG_PAYLOAD_BYTES_MAX: usize = 16 * 1024;

/// Changed executionIds a log entry lists; a bigger batch keeps the first ones and the count.
pub const REQUEST_LOG_CHANGED_IDS_MAX: usize = 1_000;

/// Changed executionIds each entry of a list of calls shows (the entry itself keeps up to
/// [`REQUEST_LOG_CHANGED_IDS_MAX`]): 200 summaries of 1 000-row inserts stay a small answer.
pub const REQUEST_LOG_SUMMARY_IDS_MAX: usize = 10;

/// Log entries one `GET /_emulator/api/requests` answers at most.
pub const REQUEST_LOG_PAGE_ENTRIES_MAX: usize = 1_000;

/// Executions on one page of the inspector's list when the request names no `limit`.
pub const INSPECTOR_PAGE_ROWS_DEFAULT: usize = 50;

/// Most executions on one page of the inspector's list.
pub const INSPECTOR_PAGE_ROWS_MAX: usize = 500;

/// Index entries one list request examines at most. A filter the chosen index cannot serve
/// (such as `taskId`) is checked row by row, each row decoded; this keeps such a request near
/// 60 ms on the 2-core machine even when nothing matches (BENCHMARKS.md), and the page hands
/// back a cursor to continue from.
pub const INSPECTOR_SCAN_ROWS_MAX: usize = 5_000;

/// Distinct values of one index field (shards, statuses) the inspector enumerates; each costs
/// one index seek.
pub const INSPECTOR_DISTINCT_VALUES_MAX: usize = 1_024;

/// Children listed in an execution's detail; the total is always counted.
pub const INSPECTOR_CHILDREN_SHOWN_MAX: usize = 200;
/// Deflate level of snapshot exports (zlib's scale, 1 fastest to 9 smallest). Level 1 keeps an
/// export of a million executions above 100,000 rows/s on the 2-core machine (BENCHMARKS.md);
/// the JSON lines compress about tenfold at this level anyway, being the same field names over
/// and over.
pub const SNAPSHOT_DEFLATE_LEVEL: i64 = 1;

/// Largest snapshot ZIP `POST /_emulator/import` accepts, in bytes. A deflated export of a
/// million executions is well under this; the body is held in memory while it is imported.
pub const SNAPSHOT_BODY_BYTES_MAX: usize = 2 * 1024 * 1024 * 1024;

/// Documents a snapshot import hands from its reading thread (parse, check, encode) to the
/// writer (insert) at a time. Large enough that the hand-over costs nothing per document, small
/// enough that a batch (about 1 KiB a document) stays around a MiB.
pub const IMPORT_BATCH_DOCUMENTS: usize = 1024;

/// Batches read ahead of the writer during a snapshot import. Two cores are kept busy with a
/// couple; the bound keeps memory flat whatever the size of the ZIP.
pub const IMPORT_QUEUE_BATCHES: usize = 4;

/// Documents one function execution may read (documents scanned), as a deployment allows. The
/// 32,001st read fails the call with `Too many documents read in a single function execution`.
pub const TRANSACTION_DOCUMENTS_READ_MAX: u64 = 32_000;

/// Bytes (Convex's size accounting) one function execution may read. Counted per read, so
/// reading the same 900 KiB document 20 times is 18 MiB and fails, as on Convex.
pub const TRANSACTION_READ_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Index ranges one function execution may read: each `db.get` and each `db.query` is one,
/// and reading the same range again is not counted twice (the backend merges its read set).
pub const TRANSACTION_READ_RANGES_MAX: usize = 4096;

/// Documents one function execution may write (each insert, patch and delete counts).
pub const TRANSACTION_DOCUMENTS_WRITTEN_MAX: u64 = 16_000;

/// Bytes (Convex's size accounting of the written documents) one function execution may write.
pub const TRANSACTION_WRITE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Largest value a function may return, in Convex's size accounting. With these functions the
/// read limit is reached first (a result holds only documents the call read); kept so that the
/// answer is bounded on its own terms too.
pub const RETURN_VALUE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The latest time a manual clock can be set or advanced to, in ms since the epoch: the clock
/// counts nanoseconds in a `u64`, which ends in the year 2554.
pub const MANUAL_CLOCK_MS_MAX: u64 = u64::MAX / 1_000_000;

/// Most rules in a fault plan. Every call is checked against every rule under one mutex, so
/// the list stays short; a workload needs a handful.
pub const FAULT_RULES_MAX: usize = 64;

/// Longest injected delay, in ms: one minute, the selector lock's expiry. Longer pauses are a
/// hung deployment, which the client's own request timeout covers.
pub const FAULT_DELAY_MS_MAX: u64 = 60_000;

/// Entries kept in the log of injected faults (`GET /_emulator/faults`); older ones are
/// dropped and counted, so a long fuzzing run cannot grow memory without bound.
pub const FAULT_LOG_ENTRIES_MAX: usize = 10_000;
