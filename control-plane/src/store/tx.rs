//! The transaction every typed store operation runs in; each child module of `store` adds
//! its own operations to it.
use rusqlite::Transaction;

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
}

/// A boolean as SQLite stores it.
pub(super) fn flag(b: bool) -> i64 {
    i64::from(b)
}
