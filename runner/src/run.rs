//! One run: its files written into an empty workspace, the build step (if any), the run step
//! with stdin, output streamed as it is read, the timeout, the output cap and kills enforced,
//! and afterwards every process of the run's uid gone and every scratch place empty again.
//!
//! The main thread drives a run and is the only one that reads [`Msg`]s; each step has a
//! waiter, two output pumps and (the run step) a stdin writer, all started before the step's
//! process, so nothing here needs a new pid once the program runs.

use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use livecode_runner::protocol::{
    End, Event, File, Finished, Phase, Request, RunRequest, Step, Stream,
};
use livecode_runner::shell;
use livecode_runner::RUN_NPROC_ENV;

use crate::cache::{self, Cache, Output};
use crate::daemon::Daemon;
use crate::streams::{
    executable, oom_kills, pump, run_env, write_stdin, Budget, Helpers, Out, StdinCmd,
};
use crate::sys;
use crate::worker::{Worker, RUN_UID};
use crate::Msg;

/// The run in progress, as the main thread sees it.
struct RunState {
    id: u64,
    end: Option<End>,
    /// The server's stream ended during the run: the runner stops after it.
    closed: bool,
    /// Stdin that arrived before the run step started.
    queued: VecDeque<StdinCmd>,
    stdin: Option<Sender<StdinCmd>>,
    /// Why a kill did not clear everything, for the run's message.
    problem: Option<String>,
}

/// How one step went.
struct StepEnd {
    status: Option<ExitStatus>,
    ms: u64,
}

pub struct Runner {
    pub out: Arc<Out>,
    pub worker: Worker,
    /// Outputs of earlier builds (none without the cache's mount).
    pub cache: Option<Cache>,
    pub rx: Receiver<Msg>,
    pub tx: Sender<Msg>,
    /// Scratch places may hold what a run wrote.
    pub dirty: bool,
    /// The toolchain's resident compiler, if the environment has one.
    pub daemon: Option<Daemon>,
    /// How many processes a run may have, when the server asks the runner to count them
    /// (set for gVisor only; see [`RUN_NPROC_ENV`]).
    nproc: Option<u64>,
    /// Why the sandbox could not be cleared, to tell with the run's end: the server
    /// replaces a broken sandbox.
    broken: Option<String>,
    next_step: u64,
}

impl Runner {
    pub fn new(
        out: Arc<Out>,
        worker: Worker,
        cache: Option<Cache>,
        rx: Receiver<Msg>,
        tx: Sender<Msg>,
    ) -> Self {
        Self {
            out,
            worker,
            cache,
            rx,
            tx,
            dirty: false,
            daemon: None,
            nproc: std::env::var(RUN_NPROC_ENV)
                .ok()
                .and_then(|n| n.parse().ok()),
            broken: None,
            next_step: 0,
        }
    }

    /// Serves requests until the server's stream ends.
    pub fn serve(&mut self) {
        loop {
            match self.rx.recv() {
                Ok(Msg::Request(Request::Run(req))) => {
                    if self.run(req) {
                        return;
                    }
                }
                // Stdin, EOF or a kill for a run that already ended: nothing to do.
                Ok(Msg::Request(_) | Msg::Exited(..) | Msg::OutputLimit(_)) => {}
                Ok(Msg::Closed(why)) => {
                    eprintln!("livecode-runner: the server's stream ended: {why}");
                    return;
                }
                Err(_) => return,
            }
        }
    }

    /// Runs one request to its end; true when the server's stream closed meanwhile.
    fn run(&mut self, req: RunRequest) -> bool {
        if let Some(daemon) = &mut self.daemon {
            daemon.ensure();
        }
        self.out.reset();
        let mut st = RunState {
            id: req.run,
            end: None,
            closed: false,
            queued: VecDeque::new(),
            stdin: None,
            problem: None,
        };
        let mut done = Finished {
            run: req.run,
            end: End::Exited,
            phase: if req.build.is_some() {
                Phase::Build
            } else {
                Phase::Run
            },
            exit_code: None,
            signal: None,
            oom: false,
            build_ms: None,
            run_ms: None,
            truncated: false,
            message: String::new(),
            build_cached: false,
            broken: None,
        };
        let key = req
            .build
            .as_ref()
            .and(req.build_key.clone())
            .filter(|k| self.cache.is_some() && cache::valid_key(k));
        let inputs: Vec<String> = req.files.iter().map(|f| f.path.to_string()).collect();
        let files = key.as_ref().map(|_| req.files.clone());
        let prepared = if self.dirty { self.clean() } else { Ok(()) }
            .map_err(|e| format!("the sandbox could not be cleared: {e}"))
            .and_then(|()| {
                self.dirty = true;
                self.worker
                    .write(req.files)
                    .map_err(|e| format!("the files could not be written to the workspace: {e}"))
            });
        let prepared = prepared.and_then(|()| match (&key, files) {
            (Some(key), Some(files)) => self.restore(key, files).map(|cached| (Some(key), cached)),
            _ => Ok((None, None)),
        });
        let (key, mut cached) = match prepared {
            Ok(found) => found,
            Err(message) => {
                done.end = End::Failed;
                done.message = message;
                return self.finish(done, &st);
            }
        };

        let oom_before = oom_kills();
        let budget = Arc::new(Budget {
            used: AtomicU64::new(0),
            limit: req.output_limit,
            hit: AtomicBool::new(false),
        });
        let env = run_env(&req.env);
        let mut steps: Vec<(Phase, &Step)> = Vec::new();
        if let Some(build) = &req.build {
            steps.push((Phase::Build, build));
        }
        steps.push((Phase::Run, &req.step));
        for (phase, step) in steps {
            done.phase = phase;
            if phase == Phase::Build {
                if let Some(output) = cached.take() {
                    self.replay(&st, output, &budget);
                    done.build_ms = Some(0);
                    done.build_cached = true;
                    continue;
                }
                if key.is_some() {
                    self.out.record();
                }
            }
            let result = self.step(&mut st, phase, step, &env, &budget);
            let recorded = match phase {
                Phase::Build => self.out.take_recorded(),
                Phase::Run => None,
            };
            let end = match result {
                Ok(end) => end,
                Err(message) => {
                    done.end = End::Failed;
                    done.message = message;
                    break;
                }
            };
            match phase {
                Phase::Build => done.build_ms = Some(end.ms),
                Phase::Run => done.run_ms = Some(end.ms),
            }
            if let Some(status) = end.status {
                done.exit_code = status.code();
                done.signal = status.signal();
            }
            if budget.hit.load(Ordering::Acquire) && st.end.is_none() {
                st.end = Some(End::OutputLimit);
            }
            if let Some(stopped) = st.end {
                done.end = stopped;
                break;
            }
            if phase == Phase::Build && done.exit_code != Some(0) {
                break; // a compile error: nothing to run
            }
            if let (Phase::Build, Some(key), Some(output)) = (phase, key, recorded) {
                self.keep_build(key, &inputs, output);
            }
        }
        done.truncated = budget.hit.load(Ordering::Acquire);
        if let (Some(before), Some(after)) = (oom_before, oom_kills()) {
            done.oom = after > before;
        }
        self.finish(done, &st)
    }

    /// On a cache hit, the cached build's files join the request's in the workspace and its
    /// output is returned for replay. When the copy fails the workspace is made again and the
    /// build runs.
    fn restore(&mut self, key: &str, files: Vec<File>) -> Result<Option<Output>, String> {
        let Some(cache) = &self.cache else {
            return Ok(None);
        };
        let Some(output) = cache.lookup(key) else {
            return Ok(None);
        };
        match self.worker.restore(cache.open(key)) {
            Ok(()) => Ok(Some(output)),
            Err(e) => {
                eprintln!("livecode-runner: {e}; building instead");
                self.clean()
                    .and_then(|()| self.worker.write(files))
                    .map_err(|e| format!("the files could not be written to the workspace: {e}"))?;
                Ok(None)
            }
        }
    }

    /// The build step of a cache hit, as the server would have seen it: started, then what
    /// it printed (within the run's output budget).
    fn replay(&self, st: &RunState, output: Output, budget: &Budget) {
        self.out.send(&Event::Started {
            run: st.id,
            phase: Phase::Build,
        });
        for (stream, data) in output {
            let room = budget.take(data.len());
            if room > 0 {
                self.out.output(st.id, stream, &data[..room]);
            }
        }
    }

    /// Caches a successful build. Whatever the build started is stopped first, so nothing
    /// changes the workspace while it is copied.
    fn keep_build(&self, key: &str, inputs: &[String], output: Output) {
        let Some(cache) = &self.cache else { return };
        if self.worker.kill_all().is_ok() {
            cache.store(key, inputs.to_vec(), output);
        }
    }

    fn finish(&mut self, mut done: Finished, st: &RunState) -> bool {
        if let Some(problem) = &st.problem {
            if !done.message.is_empty() {
                done.message.push_str("; ");
            }
            done.message.push_str(problem);
        }
        // Nothing a run wrote outlives it (and tmpfs memory is given back at once). Cleared
        // before the end is told, so that a sandbox that cannot be cleared is reported with
        // it; the next run would have waited for this anyway.
        if self.broken.is_none() && self.clean().is_ok() {
            self.dirty = false;
        }
        done.broken = self.broken.take();
        self.out.send(&Event::Finished(done));
        st.closed
    }

    /// Empties the sandbox; a failure is remembered as the sandbox being broken.
    fn clean(&mut self) -> Result<(), String> {
        let cleaned = self.worker.clean();
        if let Err(e) = &cleaned {
            eprintln!("livecode-runner: the sandbox could not be cleared: {e}");
            self.broken = Some(e.clone());
        }
        cleaned
    }

    /// Runs one step to its end. Err: the step could not be started (nothing of it ran).
    fn step(
        &mut self,
        st: &mut RunState,
        phase: Phase,
        step: &Step,
        env: &[(String, String)],
        budget: &Arc<Budget>,
    ) -> Result<StepEnd, String> {
        // Pipes first (owned by the run's uid), then the threads that serve them, then the
        // process: once the program runs, nothing here needs a new pid.
        let n = if phase == Phase::Run { 3 } else { 2 };
        let mut pipes = self
            .worker
            .pipes(n)
            .map_err(|e| format!("the runner could not make pipes: {e}"))?
            .into_iter();
        let (out_read, out_write) = pipes.next().expect("asked for them");
        let (err_read, err_write) = pipes.next().expect("asked for them");
        let stdin_pipe = pipes.next();
        let (stdin_child, stdin_ours) = match stdin_pipe {
            Some((read, write)) => (Stdio::from(read), Some(std::fs::File::from(write))),
            None => (Stdio::null(), None),
        };
        let helpers = self
            .start_helpers(st, [out_read, err_read], stdin_ours, budget)
            .map_err(|e| format!("the runner could not start a thread: {e}"))?;
        self.next_step += 1;
        let token = self.next_step;

        // A program that is not there goes through the shell, which says so as it always has
        // ("sh: 1: x: not found", exit 127).
        let direct = shell::plain_words(&step.command).filter(|w| executable(w[0]));
        let mut cmd = match direct {
            Some(words) => {
                let mut cmd = Command::new(words[0]);
                cmd.args(&words[1..]);
                cmd
            }
            None => {
                let mut cmd = Command::new("/bin/sh");
                cmd.arg("-c").arg(&step.command);
                cmd
            }
        };
        cmd.current_dir("/workspace")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(stdin_child)
            .stdout(Stdio::from(out_write))
            .stderr(Stdio::from(err_write));
        let parent = std::process::id() as i32;
        let nproc = self.nproc;
        // SAFETY: limit_processes and child_setup only make async-signal-safe calls (sys.rs).
        unsafe {
            cmd.pre_exec(move || {
                if let Some(n) = nproc {
                    sys::limit_processes(n)?;
                }
                sys::child_setup(RUN_UID, parent, true)
            });
        }
        let started = Instant::now();
        let spawned = cmd.spawn();
        // The child's ends of the pipes live in `cmd`: once it is gone, the pumps see the end
        // of output when the program (and whatever it started) is gone.
        drop(cmd);
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                helpers.join();
                return Err(format!("the program could not be started: {e}"));
            }
        };
        self.out.send(&Event::Started { run: st.id, phase });
        let tx = self.tx.clone();
        let waiter = thread::Builder::new()
            .name("waiter".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let status = child.wait();
                let _ = tx.send(Msg::Exited(token, status));
            });
        if let Err(e) = waiter {
            // Without a waiter nothing reaps the program: it is killed and left to the runner's
            // end. The run says why.
            self.kill(st, End::Killed);
            helpers.join();
            return Err(format!("the runner could not start a thread: {e}"));
        }
        let Helpers {
            pumps,
            stdin,
            stdin_thread,
        } = helpers;
        if phase == Phase::Run {
            // The only sender: once it is dropped the writer thread ends.
            st.stdin = stdin;
            while let Some(cmd) = st.queued.pop_front() {
                self.forward_stdin(st, cmd);
            }
        }

        let deadline = started + Duration::from_millis(step.timeout_ms);
        let status = loop {
            let wait = match st.end {
                None => deadline.saturating_duration_since(Instant::now()),
                Some(_) => Duration::from_secs(3600),
            };
            match self.rx.recv_timeout(wait) {
                Ok(Msg::Exited(t, status)) if t == token => break status.ok(),
                Ok(Msg::Exited(..)) => {}
                Ok(Msg::OutputLimit(run)) if run == st.id => self.kill(st, End::OutputLimit),
                Ok(Msg::OutputLimit(_)) => {}
                Ok(Msg::Request(req)) => self.during(st, req),
                Ok(Msg::Closed(_)) => {
                    st.closed = true;
                    self.kill(st, End::Killed);
                }
                Err(RecvTimeoutError::Timeout) => self.kill(st, End::Timeout),
                Err(RecvTimeoutError::Disconnected) => unreachable!("the runner holds a sender"),
            }
        };
        let ms = started.elapsed().as_millis() as u64;
        // Whatever the step left running (background jobs, daemons) goes now, which also
        // closes the pipes they held, so the pumps end.
        if let Err(e) = self.worker.kill_all() {
            st.problem = Some(e);
        }
        st.stdin = None;
        for pump in pumps {
            let _ = pump.join();
        }
        if let Some(writer) = stdin_thread {
            let _ = writer.join();
        }
        Ok(StepEnd { status, ms })
    }

    /// The step's output pumps and, for the run step, its stdin writer.
    fn start_helpers(
        &self,
        st: &RunState,
        outputs: [OwnedFd; 2],
        stdin: Option<std::fs::File>,
        budget: &Arc<Budget>,
    ) -> io::Result<Helpers> {
        let mut helpers = Helpers {
            pumps: Vec::new(),
            stdin: None,
            stdin_thread: None,
        };
        for (pipe, stream) in outputs.into_iter().zip([Stream::Stdout, Stream::Stderr]) {
            let pipe = std::fs::File::from(pipe);
            let (out, budget, tx, run) = (self.out.clone(), budget.clone(), self.tx.clone(), st.id);
            let pump = thread::Builder::new()
                .name("pump".into())
                .stack_size(256 * 1024)
                .spawn(move || pump(pipe, stream, run, &out, &budget, &tx));
            match pump {
                Ok(handle) => helpers.pumps.push(handle),
                Err(e) => {
                    helpers.join();
                    return Err(e);
                }
            }
        }
        if let Some(pipe) = stdin {
            let (tx, rx) = mpsc::channel();
            let (out, run) = (self.out.clone(), st.id);
            let writer = thread::Builder::new()
                .name("stdin".into())
                .stack_size(64 * 1024)
                .spawn(move || write_stdin(pipe, &rx, run, &out));
            match writer {
                Ok(handle) => {
                    helpers.stdin_thread = Some(handle);
                    helpers.stdin = Some(tx);
                }
                Err(e) => {
                    helpers.join();
                    return Err(e);
                }
            }
        }
        Ok(helpers)
    }

    /// Stops the step: the first reason is the run's end.
    fn kill(&mut self, st: &mut RunState, end: End) {
        if st.end.is_none() {
            st.end = Some(end);
        }
        if let Err(e) = self.worker.kill_all() {
            st.problem = Some(e);
        }
    }

    /// A request that arrives while a run goes on.
    fn during(&mut self, st: &mut RunState, req: Request) {
        match req {
            Request::Kill { run } if run == st.id => self.kill(st, End::Killed),
            Request::Stdin { run, data } if run == st.id => {
                self.forward_stdin(st, StdinCmd::Data(data))
            }
            Request::StdinEof { run } if run == st.id => self.forward_stdin(st, StdinCmd::Eof),
            Request::Run(other) => self.out.send(&Event::Refused {
                run: other.run,
                message: "a run is in progress".into(),
            }),
            _ => {} // meant for a run that already ended
        }
    }

    fn forward_stdin(&mut self, st: &mut RunState, cmd: StdinCmd) {
        let Some(writer) = &st.stdin else {
            st.queued.push_back(cmd);
            return;
        };
        if let Err(mpsc::SendError(StdinCmd::Data(data))) = writer.send(cmd) {
            // The program closed its stdin: what it will never read is consumed all the same,
            // so the server's window does not stall.
            self.out.send(&Event::StdinConsumed {
                run: st.id,
                bytes: data.len() as u64,
            });
        }
    }
}
