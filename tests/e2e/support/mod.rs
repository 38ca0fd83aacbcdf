//! Test support: the real `routelet` binary, real apps, a real host on loopback.
//!
//! Everything here drives the same binary a user runs; nothing is mocked.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub mod backends;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The Cargo target folder this test run uses.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// A scratch folder, emptied at first use, named after the calling area's module and `name`:
/// areas run side by side in one binary, so the same name in two areas is two folders.
#[track_caller]
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = target_dir()
        .join("e2e")
        .join("scratch")
        .join(caller_area())
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a scratch folder");
    dir
}

/// The test module (`limits`, `deploy`, ...) that called the `#[track_caller]` helper.
#[track_caller]
fn caller_area() -> String {
    let file = Path::new(std::panic::Location::caller().file());
    file.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The `routelet` binary cargo built for this test run.
pub fn routelet() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_routelet"))
}

/// Runs `routelet ARGS` to completion.
pub fn run_routelet(args: &[&str]) -> Output {
    Command::new(routelet())
        .args(args)
        .env("ROUTELET_TARGET_DIR", wasm_target_dir())
        .output()
        .expect("running routelet")
}

/// One Cargo target folder for every app the tests build, so the SDK compiles once.
pub fn wasm_target_dir() -> PathBuf {
    target_dir().join("routelet-wasm")
}

/// Builds `examples/NAME` with `routelet build` (once per run) and returns its dist.
pub fn example_dist(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dist) = built.get(name) {
        return dist.clone();
    }
    let app = repo_root().join("examples").join(name);
    let dist = target_dir().join("e2e").join(format!("{name}-dist"));
    let data = target_dir().join("e2e").join(format!("{name}-build-data"));
    let output = run_routelet(&[
        "build",
        app.to_str().unwrap(),
        "--out",
        dist.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "routelet build examples/{name} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    built.insert(name.to_owned(), dist.clone());
    dist
}

/// A data directory no other host has used: each test starts from empty stores.
pub fn fresh_data_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static EMPTIED: std::sync::Once = std::sync::Once::new();
    let all = target_dir().join("e2e").join("data-dirs");
    // The previous run's folders go at first use, so they do not pile up.
    EMPTIED.call_once(|| {
        let _ = std::fs::remove_dir_all(&all);
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    all.join(format!("{}-{n}", std::process::id()))
}

/// A running `routelet serve` (or `dev`), stopped (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Everything it logged so far.
    log: Arc<Mutex<String>>,
    /// Everything it printed on stdout so far.
    stdout: Arc<Mutex<String>>,
}

/// How a test host is started: `Server::builder()`, then what differs from the defaults
/// (`routelet serve --listen 127.0.0.1:0` on a fresh data directory, no dist, no admin API).
#[must_use]
pub struct ServerBuilder {
    command: Option<Vec<String>>,
    dist: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl ServerBuilder {
    /// Serves this dist.
    pub fn dist(mut self, dist: &Path) -> Self {
        self.dist = Some(dist.to_owned());
        self
    }

    /// Keeps embedded stores, deployments and the admin token in `dir`, e.g. to restart on the
    /// same data or to read the token.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_owned());
        self
    }

    /// Turns the admin API on, on a free loopback port (see [`Server::admin_url`]).
    pub fn admin(self) -> Self {
        self.args(&["--admin", "127.0.0.1:0"])
    }

    /// Adds more `routelet serve` arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|arg| arg.to_string()));
        self
    }

    /// Sizes the instance pool: its total, and the shares one connection and one client may
    /// hold (`--max-instances`, `--instances-per-connection`, `--instances-per-client`).
    pub fn pool(self, max: usize, per_connection: usize, per_client: usize) -> Self {
        let [max, per_connection, per_client] =
            [max, per_connection, per_client].map(|n| n.to_string());
        self.args(&[
            "--max-instances",
            &max,
            "--instances-per-connection",
            &per_connection,
            "--instances-per-client",
            &per_client,
        ])
    }

    /// Sets an environment variable for the host process.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs `routelet ARGS` instead of `serve` (a command that serves, such as `dev`); the
    /// other settings are then ignored.
    pub fn command(mut self, args: &[&str]) -> Self {
        self.command = Some(args.iter().map(|arg| arg.to_string()).collect());
        self
    }

    /// Starts the host and waits for its URL; panics with its output if it does not come up.
    #[track_caller]
    pub fn start(self) -> Server {
        self.try_start()
            .unwrap_or_else(|message| panic!("{message}"))
    }

    /// Starts the host and waits for its URL, or returns its output if it does not come up.
    pub fn try_start(self) -> Result<Server, String> {
        let args = match self.command {
            Some(command) => command,
            None => {
                let mut args: Vec<String> = ["serve", "--listen", "127.0.0.1:0"]
                    .map(String::from)
                    .into();
                if let Some(dist) = &self.dist {
                    args.push(dist.to_str().unwrap().to_owned());
                }
                let data = self.data_dir.unwrap_or_else(fresh_data_dir);
                args.extend(["--data-dir".to_owned(), data.to_str().unwrap().to_owned()]);
                args.extend(self.args);
                args
            }
        };
        Server::launch(&args, &self.env)
    }
}

impl Server {
    /// A host to configure, then start.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            command: None,
            dist: None,
            data_dir: None,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// The common case: `routelet serve DIST` on a fresh data directory.
    #[track_caller]
    pub fn start(dist: &Path) -> Server {
        Self::builder().dist(dist).start()
    }

    /// Runs `routelet ARGS` and waits for the URL it prints.
    fn launch(args: &[String], env: &[(String, String)]) -> Result<Server, String> {
        let mut child = Command::new(routelet())
            .args(args)
            .envs(env.iter().map(|(name, value)| (name, value)))
            .env("ROUTELET_TARGET_DIR", wasm_target_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting routelet");
        let pid = child.id();
        reap_at_exit(pid);
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let stdout = child.stdout.take().unwrap();
        let printed = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = printed.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut printed = sink.lock().unwrap();
                printed.push_str(&line);
                printed.push('\n');
                drop(printed);
                let _ = tx.send(line);
            }
        });
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            stdout: printed,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(url) = line.split("http://").nth(1) {
                        server.addr = url.split_whitespace().next().unwrap().parse().unwrap();
                        return Ok(server);
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = server.exited() {
                        return Err(server.exited_with(status));
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.wait();
                    return Err(server.exited_with(status));
                }
            }
        }
        server.kill();
        Err(format!(
            "routelet did not print its URL in time:\n{}",
            server.log()
        ))
    }

    /// The message for a host that stopped before it printed its URL.
    fn exited_with(&self, status: std::process::ExitStatus) -> String {
        // The stderr reader may still be copying the last lines.
        std::thread::sleep(Duration::from_millis(200));
        format!("routelet exited with {status}:\n{}", self.log())
    }

    /// The exit status if the host has stopped; reaping it also drops it from the exit list.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let pid = self.child.id();
        reaping(pid, || self.child.try_wait().ok().flatten())
    }

    /// Waits for the host to stop, and drops it from the exit list as it is reaped.
    fn wait(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id();
        reaping(pid, || {
            Some(self.child.wait().expect("waiting for routelet"))
        })
        .expect("wait returns a status")
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The admin API's URL, from the line `routelet serve --admin` prints after the public one.
    pub fn admin_url(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let printed = self.stdout.lock().unwrap().clone();
            if let Some(rest) = printed.split("admin API at http://").nth(1) {
                return format!("http://{}", rest.split_whitespace().next().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the host printed no admin URL:\n{}",
            self.stdout.lock().unwrap()
        );
    }

    /// The admin API's `/metrics`, with the token the host wrote into `data`.
    pub async fn metrics(&self, data: &Path) -> String {
        let (status, text) = self.admin_get(data, "/metrics").await;
        assert_eq!(status, 200, "{text}");
        text
    }

    /// A GET of the admin API's `path` with the token the host wrote into `data`.
    pub async fn admin_get(&self, data: &Path, path: &str) -> (reqwest::StatusCode, String) {
        let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
        let response = client()
            .get(format!("{}{path}", self.admin_url()))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Everything the host printed on stdout so far.
    pub fn printed(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// What the host has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The host's process id, to read its memory and open files from /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the host with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            self.wait();
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("routelet serve did not stop within 30 s of SIGTERM");
    }
}

/// The hosts not yet reaped, killed when the test binary exits: shared servers live in
/// statics, which are never dropped.
static UNREAPED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Puts a host on the exit list.
fn reap_at_exit(pid: u32) {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    extern "C" fn kill_all() {
        if let Ok(pids) = UNREAPED.lock() {
            for pid in pids.iter() {
                // SAFETY: kill(2) on a child of ours that has not been reaped, so its pid cannot
                // have been given to another process.
                unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
            }
        }
    }
    UNREAPED.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    // SAFETY: registers a plain extern "C" function with no captured state.
    REGISTER.call_once(|| unsafe {
        libc::atexit(kill_all);
    });
}

/// Runs `wait`, which may reap child `pid`, holding the exit list's lock, and takes the pid off
/// the list if it was reaped: the exit handler never sees a pid that could have been recycled.
fn reaping<T>(pid: u32, wait: impl FnOnce() -> Option<T>) -> Option<T> {
    let mut pids = UNREAPED.lock().unwrap_or_else(|e| e.into_inner());
    let reaped = wait();
    if reaped.is_some() {
        pids.retain(|&p| p != pid);
    }
    reaped
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP/1.1 client that does not follow redirects, so tests see the 308s.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A response header as text, empty when absent.
pub fn header_text(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Sends `request` and reads its body as JSON, so a test reads the value and not the plumbing;
/// a body that is not JSON fails the test with the body in the message.
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    let response = request.send().await.unwrap();
    let url = response.url().clone();
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{url}: not JSON ({error}): {text}"))
}

/// Builds a standalone crate for wasm32-wasip2 with plain cargo and returns its component.
pub fn build_plain_component(crate_dir: &Path, lib_name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = wasm_target_dir();
    let output = Command::new(cargo)
        .current_dir(crate_dir)
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("running cargo");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target
        .join("wasm32-wasip2/release")
        .join(format!("{lib_name}.wasm"))
}

/// Sends raw bytes over HTTP/1.1 and returns the whole answer, for requests a client library
/// would tidy up first (backslashes, bad framing).
pub fn raw_request(addr: SocketAddr, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).expect("sending");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Copies a folder and everything below it.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// An app in a scratch folder with the given files (`pages/api/x.rs`, `Cargo.toml`, ...).
#[track_caller]
pub fn app_with(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let app = scratch_dir(name);
    for (file, text) in files {
        let path = app.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    app
}

/// Builds an app made of `files` (see [`app_with`]) once per run, and returns its dist.
#[track_caller]
pub fn built_app(name: &str, files: &[(&str, &str)]) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let key = format!("{}/{name}", caller_area());
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dist) = built.get(&key) {
        return dist.clone();
    }
    let app = app_with(name, files);
    let dist = app.join("dist");
    let (ok, stdout, stderr) = build_app(&app, &dist);
    assert!(ok, "routelet build {name} failed:\n{stdout}\n{stderr}");
    built.insert(key, dist.clone());
    dist
}

/// A private copy of `dist`, in a scratch folder called `name`, whose `routelet.toml` is `config`.
#[track_caller]
pub fn dist_with_config(dist: &Path, name: &str, config: &str) -> PathBuf {
    let copy = scratch_dir(name).join("dist");
    copy_dir(dist, &copy);
    std::fs::write(copy.join("routelet.toml"), config).unwrap();
    copy
}

/// Runs `routelet build APP --out OUT`: whether it succeeded, its stdout and its stderr.
pub fn build_app(app: &Path, out: &Path) -> (bool, String, String) {
    build_app_with_data(app, out, &app.join(".routelet").join("build-data"))
}

/// Like [`build_app`], with the data directory the build host's pages read.
pub fn build_app_with_data(app: &Path, out: &Path, data: &Path) -> (bool, String, String) {
    let output = run_routelet(&[
        "build",
        app.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// An h2c connection from `local` (any 127.0.0.0/8 address works on loopback), and a second
/// handle on its socket to cut it off with (`shutdown`), as a client that vanishes would.
pub async fn h2c_from<B>(
    server: std::net::SocketAddr,
    local: &str,
) -> (
    hyper::client::conn::http2::SendRequest<B>,
    std::net::TcpStream,
)
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(server).await.unwrap();
    let stream = stream.into_std().unwrap();
    let handle = stream.try_clone().unwrap();
    let stream = tokio::net::TcpStream::from_std(stream).unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    (sender, handle)
}

/// Open file descriptors of a process.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}
