//! The real nginx ([`Nginx`]) with `deploy/nginx.conf`, in front of upstreams a test names:
//! the config as shipped, with only its `listen` line and the `server` lines of
//! `deploy/nginx-upstreams.conf` replaced. Each instance has a directory of its own (its
//! prefix: pid, temporary files, logs) and a free port on 127.0.0.1; a system nginx is never
//! touched. The binary is `$LIVECODE_NGINX`, else `nginx` on the PATH or `/usr/sbin/nginx`
//! (`scripts/ensure-nginx.sh` installs Debian's and prints its path).

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, repo_path};

/// How long nginx has to listen, or to stop.
const NGINX_WAIT: Duration = Duration::from_secs(10);

/// A running nginx, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Nginx {
    child: Child,
    addr: SocketAddr,
    // Removed after the process is stopped (fields drop after `Drop::drop`).
    dir: tempfile::TempDir,
}

impl Nginx {
    /// nginx with `deploy/nginx.conf` in front of `upstreams`, listening when this returns.
    pub fn start(upstreams: &[SocketAddr]) -> Self {
        assert!(!upstreams.is_empty(), "nginx needs at least one upstream");
        let bin = nginx_binary();
        let dir = tempfile::Builder::new()
            .prefix("livecode-nginx-")
            .tempdir()
            .expect("tempdir");
        // Started as root, nginx runs its workers as `nobody`, and they keep request bodies in
        // the temporary directories nginx makes for them in the prefix: they must be able to
        // reach them. (Not `user root;`: the workers stay as unprivileged as in production.)
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the nginx prefix");
        std::fs::write(
            dir.path().join("nginx-upstreams.conf"),
            with_servers(upstreams),
        )
        .expect("write nginx-upstreams.conf");
        // A free port can be taken between finding it and nginx binding it: try another.
        for _ in 0..5 {
            // Not an upstream's: one not yet started has not bound its own.
            let port = std::iter::repeat_with(free_port)
                .find(|p| upstreams.iter().all(|u| u.port() != *p))
                .expect("free ports never run out");
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, listening_on(addr)).expect("write nginx.conf");
            let log = |name: &str| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.path().join(name))
                    .expect("open an nginx log")
            };
            let prefix = format!("{}/", dir.path().display());
            let mut child = Command::new(&bin)
                .args(["-p", &prefix, "-e", "stderr", "-g", "daemon off;", "-c"])
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(log("access.log"))
                .stderr(log("error.log"))
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
            if wait_listening(&mut child, addr, dir.path()) {
                return Self { child, addr, dir };
            }
            let log = error_log(dir.path());
            assert!(
                log.contains("Address already in use"),
                "nginx did not start:\n{log}"
            );
        }
        panic!("nginx found no free port in five tries");
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What nginx logged (start-up, upstreams refused or failed), for failure messages.
    pub fn error_log(&self) -> String {
        error_log(self.dir.path())
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers before it exits (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + NGINX_WAIT;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True once nginx accepts on `addr`; false if it exited first.
fn wait_listening(child: &mut Child, addr: SocketAddr, dir: &Path) -> bool {
    let deadline = Instant::now() + NGINX_WAIT;
    loop {
        if child.try_wait().expect("poll nginx").is_some() {
            return false;
        }
        if TcpStream::connect(addr).is_ok() {
            return true;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "nginx is not listening on {addr} after {NGINX_WAIT:?}:\n{}",
                error_log(dir)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn error_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
}

/// `$LIVECODE_NGINX`, else nginx on the PATH, else Debian's.
fn nginx_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("LIVECODE_NGINX") {
        return bin.into();
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("nginx"));
    on_path
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("no nginx here: install it (bash scripts/ensure-nginx.sh) or set LIVECODE_NGINX")
        })
}

/// `deploy/nginx.conf`, listening on `addr` instead of its port 8080.
fn listening_on(addr: SocketAddr) -> String {
    let conf = read_deploy("nginx.conf");
    let listen = "    listen 8080;\n";
    assert_eq!(
        conf.matches(listen).count(),
        1,
        "deploy/nginx.conf has one `listen 8080;` line"
    );
    conf.replace(listen, &format!("    listen {addr};\n"))
}

/// What deploy/nginx-upstreams.conf gives each replica, so that the tests' replicas are
/// treated as the compose cluster's are.
const SERVER_PARAMS: &str = "max_fails=1 fail_timeout=2s";

/// `deploy/nginx-upstreams.conf` with `upstreams` between its server markers.
fn with_servers(upstreams: &[SocketAddr]) -> String {
    let conf = read_deploy("nginx-upstreams.conf");
    let (head, rest) = conf
        .split_once("# servers: begin\n")
        .expect("deploy/nginx-upstreams.conf marks its servers' start");
    let (_, tail) = rest
        .split_once("    # servers: end\n")
        .expect("deploy/nginx-upstreams.conf marks its servers' end");
    let servers: String = upstreams
        .iter()
        .map(|a| format!("    server {a} {SERVER_PARAMS};\n"))
        .collect();
    format!("{head}# servers: begin\n{servers}    # servers: end\n{tail}")
}

fn read_deploy(name: &str) -> String {
    let path = repo_path(&Path::new("deploy").join(name).to_string_lossy());
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
