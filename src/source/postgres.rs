//! PostgreSQL segments: a query streamed from a server (or anything that
//! speaks its protocol), through sqlx with runtime-checked queries only.
//!
//! - The connection string comes from the environment variable `url_env`
//!   names (a URL, `postgres://user:pass@host:port/db?sslmode=require`): it
//!   may hold a password, so it is never in TOML and never in an error or a
//!   log (see [`super::pg_conn`]). `sslmode`, `sslrootcert` and the other URL
//!   parameters are sqlx's, as libpq understands them; TLS is rustls.
//! - The query runs in a `BEGIN READ ONLY` transaction, so the server itself
//!   refuses any write a query might attempt (`insert ... returning`, a
//!   data-modifying CTE, `nextval`), with `SET LOCAL statement_timeout` from
//!   the export. The extended protocol allows one statement only, so a `;`
//!   cannot end the transaction and start another. The transaction is rolled
//!   back at the end: there is nothing to commit.
//! - The statement is prepared first: its result columns (known even when
//!   no row comes) are checked against `[mapping]`, names and types, before
//!   any row is read. Rows are then streamed one at a time into the builder,
//!   never collected; row numbers are 1-based result rows.
//! - Values become text as [`super::value`] documents; NULL is not sent.

use std::borrow::Cow;
use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::postgres::{
    PgConnection, PgDatabaseError, PgRow, PgStatement, PgTypeInfo, PgTypeKind, PgValueFormat,
};
use sqlx::{AssertSqlSafe, Column, Connection, Executor, Row, SqlSafeStr, Statement, TypeInfo};
use sqlx::{Either, ValueRef};

use super::pg_conn::{ConnTarget, Redactor};
use super::value::{PgKind, pg_binary};
use super::{PROGRESS_EVERY, Projection, SourceError, find_column};
use crate::config::Mapping;
use crate::segment::{Segment, SegmentBuilder, clean_value};

/// How long connecting (TCP, TLS, authentication) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Past `statement_timeout`, how long to wait for the server to cancel the
/// query itself before giving up on it from this side (a server that ignores
/// the setting, a network that went silent).
const CANCEL_GRACE: Duration = Duration::from_secs(30);

/// SQLSTATE of a statement cancelled by `statement_timeout` (`query_canceled`).
const QUERY_CANCELED: &str = "57014";
/// SQLSTATE of a write refused by a read-only transaction.
const READ_ONLY_TRANSACTION: &str = "25006";

/// What one read needs to say in errors: the variable, never its value.
struct Ctx<'a> {
    var: &'a str,
    redactor: &'a Redactor,
    timeout: Duration,
}

impl Ctx<'_> {
    fn origin(&self) -> String {
        format!("postgres (${})", self.var)
    }

    /// A sqlx error as a [`SourceError`], scrubbed of the connection string.
    fn error(&self, stage: &'static str, e: sqlx::Error) -> SourceError {
        if let sqlx::Error::Database(db) = &e {
            match db.code().as_deref() {
                Some(QUERY_CANCELED) => return self.timed_out(),
                Some(READ_ONLY_TRANSACTION) => {
                    let message = format!(
                        "{} (the query runs in a READ ONLY transaction: a segment query may not write)",
                        db.message()
                    );
                    return self.failed(stage, &message);
                }
                _ => {}
            }
            let mut message = db.message().to_owned();
            if let Some(hint) = db
                .try_downcast_ref::<PgDatabaseError>()
                .and_then(|p| p.hint())
            {
                message = format!("{message} (hint: {hint})");
            }
            if let Some(code) = db.code() {
                message = format!("{message} [SQLSTATE {code}]");
            }
            return self.failed(stage, &message);
        }
        self.failed(stage, &e.to_string())
    }

    fn failed(&self, stage: &'static str, message: &str) -> SourceError {
        SourceError::Postgres {
            var: self.var.to_owned(),
            stage,
            message: self.redactor.clean(message),
        }
    }

    fn timed_out(&self) -> SourceError {
        SourceError::Timeout {
            var: self.var.to_owned(),
            timeout: humantime::format_duration(self.timeout).to_string(),
        }
    }
}

/// Reads the segment `query` returns from the server `$url_env` names.
pub(super) async fn read(
    url_env: &str,
    query: &str,
    statement_timeout: Duration,
    mapping: &Mapping,
    builder: SegmentBuilder,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Segment, SourceError> {
    let target = ConnTarget::from_env(url_env)?;
    let cx = Ctx {
        var: url_env,
        redactor: target.redactor(),
        timeout: statement_timeout,
    };
    let mut conn = connect(&target, &cx).await?;
    let read = read_in_transaction(&mut conn, query, mapping, builder, progress, &cx);
    // Zero disables the server's timeout (PostgreSQL's meaning); so, here.
    let limit = Some(statement_timeout).filter(|t| !t.is_zero());
    let result = match limit.and_then(|t| t.checked_add(CANCEL_GRACE)) {
        Some(limit) => tokio::time::timeout(limit, read)
            .await
            .unwrap_or_else(|_| Err(cx.timed_out())),
        None => read.await,
    };
    // Best effort: the server ends the session on its own when the socket closes.
    if let Err(e) = conn.close().await {
        tracing::debug!(var = url_env, error = %cx.redactor.clean(&e.to_string()), "closing the postgres connection");
    }
    result
}

async fn connect(target: &ConnTarget, cx: &Ctx<'_>) -> Result<PgConnection, SourceError> {
    let stage = "cannot connect";
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        PgConnection::connect_with(target.options()),
    )
    .await
    {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(cx.error(stage, e)).map_err(|e| with_target(e, target)),
        Err(_) => Err(cx.failed(
            stage,
            &format!(
                "{}: no answer within {}",
                target.describe(),
                humantime::format_duration(CONNECT_TIMEOUT)
            ),
        )),
    }
}

/// Says where it tried to connect (host and port, never the password).
fn with_target(e: SourceError, target: &ConnTarget) -> SourceError {
    match e {
        SourceError::Postgres {
            var,
            stage,
            message,
        } => SourceError::Postgres {
            var,
            stage,
            message: format!("{}: {message}", target.describe()),
        },
        other => other,
    }
}

async fn read_in_transaction(
    conn: &mut PgConnection,
    query: &str,
    mapping: &Mapping,
    builder: SegmentBuilder,
    progress: &mut (dyn FnMut(u64) + Send),
    cx: &Ctx<'_>,
) -> Result<Segment, SourceError> {
    let stage = "cannot start a read-only transaction";
    let mut tx = conn
        .begin_with("BEGIN READ ONLY")
        .await
        .map_err(|e| cx.error(stage, e))?;
    // PostgreSQL caps the setting at i32::MAX ms (~24 days); 0 disables it.
    let ms = i32::try_from(cx.timeout.as_millis()).unwrap_or(i32::MAX);
    let set = format!("SET LOCAL statement_timeout = {ms}");
    (tx.execute(sqlx::raw_sql(AssertSqlSafe(set))).await).map_err(|e| cx.error(stage, e))?;
    let stmt = (tx
        .prepare(AssertSqlSafe(query.to_owned()).into_sql_str())
        .await)
        .map_err(|e| cx.error("query failed", e))?;
    let proj = projection(&stmt, mapping, cx)?;
    let segment = stream_rows(&mut tx, &stmt, &proj, builder, progress, cx).await?;
    // Read-only: rolling back loses nothing, and a failure here is not the segment's.
    if let Err(e) = tx.rollback().await {
        tracing::debug!(error = %cx.redactor.clean(&e.to_string()), "ending the read-only transaction");
    }
    Ok(segment)
}

/// Resolves `[mapping]` against the statement's result columns: every mapped
/// column must exist and have a type [`PgKind`] can read.
fn projection(
    stmt: &PgStatement,
    mapping: &Mapping,
    cx: &Ctx<'_>,
) -> Result<Projection<(usize, PgKind)>, SourceError> {
    let names: Vec<String> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
    Projection::resolve(mapping, |column| {
        let i = find_column(names.iter().map(String::as_str), column).ok_or_else(|| {
            SourceError::QueryColumn {
                column: column.to_owned(),
                origin: cx.origin(),
                found: names.clone(),
            }
        })?;
        let ty = stmt.columns()[i].type_info();
        let kind = kind_of(ty).ok_or_else(|| SourceError::ColumnType {
            column: names[i].clone(),
            origin: cx.origin(),
            type_name: ty.name().to_owned(),
        })?;
        Ok((i, kind))
    })
}

/// How a column's type is read: built-in types by OID, enums and citext as
/// their text, a domain as its base type.
fn kind_of(ty: &PgTypeInfo) -> Option<PgKind> {
    match ty.kind() {
        PgTypeKind::Enum(_) => Some(PgKind::Text),
        PgTypeKind::Domain(base) => kind_of(base),
        PgTypeKind::Simple if ty.name().eq_ignore_ascii_case("citext") => Some(PgKind::Text),
        PgTypeKind::Simple => ty.oid().and_then(|oid| PgKind::from_oid(oid.0)),
        _ => None,
    }
}

async fn stream_rows(
    tx: &mut PgConnection,
    stmt: &PgStatement,
    proj: &Projection<(usize, PgKind)>,
    mut builder: SegmentBuilder,
    progress: &mut (dyn FnMut(u64) + Send),
    cx: &Ctx<'_>,
) -> Result<Segment, SourceError> {
    let mut rows = tx.fetch_many(stmt.query());
    let mut row_no = 0u64;
    while let Some(item) = rows
        .try_next()
        .await
        .map_err(|e| cx.error("query failed", e))?
    {
        let Either::Right(row) = item else { continue };
        row_no += 1;
        proj.push(&mut builder, row_no, &mut |&(i, kind)| text(&row, i, kind));
        if row_no.is_multiple_of(PROGRESS_EVERY) {
            progress(row_no);
        }
    }
    Ok(builder.finish())
}

/// The field text of column `i`: NULL is not sent, text is trimmed.
fn text(row: &PgRow, i: usize, kind: PgKind) -> Result<Option<Cow<'static, str>>, String> {
    let column = || row.columns()[i].name().to_owned();
    let value = row.try_get_raw(i).map_err(|e| e.to_string())?;
    if value.is_null() {
        return Ok(None);
    }
    let bytes = value.as_bytes().map_err(|e| e.to_string())?;
    let text = match value.format() {
        PgValueFormat::Binary => pg_binary(kind, bytes),
        // Text is what the server prints; only a proxy would send it here.
        PgValueFormat::Text => std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| "value is not valid UTF-8".to_owned()),
    };
    text.map(|t| clean_value(&t).map(|v| Cow::Owned(v.to_owned())))
        .map_err(|reason| format!("column {:?}: {reason}", column()))
}
