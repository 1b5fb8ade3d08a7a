//! No SQL literal, bound parameter, error message quoting a value, or password reaches a span:
//! every string recorded by every span of the test is scanned.
#![cfg(all(feature = "sqlx-mysql", feature = "sqlx-postgres", feature = "testing"))]

mod support_data;

use sqlx::AssertSqlSafe;
use support_data::{assert_never_recorded, in_span, mariadb, postgres, unique};
use tracer::sql::Pool;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

const LITERAL: &str = "literal-s3cret";
const PARAMETER: &str = "param-s3cret";
const NUMBER: &str = "987654321";
const PASSWORD: &str = "pw-s3cret";

#[tokio::test]
async fn mariadb_spans_hold_no_literal_parameter_or_message() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let raw = mariadb::pool(1).await;
    let t = unique("secret");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {t} (id BIGINT PRIMARY KEY, email VARCHAR(100) UNIQUE) ENGINE=InnoDB"
    )))
    .execute(&raw)
    .await
    .unwrap();
    let pool = Pool::new(raw.clone()).with_tracer(tracer.clone());

    in_span(&tracer, "handler", async {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} (id, email) VALUES ({NUMBER}, '{LITERAL}') -- {LITERAL}"
        )))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "SELECT id FROM {t} WHERE email = ? OR email = \"{LITERAL}\""
        )))
        .bind(PARAMETER)
        .fetch_all(&pool)
        .await
        .unwrap();
        // The server's message quotes the value: "Duplicate entry 'param-s3cret' for key".
        let dup = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} (id, email) VALUES (?, ?)"
        )))
        .bind(1)
        .bind(LITERAL)
        .execute(&pool)
        .await
        .unwrap_err();
        assert!(
            dup.to_string().contains(LITERAL),
            "the message does quote it: {dup}"
        );
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {t} SET email = ? WHERE id = {NUMBER}"
        )))
        .bind(PARAMETER)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    })
    .await;
    sqlx::query(AssertSqlSafe(format!("DROP TABLE {t}")))
        .execute(&raw)
        .await
        .unwrap();

    assert_tree(
        &capture.render(&TreeFormat::new()),
        &format!(
            "
            app internal handler
              app internal pool.acquire
              app client INSERT {t}
              app internal pool.acquire
              app client SELECT {t}
              app internal pool.acquire
              app client INSERT {t} !error
              app internal TRANSACTION
                app internal pool.acquire
                app client BEGIN
                app client UPDATE {t}
                app client COMMIT
            "
        ),
    );
    assert_never_recorded(&capture.spans(), &[LITERAL, PARAMETER, NUMBER, "s3cret"]);
}

#[tokio::test]
async fn postgres_spans_hold_no_password_literal_or_parameter() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    // Trust authentication accepts (and ignores) the password, which the pool still knows.
    let url = postgres::URL.replace("postgres@", &format!("postgres:{PASSWORD}@"));
    let raw = sqlx::PgPool::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("postgresql not reachable at {} ({e})", postgres::URL));
    let pool = Pool::new(raw).with_tracer(tracer.clone());

    in_span(&tracer, "handler", async {
        let (_,): (String,) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT $1::text || E'{LITERAL}' || $${LITERAL}$$ || {NUMBER}"
        )))
        .bind(PARAMETER)
        .fetch_one(&pool)
        .await
        .unwrap();
    })
    .await;

    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["db.query.text"])),
        "
        app internal handler
          app internal pool.acquire
          app client SELECT db.query.text=SELECT $1::text || ? || ? || ?
        ",
    );
    assert_never_recorded(
        &capture.spans(),
        &[PASSWORD, LITERAL, PARAMETER, NUMBER, "s3cret"],
    );
}
