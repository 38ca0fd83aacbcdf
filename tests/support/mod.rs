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

/// A scratch folder for this test binary, emptied at first use.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = target_dir().join("e2e").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a scratch folder");
    dir
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

/// Builds `examples/NAME` with `routelet build` (once per test binary) and returns its dist.
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
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_stem().unwrap().to_string_lossy().into_owned();
    let dir = target_dir()
        .join("e2e")
        .join("data")
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A running `routelet serve`, stopped (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Everything it logged so far.
    log: Arc<Mutex<String>>,
    /// Everything it printed on stdout so far.
    stdout: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `routelet serve DIST --listen 127.0.0.1:0` and waits for its URL.
    pub fn start(dist: &Path) -> Server {
        Self::try_start(dist).unwrap_or_else(|message| panic!("{message}"))
    }

    /// Like [`Server::start`], but returns the host's output when it does not come up.
    pub fn try_start(dist: &Path) -> Result<Server, String> {
        Self::try_start_with_data(dist, &fresh_data_dir())
    }

    /// Starts a host whose embedded stores live in `data_dir`, e.g. to restart on the same data.
    pub fn start_with_data(dist: &Path, data_dir: &Path) -> Server {
        Self::try_start_with_data(dist, data_dir).unwrap_or_else(|message| panic!("{message}"))
    }

    /// Like [`Server::start_with_data`], but returns the host's output when it does not come up.
    pub fn try_start_with_data(dist: &Path, data_dir: &Path) -> Result<Server, String> {
        Self::try_start_with(dist, &["--data-dir", data_dir.to_str().unwrap()])
    }

    /// Starts `routelet serve DIST --listen 127.0.0.1:0 ARGS` and waits for its URL.
    pub fn try_start_with(dist: &Path, args: &[&str]) -> Result<Server, String> {
        let mut all = vec![dist.to_str().unwrap()];
        all.extend_from_slice(args);
        Self::try_start_args(&all)
    }

    /// Starts `routelet serve --listen 127.0.0.1:0 ARGS` and waits for its URL.
    pub fn try_start_args(args: &[&str]) -> Result<Server, String> {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Self::try_start_command(&all)
    }

    /// Runs `routelet ARGS` (a command that serves, such as `serve` or `dev`) and waits for the
    /// URL it prints.
    #[expect(
        clippy::zombie_processes,
        reason = "every path reaps the child (try_wait, wait) or hands it to Server, whose Drop waits"
    )]
    pub fn try_start_command(args: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(routelet())
            .args(args)
            .env("ROUTELET_TARGET_DIR", wasm_target_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting routelet serve");
        reap_at_exit(child.id());
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
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(url) = line.split("http://").nth(1) {
                        let addr = url.split_whitespace().next().unwrap().parse().unwrap();
                        return Ok(Server {
                            child,
                            addr,
                            log,
                            stdout: printed,
                        });
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        std::thread::sleep(Duration::from_millis(200));
                        return Err(format!(
                            "routelet serve exited with {status}:\n{}",
                            log.lock().unwrap()
                        ));
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().expect("waiting for routelet");
                    std::thread::sleep(Duration::from_millis(200));
                    return Err(format!(
                        "routelet serve exited with {status}:\n{}",
                        log.lock().unwrap()
                    ));
                }
            }
        }
        let _ = child.kill();
        Err(format!(
            "routelet serve did not print its URL in time:\n{}",
            log.lock().unwrap()
        ))
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
        let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
        let response = client()
            .get(format!("{}/metrics", self.admin_url()))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("routelet serve did not stop within 30 s of SIGTERM");
    }
}

/// Kills servers still running when the test binary exits: shared servers live in statics,
/// which are never dropped.
fn reap_at_exit(pid: u32) {
    static PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    static REGISTER: std::sync::Once = std::sync::Once::new();
    extern "C" fn kill_all() {
        if let Ok(pids) = PIDS.lock() {
            for pid in pids.iter() {
                // SAFETY: kill(2) with a pid we spawned; a pid already reaped is harmless here.
                unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
            }
        }
    }
    PIDS.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    // SAFETY: registers a plain extern "C" function with no captured state.
    REGISTER.call_once(|| unsafe {
        libc::atexit(kill_all);
    });
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
pub fn app_with(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let app = scratch_dir(name);
    for (file, text) in files {
        let path = app.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    app
}

/// Builds an app made of `files` (see [`app_with`]) once per test binary, and returns its dist.
pub fn built_app(name: &str, files: &[(&str, &str)]) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dist) = built.get(name) {
        return dist.clone();
    }
    let app = app_with(name, files);
    let dist = app.join("dist");
    let (ok, stdout, stderr) = build_app(&app, &dist);
    assert!(ok, "routelet build {name} failed:\n{stdout}\n{stderr}");
    built.insert(name.to_owned(), dist.clone());
    dist
}

/// A private copy of `dist`, in a scratch folder called `name`, whose `routelet.toml` is `config`.
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
