//! One emulator per database file: an exclusive OS lock on a sidecar file `<db>.lock`.
//!
//! Two emulators on one file would each keep their own in-memory selector locks and
//! creation-time floor, so their claims and ids could collide. The lock is the standard
//! library's exclusive file lock on the sidecar (`flock(2)` on Unix, `LockFileEx` on Windows;
//! not on the database, whose locks belong to SQLite), held for as long as the store is open
//! and released by the OS when the process ends, however it ends. The holder writes its
//! process id into the file so a refused second emulator can say who holds it (on Windows the
//! lock also keeps others from reading the file, so there the pid is not known). The sidecar
//! stays after exit: deleting it could let two processes lock two different files.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// A held lock; released when dropped (the file is closed).
pub(crate) struct DbLock {
    _file: File,
}

/// The lock file of the database at `db`.
pub(crate) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl DbLock {
    /// Takes the lock of `db`, or says which process holds it.
    pub(crate) fn acquire(db: &Path) -> Result<Self, Error> {
        let path = lock_path(db);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::DbNotWritable {
                path: db.to_path_buf(),
                reason: format!("its lock file {} cannot be created ({e})", path.display()),
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::Error(e)) => {
                return Err(Error::DbNotWritable {
                    path: db.to_path_buf(),
                    reason: format!("its lock file {} cannot be locked ({e})", path.display()),
                })
            }
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(Error::DbInUse {
                    path: db.to_path_buf(),
                    pid: text.trim().parse().ok(),
                });
            }
        }
        // Only the holder writes, so the pid a refused process reads is the holder's.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(Self { _file: file })
    }
}
