//! Handing the allocator's free memory back to the operating system.
//!
//! glibc's allocator keeps memory it got for a burst (request buffers, SQLite's page caches)
//! after it is freed, in every thread's arena, so an emulator that served a load test would
//! stay tens of MiB above its starting size for as long as it runs. `malloc_trim(0)` returns
//! every whole free page of every arena. It takes a few milliseconds, so callers use it only
//! once the emulator is idle.
//!
//! On Linux the binary allocates through mimalloc (`main.rs`), which hands free pages back by
//! itself shortly after they are freed, but keeps what a thread freed until that thread
//! allocates again or asks. [`give_back_freed_heap`] asks too, which reaches the calling
//! thread's memory and that of threads that have ended, not that of the async workers: after
//! thousands of connections at once their buffers stay with the workers (BENCHMARKS.md).
//! SQLite's memory comes from glibc either way. In a process whose allocator is not mimalloc (the library in someone's
//! tests) mimalloc holds nothing, and asking it costs nothing.

/// Returns the allocator's free pages to the OS. Blocking; a no-op off glibc.
pub(crate) fn give_back_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
        // SAFETY: mi_collect only frees and decommits memory nobody uses.
        libmimalloc_sys::mi_collect(true);
    }
}
