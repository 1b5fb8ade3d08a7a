//! server3's data: the product catalogue and the orders in MySQL/MariaDB, products cached in
//! Redis, and the faulty ways to reach both.
//!
//! Every network fault is real: besides its direct connections, server3 opens one Redis
//! connection and one MySQL pool per fault through a [`FaultProxy`] in front of the real server,
//! then switches that proxy's fault on for good. A request's directive picks which connection it
//! uses, so concurrent requests with different faults never disturb each other.
//!
//! The schema and seed data are created idempotently at start: `demo_products` (skus 1 to
//! [`PRODUCTS`]) and `demo_orders` (order 1 always exists, for the duplicate-key scenario).

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use sqlx::MySql;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use tracer::Tracer;
use tracer::redis::InstrumentedConnection;
use tracer::sql::Pool;

use crate::faults::directive::{MysqlFault, RedisFault};
use crate::faults::proxy::{Fault, FaultProxy};

/// Number of products seeded.
pub const PRODUCTS: u64 = 100;
/// How long a cached product lives in Redis.
pub const CACHE_TTL_SECS: u64 = 60;
/// Response timeout of the "slow" Redis connection, shorter than its proxy's latency.
pub const SLOW_REDIS_TIMEOUT: Duration = Duration::from_millis(100);
/// Latency the "slow" Redis proxy adds to every chunk, each way.
pub const SLOW_REDIS_LATENCY: Duration = Duration::from_millis(300);
/// How long the query of the "slow" MySQL fault sleeps in the server, in seconds.
pub const SLOW_QUERY_SECS: f64 = 0.6;
/// How long each query holds the connection of the one-connection pool, in seconds.
pub const SMALL_POOL_HOLD_SECS: f64 = 0.05;

/// Why server3 could not reach its data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis could not be reached or used.
    #[error(
        "cannot use Redis at {url}: {source}; start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\"` or set REDIS_URL"
    )]
    Redis {
        /// The URL tried.
        url: String,
        /// What failed.
        source: redis::RedisError,
    },
    /// MySQL/MariaDB could not be reached or used.
    #[error(
        "cannot use MySQL at {url}: {source}; start MariaDB with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` (database `test`, user root) or set MYSQL_URL"
    )]
    Mysql {
        /// The URL tried.
        url: String,
        /// What failed.
        source: sqlx::Error,
    },
    /// A fault proxy could not start.
    #[error("cannot start a fault proxy in front of {upstream}: {source}")]
    Proxy {
        /// The server proxied.
        upstream: String,
        /// What failed.
        source: std::io::Error,
    },
}

/// A Redis connection whose commands are traced.
pub type Cache = InstrumentedConnection<MultiplexedConnection>;

/// server3's connections to Redis and MySQL, direct and faulty.
pub struct Store {
    /// Prefix of this process's cache keys, so that a fresh start always begins cold.
    pub namespace: String,
    cache: Cache,
    cache_refuse: Cache,
    cache_slow: Cache,
    cache_reset: Cache,
    pool: Pool<MySql>,
    pool_small: Pool<MySql>,
    pool_refuse: Pool<MySql>,
    _proxies: Vec<FaultProxy>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

async fn proxy(upstream: SocketAddr) -> Result<FaultProxy, StoreError> {
    FaultProxy::start(upstream)
        .await
        .map_err(|source| StoreError::Proxy {
            upstream: upstream.to_string(),
            source,
        })
}

async fn resolve(host: &str, port: u16) -> std::io::Result<SocketAddr> {
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{host} has no address")))
}

impl Store {
    /// Connects to Redis at `redis_url` and MySQL at `mysql_url`, creates the schema and seed
    /// data, and opens the faulty connections. Spans are recorded with `tracer`.
    pub async fn connect(
        redis_url: &str,
        mysql_url: &str,
        tracer: &Tracer,
    ) -> Result<Store, StoreError> {
        let redis_err = |source| StoreError::Redis {
            url: redis_url.to_owned(),
            source,
        };
        let mysql_err = |source| StoreError::Mysql {
            url: mysql_url.to_owned(),
            source,
        };
        let mut proxies = Vec::new();

        // Redis: the direct connection, then one through a proxy per fault.
        let client = redis::Client::open(redis_url).map_err(redis_err)?;
        let mut direct = client
            .get_multiplexed_async_connection()
            .await
            .map_err(redis_err)?;
        direct.set_response_timeout(Duration::from_secs(2));
        let cache = InstrumentedConnection::new(direct, &client).with_tracer(tracer.clone());
        let redis::ConnectionAddr::Tcp(host, port) = client.get_connection_info().addr().clone()
        else {
            return Err(redis_err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "the demo reaches Redis over plain TCP only",
            ))));
        };
        let upstream = resolve(&host, port)
            .await
            .map_err(|e| redis_err(e.into()))?;
        let db = client.get_connection_info().redis_settings().db();
        let mut faulty = Vec::new();
        for fault in [
            Fault::Refuse,
            Fault::Latency(SLOW_REDIS_LATENCY),
            Fault::ResetAfter(0),
        ] {
            let proxy = proxy(upstream).await?;
            let proxied =
                redis::Client::open(format!("redis://{}/{db}", proxy.addr())).map_err(redis_err)?;
            let mut conn = proxied
                .get_multiplexed_async_connection()
                .await
                .map_err(redis_err)?;
            let timeout = match fault {
                Fault::Latency(_) => SLOW_REDIS_TIMEOUT,
                _ => Duration::from_secs(2),
            };
            conn.set_response_timeout(timeout);
            // The handshake went through; from now on this connection sees the fault.
            proxy.set(fault).await.map_err(|e| redis_err(e.into()))?;
            faulty.push(InstrumentedConnection::new(conn, &proxied).with_tracer(tracer.clone()));
            proxies.push(proxy);
        }
        let [cache_refuse, cache_slow, cache_reset]: [Cache; 3] = faulty
            .try_into()
            .unwrap_or_else(|_| unreachable!("three faulty connections were opened"));

        // MySQL: the direct pool, a one-connection pool, and a pool behind a refusing proxy.
        let options = MySqlConnectOptions::from_str(mysql_url).map_err(mysql_err)?;
        let raw = MySqlPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options.clone())
            .await
            .map_err(mysql_err)?;
        create_schema(&raw).await.map_err(mysql_err)?;
        let pool = Pool::new(raw)
            .with_tracer(tracer.clone())
            .detect()
            .await
            .map_err(mysql_err)?;
        let small = MySqlPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options.clone())
            .await
            .map_err(mysql_err)?;
        let pool_small = Pool::new(small)
            .with_tracer(tracer.clone())
            .system_name(pool.system());
        let upstream = resolve(options.get_host(), options.get_port())
            .await
            .map_err(|e| mysql_err(sqlx::Error::Io(e)))?;
        let refusing = proxy(upstream).await?;
        refusing
            .set(Fault::Refuse)
            .await
            .map_err(|e| mysql_err(sqlx::Error::Io(e)))?;
        let refused = MySqlPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_millis(300))
            .connect_lazy_with(
                options
                    .clone()
                    .host(&refusing.addr().ip().to_string())
                    .port(refusing.addr().port()),
            );
        let pool_refuse = Pool::new(refused)
            .with_tracer(tracer.clone())
            .system_name(pool.system());
        proxies.push(refusing);

        Ok(Store {
            namespace: format!("demo:{}:{}", std::process::id(), unix_millis()),
            cache,
            cache_refuse,
            cache_slow,
            cache_reset,
            pool,
            pool_small,
            pool_refuse,
            _proxies: proxies,
        })
    }

    /// The Redis connection for `fault`.
    pub fn cache(&self, fault: RedisFault) -> Cache {
        match fault {
            RedisFault::None => self.cache.clone(),
            RedisFault::Refuse => self.cache_refuse.clone(),
            RedisFault::Slow => self.cache_slow.clone(),
            RedisFault::Reset => self.cache_reset.clone(),
        }
    }

    /// The MySQL pool for `fault`; `small` picks the one-connection pool.
    pub fn pool(&self, fault: MysqlFault, small: bool) -> &Pool<MySql> {
        match (fault, small) {
            (MysqlFault::Refuse, _) => &self.pool_refuse,
            (_, true) => &self.pool_small,
            _ => &self.pool,
        }
    }

    /// The cache key of a product.
    pub fn product_key(&self, sku: u64) -> String {
        format!("{}:product:{sku}", self.namespace)
    }
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Creates the tables and seed rows unless they exist.
async fn create_schema(pool: &sqlx::MySqlPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS demo_products (
            sku BIGINT UNSIGNED PRIMARY KEY,
            name VARCHAR(100) NOT NULL,
            price_cents BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS demo_orders (
            id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
            customer VARCHAR(64) NOT NULL,
            total_cents BIGINT NOT NULL,
            created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .execute(pool)
    .await?;
    const ADJECTIVES: &[&str] = &["red", "blue", "green", "small", "large"];
    const NOUNS: &[&str] = &["mug", "lamp", "chair", "kettle"];
    let mut insert =
        String::from("INSERT IGNORE INTO demo_products (sku, name, price_cents) VALUES ");
    for sku in 1..=PRODUCTS {
        let name = format!(
            "{} {}",
            ADJECTIVES[(sku as usize) % ADJECTIVES.len()],
            NOUNS[(sku as usize / ADJECTIVES.len()) % NOUNS.len()]
        );
        if sku > 1 {
            insert.push(',');
        }
        insert.push_str(&format!("({sku}, '{name} #{sku}', {})", 500 + sku * 37));
    }
    sqlx::query(sqlx::AssertSqlSafe(insert))
        .execute(pool)
        .await?;
    sqlx::query("INSERT IGNORE INTO demo_orders (id, customer, total_cents) VALUES (1, 'seed', 0)")
        .execute(pool)
        .await?;
    Ok(())
}
