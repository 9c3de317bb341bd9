//! [`AppState`]: what every handler may reach. Its own module, so that `api`, `ws` and `web`
//! depend on it and `app` (which assembles their routes) depends on them, never the other way.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::environments::Environments;
use crate::session::SessionRegistry;

/// Everything a handler may reach. Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub sessions: SessionRegistry,
    pub environments: Arc<Environments>,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
}
