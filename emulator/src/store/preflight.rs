//! Checks made before the database file is touched: no WAL switch, no schema write, no lock
//! file happens until they pass, so a refused file is left byte for byte as it was.
//!
//! In order:
//! 1. **Writable.** The file (or, if missing, its directory) must be writable, and so must
//!    the directory (SQLite creates the `-wal` and `-shm` files there). Otherwise the emulator
//!    would serve reads and fail every write.
//! 2. **Ours.** An existing non-empty file must be a SQLite database that this emulator made:
//!    marked with our `application_id` ([`schema::APPLICATION_ID`]), or made by an earlier
//!    version before the mark existed (`user_version` 1 or 2 with our tables), or still
//!    completely empty (no tables, `user_version` 0). Anything else belongs to another program.
//!    It is read through a read-only SQLite connection, which also sees a `-wal` left behind.
//! 3. **Not served already** (`lock`): taken last, so a refused file gets no lock file.

use std::fs::OpenOptions;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::Error;
use crate::store::schema;

/// Schema versions made by earlier builds, before databases were marked with the
/// `application_id`; they are recognised by their tables instead.
const UNMARKED_VERSIONS: std::ops::RangeInclusive<i64> = 1..=2;

/// The table every version of our schema has.
const OUR_TABLE: &str = "task_executions";

/// Refuses a file that cannot be written or is not ours; see the module docs.
pub(crate) fn check(path: &Path) -> Result<(), Error> {
    check_writable(path)?;
    check_ours(path)
}

fn check_writable(path: &Path) -> Result<(), Error> {
    let not_writable = |reason: String| Error::DbNotWritable {
        path: path.to_path_buf(),
        reason,
    };
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    if path.exists() {
        // Opening for writing changes nothing, and answers for permissions, immutable files
        // and read-only mounts alike.
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| not_writable(format!("the file cannot be opened for writing ({e})")))?;
    }
    if dir.exists() && !is_writable_dir(dir) {
        return Err(not_writable(format!(
            "its directory {} is not writable (SQLite keeps its -wal and -shm files there)",
            dir.display()
        )));
    }
    Ok(())
}

/// Whether this process may create files in `dir`: `access(2)` on Unix, which answers for
/// permissions, read-only mounts and the sticky bit without writing anything.
#[cfg(unix)]
fn is_writable_dir(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a plain syscall on a NUL-terminated path we own.
    unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// Whether this process may create files in `dir`. Elsewhere (Windows) no call answers that
/// for access-control lists without writing, so a probe file is created and removed again;
/// the database file itself is still not touched.
#[cfg(not(unix))]
fn is_writable_dir(dir: &Path) -> bool {
    let probe = dir.join(format!(
        ".convex-storage-emulator-probe-{}",
        std::process::id()
    ));
    let created = OpenOptions::new().write(true).create_new(true).open(&probe);
    let writable = created.is_ok();
    drop(created);
    if writable {
        let _ = std::fs::remove_file(&probe);
    }
    writable
}

fn check_ours(path: &Path) -> Result<(), Error> {
    let not_ours = |reason: String| Error::DbNotOurs {
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(not_ours(format!("it cannot be inspected ({e})"))),
        Ok(meta) if meta.is_dir() => return Err(not_ours("it is a directory".to_string())),
        Ok(meta) if meta.len() == 0 => return Ok(()),
        Ok(_) => {}
    }
    let facts =
        inspect(path).map_err(|e| not_ours(format!("it is not a SQLite database ({e})")))?;
    if facts.application_id == schema::APPLICATION_ID {
        if facts.user_version > schema::latest_version() {
            return Err(Error::SchemaTooNew {
                found: facts.user_version,
                known: schema::latest_version(),
            });
        }
        return Ok(());
    }
    if facts.application_id != 0 {
        return Err(not_ours(format!(
            "it belongs to another program (SQLite application_id {:#x})",
            facts.application_id
        )));
    }
    let empty = facts.user_version == 0 && facts.tables == 0;
    let made_before_the_mark =
        UNMARKED_VERSIONS.contains(&facts.user_version) && facts.has_our_table;
    if empty || made_before_the_mark {
        return Ok(());
    }
    Err(not_ours(format!(
        "it is a SQLite database of another program ({} tables, user_version {})",
        facts.tables, facts.user_version
    )))
}

/// What the read-only look at the file found.
struct Facts {
    application_id: i64,
    user_version: i64,
    tables: i64,
    has_our_table: bool,
}

fn inspect(path: &Path) -> rusqlite::Result<Facts> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    let application_id = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let user_version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    let has_our_table = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [OUR_TABLE],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    Ok(Facts {
        application_id,
        user_version,
        tables,
        has_our_table,
    })
}
