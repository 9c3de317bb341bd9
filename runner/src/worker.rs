//! The worker thread: the only thread of the runner that acts as the run's uid. It kills every
//! process of that uid, proves none is left, empties what runs may write, and writes the next
//! run's files.
//!
//! Its credentials are real and saved uid [`WORKER_UID`], effective uid [`RUN_UID`]: the
//! effective uid lets it signal and own what runs own, and the other two, which no run has,
//! keep runs from signalling it (the kernel checks the target's real and saved uid). With
//! all three uids non-zero it has no capabilities at all. `kill(-1)` from it reaches exactly
//! the run's uid (never the runner, the keeper or init) and needs no new process, so it
//! works when a fork bomb holds every pid; the kernel makes it atomic against `fork`.

use std::fs;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use livecode_runner::procfs;
use livecode_runner::protocol::File;

use crate::sys;

/// The uid runs execute as.
pub const RUN_UID: u32 = 1000;
/// The worker's real and saved uid: one no process in the container has.
const WORKER_UID: u32 = 1001;
/// Where runs may write; emptied after every run.
const SCRATCH: [&str; 4] = ["/workspace", "/tmp", "/dev/shm", "/dev/mqueue"];
/// How long killed processes may take to be gone.
const KILL_WAIT: Duration = Duration::from_secs(3);

enum Job {
    KillAll,
    Clean,
    Write(Vec<File>),
    Restore(PathBuf),
    Pipes(usize),
}

enum Reply {
    Done(Result<(), String>),
    Pipes(io::Result<Vec<(OwnedFd, OwnedFd)>>),
}

/// A handle on the worker thread; each call waits for its answer.
pub struct Worker {
    jobs: mpsc::Sender<(Job, mpsc::Sender<Reply>)>,
}

impl Worker {
    /// Starts the thread and switches its credentials; fails if it cannot.
    pub fn start() -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<(Job, mpsc::Sender<Reply>)>();
        let (ready_tx, ready_rx) = mpsc::channel();
        thread::Builder::new()
            .name("worker".into())
            .spawn(move || {
                let creds = sys::set_thread_credentials(
                    [WORKER_UID, RUN_UID, WORKER_UID],
                    [WORKER_UID, RUN_UID, WORKER_UID],
                );
                let ok = creds.is_ok();
                let _ = ready_tx.send(creds);
                if !ok {
                    return;
                }
                for (job, reply) in rx {
                    let result = match job {
                        Job::KillAll => Reply::Done(kill_all()),
                        Job::Clean => Reply::Done(kill_all().and_then(|()| clean())),
                        Job::Write(files) => Reply::Done(write_files(&files)),
                        Job::Restore(from) => Reply::Done(
                            copy_tree(&from, Path::new("/workspace"))
                                .map_err(|e| format!("copying a cached build: {e}")),
                        ),
                        Job::Pipes(n) => Reply::Pipes((0..n).map(|_| sys::pipe()).collect()),
                    };
                    let _ = reply.send(result);
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("the worker thread died"))??;
        Ok(Self { jobs: tx })
    }

    fn ask(&self, job: Job) -> Option<Reply> {
        let (tx, rx) = mpsc::channel();
        self.jobs.send((job, tx)).ok()?;
        rx.recv().ok()
    }

    fn call(&self, job: Job) -> Result<(), String> {
        match self.ask(job) {
            Some(Reply::Done(result)) => result,
            _ => Err("the worker thread is gone".into()),
        }
    }

    /// Pipes owned by the run's uid, so that a program may reopen its own stdin, stdout or
    /// stderr (`/dev/stdin`, `> /dev/stderr`): a pipe made by root is root's alone.
    pub fn pipes(&self, n: usize) -> io::Result<Vec<(OwnedFd, OwnedFd)>> {
        match self.ask(Job::Pipes(n)) {
            Some(Reply::Pipes(result)) => result,
            _ => Err(io::Error::other("the worker thread is gone")),
        }
    }

    /// Kills every process of the run's uid and waits until none is left.
    pub fn kill_all(&self) -> Result<(), String> {
        self.call(Job::KillAll)
    }

    /// [`Self::kill_all`], then empties every place a run may write.
    pub fn clean(&self) -> Result<(), String> {
        self.call(Job::Clean)
    }

    /// Writes files into the (empty) workspace, never following a symlink.
    pub fn write(&self, files: Vec<File>) -> Result<(), String> {
        self.call(Job::Write(files))
    }

    /// Copies a cached build's files (see `cache.rs`) into the workspace, as the run's own.
    pub fn restore(&self, from: PathBuf) -> Result<(), String> {
        self.call(Job::Restore(from))
    }
}

/// Pids of the run's uid that still exist (zombies included: they hold a pid).
fn run_pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let name = e.ok()?.file_name();
        let pid: i32 = name.to_str()?.parse().ok()?;
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        (procfs::status_uid(&status) == Some(RUN_UID)).then_some(pid)
    })
    .collect()
}

fn kill_all() -> Result<(), String> {
    let deadline = Instant::now() + KILL_WAIT;
    loop {
        // ESRCH (nothing to signal) is the common answer.
        let _ = sys::send_signal(-1, sys::SIGKILL);
        let left = run_pids();
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{} process(es) of the run could not be stopped: {left:?}",
                left.len()
            ));
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// Empties every scratch place, then removes the run uid's SysV IPC objects. Safe without
/// `openat`: no process of the run's uid exists while it works, so nothing can swap a
/// directory for a symlink under it.
fn clean() -> Result<(), String> {
    // A run owns /workspace and may have locked it; the next one finds it as it was made.
    let _ = fs::set_permissions("/workspace", fs::Permissions::from_mode(0o755));
    for dir in SCRATCH {
        let Ok(entries) = fs::read_dir(dir) else {
            continue; // absent (no /dev/mqueue) or not ours to read
        };
        for entry in entries.flatten() {
            remove(&entry.path()).map_err(|e| format!("emptying {dir}: {e}"))?;
        }
    }
    for (kind, owners) in [("shm", [7, 9]), ("msg", [7, 9]), ("sem", [4, 6])] {
        let Ok(table) = fs::read_to_string(format!("/proc/sysvipc/{kind}")) else {
            continue;
        };
        for (id, uids) in procfs::ipc_objects(&table, owners) {
            if uids.contains(&RUN_UID) {
                let _ = sys::remove_ipc(kind, id);
            }
        }
    }
    Ok(())
}

/// Removes a file, a symlink (not what it points to) or a directory tree. A directory a run
/// made unreadable is made readable first: it is ours.
fn remove(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    if meta.permissions().mode() & 0o700 != 0o700 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    }
    for entry in fs::read_dir(path)? {
        remove(&entry?.path())?;
    }
    fs::remove_dir(path)
}

fn write_files(files: &[File]) -> Result<(), String> {
    let root = Path::new("/workspace");
    for file in files {
        let parts = procfs::check_path(&file.path).map_err(|e| format!("{}: {e}", file.path))?;
        let mut dir = root.to_path_buf();
        for part in &parts[..parts.len() - 1] {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(format!("{}: {} is not a directory", file.path, part)),
                Err(_) => fs::DirBuilder::new()
                    .mode(0o755)
                    .create(&dir)
                    .map_err(|e| format!("{}: {e}", file.path))?,
            }
        }
        // create_new is O_CREAT|O_EXCL: it fails on anything already there, a symlink
        // included, instead of following it.
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(dir.join(parts[parts.len() - 1]))
            .map_err(|e| format!("{}: {e}", file.path))?;
        out.write_all(&file.content)
            .map_err(|e| format!("{}: {}", file.path, write_error(&e)))?;
    }
    Ok(())
}

/// Copies the tree `from` into `to`, modes kept; never follows a symlink in `to` (new files
/// are O_EXCL, directories must be directories).
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let target = to.join(entry.file_name());
        if meta.is_dir() {
            match fs::symlink_metadata(&target) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(io::Error::other("a file is in the way of a directory")),
                Err(_) => fs::DirBuilder::new().mode(0o755).create(&target)?,
            }
            copy_tree(&entry.path(), &target)?;
        } else {
            let mode = meta.permissions().mode() & 0o777;
            let mut dst = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&target)?;
            io::copy(&mut fs::File::open(entry.path())?, &mut dst)?;
        }
    }
    Ok(())
}

/// The reasons a candidate can act on, in words; the rest as the system says them.
fn write_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::StorageFull => "no space left in the workspace".into(),
        io::ErrorKind::FileTooLarge => "file too large for the workspace".into(),
        _ => e.to_string(),
    }
}
