//! The read SQLite runs its own way: token lookups, on the second connection. The other
//! reads are `queries`, over this backend's `Db`.

use rusqlite::Connection;

use super::super::rows;
use super::super::sql;
use super::super::StoreError;
use super::first;
use crate::auth::Principal;

pub(super) fn find_token(
    connection: &Connection,
    hash: &str,
) -> Result<Option<Principal>, StoreError> {
    first(
        connection,
        sql::FIND_TOKEN.sqlite,
        [hash],
        "looking up a token",
        rows::principal,
    )
}

pub(super) fn find_session(
    connection: &Connection,
    hash: &str,
    now: &str,
) -> Result<Option<Principal>, StoreError> {
    first(
        connection,
        sql::FIND_SESSION.sqlite,
        [hash, now],
        "looking up a web session",
        rows::principal,
    )
}
