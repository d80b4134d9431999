//! `convex-storage-conformance`: runs the whole conformance suite against a deployment or an
//! emulator, for users' CI. Thin: argument parsing and printing; the suite lives in the library.

use std::process::ExitCode;

use clap::Parser;
use convex_storage_conformance::backend::{Backend, Endpoint, DEFAULT_MODULE};
use convex_storage_conformance::concurrency::ConcurrencyConfig;
use convex_storage_conformance::model::runner::{seed_from_env, seed_hex, CASES_ENV};
use convex_storage_conformance::suite::{run_suite, SuiteConfig};

/// Default number of generated model-based cases.
const DEFAULT_CASES: u32 = 64;
/// Transitions per generated case, at most.
const STEPS_MAX: usize = 24;

/// Checks that a Convex deployment (or the emulator) serves durable-execution's task-executions
/// storage exactly as the storage component does: hand-written scenarios for all 17 public
/// functions, generated operation sequences compared with an in-memory model, and concurrency
/// properties.
///
/// WARNING: the suite needs the deployment's test mode (deleteById/deleteAll enabled on the
/// client side) and WIPES THE STORE: it calls deleteAll before every scenario and every
/// generated case. Never point it at a deployment whose data you want to keep.
///
/// Exit status 0 only when everything passed. Set CONFORMANCE_SEED (64 hex digits) to replay
/// the generated cases of an earlier run.
#[derive(Debug, Parser)]
#[command(name = "convex-storage-conformance", version)]
struct Args {
    /// The deployment's URL, e.g. https://happy-otter-123.convex.cloud or http://127.0.0.1:3210.
    #[arg(long, env = "CONVEX_URL")]
    url: String,
    /// The auth secret the public functions were configured with.
    #[arg(long, env = "CONVEX_STORAGE_AUTH_SECRET", hide_env_values = true)]
    auth_secret: String,
    /// Number of generated model-based cases (also CONFORMANCE_CASES).
    #[arg(long, env = CASES_ENV, default_value_t = DEFAULT_CASES)]
    cases: u32,
    /// The public module that exposes the 17 functions.
    #[arg(long, default_value = DEFAULT_MODULE)]
    module: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = seed_from_env();
    let backend = Backend::connect(Endpoint {
        url: args.url.clone(),
        auth_secret: args.auth_secret,
        module: args.module,
    });
    let config = SuiteConfig {
        cases: args.cases,
        steps_max: STEPS_MAX,
        seed,
        concurrency: ConcurrencyConfig::default(),
    };
    println!(
        "conformance suite against {} (seed {})",
        args.url,
        seed_hex(&seed)
    );
    let report = run_suite(&backend, &config, &mut |line| println!("… {line}"));
    println!();
    print!("{}", report.render());
    let scenarios = report.scenarios.len();
    let generated = report
        .model
        .as_ref()
        .and_then(|m| m.as_ref().ok())
        .map(|s| s.cases)
        .unwrap_or(0);
    println!(
        "\n{} scenarios, {} committed cases, {generated} generated cases, {} concurrency properties in {:.1} s",
        scenarios,
        report.replayed,
        report.concurrency.len(),
        report.took.as_secs_f64()
    );
    if report.passed() {
        println!("PASS");
        ExitCode::SUCCESS
    } else {
        println!("FAIL");
        ExitCode::FAILURE
    }
}
