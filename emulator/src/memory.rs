//! Handing the allocator's free memory back to the operating system.
//!
//! glibc's allocator keeps memory it got for a burst (request buffers, SQLite's page caches)
//! after it is freed, in every thread's arena, so an emulator that served a load test would
//! stay tens of MiB above its starting size for as long as it runs. `malloc_trim(0)` returns
//! every whole free page of every arena. It takes a few milliseconds, so callers use it only
//! once the emulator is idle.

/// Returns the allocator's free pages to the OS. Blocking; a no-op off glibc.
pub(crate) fn give_back_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
