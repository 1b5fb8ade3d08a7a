//! What differs between the databases: names, lexical rules, error codes.

use std::future::Future;
use std::pin::Pin;

use sqlx::Database;
use sqlx::error::DatabaseError;

use super::sanitize::Flavor;

/// A boxed future borrowing `'a`, as sqlx's traits return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a pool connects: `server.address`, `server.port`, `db.namespace`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoint {
    /// Host name or address (or the socket path).
    pub address: Option<String>,
    /// TCP port.
    pub port: Option<u16>,
    /// The database the connections use.
    pub database: Option<String>,
}

/// A sqlx database this module instruments: implemented for [`sqlx::MySql`] (MySQL and
/// MariaDB) and [`sqlx::Postgres`].
pub trait Dialect: Database {
    /// `db.system.name` unless [`Dialect::detect`] finds better (`mysql`, `postgresql`).
    const SYSTEM_NAME: &'static str;

    /// How literals and comments are written, for [`super::sanitize::sanitize`].
    const FLAVOR: Flavor;

    /// The endpoint of a pool's connect options.
    fn endpoint(options: &<Self::Connection as sqlx::Connection>::Options) -> Endpoint;

    /// `db.response.status_code` of a database error: MySQL's error number, PostgreSQL's
    /// SQLSTATE.
    fn status_code(error: &dyn DatabaseError) -> Option<String>;

    /// Rows a statement inserted, updated or deleted.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Asks the server which system it is (MariaDB answers the MySQL protocol).
    fn detect(
        connection: &mut Self::Connection,
    ) -> BoxFuture<'_, Result<&'static str, sqlx::Error>>;
}

#[cfg(feature = "sqlx-mysql")]
impl Dialect for sqlx::MySql {
    const SYSTEM_NAME: &'static str = "mysql";
    const FLAVOR: Flavor = Flavor::MYSQL;

    fn endpoint(options: &sqlx::mysql::MySqlConnectOptions) -> Endpoint {
        let address = match options.get_socket() {
            Some(path) => path.display().to_string(),
            None => options.get_host().to_owned(),
        };
        Endpoint {
            address: Some(address),
            port: options.get_socket().is_none().then(|| options.get_port()),
            database: options.get_database().map(str::to_owned),
        }
    }

    fn status_code(error: &dyn DatabaseError) -> Option<String> {
        match error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
            Some(mysql) => Some(mysql.number().to_string()),
            None => error.code().map(|c| c.into_owned()),
        }
    }

    fn rows_affected(result: &sqlx::mysql::MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    fn detect(
        connection: &mut sqlx::MySqlConnection,
    ) -> BoxFuture<'_, Result<&'static str, sqlx::Error>> {
        Box::pin(async move {
            let version: String = sqlx::query_scalar("SELECT VERSION()")
                .fetch_one(connection)
                .await?;
            Ok(if version.contains("MariaDB") {
                "mariadb"
            } else {
                "mysql"
            })
        })
    }
}

#[cfg(feature = "sqlx-postgres")]
impl Dialect for sqlx::Postgres {
    const SYSTEM_NAME: &'static str = "postgresql";
    const FLAVOR: Flavor = Flavor::POSTGRES;

    fn endpoint(options: &sqlx::postgres::PgConnectOptions) -> Endpoint {
        let address = match options.get_socket() {
            Some(path) => path.display().to_string(),
            None => options.get_host().to_owned(),
        };
        Endpoint {
            address: Some(address),
            port: Some(options.get_port()),
            // PostgreSQL connects to the database named after the user unless told otherwise.
            database: Some(
                options
                    .get_database()
                    .unwrap_or(options.get_username())
                    .to_owned(),
            ),
        }
    }

    fn status_code(error: &dyn DatabaseError) -> Option<String> {
        error.code().map(|c| c.into_owned())
    }

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn detect(
        _connection: &mut sqlx::PgConnection,
    ) -> BoxFuture<'_, Result<&'static str, sqlx::Error>> {
        Box::pin(async { Ok("postgresql") })
    }
}
