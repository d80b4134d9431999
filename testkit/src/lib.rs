//! Starts the servers the tests talk to on `127.0.0.1:0`: the emulator inside this process
//! ([`InProcessEmulator`], or [`Emulator`] directly from async code), or as real processes
//! ([`ServerProcess`]) when a separate process is the point of the test (signals, `kill -9`, the
//! command line) or the server is the Node reference server.
//!
//! Both the emulator binary and the Node reference server print exactly one line
//! `listening on http://HOST:PORT` once they accept connections; [`ServerProcess`] waits for
//! that line and hands back the URL. Each server runs in its own process group so that
//! dropping (or [`ServerProcess::kill`]ing) it also ends the `node` under `npm`.
//!
//! [`fixtures`] holds the execution documents of the tests that speak the wire protocol
//! directly.
//!
//! Invariant: this crate knows how to find and start servers, never what they serve; its only
//! knowledge of the protocol is the shape of an execution document, in [`fixtures`].
//!
//! Starting the emulator in process, from a `#[tokio::test]`:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! use convex_storage_testkit::Emulator;
//!
//! let emulator = Emulator::builder().auth_secret("test-secret").start().await?;
//! let url = emulator.url(); // hand it to ConvexHttpClient or the Rust adapter
//! # assert!(url.starts_with("http://"));
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod fixtures;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use convex_storage_emulator::store::DbLocation;
pub use convex_storage_emulator::{Emulator, EmulatorBuilder};

/// How long the emulator may take to print its `listening` line; it usually takes milliseconds.
pub const EMULATOR_START_TIMEOUT_MS: u64 = 20_000;
/// How long the reference server may take; it loads TypeScript through Node first.
pub const REFERENCE_START_TIMEOUT_MS: u64 = 60_000;
/// The environment variable that overrides where the emulator binary is.
pub const EMULATOR_BIN_ENV: &str = "CONVEX_STORAGE_EMULATOR_BIN";

/// The root of the Cargo workspace (the folder holding `convex/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives one level below the workspace root")
        .to_path_buf()
}

/// The emulator binary: `$CONVEX_STORAGE_EMULATOR_BIN`, or the workspace's own build of it.
///
/// Without the variable, the first call runs `cargo build --workspace --bin
/// convex-storage-emulator` in the profile these tests were built with, so `cargo test -p <any
/// crate>` never runs a stale binary. `--workspace`, not `-p convex-storage-emulator`: the
/// dependencies then get the features the whole workspace's build gave them, so after
/// `cargo build --workspace` (what `scripts/test` runs first) this build finds everything built,
/// instead of compiling tokio and the emulator again with the emulator's features alone
/// (about a minute of the test command on the 2-core machine).
pub fn emulator_binary() -> Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| build_emulator().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn build_emulator() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(EMULATOR_BIN_ENV) {
        return Ok(PathBuf::from(path));
    }
    let release = is_release_build();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root()).args([
        "build",
        "--quiet",
        "--workspace",
        "--bin",
        "convex-storage-emulator",
    ]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .context("running cargo build for the emulator")?;
    if !status.success() {
        bail!("cargo build --workspace --bin convex-storage-emulator failed ({status})");
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let path = target_dir
        .join(if release { "release" } else { "debug" })
        .join("convex-storage-emulator");
    if !path.exists() {
        bail!(
            "built the emulator but found no binary at {}",
            path.display()
        );
    }
    Ok(path)
}

/// Whether the running test binary sits under `target/release`.
fn is_release_build() -> bool {
    std::env::current_exe()
        .ok()
        .map(|exe| exe.components().any(|c| c.as_os_str() == "release"))
        .unwrap_or(false)
}

/// Installs the Node packages of `convex/` once (`npm ci`), when `node_modules` is missing.
pub fn ensure_convex_node_modules() -> Result<PathBuf> {
    static DONE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = workspace_root().join("convex");
        if !dir.join("node_modules").exists() {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .map_err(|e| format!("running npm ci in convex/: {e}"))?;
            if !status.success() {
                return Err(format!("npm ci in convex/ failed ({status})"));
            }
        }
        Ok(dir)
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// Where the emulator keeps its data.
#[derive(Debug, Clone)]
pub enum EmulatorDb {
    /// `--db :memory:`: gone when the process ends.
    Memory,
    /// `--db PATH`: a SQLite file that survives restarts.
    File(PathBuf),
}

impl EmulatorDb {
    /// The same place as the emulator library names it.
    pub fn location(&self) -> DbLocation {
        match self {
            EmulatorDb::Memory => DbLocation::Memory,
            EmulatorDb::File(path) => DbLocation::File(path.clone()),
        }
    }
}

/// Worker threads of the runtime an [`InProcessEmulator`] serves on. Two keep the emulator
/// answering while the test's own runtime is busy, without crowding a 2-core machine.
const IN_PROCESS_WORKER_THREADS: usize = 2;

/// The emulator served inside the test process, on a tokio runtime of its own, so that code
/// without a runtime (or with one that ends before the server should) can start it. No binary is
/// built or spawned. Stops when dropped.
pub struct InProcessEmulator {
    emulator: Option<Emulator>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for InProcessEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessEmulator")
            .field("url", &self.url())
            .finish()
    }
}

impl InProcessEmulator {
    /// Starts the emulator with the given secret and database on `127.0.0.1:0`.
    pub fn start(auth_secret: &str, db: &EmulatorDb) -> Result<Self> {
        Self::start_with(
            Emulator::builder()
                .auth_secret(auth_secret)
                .db(db.location()),
        )
    }

    /// Starts the emulator as `builder` says.
    pub fn start_with(builder: EmulatorBuilder) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IN_PROCESS_WORKER_THREADS)
            .thread_name("in-process-emulator")
            .enable_all()
            .build()
            .context("building the in-process emulator's runtime")?;
        // `start` spawns onto the runtime it runs in; from inside another runtime, `block_on`
        // of a second one is refused, so hop to a plain thread first.
        let emulator = std::thread::scope(|scope| {
            scope
                .spawn(|| runtime.block_on(builder.start()))
                .join()
                .map_err(|_| anyhow!("starting the in-process emulator panicked"))
        })??;
        Ok(Self {
            emulator: Some(emulator),
            runtime: Some(runtime),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        self.emulator.as_ref().map_or("", |e| e.url())
    }

    /// The secret calls must carry.
    pub fn auth_secret(&self) -> &str {
        self.emulator.as_ref().map_or("", |e| e.auth_secret())
    }

    /// The running emulator, for its state.
    pub fn emulator(&self) -> Option<&Emulator> {
        self.emulator.as_ref()
    }
}

impl Drop for InProcessEmulator {
    fn drop(&mut self) {
        // Ask the server to stop, then drop the runtime without blocking (dropping one inside
        // another runtime's task would panic otherwise); the store's writer thread ends when the
        // last handle to the store goes with the runtime's tasks.
        drop(self.emulator.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A running server process; killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    url: String,
    stderr_log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ServerProcess {
    /// Starts the emulator on `127.0.0.1:0` with the given secret and database.
    pub fn start_emulator(auth_secret: &str, db: &EmulatorDb) -> Result<Self> {
        Self::start_emulator_with_args(auth_secret, db, &[])
    }

    /// Starts the emulator with extra command-line arguments (e.g. `--module`).
    pub fn start_emulator_with_args(
        auth_secret: &str,
        db: &EmulatorDb,
        extra_args: &[&str],
    ) -> Result<Self> {
        let mut cmd = Command::new(emulator_binary()?);
        cmd.args([
            "--auth-secret",
            auth_secret,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
        ]);
        match db {
            EmulatorDb::Memory => cmd.arg(":memory:"),
            EmulatorDb::File(path) => cmd.arg(path),
        };
        cmd.args(extra_args);
        Self::spawn(cmd, EMULATOR_START_TIMEOUT_MS)
    }

    /// Starts the reference server (our `convex/` code under `convex-test`) on port 0.
    pub fn start_reference(auth_secret: &str) -> Result<Self> {
        let dir = ensure_convex_node_modules()?;
        let mut cmd = Command::new("npm");
        cmd.arg("--prefix").arg(&dir).args([
            "run",
            "--silent",
            "reference",
            "--",
            "--port",
            "0",
            "--auth-secret",
            auth_secret,
        ]);
        Self::spawn(cmd, REFERENCE_START_TIMEOUT_MS)
    }

    /// Starts a server command of the test's own making (flags, environment, limits) and waits
    /// up to [`EMULATOR_START_TIMEOUT_MS`] for its `listening on` line. Its stdio and process
    /// group are set here.
    pub fn start(cmd: Command) -> Result<Self> {
        Self::spawn(cmd, EMULATOR_START_TIMEOUT_MS)
    }

    fn spawn(mut cmd: Command, timeout_ms: u64) -> Result<Self> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A group of its own, so that killing it also kills `node` started under `npm`.
        cmd.process_group(0);
        let mut child = cmd.spawn().with_context(|| format!("spawning {cmd:?}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");

        let stderr_log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let log = stderr_log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(url) = line.strip_prefix("listening on ") {
                        let _ = tx.send(url.trim().to_string());
                        sent = true;
                    }
                }
                // Keep draining so the server never blocks on a full pipe.
            }
        });

        match rx.recv_timeout(Duration::from_millis(timeout_ms)) {
            Ok(url) => Ok(Self {
                child,
                url,
                stderr_log,
            }),
            Err(_) => {
                let mut me = Self {
                    child,
                    url: String::new(),
                    stderr_log,
                };
                me.kill();
                let log = me.stderr_log.lock().unwrap().clone();
                bail!("server did not print its `listening on` line within {timeout_ms} ms; stderr:\n{log}")
            }
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id of the server (the group leader).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr_log.lock().unwrap().clone()
    }

    /// The exit status if the server has exited, `None` while it runs.
    pub fn try_wait(&mut self) -> Result<Option<std::process::ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// SIGKILLs the whole process group and reaps the child: a crash, not a shutdown.
    pub fn kill(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: plain syscall on a process group this struct created.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    /// Sends SIGTERM to the server and waits up to `timeout_ms` for it to exit.
    pub fn terminate(&mut self, timeout_ms: u64) -> Result<std::process::ExitStatus> {
        let pid = self.child.id() as i32;
        // SAFETY: plain syscall on our own child.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_millis(timeout_ms);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                self.kill();
                bail!("server did not exit within {timeout_ms} ms of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}
