//! The process around the store, through the real binary: connection timeouts, the connection
//! cap, shutdown with a stalled client, refused database files (left byte-identical), one
//! emulator per file, the `Host` check and `--auth-secret-file`.
//!
//! Timeouts are shortened with the test-only `CONVEX_STORAGE_EMULATOR_TEST_TIMEOUTS_MS`
//! (`HEADER,BODY,IDLE,GRACE` in ms). Nothing here asserts how long anything took: waits for
//! the server have a generous safety bound only so a broken build fails instead of hanging.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use convex_storage_testkit::fixtures::execution_json;
use convex_storage_testkit::ServerProcess;
use rusqlite::Connection;
use serde_json::{json, Value as Json};

const SECRET: &str = "hardening-test-secret";
const BINARY: &str = env!("CARGO_BIN_EXE_convex-storage-emulator");
const TIMEOUTS_ENV: &str = "CONVEX_STORAGE_EMULATOR_TEST_TIMEOUTS_MS";
/// Upper bound on any wait for the server, far above every configured timeout: reaching it
/// means the behaviour under test is missing, not that the machine was slow.
const SAFETY_BOUND: Duration = Duration::from_secs(60);
/// The application_id the emulator marks its databases with ("CxSE").
const APPLICATION_ID: i64 = 0x4378_5345;

/// A running emulator started by a test (testkit's [`ServerProcess`]); killed when dropped.
struct Emulator {
    server: ServerProcess,
}

impl Emulator {
    fn start(db: &str, args: &[&str], timeouts: Option<&str>) -> Self {
        Self::start_with(db, args, timeouts, None)
    }

    /// `descriptors`: a file-descriptor limit (soft and hard) for the child.
    fn start_with(
        db: &str,
        args: &[&str],
        timeouts: Option<&str>,
        descriptors: Option<u64>,
    ) -> Self {
        let mut command = Command::new(BINARY);
        command
            .args(["--auth-secret", SECRET, "--port", "0", "--db", db])
            .args(args)
            .env_remove("CONVEX_STORAGE_AUTH_SECRET");
        if let Some(timeouts) = timeouts {
            command.env(TIMEOUTS_ENV, timeouts);
        }
        if let Some(limit) = descriptors {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let rlimit = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        Self::adopt(command)
    }

    /// Starts a command built by the test.
    fn adopt(command: Command) -> Self {
        Self {
            server: ServerProcess::start(command).unwrap(),
        }
    }

    fn url(&self) -> String {
        self.server.url().to_string()
    }

    fn port(&self) -> u16 {
        self.server
            .url()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn pid(&self) -> u32 {
        self.server.pid()
    }

    fn is_running(&mut self) -> bool {
        self.server.try_wait().unwrap().is_none()
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: a plain syscall on our own child.
        unsafe {
            libc::kill(self.server.pid() as i32, signal);
        }
    }

    /// Waits for the process to exit (bounded by [`SAFETY_BOUND`]).
    fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.server.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < SAFETY_BOUND,
                "the emulator did not exit; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until stderr contains `text`.
    fn wait_for_stderr(&self, text: &str) {
        let start = Instant::now();
        while !self.stderr().contains(text) {
            assert!(start.elapsed() < SAFETY_BOUND, "no {text:?} on stderr");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stderr(&self) -> String {
        self.server.stderr()
    }
}

/// A fresh directory, removed when dropped (clearing an immutable flag a test may have set).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("emulator-hard-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        for entry in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            let _ = Command::new("chattr")
                .arg("-i")
                .arg(entry.path())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends raw bytes on a new connection and reads until the server closes it.
fn raw_exchange(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(SAFETY_BOUND)).unwrap();
    stream.write_all(request).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

/// Reads from `stream` until the server closes it; returns what came before.
fn read_until_closed(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(SAFETY_BOUND)).unwrap();
    let mut reply = Vec::new();
    match stream.read_to_end(&mut reply) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server did not close the connection: {e}"),
    }
    String::from_utf8_lossy(&reply).into_owned()
}

fn get(port: u16, path: &str, host: &str) -> String {
    raw_exchange(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn body_of(response: &str) -> Json {
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

async fn call(url: &str, secret: &str, kind: &str, function: &str, args: Json) -> Json {
    let body = json!({
        "path": format!("taskExecutionsStorage:{function}"),
        "format": "convex_encoded_json",
        "args": [{"authSecret": secret, "args": args}],
    });
    json_reply(
        reqwest::Client::new()
            .post(format!("{url}/api/{kind}"))
            .json(&body),
    )
    .await
}

/// Sends `request` and parses its answer as JSON.
async fn json_reply(request: reqwest::RequestBuilder) -> Json {
    request.send().await.unwrap().json().await.unwrap()
}

const SHORT_BODY_REQUEST: &[u8] = b"POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\n\
content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"path\":";

/// Opens a connection whose request is certainly in flight: its handler is reading the body
/// (the server said `100 Continue`), which never comes in full.
fn request_in_flight(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(
            b"POST /api/mutation HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              content-type: application/json\r\ncontent-length: 100\r\n\
              expect: 100-continue\r\n\r\n",
        )
        .unwrap();
    stream.set_read_timeout(Some(SAFETY_BOUND)).unwrap();
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100"));
    stream.write_all(b"{\"path\":").unwrap();
    stream
}

#[test]
fn stalled_connections_are_closed_and_fresh_requests_still_answered() {
    const EACH_KIND: usize = 30;
    let emulator = Emulator::start(":memory:", &[], Some("1500,1500,1000,1000"));
    let port = emulator.port();
    let mut silent = Vec::new();
    let mut partial_headers = Vec::new();
    let mut short_bodies = Vec::new();
    for _ in 0..EACH_KIND {
        silent.push(TcpStream::connect(("127.0.0.1", port)).unwrap());
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"POST /api/query HTTP/1.1\r\nHost: 127.0")
            .unwrap();
        partial_headers.push(s);
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(SHORT_BODY_REQUEST).unwrap();
        short_bodies.push(s);
    }
    let fresh = get(port, "/version", "127.0.0.1");
    assert!(fresh.starts_with("HTTP/1.1 200"), "{fresh}");
    for s in silent.iter_mut().chain(partial_headers.iter_mut()) {
        assert_eq!(read_until_closed(s), "", "closed without an answer");
    }
    for s in short_bodies.iter_mut() {
        let reply = read_until_closed(s);
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
        assert_eq!(body_of(&reply)["code"], "BadJsonBody");
    }
    // A trickling client (a byte of header now and then, never finishing) meets the header
    // timeout even though it is never silent for the idle timeout.
    let mut trickle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    trickle.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let mut closed = false;
    'trickling: for byte in b"GET /version HTTP/1.1\r\nX-Slow: ".iter().cycle() {
        let _ = trickle.write(&[*byte]);
        std::thread::sleep(Duration::from_millis(200));
        let mut buf = [0u8; 256];
        match trickle.read(&mut buf) {
            Ok(0) => closed = true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue 'trickling,
            Ok(_) | Err(_) => closed = true,
        }
        if closed || start.elapsed() > SAFETY_BOUND {
            break;
        }
    }
    assert!(closed, "a trickling client was never cut off");
    let again = get(port, "/version", "localhost");
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
}

#[test]
fn connections_over_the_cap_are_refused_and_the_open_ones_unharmed() {
    // With 200 descriptors the cap is 200 - 64 reserved = 136 connections.
    const DESCRIPTORS: u64 = 200;
    const CAP: usize = 136;
    const OPENED: usize = CAP + 10;
    let emulator = Emulator::start_with(":memory:", &[], Some("60000"), Some(DESCRIPTORS));
    let port = emulator.port();
    let mut open: Vec<TcpStream> = (0..OPENED)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // Accepted after all of the above (the accept queue is first in, first out), and over
    // the cap: refused at once with a 503 in Convex's error shape.
    let probe = get(port, "/version", "127.0.0.1");
    assert!(probe.starts_with("HTTP/1.1 503"), "{probe}");
    assert_eq!(body_of(&probe)["code"], "TooManyConnections");
    // The first connection is being served: it gets its answer.
    let first = &mut open[0];
    first
        .write_all(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = read_until_closed(first);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // Exactly the connections over the cap were refused.
    let mut refused = 0;
    for stream in &mut open[1..] {
        stream.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        if let Ok(n) = stream.read(&mut buf) {
            if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503") {
                refused += 1;
            }
        }
    }
    assert_eq!(refused, OPENED - CAP);
}

#[tokio::test]
async fn sigterm_with_a_stalled_client_exits_zero_and_keeps_acknowledged_writes() {
    let dir = TempDir::new("shutdown");
    let db = dir.path("db.sqlite3");
    let db_arg = db.to_str().unwrap();
    // Long serving timeouts, a short grace: only the grace can end the stalled calls.
    let mut emulator = Emulator::start(db_arg, &[], Some("60000,60000,60000,500"));
    let got = call(
        &emulator.url(),
        SECRET,
        "mutation",
        "insertMany",
        json!({"executions": [execution_json("kept-1"), execution_json("kept-2")]}),
    )
    .await;
    assert_eq!(got["status"], "success", "{got}");
    let port = emulator.port();
    let mut mid_headers = TcpStream::connect(("127.0.0.1", port)).unwrap();
    mid_headers
        .write_all(b"POST /api/mutation HTTP/1.1\r\nHo")
        .unwrap();
    let mut mid_body = request_in_flight(port);
    let _silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    emulator.signal(libc::SIGTERM);
    assert_eq!(emulator.wait().code(), Some(0), "{}", emulator.stderr());
    read_until_closed(&mut mid_headers);
    read_until_closed(&mut mid_body);
    drop(emulator);

    let emulator = Emulator::start(db_arg, &[], None);
    let got = call(
        &emulator.url(),
        SECRET,
        "query",
        "getManyById",
        json!({"requests": [{"executionId": "kept-1"}, {"executionId": "kept-2"}]}),
    )
    .await;
    let docs = got["value"].as_array().unwrap();
    assert!(docs.iter().all(|d| !d.is_null()), "{got}");
}

#[tokio::test]
async fn a_hostile_array_gets_convex_argument_error_with_its_real_length() {
    let emulator = Emulator::start(":memory:", &[], None);
    let zeros = 4_000_000;
    let mut items = "0,".repeat(zeros - 1);
    items.push('0');
    let body = format!(
        "{{\"path\":\"taskExecutionsStorage:insertMany\",\"format\":\"json\",\
         \"args\":[{{\"authSecret\":\"{SECRET}\",\"args\":{{\"executions\":[{items}]}}}}]}}"
    );
    let reply = json_reply(
        reqwest::Client::new()
            .post(format!("{}/api/mutation", emulator.url()))
            .header("content-type", "application/json")
            .body(body),
    )
    .await;
    assert_eq!(reply["status"], "error");
    let message = reply["errorMessage"].as_str().unwrap();
    assert!(
        message.ends_with(&format!(
            "Array length is too long ({zeros} > maximum length 8192)"
        )),
        "{message}"
    );
    let count = call(
        &emulator.url(),
        SECRET,
        "query",
        "getManyById",
        json!({"requests": []}),
    )
    .await;
    assert_eq!(count["status"], "success", "still serving: {count}");
}

#[test]
fn a_second_signal_exits_at_once() {
    let mut emulator = Emulator::start(":memory:", &[], Some("60000,60000,60000,60000"));
    let _mid_body = request_in_flight(emulator.port());
    emulator.signal(libc::SIGTERM);
    emulator.wait_for_stderr("shutting down");
    assert!(emulator.is_running(), "waits for the call in flight");
    emulator.signal(libc::SIGINT);
    assert_eq!(emulator.wait().code(), Some(130));
}

/// Starts the emulator on `db`, expecting a refusal; returns stderr.
fn refused(db: &Path) -> String {
    let output = Command::new(BINARY)
        .args(["--auth-secret", SECRET, "--port", "0", "--db"])
        .arg(db)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "started on {}: {stderr}",
        db.display()
    );
    assert!(output.stdout.is_empty(), "no listening line");
    assert!(
        stderr.contains(&db.display().to_string()),
        "names the path: {stderr}"
    );
    assert!(stderr.contains("pass"), "says what to do: {stderr}");
    stderr
}

/// Refuses `db` and checks that nothing in its directory changed.
fn refused_untouched(dir: &TempDir, db: &Path) -> String {
    let before = std::fs::read(db).unwrap();
    let listing = dir.listing();
    let stderr = refused(db);
    assert_eq!(std::fs::read(db).unwrap(), before, "byte-identical");
    assert_eq!(dir.listing(), listing, "no -wal, -shm or lock file left");
    stderr
}

#[test]
fn files_of_other_programs_are_refused_and_left_byte_identical() {
    let dir = TempDir::new("foreign");

    let tables = dir.path("tables.db");
    let conn = Connection::open(&tables).unwrap();
    conn.execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(conn);
    let stderr = refused_untouched(&dir, &tables);
    assert!(stderr.contains("another program"), "{stderr}");

    for version in [1, 2, 9] {
        let versioned = dir.path(&format!("v{version}.db"));
        let conn = Connection::open(&versioned).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE things (x); PRAGMA user_version = {version};"
        ))
        .unwrap();
        drop(conn);
        refused_untouched(&dir, &versioned);
    }

    let other_app = dir.path("app.db");
    let conn = Connection::open(&other_app).unwrap();
    conn.execute_batch("PRAGMA application_id = 42; CREATE TABLE task_executions (x);")
        .unwrap();
    drop(conn);
    let stderr = refused_untouched(&dir, &other_app);
    assert!(stderr.contains("application_id"), "{stderr}");

    let text = dir.path("notes.txt");
    std::fs::write(
        &text,
        "not a database at all, just some text that is long enough",
    )
    .unwrap();
    let stderr = refused_untouched(&dir, &text);
    assert!(stderr.contains("not a SQLite database"), "{stderr}");
}

#[test]
fn a_database_from_a_newer_emulator_is_refused_untouched() {
    let dir = TempDir::new("newer");
    let db = dir.path("db.sqlite3");
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; CREATE TABLE task_executions (x); \
         PRAGMA user_version = 99;"
    ))
    .unwrap();
    drop(conn);
    let before = std::fs::read(&db).unwrap();
    let output = Command::new(BINARY)
        .args(["--auth-secret", SECRET, "--port", "0", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("newer"));
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn an_unwritable_database_is_refused_untouched() {
    let dir = TempDir::new("readonly");
    let db = dir.path("db.sqlite3");
    // A real emulator database, made writable-then-read-only.
    let mut emulator = Emulator::start(db.to_str().unwrap(), &[], None);
    emulator.signal(libc::SIGTERM);
    assert_eq!(emulator.wait().code(), Some(0));
    drop(emulator);
    std::fs::remove_file(dir.path("db.sqlite3.lock")).unwrap();
    let before = std::fs::read(&db).unwrap();
    // SAFETY: reads the effective user id.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        // Permissions do not stop root; the immutable flag does.
        let set = Command::new("chattr").arg("+i").arg(&db).status().unwrap();
        assert!(set.success(), "chattr +i is needed to test this as root");
    } else {
        std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
    }
    let listing = dir.listing();
    let stderr = refused(&db);
    assert!(stderr.contains("cannot be written"), "{stderr}");
    assert!(stderr.contains("Make it writable"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "byte-identical");
    assert_eq!(dir.listing(), listing);
}

#[test]
fn databases_of_earlier_versions_and_empty_files_open_and_get_marked() {
    let dir = TempDir::new("earlier");
    let db = dir.path("db.sqlite3");
    let mut emulator = Emulator::start(db.to_str().unwrap(), &[], None);
    emulator.signal(libc::SIGTERM);
    assert_eq!(emulator.wait().code(), Some(0));
    drop(emulator);
    // As an earlier version left it: our tables, no mark.
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA application_id = 0;").unwrap();
    drop(conn);
    let empty = dir.path("empty.db");
    std::fs::write(&empty, b"").unwrap();
    for path in [&db, &empty] {
        let mut emulator = Emulator::start(path.to_str().unwrap(), &[], None);
        emulator.signal(libc::SIGTERM);
        assert_eq!(emulator.wait().code(), Some(0));
        let conn = Connection::open(path).unwrap();
        let id: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, APPLICATION_ID, "{}", path.display());
    }
}

#[test]
fn a_second_emulator_on_the_same_file_is_refused_with_the_first_ones_pid() {
    let dir = TempDir::new("second");
    let db = dir.path("db.sqlite3");
    let mut first = Emulator::start(db.to_str().unwrap(), &[], None);
    let stderr = refused(&db);
    assert!(
        stderr.contains("already served by another emulator"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("process {}", first.pid())),
        "{stderr}"
    );
    first.signal(libc::SIGTERM);
    assert_eq!(first.wait().code(), Some(0));
    // Once the first is gone, the file can be served again.
    let _again = Emulator::start(db.to_str().unwrap(), &[], None);
}

#[test]
fn only_loopback_hosts_are_answered_unless_allowed() {
    let emulator = Emulator::start(":memory:", &[], None);
    let port = emulator.port();
    for host in [
        "localhost".to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let reply = get(port, "/version", &host);
        assert!(reply.starts_with("HTTP/1.1 200"), "{host}: {reply}");
    }
    for host in ["evil.example", "evil.example:3210", "192.168.1.20"] {
        let reply = get(port, "/version", host);
        assert!(reply.starts_with("HTTP/1.1 403"), "{host}: {reply}");
        let body = body_of(&reply);
        assert_eq!(body["code"], "HostNotAllowed");
        assert!(body["message"].as_str().unwrap().contains("--allowed-host"));
    }
    // A refused host reaches no function: the call is not run.
    let call = b"POST /api/mutation HTTP/1.1\r\nHost: evil.example\r\n\
        content-type: application/json\r\ncontent-length: 2\r\nConnection: close\r\n\r\n{}";
    assert!(raw_exchange(port, call).starts_with("HTTP/1.1 403"));

    let widened = Emulator::start(
        ":memory:",
        &[
            "--allowed-host",
            "evil.example",
            "--allowed-host",
            "emulator",
        ],
        None,
    );
    for host in ["evil.example:3210", "emulator"] {
        let reply = get(widened.port(), "/version", host);
        assert!(reply.starts_with("HTTP/1.1 200"), "{host}: {reply}");
    }
    assert!(get(widened.port(), "/version", "other.example").starts_with("HTTP/1.1 403"));
}

#[test]
fn cors_preflight_is_answered_as_before_for_allowed_hosts() {
    let emulator = Emulator::start(":memory:", &[], None);
    let reply = raw_exchange(
        emulator.port(),
        b"OPTIONS /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:5173\r\n\
          Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\
          Connection: close\r\n\r\n",
    )
    .to_ascii_lowercase();
    assert!(reply.starts_with("http/1.1 200"), "{reply}");
    assert!(reply.contains("access-control-allow-origin: http://localhost:5173"));
    assert!(reply.contains("access-control-allow-credentials: true"));
    assert!(reply.contains("access-control-allow-headers: content-type"));
}

#[tokio::test]
async fn the_secret_can_come_from_a_file() {
    let dir = TempDir::new("secret-file");
    let file = dir.path("secret");
    std::fs::write(&file, "from-a-file\n").unwrap();
    let mut command = Command::new(BINARY);
    command
        .args(["--port", "0", "--db", ":memory:", "--auth-secret-file"])
        .arg(&file)
        .env_remove("CONVEX_STORAGE_AUTH_SECRET");
    let mut emulator = Emulator::adopt(command);
    let ok = call(
        &emulator.url(),
        "from-a-file",
        "query",
        "getManyById",
        json!({"requests": []}),
    )
    .await;
    assert_eq!(ok["status"], "success", "{ok}");
    let wrong = call(
        &emulator.url(),
        "from-a-file\n",
        "query",
        "getManyById",
        json!({"requests": []}),
    )
    .await;
    assert_eq!(
        wrong["status"], "error",
        "the newline is not part of the secret"
    );
    emulator.signal(libc::SIGTERM);
    assert_eq!(emulator.wait().code(), Some(0));
    assert!(!emulator.stderr().contains("from-a-file"), "never logged");

    let empty = dir.path("empty");
    std::fs::write(&empty, "\n").unwrap();
    let missing = dir.path("missing");
    for path in [&empty, &missing] {
        let output = Command::new(BINARY)
            .args(["--port", "0", "--db", ":memory:", "--auth-secret-file"])
            .arg(path)
            .env_remove("CONVEX_STORAGE_AUTH_SECRET")
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    }

    let both = Command::new(BINARY)
        .args(["--port", "0", "--db", ":memory:", "--auth-secret", "x"])
        .arg("--auth-secret-file")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!both.status.success(), "the two are exclusive");
    assert!(!String::from_utf8_lossy(&both.stderr).contains("from-a-file"));
}
