//! The transaction every typed store operation runs in; each child module of `store` adds
//! its own operations to it.
use super::error::Result;
use rusqlite::{OptionalExtension, Row, Transaction};

/// One transaction; dropped without commit means nothing changed.
pub struct Tx<'a> {
    pub(super) tx: Transaction<'a>,
}

impl<'a> Tx<'a> {
    pub(super) fn new(tx: Transaction<'a>) -> Self {
        Tx { tx }
    }

    pub(super) fn commit(self) -> rusqlite::Result<()> {
        self.tx.commit()
    }

    /// Every row `sql` selects, each read by `from_row`.
    pub(super) fn all<T>(
        &self,
        sql: &str,
        from_row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.tx.prepare(sql)?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The row `sql` selects with `params`, if there is one.
    pub(super) fn one<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        from_row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.tx.query_row(sql, params, from_row).optional()?)
    }
}

/// A boolean as SQLite stores it.
pub(super) fn flag(b: bool) -> i64 {
    i64::from(b)
}
