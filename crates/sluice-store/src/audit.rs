//! The audit log: append-only and hash-chained. Record `seq` stores `prev_hash` (the hash of
//! record `seq - 1`, zeros for the first) and `hash = sha256(prev_hash || canonical JSON of
//! {at, kind, payload, run, seq})`; appends are serialized on the one-row `audit_head` table.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{RunId, VerifyReport, hex};
use crate::time::{self, Ts};
use crate::{PoolExt, Store, StoreError, with_read_pool, with_write_pool};

/// The `prev_hash` of the first record.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How many records [`Store::verify_audit`] reads at a time.
const PAGE: i64 = 1000;

/// The hash of a record: SHA-256 (lowercase hex) of `prev_hash` followed by the canonical JSON
/// (sorted keys, no spaces) of `{"at", "kind", "payload", "run", "seq"}`; `payload` is already
/// canonical JSON text and `at` is RFC 3339 UTC with microseconds.
pub(crate) fn record_hash(
    prev_hash: &str,
    seq: i64,
    at: DateTime<Utc>,
    kind: &str,
    run: Option<&str>,
    payload: &str,
) -> String {
    let quote = |s: &str| Value::String(s.to_string()).to_string();
    let run = run.map_or_else(|| "null".to_string(), quote);
    let body = format!(
        r#"{{"at":{},"kind":{},"payload":{payload},"run":{run},"seq":{seq}}}"#,
        quote(&time::text(at)),
        quote(kind),
    );
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(body.as_bytes());
    hex(&h.finalize())
}

/// Appends an audit record inside the write transaction `$tx` of pool `$pool` (either
/// backend): locks the chain head (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE`
/// already holds the database's write lock), inserts record `head + 1`, moves the head.
/// Evaluates to `Result<(), StoreError>`.
macro_rules! append {
    ($tx:expr, $pool:expr, $kind:expr, $run:expr, $payload:expr) => {
        async {
            let payload_text = $crate::json::canonical($payload)?;
            let head_sql = format!(
                "SELECT seq, hash FROM audit_head WHERE id = 1 {}",
                $crate::PoolExt::for_update($pool)
            );
            let (seq, prev): (i64, String) = sqlx::query_as(&head_sql).fetch_one(&mut *$tx).await?;
            let seq = seq + 1;
            let at = $crate::time::now();
            let run: Option<&str> = $run.map(|r| r.as_str());
            let hash = $crate::audit::record_hash(&prev, seq, at, $kind, run, &payload_text);
            sqlx::query(
                "INSERT INTO audit_log (seq, at, kind, run_id, payload, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(seq)
            .bind($crate::time::Ts(at))
            .bind($kind)
            .bind(run)
            .bind(&payload_text)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *$tx)
            .await?;
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(seq)
                .bind(&hash)
                .execute(&mut *$tx)
                .await?;
            Ok::<(), $crate::StoreError>(())
        }
        .await
    };
}
pub(crate) use append;

/// Appends several audit records (`&[(kind, Option<&RunId>, &Value)]`) inside the write
/// transaction `$tx`, as [`append!`] does one: the head is read and moved once, the records
/// go in one statement. Evaluates to `Result<(), StoreError>`.
macro_rules! append_many {
    ($tx:expr, $pool:expr, $records:expr) => {
        async {
            let head_sql = format!(
                "SELECT seq, hash FROM audit_head WHERE id = 1 {}",
                $crate::PoolExt::for_update($pool)
            );
            let (mut seq, mut prev): (i64, String) =
                sqlx::query_as(&head_sql).fetch_one(&mut *$tx).await?;
            let mut rows = Vec::with_capacity($records.len());
            for (kind, run, payload) in $records.iter() {
                let payload_text = $crate::json::canonical(payload)?;
                seq += 1;
                let at = $crate::time::now();
                let run: Option<&str> = run.map(|r| r.as_str());
                let hash = $crate::audit::record_hash(&prev, seq, at, kind, run, &payload_text);
                rows.push((
                    seq,
                    at,
                    *kind,
                    run,
                    payload_text,
                    std::mem::replace(&mut prev, hash.clone()),
                    hash,
                ));
            }
            for chunk in $crate::chunks::fixed_chunks(&rows) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_log (seq, at, kind, run_id, payload, prev_hash, hash) ",
                );
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(r.0)
                        .push_bind($crate::time::Ts(r.1))
                        .push_bind(r.2)
                        .push_bind(r.3)
                        .push_bind(r.4.as_str())
                        .push_bind(r.5.as_str())
                        .push_bind(r.6.as_str());
                });
                q.build().execute(&mut *$tx).await?;
            }
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(seq)
                .bind(&prev)
                .execute(&mut *$tx)
                .await?;
            Ok::<(), $crate::StoreError>(())
        }
        .await
    };
}
pub(crate) use append_many;

/// A stored record, in column order.
type AuditRow = (i64, Ts, String, Option<String>, String, String, String);

impl Store {
    /// Appends a record of `kind` (e.g. `run.finished`, `write.sent`), about `run` if any, to the
    /// audit log. The payload is stored as canonical JSON (sorted keys).
    pub async fn audit(
        &self,
        kind: &str,
        run: Option<&RunId>,
        payload: &Value,
    ) -> Result<(), StoreError> {
        with_write_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            append!(tx, pool, kind, run, payload)?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Checks the whole audit log: every record's hash matches its content, links to the
    /// record before, the sequence has no gap, and the last record is the chain head. Reports
    /// the first record that fails (an edited, deleted or reordered record), or the count.
    pub async fn verify_audit(&self) -> Result<VerifyReport, StoreError> {
        with_read_pool!(self, pool => {
            let (head_seq, head_hash): (i64, String) =
                sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                    .fetch_one(pool)
                    .await?;
            let mut expected: i64 = 1;
            let mut prev = GENESIS.to_string();
            loop {
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT seq, at, kind, run_id, payload, prev_hash, hash FROM audit_log \
                     WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                )
                .bind(expected)
                .bind(head_seq)
                .bind(PAGE)
                .fetch_all(pool)
                .await?;
                if rows.is_empty() {
                    break;
                }
                for row in rows {
                    if let Some(bad) = check(expected, &prev, &row) {
                        return Ok(bad);
                    }
                    prev = row.6;
                    expected += 1;
                }
            }
            if expected - 1 != head_seq {
                return Ok(VerifyReport::FirstBad {
                    seq: seq_u64(expected),
                    reason: format!(
                        "records {expected} to {head_seq} are missing (the log ends at {})",
                        expected - 1
                    ),
                });
            }
            if prev != head_hash {
                return Ok(VerifyReport::FirstBad {
                    seq: seq_u64(head_seq),
                    reason: "the last record's hash is not the chain head's".into(),
                });
            }
            Ok(VerifyReport::Ok { records: seq_u64(head_seq), head_hash })
        })
    }
}

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

/// What is wrong with `row`, read where record `expected` should be, after a record whose hash
/// was `prev`.
fn check(expected: i64, prev: &str, row: &AuditRow) -> Option<VerifyReport> {
    let (seq, at, kind, run, payload, prev_hash, hash) = row;
    let seq = *seq;
    let bad = |seq: i64, reason: String| {
        Some(VerifyReport::FirstBad {
            seq: seq_u64(seq),
            reason,
        })
    };
    if seq != expected {
        let reason = if seq == expected + 1 {
            format!("record {expected} is missing (deleted?)")
        } else {
            format!("records {expected} to {} are missing (deleted?)", seq - 1)
        };
        return bad(expected, reason);
    }
    if prev_hash != prev {
        return bad(
            seq,
            format!(
                "its prev_hash does not match record {}'s hash (a record was removed, inserted or reordered)",
                seq - 1
            ),
        );
    }
    if record_hash(prev_hash, seq, at.0, kind, run.as_deref(), payload) != *hash {
        return bad(
            seq,
            "its content does not match its hash (the record was edited)".into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_covers_every_field() {
        let at = time::now();
        let base = record_hash(GENESIS, 1, at, "k", Some("r"), "{}");
        assert_eq!(base.len(), 64);
        assert_ne!(base, record_hash(GENESIS, 2, at, "k", Some("r"), "{}"));
        assert_ne!(base, record_hash(GENESIS, 1, at, "j", Some("r"), "{}"));
        assert_ne!(base, record_hash(GENESIS, 1, at, "k", None, "{}"));
        assert_ne!(
            base,
            record_hash(GENESIS, 1, at, "k", Some("r"), "{\"a\":1}")
        );
        assert_ne!(base, record_hash(&base, 1, at, "k", Some("r"), "{}"));
        assert_eq!(base, record_hash(GENESIS, 1, at, "k", Some("r"), "{}"));
    }
}
