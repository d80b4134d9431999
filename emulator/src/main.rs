//! `convex-storage-emulator`: parse the command line, bind, print the one `listening on`
//! line, serve until Ctrl-C or SIGTERM.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use convex_storage_emulator::clock::{ClockControl, MANUAL_CLOCK_MS_MAX};
use convex_storage_emulator::faults::FaultPlan;
use convex_storage_emulator::limits::{REQUEST_LOG_ENTRIES_DEFAULT, REQUEST_LOG_ENTRIES_MAX};
use convex_storage_emulator::serve::Timeouts;
use convex_storage_emulator::store::DbLocation;
use convex_storage_emulator::{Config, Controls, Server, DEFAULT_MODULE};

/// A local Convex deployment serving durable-execution's storage functions, on SQLite.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The secret every call must send as `authSecret`.
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
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 3210)]
    port: u16,
    /// SQLite database file, or `:memory:`.
    #[arg(long, default_value = "./.convex-storage-emulator/db.sqlite3")]
    db: String,
    /// Module name the functions are exported from.
    #[arg(long, default_value = DEFAULT_MODULE)]
    module: String,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let secret = match &cli.auth_secret_file {
        Some(path) => match read_secret_file(path) {
            Ok(secret) => Some(secret),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        },
        None => cli.auth_secret.clone(),
    };
    let Some(auth_secret) = secret.filter(|s| !s.is_empty()) else {
        eprintln!(
            "error: no auth secret: pass --auth-secret <SECRET>, --auth-secret-file <PATH> \
             or set CONVEX_STORAGE_AUTH_SECRET"
        );
        return ExitCode::from(2);
    };
    if cli.clock_start_ms.is_some() && cli.clock != ClockFlag::Manual {
        eprintln!("error: --clock-start-ms needs --clock manual");
        return ExitCode::from(2);
    }
    let controls = Controls {
        clock: match cli.clock {
            ClockFlag::System => ClockControl::system(),
            ClockFlag::Manual => ClockControl::manual(cli.clock_start_ms),
        },
        faults: cli.faults,
    };
    let config = Config {
        auth_secret,
        host: cli.host,
        port: cli.port,
        db: DbLocation::parse(&cli.db),
        module: cli.module,
        request_log_size: cli.request_log_size,
    };
    match run(config, controls, cli.allowed_hosts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
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

fn run(config: Config, controls: Controls, allowed_hosts: Vec<String>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        // Install the handlers before announcing the address, so a signal sent right after
        // the `listening` line is a clean shutdown rather than the default "terminate".
        let shutdown = shutdown_signal().context("installing signal handlers")?;
        let server = Server::bind_with(&config, controls)
            .await?
            .with_timeouts(timeouts())
            .allow_hosts(allowed_hosts);
        let addr = server.local_addr()?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{addr}").context("writing to stdout")?;
        stdout.flush().context("flushing stdout")?;
        drop(stdout);
        server.run(shutdown).await?;
        Ok(())
    })
}

/// A future that resolves on the first Ctrl-C or SIGTERM (the handlers are registered
/// immediately). After it, a second signal exits at once with status 130 (Ctrl-C) or 143
/// (SIGTERM), without waiting for calls in flight: every acknowledged write is already
/// committed, and a write not yet acknowledged is either committed whole or not at all.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        eprintln!("shutting down: finishing the calls in flight; signal again to exit now");
        tokio::spawn(async move {
            let status = tokio::select! {
                _ = interrupt.recv() => 130,
                _ = terminate.recv() => 143,
            };
            eprintln!("second signal: exiting now");
            std::process::exit(status);
        });
    })
}
