//! The signals that stop the emulator, and how `exec` passes them on: Ctrl-C and SIGTERM on
//! Unix, Ctrl-C and Ctrl-Break on Windows (which has no SIGTERM).
//!
//! This is the binary's only platform-specific process code; the library serves the same
//! everywhere.

/// A stop request, by what sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C (SIGINT).
    Interrupt,
    /// SIGTERM on Unix; Ctrl-Break on Windows.
    Terminate,
}

impl StopSignal {
    /// The status a process killed by this signal exits with, as shells report it
    /// (128 + the signal's number).
    pub fn exit_status(self) -> u8 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }
}

/// The stop signals, listened to from the moment [`StopSignals::install`] returns.
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(windows)]
    interrupt: tokio::signal::windows::CtrlC,
    #[cfg(windows)]
    terminate: tokio::signal::windows::CtrlBreak,
}

impl StopSignals {
    /// Installs the handlers (inside a Tokio runtime).
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(windows)]
        {
            Ok(Self {
                interrupt: tokio::signal::windows::ctrl_c()?,
                terminate: tokio::signal::windows::ctrl_break()?,
            })
        }
    }

    /// The next stop signal.
    pub async fn next(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.interrupt.recv() => StopSignal::Interrupt,
            _ = self.terminate.recv() => StopSignal::Terminate,
        }
    }
}

/// Passes `signal` on to the child process `pid` (Unix). On Windows a console's Ctrl-C and
/// Ctrl-Break already reach every process attached to it, the child included, so there is
/// nothing to pass on.
pub fn forward(pid: Option<u32>, signal: StopSignal) {
    #[cfg(unix)]
    if let Some(pid) = pid.and_then(|pid| i32::try_from(pid).ok()) {
        let number = match signal {
            StopSignal::Interrupt => libc::SIGINT,
            StopSignal::Terminate => libc::SIGTERM,
        };
        // SAFETY: a plain syscall on our own child, which has not been reaped yet (its
        // caller is still waiting for it).
        unsafe {
            libc::kill(pid, number);
        }
    }
    #[cfg(not(unix))]
    let _ = (pid, signal);
}

/// The exit status of a finished child, as shells report it: its code, or 128 + the signal
/// that killed it (Unix).
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    1
}
