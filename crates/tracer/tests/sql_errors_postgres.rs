//! PostgreSQL errors under a query are red CLIENT spans carrying the SQLSTATE in
//! `db.response.status_code` and `error.type`: syntax (42601), unique violation (23505),
//! undefined table (42P01) and lock not available (55P03, through `lock_timeout`).
#![cfg(all(feature = "sqlx-postgres", feature = "testing"))]

mod support_data;

use sqlx::AssertSqlSafe;
use support_data::{in_span, postgres, unique};
use tracer::sql::Pool;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

fn format() -> TreeFormat {
    TreeFormat::new().attributes(["error.type", "db.response.status_code"])
}

async fn table(pool: &sqlx::PgPool) -> String {
    let t = unique("err");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, v TEXT)"
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

async fn drop_table(pool: &sqlx::PgPool, t: &str) {
    sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {t}")))
        .execute(pool)
        .await
        .unwrap();
}

fn sqlstate(error: &sqlx::Error) -> String {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned())
        .unwrap_or_else(|| panic!("not a database error: {error:?}"))
}

#[tokio::test]
async fn syntax_error_is_42601() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let pool = Pool::new(postgres::pool(1).await).with_tracer(tracer.clone());

    let err = in_span(&tracer, "handler", async {
        sqlx::query("SELECT * FORM nowhere")
            .execute(&pool)
            .await
            .unwrap_err()
    })
    .await;
    assert_eq!(sqlstate(&err), "42601");

    assert_tree(
        &capture.render(&format()),
        "
        app internal handler
          app internal pool.acquire
          app client SELECT !error error.type=42601 db.response.status_code=42601
        ",
    );
}

#[tokio::test]
async fn unique_violation_is_23505() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let raw = postgres::pool(1).await;
    let t = table(&raw).await;
    let pool = Pool::new(raw.clone()).with_tracer(tracer.clone());

    let err = in_span(&tracer, "handler", async {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} (id, v) VALUES ($1, $2)"
        )))
        .bind(1)
        .bind("dup")
        .execute(&pool)
        .await
        .unwrap_err()
    })
    .await;
    drop_table(&raw, &t).await;
    assert_eq!(sqlstate(&err), "23505");

    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            app internal handler
              app internal pool.acquire
              app client INSERT {t} !error error.type=23505 db.response.status_code=23505
            "
        ),
    );
}

#[tokio::test]
async fn undefined_table_is_42p01() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let pool = Pool::new(postgres::pool(1).await).with_tracer(tracer.clone());
    let t = unique("missing");

    let err = in_span(&tracer, "handler", async {
        sqlx::query(AssertSqlSafe(format!("SELECT * FROM {t}")))
            .fetch_optional(&pool)
            .await
            .unwrap_err()
    })
    .await;
    assert_eq!(sqlstate(&err), "42P01");

    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            app internal handler
              app internal pool.acquire
              app client SELECT {t} !error error.type=42P01 db.response.status_code=42P01
            "
        ),
    );
}

#[tokio::test]
async fn lock_not_available_is_55p03() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let raw = postgres::pool(2).await;
    let t = table(&raw).await;
    let pool = Pool::new(raw.clone()).with_tracer(tracer.clone());

    let err = in_span(&tracer, "handler", async {
        let mut holder = pool.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "SELECT v FROM {t} WHERE id = 1 FOR UPDATE"
        )))
        .fetch_one(&mut *holder)
        .await
        .unwrap();
        let mut waiter = pool.begin().await.unwrap();
        sqlx::query("SET LOCAL lock_timeout = '200ms'")
            .execute(&mut *waiter)
            .await
            .unwrap();
        let err = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {t} SET v = 'b' WHERE id = 1"
        )))
        .execute(&mut *waiter)
        .await
        .unwrap_err();
        waiter.rollback().await.unwrap();
        holder.rollback().await.unwrap();
        err
    })
    .await;
    drop_table(&raw, &t).await;
    assert_eq!(sqlstate(&err), "55P03");

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
              app internal TRANSACTION
                app internal pool.acquire
                app client BEGIN
                app client SET
                app client UPDATE {t} !error error.type=55P03 db.response.status_code=55P03
                app client ROLLBACK
            "
        ),
    );
}
