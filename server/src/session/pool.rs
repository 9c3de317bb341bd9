//! The warm pool: per environment, started containers with their runner already open,
//! waiting for sessions. `POST /sessions` claims one (no engine call at all), and a background
//! filler makes the next, one container at a time, with backoff when the engine fails.
//!
//! At start-up `Containers` hands over the containers no live session owns; those made from
//! today's image and spec are adopted ("cold" until their runner is open again), the rest
//! removed. Which session a pool container went to is recorded in the store, not on it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::context::Context;
use crate::config::Config;
use crate::sandbox::{EngineHealth, RunnerConn, SandboxId};

/// A pool container, ready to be claimed.
pub(super) struct Warm {
    pub container: SandboxId,
    pub runner: Arc<RunnerConn>,
}

/// One environment's pool, as health and the log show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PoolStatus {
    pub environment: String,
    /// Containers waiting with their runner open.
    pub warm: usize,
    /// How many the filler keeps.
    pub target: usize,
    /// Sessions that got a pool container, and those that had to wait for a new one.
    pub hits: u64,
    pub misses: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
}

struct Inner {
    ctx: Arc<Context>,
    targets: BTreeMap<String, usize>,
    warm: Mutex<HashMap<String, VecDeque<Warm>>>,
    /// Adopted at start-up, runner not open yet.
    cold: Mutex<Vec<(String, SandboxId)>>,
    counters: HashMap<String, Counters>,
    wake: Notify,
}

/// The warm pool. Cheap to clone: a handle.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

/// How many containers each environment keeps: `pool.sizes`, else `pool.default_size` for
/// the default environment and none for the rest; then all together at most
/// `pool.max_total`, the default environment served first.
pub(super) fn targets(config: &Config, names: &[String]) -> BTreeMap<String, usize> {
    let mut order: Vec<&String> = names.iter().collect();
    order.sort_by_key(|n| (**n != config.default_environment, n.as_str()));
    let mut left = config.pool.max_total;
    let mut out = BTreeMap::new();
    for name in order {
        let want = match config.pool.sizes.get(name.as_str()) {
            Some(n) => *n,
            None if *name == config.default_environment => config.pool.default_size,
            None => 0,
        };
        let take = want.min(left);
        left -= take;
        if take > 0 {
            out.insert(name.clone(), take);
        }
    }
    out
}

impl Pool {
    pub(super) fn new(ctx: Arc<Context>) -> Self {
        let names = ctx.environments.names();
        let targets = targets(&ctx.config, &names);
        let counters = names
            .into_iter()
            .map(|n| (n, Counters::default()))
            .collect();
        Self {
            inner: Arc::new(Inner {
                ctx,
                targets,
                warm: Mutex::default(),
                cold: Mutex::default(),
                counters,
                wake: Notify::new(),
            }),
        }
    }

    fn warm(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Warm>>> {
        self.inner.warm.lock().expect("pool lock poisoned")
    }

    /// A warm container of `environment`, if one waits; the filler is told to make the next.
    pub(super) fn claim(&self, environment: &str) -> Option<Warm> {
        let found = {
            let mut warm = self.warm();
            let queue = warm.get_mut(environment);
            queue.and_then(|q| {
                // A runner whose stream ended while it waited is no use.
                while let Some(w) = q.pop_front() {
                    if !w.runner.is_closed() {
                        return Some(w);
                    }
                }
                None
            })
        };
        self.wake();
        found
    }

    /// Counts a new session of `environment` that got a pool container (`hit`) or not.
    pub(super) fn count(&self, environment: &str, hit: bool) {
        if let Some(c) = self.inner.counters.get(environment) {
            let counter = if hit { &c.hits } else { &c.misses };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Wakes the filler (a claim, an image built, the engine back).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Takes a container no session owns into the pool, if its environment keeps any and has
    /// room; its runner is opened by the filler. False: the caller removes it.
    pub(super) fn adopt(&self, environment: &str, id: SandboxId) -> bool {
        let target = self.inner.targets.get(environment).copied().unwrap_or(0);
        let mut cold = self.inner.cold.lock().expect("pool lock poisoned");
        let have = cold.iter().filter(|(e, _)| e == environment).count();
        if have >= target {
            return false;
        }
        cold.push((environment.to_string(), id));
        true
    }

    /// Every container the pool holds, warm or waiting for its runner.
    pub(super) fn containers(&self) -> std::collections::HashSet<SandboxId> {
        let mut all: std::collections::HashSet<SandboxId> = self
            .warm()
            .values()
            .flatten()
            .map(|w| w.container.clone())
            .collect();
        let cold = self.inner.cold.lock().expect("pool lock poisoned");
        all.extend(cold.iter().map(|(_, id)| id.clone()));
        all
    }

    /// Forgets a pool container that died; true if it was one.
    pub(super) fn forget(&self, id: &SandboxId) -> bool {
        let found = {
            let mut warm = self.warm();
            let mut found = false;
            for queue in warm.values_mut() {
                let before = queue.len();
                queue.retain(|w| &w.container != id);
                found |= queue.len() != before;
            }
            found
        };
        if found {
            self.wake();
        }
        found
    }

    /// Every environment that keeps a pool, or has had sessions ask for one.
    pub fn status(&self) -> Vec<PoolStatus> {
        let warm = self.warm();
        self.inner
            .ctx
            .environments
            .names()
            .into_iter()
            .filter_map(|name| {
                let target = self.inner.targets.get(&name).copied().unwrap_or(0);
                let counters = self.inner.counters.get(&name)?;
                let (hits, misses) = (
                    counters.hits.load(Ordering::Relaxed),
                    counters.misses.load(Ordering::Relaxed),
                );
                (target > 0 || hits + misses > 0).then(|| PoolStatus {
                    warm: warm
                        .get(&name)
                        .map_or(0, |q| q.iter().filter(|w| !w.runner.is_closed()).count()),
                    environment: name,
                    target,
                    hits,
                    misses,
                })
            })
            .collect()
    }

    /// On shutdown: closes every waiting runner. The containers stay, for the next start.
    pub(super) async fn close_all(&self) {
        let runners: Vec<Arc<RunnerConn>> = self
            .warm()
            .values()
            .flat_map(|q| q.iter().map(|w| w.runner.clone()))
            .collect();
        for runner in runners {
            runner.close().await;
        }
    }

    /// Keeps every environment's pool at its target until `shutdown`.
    pub(super) async fn run_filler(self, shutdown: CancellationToken) {
        if self.inner.targets.is_empty() {
            return;
        }
        let mut failures = 0u32;
        loop {
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => return,
                outcome = self.fill_one() => outcome,
            };
            let wait = match outcome {
                Fill::Made => {
                    failures = 0;
                    continue;
                }
                Fill::Idle => Duration::from_secs(5),
                Fill::Failed => {
                    failures += 1;
                    Duration::from_millis(500 * 2u64.pow(failures.min(6)))
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Opens one adopted container's runner, or makes one missing container.
    async fn fill_one(&self) -> Fill {
        if matches!(*self.inner.ctx.engine.borrow(), EngineHealth::Down(_)) {
            return Fill::Idle;
        }
        let inner = &self.inner;
        let ctx = &inner.ctx;
        // Runners whose stream ended while they waited: their containers go.
        let dead: Vec<SandboxId> = {
            let mut warm = self.warm();
            let mut dead = Vec::new();
            for queue in warm.values_mut() {
                queue.retain(|w| {
                    let closed = w.runner.is_closed();
                    if closed {
                        dead.push(w.container.clone());
                    }
                    !closed
                });
            }
            dead
        };
        for id in dead {
            let _ = ctx.sandbox.remove(&id).await;
        }
        let cold = inner.cold.lock().expect("pool lock poisoned").pop();
        let (environment, container) = match cold {
            Some(adopted) => adopted,
            None => {
                let missing = inner.targets.iter().find(|(name, target)| {
                    let ready = ctx.environments.get(name).is_some_and(|e| e.is_ready());
                    let have = self.warm().get(*name).map_or(0, VecDeque::len);
                    ready && have < **target
                });
                let Some((name, _)) = missing else {
                    return Fill::Idle;
                };
                let env = ctx
                    .environments
                    .get(name)
                    .expect("a target is an environment");
                match ctx.sandbox.create(&ctx.spec(env)).await {
                    Ok(id) => (name.clone(), id),
                    Err(err) => {
                        tracing::warn!(environment = %name, %err, "could not make a pool container");
                        return Fill::Failed;
                    }
                }
            }
        };
        match RunnerConn::open(&*ctx.sandbox, &container, &ctx.tasks).await {
            Ok(runner) => {
                let warm = {
                    let mut warm = self.warm();
                    let queue = warm.entry(environment.clone()).or_default();
                    queue.push_back(Warm { container, runner });
                    queue.len()
                };
                let target = inner.targets.get(&environment).copied().unwrap_or(0);
                tracing::info!(%environment, warm, target, "pool container ready");
                Fill::Made
            }
            Err(err) => {
                tracing::warn!(%environment, %container, %err, "a pool container's runner did not start; removing it");
                let _ = ctx.sandbox.remove(&container).await;
                Fill::Failed
            }
        }
    }
}

enum Fill {
    Made,
    Idle,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_serve_the_default_environment_first_within_the_cap() {
        let mut config = Config::defaults();
        let names: Vec<String> = ["bash", "java", "python"].map(String::from).to_vec();
        assert_eq!(
            targets(&config, &names),
            BTreeMap::from([("python".to_string(), 2)])
        );
        config.pool.sizes = BTreeMap::from([("java".to_string(), 3), ("bash".to_string(), 0)]);
        config.pool.max_total = 4;
        assert_eq!(
            targets(&config, &names),
            BTreeMap::from([("java".to_string(), 2), ("python".to_string(), 2)])
        );
        config.pool.default_size = 0;
        assert_eq!(
            targets(&config, &names),
            BTreeMap::from([("java".to_string(), 3)])
        );
    }
}
