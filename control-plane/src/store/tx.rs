//! The transaction every typed store operation runs in; each child module of `store` adds
//! its own operations to it. The operations write their SQL once, with SQLite's numbered
//! `?N` parameters (PostgreSQL's `$N` at prepare time), and read rows through [`Row`].
use super::error::{Result, StoreError};
use super::postgres::PgConn;
use super::value::{FromRow, Row, Value};
use std::cell::RefCell;

/// Which SQL dialect the transaction speaks, for the few statements that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

pub(super) enum Conn<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(RefCell<&'a mut PgConn>),
    /// Committed: nothing more runs in it.
    Finished,
}

/// One transaction; dropped without commit means nothing changed.
pub struct Tx<'a> {
    pub(super) conn: Conn<'a>,
}

impl<'a> Tx<'a> {
    pub(super) fn sqlite(tx: rusqlite::Transaction<'a>) -> Self {
        Tx {
            conn: Conn::Sqlite(tx),
        }
    }

    /// `conn` has already begun the transaction.
    pub(super) fn postgres(conn: &'a mut PgConn) -> Self {
        Tx {
            conn: Conn::Postgres(RefCell::new(conn)),
        }
    }

    pub(super) fn commit(mut self) -> Result<()> {
        match std::mem::replace(&mut self.conn, Conn::Finished) {
            Conn::Sqlite(tx) => Ok(tx.commit()?),
            Conn::Postgres(c) => c.into_inner().batch("COMMIT"),
            Conn::Finished => Ok(()),
        }
    }

    /// On PostgreSQL, this store's replica name (for the notifications it sends).
    pub(super) fn replica(&self) -> Option<String> {
        match &self.conn {
            Conn::Postgres(c) => Some(c.borrow().replica.clone()),
            _ => None,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.conn {
            Conn::Postgres(_) => Dialect::Postgres,
            Conn::Sqlite(_) | Conn::Finished => Dialect::Sqlite,
        }
    }

    /// `sqlite` on SQLite, `postgres` on PostgreSQL: for the statements the dialects write
    /// differently.
    pub(super) fn pick<'s>(&self, sqlite: &'s str, postgres: &'s str) -> &'s str {
        match self.dialect() {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        }
    }

    /// Runs a statement; how many rows it changed.
    pub(super) fn execute(&self, sql: &str, params: &[Value]) -> Result<usize> {
        match &self.conn {
            Conn::Sqlite(tx) => {
                let mut stmt = tx.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?)
            }
            Conn::Postgres(c) => c.borrow_mut().execute(sql, params),
            Conn::Finished => Err(finished()),
        }
    }

    /// Every row `sql` selects with `params`.
    pub(super) fn rows(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match &self.conn {
            Conn::Sqlite(tx) => {
                let mut stmt = tx.prepare_cached(sql)?;
                let width = stmt.column_count();
                let mut rows =
                    stmt.query(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut values = Vec::with_capacity(width);
                    for i in 0..width {
                        values.push(from_sqlite(r.get_ref(i)?)?);
                    }
                    out.push(Row { values });
                }
                Ok(out)
            }
            Conn::Postgres(c) => c.borrow_mut().query(sql, params),
            Conn::Finished => Err(finished()),
        }
    }

    /// Every row `sql` selects with `params`, each read by `from_row`.
    pub(super) fn query<T>(
        &self,
        sql: &str,
        params: &[Value],
        from_row: FromRow<T>,
    ) -> Result<Vec<T>> {
        self.rows(sql, params)?.iter().map(from_row).collect()
    }

    /// Every row `sql` selects, each read by `from_row`.
    pub(super) fn all<T>(&self, sql: &str, from_row: FromRow<T>) -> Result<Vec<T>> {
        self.query(sql, &[], from_row)
    }

    /// The row `sql` selects with `params`, if there is one.
    pub(super) fn one<T>(
        &self,
        sql: &str,
        params: &[Value],
        from_row: FromRow<T>,
    ) -> Result<Option<T>> {
        self.rows(sql, params)?.first().map(from_row).transpose()
    }

    /// The first column of the row `sql` selects; an error when it selects none.
    pub(super) fn scalar<T: super::value::FromValue>(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<T> {
        self.rows(sql, params)?
            .first()
            .ok_or_else(|| StoreError::Corrupt(format!("no row from {sql}")))?
            .get(0)
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // SQLite's Transaction rolls back on drop by itself; PostgreSQL's needs the word.
        if let Conn::Postgres(c) = &self.conn {
            let _ = c.borrow().batch("ROLLBACK");
        }
    }
}

fn finished() -> StoreError {
    StoreError::Corrupt("a statement ran after its transaction committed".into())
}

fn sqlite_value(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Int(i) => V::Integer(*i),
        Value::Text(s) => V::Text(s.clone()),
        Value::Blob(b) => V::Blob(b.clone()),
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Result<Value> {
    use rusqlite::types::ValueRef as V;
    Ok(match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Int(i),
        V::Text(t) => Value::Text(
            String::from_utf8(t.to_vec())
                .map_err(|_| StoreError::Corrupt("stored text is not UTF-8".into()))?,
        ),
        V::Blob(b) => Value::Blob(b.to_vec()),
        V::Real(r) => {
            return Err(StoreError::Corrupt(format!(
                "a real number ({r}) where the schema holds none"
            )));
        }
    })
}

/// A boolean as both schemas store it.
pub(super) fn flag(b: bool) -> i64 {
    i64::from(b)
}
