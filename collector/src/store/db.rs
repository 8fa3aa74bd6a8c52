//! One way to run a statement on either backend, so that the work that does not depend on
//! the dialect (`queries`: reads, tokens, the audit log, regrade, imports) is written once,
//! as async functions over [`Db`]. PostgreSQL's implementation awaits the server; SQLite's
//! answers at once, and [`run_now`] runs the same functions on SQLite's blocking thread.

use std::future::Future;

use super::rows::Columns;
use super::sql::Sql;
use super::StoreError;

/// A statement parameter, for either driver.
#[derive(Debug, Clone, Copy)]
pub(super) enum Param<'a> {
    Text(&'a str),
    Null,
    Integer(i64),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(text: &'a str) -> Self {
        Param::Text(text)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(text: &'a String) -> Self {
        Param::Text(text)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Param::Null, Into::into)
    }
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Integer(value)
    }
}

/// `[Param; N]` from a list of values of any type a [`Param`] is made from.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        [$($crate::store::db::Param::from($value)),*]
    };
}
pub(super) use params;

/// A connection or transaction of either backend.
pub(super) trait Db {
    /// Runs `text` and decodes each row with a decoder of `rows`; the rows it skips are left
    /// out.
    fn rows<T>(
        &self,
        text: &Sql,
        params: &[Param<'_>],
        operation: &'static str,
        decode: impl FnMut(&dyn Columns) -> Result<Option<T>, StoreError>,
    ) -> impl Future<Output = Result<Vec<T>, StoreError>>;

    /// The first row of `text`, decoded; `None` if there is none.
    fn first<T>(
        &self,
        text: &Sql,
        params: &[Param<'_>],
        operation: &'static str,
        decode: impl FnOnce(&dyn Columns) -> Result<T, StoreError>,
    ) -> impl Future<Output = Result<Option<T>, StoreError>>;

    /// Runs `text`; returns how many rows it changed.
    fn execute(
        &self,
        text: &Sql,
        params: &[Param<'_>],
        operation: &'static str,
    ) -> impl Future<Output = Result<u64, StoreError>>;
}

/// Runs a future over SQLite's [`Db`], whose statements complete when called: it is ready
/// at its first poll, on the calling (blocking) thread.
pub(super) fn run_now<T>(future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        // Only SQLite's statements are awaited here, and none of them waits.
        std::task::Poll::Pending => unreachable!("a SQLite statement does not wait"),
    }
}
