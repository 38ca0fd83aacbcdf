//! Real Redis and PostgreSQL servers on loopback, in temporary folders, stopped when dropped.
//!
//! `scripts/test-services` installs them (`apt-get install -y redis-server postgresql`); a missing
//! server fails the test with that advice rather than skipping it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (released at once; the server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited with {status} before listening on {port}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on {port} within 30 s");
}

fn stop(child: &mut Child, signal: libc::c_int) {
    // SAFETY: kill(2) on a child we spawned and have not reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn find_binary(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// A `redis-server` with no persistence on a free loopback port.
pub struct Redis {
    child: Child,
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
    _dir: PathBuf,
}

impl Redis {
    /// Starts one and waits (bounded) until it listens.
    pub fn start(dir: &Path) -> Redis {
        let binary = find_binary(&["/usr/bin/redis-server", "/usr/local/bin/redis-server"]).expect(
            "redis-server is not installed: run scripts/test-services (apt-get install -y redis-server)",
        );
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let mut child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        wait_for_port(port, &mut child, "redis-server");
        Redis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
            _dir: dir.to_path_buf(),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        stop(&mut self.child, libc::SIGTERM);
    }
}

/// A PostgreSQL cluster made with `initdb` in a temporary folder, run as the `postgres` user.
pub struct Postgres {
    child: Child,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
    dir: PathBuf,
    port: u16,
    user: Option<(u32, u32)>,
}

fn postgres_bin(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL's {name} is not installed: run scripts/test-services (apt-get install -y postgresql)")
    })
}

/// The uid and gid to run PostgreSQL as: `postgres` when we are root (it refuses root).
fn postgres_user() -> Option<(u32, u32)> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "no postgres user: run scripts/test-services"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    Some((id("-u"), id("-g")))
}

impl Postgres {
    /// Initialises a cluster in `dir` and starts it, waiting (bounded) until it listens.
    pub fn start(dir: &Path) -> Postgres {
        let user = postgres_user();
        // As root, the server runs as `postgres`, which cannot enter folders under a private
        // home (CI keeps its target folder in /root/.cache): use a folder of its own in /tmp.
        let private;
        let dir = if user.is_some() {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            private = std::env::temp_dir()
                .join(format!("routelet-test-postgres-{}-{n}", std::process::id()));
            private.as_path()
        } else {
            dir
        };
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        if let Some((uid, gid)) = user {
            // SAFETY: chown(2) on a path we just created.
            let path = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
            assert_eq!(unsafe { libc::chown(path.as_ptr(), uid, gid) }, 0);
        }
        let as_user = |command: &mut Command| {
            if let Some((uid, gid)) = user {
                command.uid(uid).gid(gid);
            }
        };
        let data = dir.join("cluster");
        let mut initdb = Command::new(postgres_bin("initdb"));
        initdb
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_user(&mut initdb);
        let out = initdb.output().expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let child = spawn_postgres(dir, port, user);
        Postgres {
            child,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir: dir.to_path_buf(),
            port,
            user,
        }
    }

    /// Stops the server as a crash would, with `pg_ctl stop -m immediate`: no checkpoint, every
    /// connection cut.
    pub fn stop_immediately(&mut self) {
        let mut pg_ctl = Command::new(postgres_bin("pg_ctl"));
        pg_ctl
            .args(["stop", "-m", "immediate", "-w", "-D"])
            .arg(self.dir.join("cluster"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = self.user {
            pg_ctl.uid(uid).gid(gid);
        }
        let out = pg_ctl.output().expect("running pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = self.child.wait();
    }

    /// Starts the server again on its data and port after [`Self::stop_immediately`].
    pub fn restart(&mut self) {
        self.child = spawn_postgres(&self.dir, self.port, self.user);
    }
}

/// Starts `postgres` on the cluster in `dir/cluster` and waits (bounded) until it listens.
fn spawn_postgres(dir: &Path, port: u16, user: Option<(u32, u32)>) -> Child {
    let mut server = Command::new(postgres_bin("postgres"));
    server
        .arg("-D")
        .arg(dir.join("cluster"))
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "fsync=off", "-c", "max_connections=100"])
        .arg("-k")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some((uid, gid)) = user {
        server.uid(uid).gid(gid);
    }
    let mut child = server.spawn().expect("starting postgres");
    wait_for_port(port, &mut child, "postgres");
    child
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown.
        stop(&mut self.child, libc::SIGINT);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
