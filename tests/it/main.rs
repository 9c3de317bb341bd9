//! Integration tests: the real server (in process, or the binary for restarts) on a free port,
//! against the real Docker engine, over real HTTP and WebSocket. No mock stands in for Docker.
//!
//! # Layout
//! - `support`: `TestServer`, `SpawnedServer` on a `ServerHome`, REST and socket helpers, one
//!   per boundary.
//! - `sessions`: creating, connecting, running, stdin, files, execute, observers, deleting.
//! - `runs`: streaming, timeouts, kill, one run at a time, restart, nothing outlives a run.
//! - `builds`: the build cache, and the resident compilers (kotlind, javad) runs cannot harm.
//! - `limits`: fork bombs, memory, output floods, a full disk, no network, CPU weight below
//!   the server's.
//! - `engine`: the runner a run cannot touch, fork bombs without restarts, planted
//!   symlinks, the warm pool (hits, misses, adoption at start-up).
//! - `gvisor`: the same lockdown under `docker.runtime = "runsc"`, and runs in Python, C, Java
//!   and Node there (needs the engine's `runsc` runtime: `scripts/ensure-runsc.sh`).
//! - `catchup`: late joiners and reconnects get a run's output once each (`seq`); warnings
//!   before a session ends, and extending it.
//! - `cli`: the binary's client commands (`run` interactive, ending its session after the
//!   program and on Ctrl+C; `sessions` as tables and JSON; `watch`), and the README's quick
//!   start run as written.
//! - `collab`: document updates, pulls, history, and notes that only interviewers see.
//! - `auth`: credentials, roles (and who sees a session's container), and every error code of
//!   REST and the socket.
//! - `reaper`: idle sessions end and lose their container.
//! - `lobby`: a lobby's candidate hears nothing (frame by frame) until Start; the clock is
//!   stored and can be hidden from the candidate.
//! - `take_home`: a take-home's clock starts at the first open, submits at its limit with
//!   nobody connected, refuses edits after; its container goes while the candidate is away
//!   and comes back with the code.
//! - `fuzz`: thousands of random and malformed socket frames; the server stays up.
//! - Attacks on the server itself:
//!   - `floods`: no-op edits, pings, stdin, output to observers that never read, cursors,
//!     file tabs and reconnects, health checks; the server's memory stays bounded.
//!   - `connections`: half-open connections, bodies sent a byte at a time, a full connection
//!     table, under an open-file limit.
//!   - `quotas`: sockets per token and session, sessions per client, the API key's caps.
//!   - `cross_site`: foreign origins refused, CORS for listed ones.
//!   - `oversize`: bodies and socket frames over the limits, refused in the error shape.
//! - `operations`: `/metrics` after real runs, JSON logs and request ids.
//! - `switch`: switching a session's language: live, a document per language, a new container.
//! - `questions`: questions with test cases, test runs from the socket and REST, hidden cases
//!   counted for candidates and shown to interviewers.
//! - `openapi`: the OpenAPI document and the socket's schemas against the server they describe.
//! - `erasure`: `DELETE …?erase=true` on live and ended sessions and the retention sweep: the
//!   tombstone, 410s, `session.erased`, and a marker in every place content is kept, gone
//!   from the store's files; in a cluster, through either replica and swept once.
//! - `webhooks`: signed events to a receiver the test starts, retried; the events API.
//! - `balancer`: the real nginx with `deploy/nginx.conf` in front of three stand-in replicas:
//!   one replica per session (REST, socket, pages), sessions spread, sockets carried, answers
//!   streamed with backpressure, a stopped replica skipped, a 503 passed back (never a
//!   replica marked down), the client's Host passed, the largest body (needs nginx, not
//!   Docker).
//! - `cluster`: replicas on one PostgreSQL behind nginx: sessions spread and served live
//!   through any replica, twenty `kill -9` failovers losing no echoed edit, a stopped owner
//!   that wakes up writing nothing, a lost host's sessions back on another engine, a drain
//!   that cuts no run, quotas across replicas, the webhook outbox across a takeover.
//! - `scorecards`: interviewers' scorecards over the socket and REST, each their own, after
//!   the end until the window closes, to the events feed and webhooks, never to a candidate.
//! - `restart`: a killed server comes back with its sessions and drops orphan containers.
//! - `replacement`: a container removed, paused, killed mid-run, not clearable, or dead
//!   through an engine outage is replaced and the session goes on; an outage's leftovers go.
//! - `workspace`: what a run leaves (deep, wide, big) never bricks the next.
//!
//! Needs Docker and the `livecode-env-{python,node,bash,c,java,kotlin}` images (tagged with the
//! runner build), and nginx (`scripts/ensure-nginx.sh`) for `balancer`, which needs no Docker.

mod auth;
mod balancer;
mod builds;
mod catchup;
mod cli;
mod cluster;
mod collab;
mod connections;
mod cross_site;
mod erasure;
mod floods;
mod fuzz;
mod gvisor;
mod limits;
mod lobby;
mod openapi;
mod operations;
mod oversize;
mod questions;
mod quotas;
mod reaper;
mod replacement;
mod restart;
mod runs;
mod scorecards;
mod sessions;
mod support;
mod switch;
mod take_home;
mod templates;
mod webhooks;
mod workspace;
