//! A transaction is a `TRANSACTION` span parenting its connection wait, `BEGIN`, its queries
//! and `COMMIT`/`ROLLBACK`; a rolled-back (or dropped) transaction leaves no rows behind.
#![cfg(all(feature = "sqlx-mysql", feature = "sqlx-postgres", feature = "testing"))]

mod support_data;

use sqlx::AssertSqlSafe;
use support_data::{in_span, mariadb, postgres, unique};
use tracer::sql::Pool;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

async fn count(pool: &sqlx::MySqlPool, t: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
        .fetch_one(pool)
        .await
        .unwrap();
    n
}

#[tokio::test]
async fn committed_and_rolled_back_transactions_parent_their_statements() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let raw = mariadb::pool(2).await;
    let t = unique("tx");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY) ENGINE=InnoDB"
    )))
    .execute(&raw)
    .await
    .unwrap();
    let pool = Pool::new(raw.clone()).with_tracer(tracer.clone());

    in_span(&tracer, "handler", async {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(format!("INSERT INTO {t} VALUES (1)")))
            .execute(&mut *tx)
            .await
            .unwrap();
        // `&mut tx` works too.
        sqlx::query(AssertSqlSafe(format!("INSERT INTO {t} VALUES (2)")))
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = pool.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {t}")))
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
    })
    .await;
    assert_eq!(count(&raw, &t).await, 2, "the delete was rolled back");
    sqlx::query(AssertSqlSafe(format!("DROP TABLE {t}")))
        .execute(&raw)
        .await
        .unwrap();

    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["tracer.sql.rows_affected"])),
        &format!(
            "
            app internal handler
              app internal TRANSACTION
                app internal pool.acquire
                app client BEGIN
                app client INSERT {t} tracer.sql.rows_affected=1
                app client INSERT {t} tracer.sql.rows_affected=1
                app client COMMIT
              app internal TRANSACTION
                app internal pool.acquire
                app client BEGIN
                app client DELETE {t} tracer.sql.rows_affected=2
                app client ROLLBACK
            "
        ),
    );
}

#[tokio::test]
async fn dropped_transaction_rolls_back_and_says_so() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let raw = postgres::pool(1).await;
    let t = unique("txdrop");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY)"
    )))
    .execute(&raw)
    .await
    .unwrap();
    let pool = Pool::new(raw.clone()).with_tracer(tracer.clone());

    in_span(&tracer, "handler", async {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(format!("INSERT INTO {t} VALUES ($1)")))
            .bind(1)
            .execute(&mut *tx)
            .await
            .unwrap();
        drop(tx);
    })
    .await;
    let (n,): (i64,) = sqlx::query_as(AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(n, 0, "dropping the transaction rolled it back");
    sqlx::query(AssertSqlSafe(format!("DROP TABLE {t}")))
        .execute(&raw)
        .await
        .unwrap();

    assert_tree(
        &capture.render(&TreeFormat::new().events(true)),
        &format!(
            "
            app internal handler
              app internal TRANSACTION events=[rollback_on_drop]
                app internal pool.acquire
                app client BEGIN
                app client INSERT {t}
            "
        ),
    );
}
