//! Every sqlx query through `tracer::sql::Pool` is a CLIENT span named
//! `{operation} {table}` after a `pool.acquire` span, with the stable DB attributes, sanitized
//! text and row counts, on MariaDB (detected as such) and PostgreSQL alike.
#![cfg(all(feature = "sqlx-mysql", feature = "sqlx-postgres", feature = "testing"))]

mod support_data;

use opentelemetry::Value;
use sqlx::{AssertSqlSafe, Row as _};
use support_data::{in_span, mariadb, postgres, unique};
use tracer::sql::Pool;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

fn format() -> TreeFormat {
    TreeFormat::new().attributes(["db.response.returned_rows", "tracer.sql.rows_affected"])
}

fn attr(capture: &SpanCapture, span: &str, key: &str) -> Option<Value> {
    capture
        .spans()
        .iter()
        .find(|s| s.name() == span)
        .and_then(|s| s.attr(key).cloned())
}

#[tokio::test]
async fn mariadb_queries_are_named_spans_with_attributes_and_rows() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let raw = mariadb::pool(2).await;
    let t = unique("orders");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL) ENGINE=InnoDB"
    )))
    .execute(&raw)
    .await
    .unwrap();
    let pool = Pool::new(raw.clone())
        .with_tracer(tracer.clone())
        .detect()
        .await
        .unwrap();
    assert_eq!(pool.system(), "mariadb");

    let (all, one, none) = in_span(&tracer, "handler", async {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} (id, email) VALUES (?, ?)"
        )))
        .bind(1)
        .bind("alice@example.com")
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} (id, email) VALUES (2, 'bob@example.com')"
        )))
        .execute(&pool)
        .await
        .unwrap();
        let all = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, email FROM {t} WHERE id >= ? ORDER BY id"
        )))
        .bind(0)
        .fetch_all(&pool)
        .await
        .unwrap();
        let (one,): (String,) =
            sqlx::query_as(AssertSqlSafe(format!("SELECT email FROM {t} WHERE id = 2")))
                .fetch_one(&pool)
                .await
                .unwrap();
        let none = sqlx::query(AssertSqlSafe(format!(
            "SELECT email FROM {t} WHERE id = 99"
        )))
        .fetch_optional(&pool)
        .await
        .unwrap();
        let updated = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {t} SET email = 'carol@example.com' WHERE id IN (1, 2)"
        )))
        .execute(&pool)
        .await
        .unwrap();
        assert_eq!(updated.rows_affected(), 2);
        (all.len(), one, none.is_none())
    })
    .await;
    assert_eq!((all, one.as_str(), none), (2, "bob@example.com", true));
    sqlx::query(AssertSqlSafe(format!("DROP TABLE {t}")))
        .execute(&raw)
        .await
        .unwrap();

    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            app internal handler
              app internal pool.acquire
              app client INSERT {t} db.response.returned_rows=0 tracer.sql.rows_affected=1
              app internal pool.acquire
              app client INSERT {t} db.response.returned_rows=0 tracer.sql.rows_affected=1
              app internal pool.acquire
              app client SELECT {t} db.response.returned_rows=2
              app internal pool.acquire
              app client SELECT {t} db.response.returned_rows=1
              app internal pool.acquire
              app client SELECT {t} db.response.returned_rows=0
              app internal pool.acquire
              app client UPDATE {t} db.response.returned_rows=0 tracer.sql.rows_affected=2
            "
        ),
    );
    let insert = format!("INSERT {t}");
    let s = |v: &str| Some(Value::from(v.to_owned()));
    assert_eq!(attr(&capture, &insert, "db.system.name"), s("mariadb"));
    assert_eq!(attr(&capture, &insert, "db.namespace"), s("test"));
    assert_eq!(attr(&capture, &insert, "db.operation.name"), s("INSERT"));
    assert_eq!(attr(&capture, &insert, "db.collection.name"), s(&t));
    assert_eq!(attr(&capture, &insert, "server.address"), s("127.0.0.1"));
    assert_eq!(
        attr(&capture, &insert, "server.port"),
        Some(Value::I64(3306))
    );
    assert_eq!(
        attr(&capture, &insert, "db.query.text"),
        s(&format!("INSERT INTO {t} (id, email) VALUES (?, ?)"))
    );
    assert_eq!(
        attr(&capture, &format!("UPDATE {t}"), "db.query.text"),
        s(&format!("UPDATE {t} SET email = ? WHERE id IN (?)"))
    );
    assert_eq!(
        attr(&capture, "pool.acquire", "db.system.name"),
        s("mariadb")
    );
}

#[tokio::test]
async fn postgres_queries_are_named_spans_with_attributes_and_rows() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let raw = postgres::pool(2).await;
    let t = unique("items");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, name TEXT NOT NULL)"
    )))
    .execute(&raw)
    .await
    .unwrap();
    let pool = Pool::new(raw.clone()).with_tracer(tracer.clone());

    let names = in_span(&tracer, "handler", async {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} (id, name) VALUES ($1, $2), (2, 'two')"
        )))
        .bind(1)
        .bind("one")
        .execute(&pool)
        .await
        .unwrap();
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT name FROM {t} ORDER BY id")))
            .fetch_all(&pool)
            .await
            .unwrap();
        let deleted = sqlx::query(AssertSqlSafe(format!("DELETE FROM {t} WHERE id = $1")))
            .bind(2)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 1);
        rows.iter()
            .map(|r| r.get::<String, _>(0))
            .collect::<Vec<_>>()
    })
    .await;
    assert_eq!(names, ["one", "two"]);
    sqlx::query(AssertSqlSafe(format!("DROP TABLE {t}")))
        .execute(&raw)
        .await
        .unwrap();

    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            app internal handler
              app internal pool.acquire
              app client INSERT {t} db.response.returned_rows=0 tracer.sql.rows_affected=2
              app internal pool.acquire
              app client SELECT {t} db.response.returned_rows=2
              app internal pool.acquire
              app client DELETE {t} db.response.returned_rows=0 tracer.sql.rows_affected=1
            "
        ),
    );
    let insert = format!("INSERT {t}");
    let s = |v: &str| Some(Value::from(v.to_owned()));
    assert_eq!(attr(&capture, &insert, "db.system.name"), s("postgresql"));
    assert_eq!(attr(&capture, &insert, "db.namespace"), s("test"));
    assert_eq!(
        attr(&capture, &insert, "server.port"),
        Some(Value::I64(5432))
    );
    assert_eq!(
        attr(&capture, &insert, "db.query.text"),
        s(&format!(
            "INSERT INTO {t} (id, name) VALUES ($1, $2), (?, ?)"
        ))
    );
}

#[tokio::test]
async fn acquired_connection_runs_queries_under_the_current_span() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let pool = Pool::new(mariadb::pool(1).await).with_tracer(tracer.clone());

    let n = in_span(&tracer, "handler", async {
        let mut conn = pool.acquire().await.unwrap();
        let (a,): (i64,) = sqlx::query_as("SELECT 40 + 2")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let (b,): (i64,) = sqlx::query_as("SELECT ?")
            .bind(1_i64)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        a + b
    })
    .await;
    assert_eq!(n, 43);

    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["db.query.text"])),
        "
        app internal handler
          app internal pool.acquire
          app client SELECT db.query.text=SELECT ? + ?
          app client SELECT db.query.text=SELECT ?
        ",
    );
}

#[tokio::test]
async fn switched_off_records_no_span_and_queries_still_work() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let pool = Pool::new(postgres::pool(1).await).with_tracer(tracer.clone());

    tracer.set_enabled(false);
    let (n,): (i32,) = sqlx::query_as("SELECT 7").fetch_one(&pool).await.unwrap();
    let rows = sqlx::query("SELECT 1 UNION ALL SELECT 2")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT 1").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((n, rows.len()), (7, 2));
    assert!(capture.is_empty(), "no spans while switched off");

    tracer.set_enabled(true);
    in_span(&tracer, "handler", async {
        sqlx::query("SELECT 1").execute(&pool).await.unwrap();
    })
    .await;
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "
        app internal handler
          app internal pool.acquire
          app client SELECT
        ",
    );
}
