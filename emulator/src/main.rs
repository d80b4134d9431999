//! `convex-storage-emulator`: parse the command line, then serve (the default), run a command
//! against a throw-away emulator (`exec`), or move a database to or from a snapshot ZIP
//! (`export`, `import`).
//!
//! Serving prints exactly one line, `listening on http://HOST:PORT`, once it accepts
//! connections, and runs until Ctrl-C or SIGTERM.

use std::io::Write;
use std::process::ExitCode;

mod signals;

use signals::StopSignals;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use convex_storage_emulator::clock::{ClockControl, MANUAL_CLOCK_MS_MAX};
use convex_storage_emulator::faults::FaultPlan;
use convex_storage_emulator::limits::{REQUEST_LOG_ENTRIES_DEFAULT, REQUEST_LOG_ENTRIES_MAX};
use convex_storage_emulator::serve::Timeouts;
use convex_storage_emulator::store::DbLocation;
use convex_storage_emulator::{Controls, Emulator, EmulatorBuilder, DEFAULT_MODULE};

/// Where `serve` keeps its data when no `--db` is given.
const DEFAULT_DB: &str = "./.convex-storage-emulator/db.sqlite3";
/// The port `serve` listens on when no `--port` is given (`exec` picks a free one).
const DEFAULT_PORT: u16 = 3210;

/// A local Convex deployment serving durable-execution's storage functions, on SQLite.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve until Ctrl-C or SIGTERM (what runs when no subcommand is given).
    Serve(ServeArgs),
    /// Start on a free port (`:memory:` unless --db is given), run CMD with CONVEX_URL and
    /// CONVEX_STORAGE_AUTH_SECRET set, stop when it ends, and exit with its status.
    Exec(ExecArgs),
    /// Write a database's executions to a snapshot ZIP in `npx convex export`'s layout.
    Export(snapshots::ExportArgs),
    /// Read a snapshot ZIP (ours or `npx convex export`'s) into a database, all or nothing.
    Import(snapshots::ImportArgs),
}

/// How to serve: shared by `serve` and `exec`.
#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// The secret every call must send as `authSecret` (`exec`: a random one when not given).
    #[arg(long, env = "CONVEX_STORAGE_AUTH_SECRET", hide_env_values = true)]
    auth_secret: Option<String>,
    /// Read the secret from this file (one trailing newline is ignored), so it does not show
    /// in `ps`.
    #[arg(long, value_name = "PATH", conflicts_with = "auth_secret")]
    auth_secret_file: Option<std::path::PathBuf>,
    /// Also answer requests whose `Host` is this name (repeatable); by default only loopback
    /// names and the `--host` address are answered, against DNS rebinding.
    #[arg(long = "allowed-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one [default: 3210; `exec`: 0].
    #[arg(long)]
    port: Option<u16>,
    /// SQLite database file, or `:memory:` [default: ./.convex-storage-emulator/db.sqlite3;
    /// `exec`: :memory:].
    #[arg(long)]
    db: Option<String>,
    /// Module name the functions are exported from.
    #[arg(long, default_value = DEFAULT_MODULE)]
    module: String,
    /// Start from this snapshot ZIP: its executions replace what the database holds.
    #[arg(long, value_name = "PATH")]
    snapshot: Option<std::path::PathBuf>,
    /// How time runs: `system`, or `manual` (moves only through `POST /_emulator/clock`).
    #[arg(long, value_enum, default_value_t = ClockFlag::System)]
    clock: ClockFlag,
    /// Where a manual clock starts, in ms since the Unix epoch (default: now).
    #[arg(long, value_parser = clap::value_parser!(u64).range(..=MANUAL_CLOCK_MS_MAX))]
    clock_start_ms: Option<u64>,
    /// Enables fault injection with this plan, e.g. `seed=7;insertMany:drop@p=0.2`
    /// (`seed=1` for an empty one); see README.md for the grammar.
    #[arg(long, value_parser = parse_fault_spec)]
    faults: Option<FaultPlan>,
    /// Calls the inspector (`/_emulator/`) keeps in its request log; 0 keeps none.
    #[arg(long, default_value_t = REQUEST_LOG_ENTRIES_DEFAULT,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=REQUEST_LOG_ENTRIES_MAX as u64))]
    request_log_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ClockFlag {
    System,
    Manual,
}

fn parse_fault_spec(spec: &str) -> Result<FaultPlan, String> {
    FaultPlan::parse_spec(spec)
}

#[derive(Debug, Args)]
struct ExecArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// mimalloc instead of glibc's allocator on Linux. Under the load mix glibc's `malloc` and
/// `free` took about a fifth of the emulator's CPU, much of it threads waiting on each other's
/// arena locks (a request's buffers are allocated on one thread and freed on another);
/// with mimalloc the mix served about 12 % more calls per second (BENCHMARKS.md). SQLite
/// still allocates through glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serve_args = match &cli.command {
        None => Some(&cli.serve),
        Some(Command::Serve(args)) => Some(args),
        Some(Command::Exec(args)) => Some(&args.serve),
        Some(Command::Export(_) | Command::Import(_)) => None,
    };
    if serve_args.is_some_and(|a| a.clock_start_ms.is_some() && a.clock != ClockFlag::Manual) {
        return usage_error("--clock-start-ms needs --clock manual");
    }
    let outcome = match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Exec(args)) => exec::run(args),
        Some(Command::Export(args)) => snapshots::export(args),
        Some(Command::Import(args)) => snapshots::import(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Why the command line cannot run, as a usage error (exit status 2).
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

impl ServeArgs {
    /// The builder these flags describe, with the defaults of `serve` or of `exec`.
    fn builder(&self, default_db: &str, default_port: u16) -> anyhow::Result<EmulatorBuilder> {
        let mut builder = Emulator::builder()
            .host(self.host.clone())
            .port(self.port.unwrap_or(default_port))
            .db(DbLocation::parse(self.db.as_deref().unwrap_or(default_db)))
            .module(self.module.clone())
            .request_log_size(self.request_log_size);
        builder = builder
            .timeouts(timeouts())
            .allowed_hosts(self.allowed_hosts.clone());
        if let Some(secret) = self.secret()?.filter(|s| !s.is_empty()) {
            builder = builder.auth_secret(secret);
        }
        if let Some(path) = &self.snapshot {
            builder = builder.snapshot(path.clone());
        }
        Ok(builder.controls(Controls {
            clock: match self.clock {
                ClockFlag::System => ClockControl::system(),
                ClockFlag::Manual => ClockControl::manual(self.clock_start_ms),
            },
            faults: self.faults.clone(),
        }))
    }

    /// The secret given, from `--auth-secret-file` or `--auth-secret` / the environment.
    fn secret(&self) -> anyhow::Result<Option<String>> {
        match &self.auth_secret_file {
            Some(path) => read_secret_file(path).map(Some).map_err(anyhow::Error::msg),
            None => Ok(self.auth_secret.clone()),
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    match args.secret() {
        Err(e) => return Ok(usage_error(&e.to_string())),
        Ok(secret) if secret.as_deref().is_none_or(str::is_empty) => {
            return Ok(usage_error(
                "no auth secret: pass --auth-secret <SECRET>, --auth-secret-file <PATH> or \
                 set CONVEX_STORAGE_AUTH_SECRET",
            ))
        }
        Ok(_) => {}
    }
    let builder = args.builder(DEFAULT_DB, DEFAULT_PORT)?;
    runtime()?.block_on(async {
        // Install the handlers before announcing the address, so a signal sent right after
        // the `listening` line is a clean shutdown rather than the default "terminate".
        let shutdown = shutdown_signal().context("installing signal handlers")?;
        let emulator = builder.start().await?;
        announce(&emulator)?;
        shutdown.await;
        emulator.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Prints the one `listening on` line.
fn announce(emulator: &Emulator) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", emulator.url()).context("writing to stdout")?;
    stdout.flush().context("flushing stdout")
}

/// The secret in `path`, without one trailing newline (`\n` or `\r\n`). Never echoes it.
fn read_secret_file(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "reading the auth secret file {}: {e}; pass a readable UTF-8 file",
            path.display()
        )
    })?;
    let secret = text
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(&text);
    if secret.is_empty() {
        return Err(format!(
            "the auth secret file {} is empty; write the secret into it",
            path.display()
        ));
    }
    Ok(secret.to_string())
}

/// Test-only: shortens the serving timeouts so tests of them take seconds. Either one number
/// of milliseconds for all of them, or four, `HEADER,BODY,IDLE,GRACE`. Not a user setting, so
/// not a flag in `--help`.
const TEST_TIMEOUTS_ENV: &str = "CONVEX_STORAGE_EMULATOR_TEST_TIMEOUTS_MS";

fn timeouts() -> Timeouts {
    let Ok(text) = std::env::var(TEST_TIMEOUTS_ENV) else {
        return Timeouts::default();
    };
    let ms: Vec<std::time::Duration> = text
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .map(std::time::Duration::from_millis)
        .collect();
    match ms.as_slice() {
        [all] => Timeouts::all(*all),
        [header_read, body_read, idle, shutdown_grace] => Timeouts {
            header_read: *header_read,
            body_read: *body_read,
            idle: *idle,
            shutdown_grace: *shutdown_grace,
        },
        _ => Timeouts::default(),
    }
}

/// A future that resolves on the first Ctrl-C or SIGTERM (the handlers are registered
/// immediately). After it, a second signal exits at once with status 130 (Ctrl-C) or 143
/// (SIGTERM), without waiting for calls in flight: every acknowledged write is already
/// committed, and a write not yet acknowledged is either committed whole or not at all.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    let mut stop = StopSignals::install()?;
    Ok(async move {
        stop.next().await;
        eprintln!("shutting down: finishing the calls in flight; signal again to exit now");
        tokio::spawn(async move {
            let second = stop.next().await;
            eprintln!("second signal: exiting now");
            std::process::exit(i32::from(second.exit_status()));
        });
    })
}

mod snapshots {
    //! `export` and `import`: a database file to a snapshot ZIP and back, with no server.

    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::sync::Arc;

    use anyhow::{bail, Context};
    use clap::Args;
    use convex_storage_emulator::clock::SystemClock;
    use convex_storage_emulator::snapshot::{self, ImportOptions, DEFAULT_COMPONENT};
    use convex_storage_emulator::store::{DbLocation, Store};

    use super::runtime;

    #[derive(Debug, Args)]
    pub struct ExportArgs {
        /// The SQLite database file to read (stop the server using it first, or use
        /// `GET /_emulator/export` on it instead).
        #[arg(long)]
        db: PathBuf,
        /// Where to write the ZIP.
        #[arg(long)]
        path: PathBuf,
        /// The component name the tables are written under.
        #[arg(long, default_value = DEFAULT_COMPONENT)]
        component: String,
    }

    #[derive(Debug, Args)]
    pub struct ImportArgs {
        /// The SQLite database file to write (created if missing; stop the server using it
        /// first, or use `POST /_emulator/import` on it instead).
        #[arg(long)]
        db: PathBuf,
        /// The snapshot ZIP to read.
        #[arg(long)]
        path: PathBuf,
        /// Empty the database first (without it, a database holding executions is refused).
        #[arg(long)]
        replace: bool,
        /// Which component's tables to read, when the ZIP has several.
        #[arg(long)]
        component: Option<String>,
    }

    pub fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
        if !args.db.exists() {
            bail!("no database at {}", args.db.display());
        }
        let exported = with_store(&args.db, |store| async move {
            snapshot::export(&store, &args.component)
                .await
                .map(|exported| (store, exported))
        })?;
        std::fs::write(&args.path, &exported.zip)
            .with_context(|| format!("writing {}", args.path.display()))?;
        println!(
            "exported {} executions to {}",
            exported.documents,
            args.path.display()
        );
        Ok(ExitCode::SUCCESS)
    }

    pub fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
        let zip = std::fs::read(&args.path)
            .with_context(|| format!("reading {}", args.path.display()))?;
        let options = ImportOptions {
            replace: args.replace,
            component: args.component,
        };
        let imported = with_store(&args.db, |store| async move {
            snapshot::import(&store, zip, options)
                .await
                .map(|n| (store, n))
        })?;
        println!("imported {imported} executions into {}", args.db.display());
        Ok(ExitCode::SUCCESS)
    }

    /// Opens the database, runs `f` on it, and closes it cleanly.
    fn with_store<T, F, Fut>(db: &Path, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = Result<(Store, T), snapshot::SnapshotError>>,
    {
        let store = Store::open(&DbLocation::File(db.to_path_buf()), Arc::new(SystemClock))
            .with_context(|| format!("opening {}", db.display()))?;
        let (store, value) = runtime()?.block_on(f(store))?;
        store.close();
        Ok(value)
    }
}

mod exec {
    //! `exec`: a throw-away emulator around one command, as CI wants it.

    use std::process::ExitCode;

    use anyhow::Context;

    use super::signals::{self, StopSignals};
    use super::{runtime, ExecArgs};

    pub fn run(args: ExecArgs) -> anyhow::Result<ExitCode> {
        let builder = args.serve.builder(":memory:", 0)?;
        let (program, rest) = args
            .command
            .split_first()
            .context("no command given after `--`")?;
        runtime()?.block_on(async {
            let mut stop = StopSignals::install().context("installing signal handlers")?;
            let emulator = builder.start().await?;
            let mut child = tokio::process::Command::new(program)
                .args(rest)
                .env("CONVEX_URL", emulator.url())
                .env("CONVEX_STORAGE_AUTH_SECRET", emulator.auth_secret())
                .spawn()
                .with_context(|| format!("running {program}"))?;
            let pid = child.id();
            // The command decides when to end; a stop signal is only passed on to it.
            let status = loop {
                tokio::select! {
                    status = child.wait() => break status.context("waiting for the command")?,
                    signal = stop.next() => signals::forward(pid, signal),
                }
            };
            emulator.shutdown().await;
            let code = signals::exit_code(status);
            Ok(ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)))
        })
    }
}
