//! MySQL/MariaDB errors under a query are red CLIENT spans carrying the MySQL error number in
//! `db.response.status_code` and `error.type`: syntax (1064), duplicate key (1062), unknown
//! table (1146) and lock-wait timeout (1205).
#![cfg(all(feature = "sqlx-mysql", feature = "testing"))]

mod support_data;

use sqlx::AssertSqlSafe;
use support_data::{in_span, mariadb, unique};
use tracer::sql::Pool;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

fn format() -> TreeFormat {
    TreeFormat::new().attributes(["error.type", "db.response.status_code"])
}

async fn table(pool: &sqlx::MySqlPool) -> String {
    let t = unique("err");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB"
    )))
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(AssertSqlSafe(format!("INSERT INTO {t} VALUES (1, 'a')")))
        .execute(pool)
        .await
        .unwrap();
    t
}

async fn drop_table(pool: &sqlx::MySqlPool, t: &str) {
    sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {t}")))
        .execute(pool)
        .await
        .unwrap();
}

fn number(error: &sqlx::Error) -> u16 {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .map(|e| e.number())
        .unwrap_or_else(|| panic!("not a MySQL error: {error:?}"))
}

#[tokio::test]
async fn syntax_error_is_1064() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let pool = Pool::new(mariadb::pool(1).await).with_tracer(tracer.clone());

    let err = in_span(&tracer, "handler", async {
        sqlx::query("SELECT * FORM nowhere")
            .execute(&pool)
            .await
            .unwrap_err()
    })
    .await;
    assert_eq!(number(&err), 1064);

    assert_tree(
        &capture.render(&format()),
        "
        app internal handler
          app internal pool.acquire
          app client SELECT !error error.type=1064 db.response.status_code=1064
        ",
    );
}

#[tokio::test]
async fn duplicate_key_is_1062() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let raw = mariadb::pool(1).await;
    let t = table(&raw).await;
    let pool = Pool::new(raw.clone()).with_tracer(tracer.clone());

    let err = in_span(&tracer, "handler", async {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} (id, v) VALUES (?, ?)"
        )))
        .bind(1)
        .bind("dup")
        .execute(&pool)
        .await
        .unwrap_err()
    })
    .await;
    drop_table(&raw, &t).await;
    assert_eq!(number(&err), 1062);

    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            app internal handler
              app internal pool.acquire
              app client INSERT {t} !error error.type=1062 db.response.status_code=1062
            "
        ),
    );
}

#[tokio::test]
async fn unknown_table_is_1146() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let pool = Pool::new(mariadb::pool(1).await).with_tracer(tracer.clone());
    let t = unique("missing");

    let err = in_span(&tracer, "handler", async {
        sqlx::query(AssertSqlSafe(format!("SELECT * FROM {t}")))
            .fetch_all(&pool)
            .await
            .unwrap_err()
    })
    .await;
    assert_eq!(number(&err), 1146);

    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            app internal handler
              app internal pool.acquire
              app client SELECT {t} !error error.type=1146 db.response.status_code=1146
            "
        ),
    );
}

#[tokio::test]
async fn lock_wait_timeout_is_1205() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let raw = mariadb::pool(2).await;
    let t = table(&raw).await;
    let pool = Pool::new(raw.clone()).with_tracer(tracer.clone());

    let err = in_span(&tracer, "handler", async {
        // The transaction holds the row lock...
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "SELECT v FROM {t} WHERE id = 1 FOR UPDATE"
        )))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        // ...so another connection waiting at most a second for it gives up.
        let mut other = pool.acquire().await.unwrap();
        sqlx::query("SET SESSION innodb_lock_wait_timeout = 1")
            .execute(&mut other)
            .await
            .unwrap();
        let err = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {t} SET v = 'b' WHERE id = 1"
        )))
        .execute(&mut other)
        .await
        .unwrap_err();
        tx.rollback().await.unwrap();
        err
    })
    .await;
    drop_table(&raw, &t).await;
    assert_eq!(number(&err), 1205);

    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            app internal handler
              app internal TRANSACTION
                app internal pool.acquire
                app client BEGIN
                app client SELECT {t}
                app client ROLLBACK
              app internal pool.acquire
              app client SET
              app client UPDATE {t} !error error.type=1205 db.response.status_code=1205
            "
        ),
    );
}
