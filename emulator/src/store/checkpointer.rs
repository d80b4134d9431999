//! Background WAL checkpoints, off the writer's path.
//!
//! SQLite normally checkpoints inside the commit that crosses the WAL size threshold, and a
//! checkpoint fsyncs: every write queued behind that commit would wait for the disk. Instead
//! the writer connection has automatic checkpoints off, and this thread runs a PASSIVE
//! checkpoint every [`CHECKPOINT_INTERVAL_MS`] on a connection of its own. PASSIVE never waits
//! for the writer or readers; the writer keeps appending to the WAL meanwhile.
//!
//! Under sustained writes a PASSIVE checkpoint never quite catches up, and SQLite only reuses
//! the WAL from its beginning once one has. So when the WAL holds more than
//! [`WAL_RESTART_PAGES`], the thread follows up with a RESTART checkpoint, which briefly
//! holds the writer back (the PASSIVE pass just before did almost all of the copying) and
//! lets the next commit start the WAL over.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::Error;
use crate::limits::{CHECKPOINT_INTERVAL_MS, WAL_RESTART_PAGES};

/// The running checkpoint thread; [`Checkpointer::stop`] ends it.
pub(crate) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`.
    pub(crate) fn start(path: PathBuf) -> Result<Self, Error> {
        let conn = Connection::open(&path)?;
        // A RESTART holds the writer back while it waits for readers to move on: waiting in
        // short steps keeps that hold to about as long as the readers take.
        conn.busy_handler(Some(super::busy::retry_in_short_steps))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("store-checkpointer".to_string())
            .spawn(move || loop {
                match stopped.recv_timeout(Duration::from_millis(CHECKPOINT_INTERVAL_MS)) {
                    // Failures (e.g. a full disk) only delay the checkpoint; the writer
                    // reports its own errors.
                    Err(RecvTimeoutError::Timeout) => {
                        let _ = checkpoint(&conn);
                    }
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            })
            .map_err(Error::SpawnWriter)?;
        Ok(Self { stop, thread })
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// One round: a PASSIVE checkpoint, then a RESTART one if the WAL has grown too long.
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    let wal_pages: i64 = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))?;
    if wal_pages >= WAL_RESTART_PAGES {
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
    }
    Ok(())
}
