//! The one door for writes of a session's rows: a [`Write`] is a transaction that passed the
//! lease check ([`begin_write`]) or creates the session ([`begin_new_session`]). Its field is
//! private to this module, so no write of a session can skip the check.

use deadpool_postgres::Transaction;

use super::db::{self, begin, Db};
use crate::model::{SessionId, Status};
use crate::store::{Leases, StoreError};

/// One write of a session's rows, in one transaction.
pub struct Write<'c>(Transaction<'c>);

impl Write<'_> {
    pub async fn commit(self) -> Result<(), StoreError> {
        db::commit(self.0).await
    }
}

impl<'c> Db for Write<'c> {
    type Client = Transaction<'c>;
    fn client(&self) -> &Transaction<'c> {
        &self.0
    }
}

/// Opens the transaction of one write of session `id`'s rows: the one place the lease is
/// checked. With leases (cluster mode), its first statement finds this process's lease row at
/// its epoch `FOR SHARE`, so a takeover's `UPDATE` of that row waits until this write commits;
/// no row, or no lease held here, rolls back and answers `Fenced`, having written nothing.
/// Without leases (one server) there is nothing to check.
pub async fn begin_write<'c>(
    client: &'c mut deadpool_postgres::Client,
    leases: Option<&dyn Leases>,
    id: &SessionId,
) -> Result<Write<'c>, StoreError> {
    let tx = begin(client).await?;
    let Some(leases) = leases else {
        return Ok(Write(tx));
    };
    let held = match leases.lease(id) {
        Some(lease) => db::query_opt(
            &tx,
            "SELECT 1 FROM session_leases
             WHERE session_id = $1 AND replica = $2 AND epoch = $3 FOR SHARE",
            &[&id.0, &lease.replica, &lease.epoch],
        )
        .await?
        .is_some(),
        None => false,
    };
    if !held {
        db::rollback(tx).await?;
        return Err(StoreError::Fenced);
    }
    Ok(Write(tx))
}

/// As [`begin_write`], for what is written in a session's review (its scorecards, and the
/// events recorded of them): also when nobody holds the session because it ended. Nobody
/// owns an ended session (its lease row is gone), nothing of its live state is written any
/// more, and a deposed owner cannot end it, so a review write of it races no owner. The
/// session's row is held `FOR SHARE`, as the lease row is for a live one.
pub async fn begin_review_write<'c>(
    client: &'c mut deadpool_postgres::Client,
    leases: Option<&dyn Leases>,
    id: &SessionId,
) -> Result<Write<'c>, StoreError> {
    let Some(leases) = leases else {
        return Ok(Write(begin(client).await?));
    };
    if leases.lease(id).is_some() {
        return begin_write(client, Some(leases), id).await;
    }
    let ended_statuses: Vec<&str> = Status::ALL
        .into_iter()
        .filter(|s| s.is_ended())
        .map(Status::as_str)
        .collect();
    let tx = begin(client).await?;
    let ended = db::query_opt(
        &tx,
        "SELECT 1 FROM sessions WHERE id = $1 AND status = ANY($2) FOR SHARE",
        &[&id.0, &ended_statuses],
    )
    .await?
    .is_some();
    if !ended {
        db::rollback(tx).await?;
        return Err(StoreError::Fenced);
    }
    Ok(Write(tx))
}

/// Opens the transaction that creates a session: there is no lease to check yet; [`claim`]
/// puts its lease in once the session's row is there.
pub async fn begin_new_session(
    client: &mut deadpool_postgres::Client,
) -> Result<Write<'_>, StoreError> {
    Ok(Write(begin(client).await?))
}

/// With a lease held for the new session `id`, its row, in the session's transaction, so the
/// session's first write finds it.
pub async fn claim(
    w: &Write<'_>,
    leases: Option<&dyn Leases>,
    id: &SessionId,
) -> Result<(), StoreError> {
    let Some(lease) = leases.and_then(|leases| leases.lease(id)) else {
        return Ok(());
    };
    db::execute(
        w,
        "INSERT INTO session_leases (session_id, replica, epoch) VALUES ($1, $2, $3)",
        &[&id.0, &lease.replica, &lease.epoch],
    )
    .await?;
    Ok(())
}

/// Opens the write that erases an ended session: no lease is checked, because an ended
/// session has no owner to fence. No replica takes an ended session over, and the one that
/// ended it keeps its lease a while only for trailing writes (a socket's leaving, an edit on
/// its way), which the store refuses once the session is erased. The erasure's statements
/// touch the session only while its row says ended; the row lock makes two erasures take
/// turns, and the second finds it erased.
pub async fn begin_ended_write(
    client: &mut deadpool_postgres::Client,
) -> Result<Write<'_>, StoreError> {
    Ok(Write(begin(client).await?))
}
