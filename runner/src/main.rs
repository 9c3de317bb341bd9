//! `livecode-runner`: exec'd once per session into the session's container, as root with only
//! SETUID, SETGID and KILL (and `no-new-privileges`); every run of the session goes through
//! it, framed on its stdin and stdout (see `protocol`).
//!
//! Modes:
//! - `serve` (the default): the runner. It stops any runner left from an earlier connection,
//!   clears what runs may have left, says hello, and then runs requests one at a time until
//!   its stdin ends, when it kills every process of the run's uid and exits.
//! - `keep`: the container's keeper, started by its init: drops to uid 65534 with no
//!   capabilities and becomes `sleep infinity`.

mod cache;
mod daemon;
mod run;
mod streams;
mod sys;
mod worker;

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{exit, Command, ExitStatus};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use livecode_runner::procfs;
use livecode_runner::protocol::{frame_len, Event, Request, PROTOCOL_VERSION};

use cache::Cache;
use daemon::Daemon;
use run::Runner;
use streams::Out;
use worker::Worker;

/// What reaches the main thread.
enum Msg {
    Request(Request),
    /// The server's stream ended or broke.
    Closed(String),
    /// A step's process exited (the token names the step).
    Exited(u64, io::Result<ExitStatus>),
    /// Run `.0` reached its output cap.
    OutputLimit(u64),
}

/// Which build of the runner this is (a hash of its source, set by the image build).
const BUILD: &str = match option_env!("LIVECODE_RUNNER_BUILD") {
    Some(build) => build,
    None => "dev",
};
/// The keeper's uid and gid: `nobody`.
const KEEPER_ID: u32 = 65534;

fn main() {
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve(),
        Some("keep") => keep(),
        Some("version") => println!("livecode-runner {BUILD} (protocol {PROTOCOL_VERSION})"),
        Some(other) => {
            eprintln!("livecode-runner: unknown mode '{other}' (serve, keep, version)");
            exit(2);
        }
    }
}

fn keep() {
    let err = Command::new("sleep")
        .arg("infinity")
        .uid(KEEPER_ID)
        .gid(KEEPER_ID)
        .exec();
    eprintln!("livecode-runner keep: {err}");
    exit(1);
}

fn serve() {
    if sys::euid() != 0 {
        eprintln!("livecode-runner: must be exec'd as root (uid 0) into the container");
        exit(2);
    }
    if let Err(e) = sys::set_not_dumpable() {
        eprintln!("livecode-runner: cannot make itself non-dumpable: {e}");
        exit(2);
    }
    sys::ignore_sigxfsz();
    let worker = match Worker::start() {
        Ok(w) => w,
        Err(e) => {
            eprintln!(
                "livecode-runner: cannot act as the run's uid (needs SETUID and SETGID): {e}"
            );
            exit(2);
        }
    };
    stop_other_runners();
    let clean = worker.clean();
    if let Err(e) = &clean {
        eprintln!("livecode-runner: the sandbox is not clean: {e}");
    }

    let out = Arc::new(Out::new());
    out.send(&Event::Hello {
        protocol: PROTOCOL_VERSION,
        build: BUILD.to_string(),
    });
    let (tx, rx) = mpsc::channel();
    let reader_tx = tx.clone();
    if let Err(e) = thread::Builder::new()
        .name("reader".into())
        .spawn(move || read_requests(&reader_tx))
    {
        eprintln!("livecode-runner: cannot start its reader: {e}");
        exit(2);
    }
    let cache = Cache::start();
    if cache.is_none() {
        eprintln!(
            "livecode-runner: no build cache here ({} is not mounted as its own)",
            cache::CACHE_DIR
        );
    }
    let mut runner = Runner::new(out, worker, cache, rx, tx);
    runner.dirty = clean.is_err();
    // Started now, so that it is warm before the first build.
    runner.daemon = Daemon::from_env();
    if let Some(daemon) = &mut runner.daemon {
        daemon.ensure();
    }
    runner.serve();
    // The server is gone: nothing of a run outlives the connection that started it.
    let _ = runner.worker.clean();
    exit(0);
}

/// Reads request frames until stdin ends or breaks; a malformed frame ends the stream too.
fn read_requests(tx: &mpsc::Sender<Msg>) {
    let mut stdin = io::stdin().lock();
    let closed = loop {
        let mut header = [0u8; 4];
        if let Err(e) = stdin.read_exact(&mut header) {
            break e.to_string();
        }
        let len = match frame_len(header) {
            Ok(len) => len,
            Err(e) => break e.to_string(),
        };
        let mut body = vec![0u8; len];
        if let Err(e) = stdin.read_exact(&mut body) {
            break e.to_string();
        }
        match Request::decode(&body) {
            Ok(req) => {
                if tx.send(Msg::Request(req)).is_err() {
                    return;
                }
            }
            Err(e) => break e.to_string(),
        }
    };
    let _ = tx.send(Msg::Closed(closed));
}

/// A runner left from an earlier connection (the server restarted before it noticed) would
/// kill this one's runs when it ends: it goes first.
fn stop_other_runners() {
    let me = std::process::id();
    let others = || -> Vec<i32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            (pid != me
                && comm.trim_end() == "livecode-runner"
                && procfs::status_uid(&status) == Some(0))
            .then_some(pid as i32)
        })
        .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = others();
        if left.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in left {
            let _ = sys::send_signal(pid, sys::SIGKILL);
        }
        thread::sleep(Duration::from_millis(5));
    }
}
