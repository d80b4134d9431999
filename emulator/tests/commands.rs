//! The binary's subcommands, run as a user runs them: `exec` (status, variables, signals,
//! stopping), and `import` / `export` of snapshot ZIPs with a database file.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};

mod common;

use common::TempDir;
use convex_storage_emulator::id::{DocumentId, TASK_EXECUTIONS_TABLE_NUMBER};
use convex_storage_testkit::fixtures::execution_json_with;
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_convex-storage-emulator");

fn emulator(args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env_remove("CONVEX_STORAGE_AUTH_SECRET")
        .env_remove("CONVEX_URL")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A Node one-liner that looks up `executionId` through the deployment in CONVEX_URL with the
/// secret in CONVEX_STORAGE_AUTH_SECRET, prints the answer, and exits 0 on success.
fn node_lookup(execution_id: &str) -> String {
    format!(
        "const body = {{path: 'taskExecutionsStorage:getManyById', format: 'json', \
         args: [{{authSecret: process.env.CONVEX_STORAGE_AUTH_SECRET, \
         args: {{requests: [{{executionId: '{execution_id}'}}]}}}}]}}; \
         fetch(process.env.CONVEX_URL + '/api/query', {{method: 'POST', \
         headers: {{'content-type': 'application/json'}}, body: JSON.stringify(body)}}) \
         .then(r => r.json()).then(j => {{ console.log(JSON.stringify(j)); \
         process.exit(j.status === 'success' ? 0 : 1); }})"
    )
}

#[test]
fn exec_exits_with_the_commands_status() {
    let output = emulator(&["exec", "--", "sh", "-c", "exit 3"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let output = emulator(&["exec", "--", "true"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn exec_reports_a_command_killed_by_a_signal_as_128_plus_the_signal() {
    let output = emulator(&["exec", "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(output.status.code(), Some(128 + 9), "{}", stderr(&output));
}

#[test]
fn exec_gives_the_command_a_working_emulator_and_stops_it_afterwards() {
    let output = emulator(&["exec", "--", "node", "-e", &node_lookup("nobody")]);
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let answer: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(answer["value"], json!([null]));

    // The given secret is the one handed on; the URL is gone once the command ended.
    let output = emulator(&[
        "exec",
        "--auth-secret",
        "given-secret",
        "--",
        "sh",
        "-c",
        "test \"$CONVEX_STORAGE_AUTH_SECRET\" = given-secret && echo \"$CONVEX_URL\"",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let url = stdout(&output).trim().to_string();
    let addr = url.strip_prefix("http://").expect("an http URL");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the emulator at {url} still answers after exec ended"
    );
}

#[test]
fn exec_passes_sigterm_on_to_the_command() {
    let mut child = Command::new(BINARY)
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    // SAFETY: a plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(7),
        "the command's own exit status, from its trap"
    );
}

/// A snapshot ZIP in Convex's layout with one execution, `seeded`.
fn seed_zip() -> Vec<u8> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let id = DocumentId::generate(TASK_EXECUTIONS_TABLE_NUMBER, 0, &mut rng).encode();
    let doc = execution_json_with(
        "seeded",
        json!({"_id": id, "_creationTime": 1_700_000_000_000.5}),
    );
    snapshot_zip(format!("{doc}\n").as_bytes())
}

/// A snapshot ZIP in Convex's layout whose task executions are the lines of `documents`.
fn snapshot_zip(documents: &[u8]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file(
            "_components/taskExecutionsStorage/taskExecutions/documents.jsonl",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
    writer.write_all(documents).unwrap();
    writer.finish().unwrap().into_inner()
}

#[test]
fn import_export_and_snapshot_move_a_store_through_zip_files() {
    let dir = TempDir::new("cmd-snapshots");
    let path = |name: &str| dir.path(name).to_string_lossy().into_owned();
    let (db, seed, out, bad) = (
        path("db.sqlite3"),
        path("seed.zip"),
        path("out.zip"),
        path("bad.zip"),
    );
    std::fs::write(&seed, seed_zip()).unwrap();

    let output = emulator(&["import", "--db", &db, "--path", &seed]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!("imported 1 executions into {db}\n")
    );

    // A second import without --replace is refused and changes nothing; with it, it replaces.
    let output = emulator(&["import", "--db", &db, "--path", &seed]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("already holds 1 executions"),
        "{}",
        stderr(&output)
    );
    let output = emulator(&["import", "--db", &db, "--path", &seed, "--replace"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let output = emulator(&["export", "--db", &db, "--path", &out]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("exported 1 executions to {out}\n"));
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut documents = String::new();
    archive
        .by_name("_components/taskExecutionsStorage/taskExecutions/documents.jsonl")
        .unwrap()
        .read_to_string(&mut documents)
        .unwrap();
    assert!(
        documents.contains("\"executionId\":\"seeded\""),
        "{documents}"
    );

    // `exec --snapshot` starts from the export.
    let output = emulator(&[
        "exec",
        "--snapshot",
        &out,
        "--",
        "node",
        "-e",
        &node_lookup("seeded"),
    ]);
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("\"_creationTime\":1700000000000.5"),
        "{}",
        stdout(&output)
    );

    // A bad ZIP is refused with its file and line, and the database keeps what it had.
    std::fs::write(&bad, snapshot_zip(b"{\"_id\": \"nope\"}\n")).unwrap();
    let output = emulator(&["import", "--db", &db, "--path", &bad, "--replace"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("taskExecutions/documents.jsonl:1: `_id` nope"),
        "{}",
        stderr(&output)
    );
    let output = emulator(&["export", "--db", &db, "--path", &out]);
    assert_eq!(stdout(&output), format!("exported 1 executions to {out}\n"));

    let output = emulator(&["export", "--db", &path("missing.sqlite3"), "--path", &out]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no database at"),
        "{}",
        stderr(&output)
    );
}
