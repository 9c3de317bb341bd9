//! The cluster's statements. Times are the database's (`now()`), never a replica's: a lease is
//! live while its replica's heartbeat is younger than the lease time (`$lease` seconds).

/// This replica's row: `$1` id, `$2` url. An earlier replica at the same address (this one's
/// last life, killed) goes: its leases read as nobody's at once, and nobody relays to it.
pub const JOIN: &str = "WITH gone AS (DELETE FROM replicas WHERE url = $2 AND id <> $1) \
     INSERT INTO replicas (id, url) VALUES ($1, $2) \
     ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, heartbeat_at = now()";

/// The heartbeat: `$1` id, `$2` url, `$3` draining.
pub const BEAT: &str =
    "UPDATE replicas SET heartbeat_at = now(), url = $2, draining = $3 WHERE id = $1";

/// The leases the database gives replica `$1`.
pub const HELD: &str = "SELECT session_id, epoch FROM session_leases WHERE replica = $1";

/// Session `$1`: ended or not, its lease and its holder's liveness (`$2` lease seconds).
pub const OWNER: &str =
    "SELECT s.status NOT IN ('creating', 'ready', 'executing', 'stopping') AS ended, \
            l.replica, l.epoch, r.url, \
            r.heartbeat_at > now() - make_interval(secs => $2) AS alive \
     FROM sessions s \
     LEFT JOIN session_leases l ON l.session_id = s.id \
     LEFT JOIN replicas r ON r.id = l.replica \
     WHERE s.id = $1";

/// Compare-and-set: session `$1` to replica `$2`, if its epoch is still `$3` and its holder
/// (another replica) is not live (`$4` lease seconds), both judged in the one statement.
pub const TAKE_OVER: &str = "UPDATE session_leases l \
     SET replica = $2, epoch = l.epoch + 1, acquired_at = now() \
     WHERE l.session_id = $1 AND l.epoch = $3 AND NOT EXISTS ( \
        SELECT 1 FROM replicas r WHERE r.id = l.replica AND r.id <> $2 \
        AND r.heartbeat_at > now() - make_interval(secs => $4)) \
     RETURNING l.epoch";

/// A session that never had a lease (made by a single server): epoch 1 for `$2`.
pub const TAKE_UNLEASED: &str = "INSERT INTO session_leases (session_id, replica, epoch) \
     VALUES ($1, $2, 1) ON CONFLICT (session_id) DO NOTHING RETURNING epoch";

/// Hands session `$1` back (held by `$2` at `$3`): no replica, same epoch.
pub const RELEASE: &str =
    "UPDATE session_leases SET replica = '00000000-0000-0000-0000-000000000000' \
     WHERE session_id = $1 AND replica = $2 AND epoch = $3";

pub const LEAVE: &str = "DELETE FROM replicas WHERE id = $1";

/// Every replica, its liveness (`$1` lease seconds) and how many sessions it holds.
pub const PEERS: &str = "SELECT r.id, r.url, r.heartbeat_at, r.draining, \
            r.heartbeat_at > now() - make_interval(secs => $1) AS alive, \
            (SELECT count(*) FROM session_leases l WHERE l.replica = r.id) AS sessions \
     FROM replicas r ORDER BY r.started_at";

/// Live sessions whose lease no live replica holds (`$1` lease seconds), oldest activity
/// first, at most `$2`.
pub const ORPHANS: &str = "SELECT s.id, l.epoch FROM sessions s \
     LEFT JOIN session_leases l ON l.session_id = s.id \
     LEFT JOIN replicas r ON r.id = l.replica \
        AND r.heartbeat_at > now() - make_interval(secs => $1) \
     WHERE s.status IN ('creating', 'ready', 'executing', 'stopping') AND r.id IS NULL \
     ORDER BY s.last_activity_at LIMIT $2";

/// Replicas not heard for `$1` seconds.
pub const FORGET_DEAD: &str =
    "DELETE FROM replicas WHERE heartbeat_at < now() - make_interval(secs => $1)";

/// An ended session's lease (`$1`, held by `$2` at `$3`).
pub const DELETE_ENDED: &str =
    "DELETE FROM session_leases WHERE session_id = $1 AND replica = $2 AND epoch = $3";
