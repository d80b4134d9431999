//! The SQLite schema, as numbered append-only migrations tracked by `PRAGMA user_version`.
//!
//! Migration `i` (0-based) brings a database from version `i` to `i + 1`. Never edit a
//! migration that has shipped; append a new one. Opening a database whose version is newer than
//! this build knows is refused rather than guessed at.

use rusqlite::Connection;

use crate::error::Error;

/// The migrations, oldest first.
const MIGRATIONS: &[&str] = &[
    // 1: the two tables of the component. `row` order is creation order (see `store::writer`).
    "
    CREATE TABLE task_executions (
        row INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        creation_time REAL NOT NULL,
        execution_id TEXT NOT NULL UNIQUE,
        sleeping_task_unique_id TEXT,
        body BLOB NOT NULL,
        k_shard_status_start_at BLOB NOT NULL,
        k_shard_status_ocfp_status_acc_updated_at BLOB NOT NULL,
        k_shard_close_status_updated_at BLOB NOT NULL,
        k_status_is_sleeping_task_expires_at BLOB NOT NULL,
        k_ocfp_expires_at BLOB NOT NULL,
        k_close_expires_at BLOB NOT NULL,
        k_shard_executor_id_npc_updated_at BLOB NOT NULL,
        k_parent_execution_id_is_finished BLOB NOT NULL,
        k_shard_is_finished_close_status_updated_at BLOB NOT NULL
    );
    CREATE INDEX task_executions_by_sleeping_task_unique_id
        ON task_executions (sleeping_task_unique_id, creation_time)
        WHERE sleeping_task_unique_id IS NOT NULL;
    CREATE INDEX task_executions_by_shard_status_start_at
        ON task_executions (k_shard_status_start_at);
    CREATE INDEX task_executions_by_shard_status_ocfp_status_acc_updated_at
        ON task_executions (k_shard_status_ocfp_status_acc_updated_at);
    CREATE INDEX task_executions_by_shard_close_status_updated_at
        ON task_executions (k_shard_close_status_updated_at);
    CREATE INDEX task_executions_by_status_is_sleeping_task_expires_at
        ON task_executions (k_status_is_sleeping_task_expires_at);
    CREATE INDEX task_executions_by_ocfp_expires_at
        ON task_executions (k_ocfp_expires_at);
    CREATE INDEX task_executions_by_close_expires_at
        ON task_executions (k_close_expires_at);
    CREATE INDEX task_executions_by_shard_executor_id_npc_updated_at
        ON task_executions (k_shard_executor_id_npc_updated_at);
    CREATE INDEX task_executions_by_parent_execution_id_is_finished
        ON task_executions (k_parent_execution_id_is_finished);
    CREATE INDEX task_executions_by_shard_is_finished_close_status_updated_at
        ON task_executions (k_shard_is_finished_close_status_updated_at);

    CREATE TABLE locks (
        row INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        creation_time REAL NOT NULL,
        key TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX locks_by_key ON locks (key, creation_time);
    ",
    // 2: the selector locks moved to memory (see `functions::locks`).
    "
    DROP TABLE locks;
    ",
];

/// The `PRAGMA application_id` that marks a SQLite file as this emulator's ("CxSE"), so
/// another program's database is never mistaken for ours (see `preflight`).
pub const APPLICATION_ID: i64 = 0x4378_5345;

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Applies every migration the database has not seen, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), Error> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > latest_version() {
        return Err(Error::SchemaTooNew {
            found,
            known: latest_version(),
        });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
        tx.commit()?;
    }
    // Marks new databases and those of earlier versions, made before the mark existed.
    let marked: i64 = conn.query_row("PRAGMA application_id", [], |row| row.get(0))?;
    if marked != APPLICATION_ID {
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_an_empty_database_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, latest_version());
    }

    #[test]
    fn refuses_a_newer_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(Error::SchemaTooNew { .. })
        ));
    }
}
