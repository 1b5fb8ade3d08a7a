//! Fuzz harness: the SQL sanitizer (`tracer::sql::sanitize`) for each dialect it supports.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/sql_sanitize.rs` and the corpus replay test
//! `crates/tracer/tests/fuzz_corpus.rs` (included there with `#[path]`).
//!
//! The first byte picks the dialect (bit 0: MySQL or PostgreSQL) and the mode (bit 1):
//! - raw: the rest, as (lossy) UTF-8, is the SQL text. It must never panic, the output is never
//!   longer than the input nor than [`MAX_QUERY_TEXT`], and [`summarize`] accepts it;
//! - tokens: the rest is a recipe for a statement made of well-formed tokens of that dialect
//!   (keywords, identifiers, numbers, placeholders, operators, comments and string literals in
//!   every quoting style the dialect has). Every literal and comment carries the marker
//!   [`MARKER`], which nothing else can contain: by the module's promise (every literal replaced,
//!   comments dropped) the marker never survives.

use tracer::sql::sanitize::{Flavor, MAX_QUERY_TEXT, sanitize, summarize};

/// Written inside every generated literal and comment; identifiers are lower case.
const MARKER: &str = "MRK7";

/// Runs one input (see the module docs).
pub(crate) fn run(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let flavor = if selector & 1 == 0 {
        Flavor::MYSQL
    } else {
        Flavor::POSTGRES
    };
    if selector & 2 == 0 {
        raw(&String::from_utf8_lossy(rest), flavor);
    } else {
        let sql = statement(rest, flavor);
        let out = raw(&sql, flavor);
        assert!(
            !out.contains(MARKER),
            "a literal or comment survived sanitizing\n  input: {sql:?}\n output: {out:?}"
        );
    }
}

fn raw(sql: &str, flavor: Flavor) -> String {
    let out = sanitize(sql, flavor);
    assert!(
        out.len() <= sql.len() && out.len() <= MAX_QUERY_TEXT,
        "output longer than input or limit: {sql:?} -> {out:?}"
    );
    let summary = summarize(&out);
    let _ = summary.span_name("SQL");
    out
}

/// Characters literal and comment bodies are made of: the ones that matter to a lexer.
const BODY: &[char] = &[
    'a', 'Z', '0', ' ', '\'', '"', '`', '\\', '$', '-', '*', '/', '#', '\n', '(', ')', ',', '?',
    ';', 'é', '_',
];

const KEYWORDS: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "IN", "VALUES", "INSERT", "INTO", "UPDATE", "SET",
    "DELETE", "LIMIT", "CALL", "WITH", "AS", "JOIN", "ON", "NOT", "NULL", "LIKE", "ORDER", "BY",
];

const PUNCTUATION: &[&str] = &[
    "(", ")", ",", "=", "<", ">", "<=", "+", "-", "*", "/", ";", ".", "::", "||", "@",
];

/// A body from the fuzz bytes, with the marker in the middle.
fn body(bytes: &mut impl Iterator<Item = u8>) -> String {
    let len = usize::from(bytes.next().unwrap_or(0) % 8);
    let mut s: String = (0..len)
        .map(|_| BODY[usize::from(bytes.next().unwrap_or(0)) % BODY.len()])
        .collect();
    let at = (0..=s.len())
        .rev()
        .find(|&i| s.is_char_boundary(i) && i <= len / 2);
    s.insert_str(at.unwrap_or(0), MARKER);
    s
}

/// A string literal quoted with `quote`, the body escaped as the dialect's lexer reads it:
/// the quote doubled (or, where backslashes escape, backslash-escaped).
fn quoted(body: &str, quote: char, backslash_escapes: bool, style: u8) -> String {
    let mut out = String::new();
    out.push(quote);
    for c in body.chars() {
        if c == quote {
            if backslash_escapes && style & 1 == 1 {
                out.push('\\');
            } else {
                out.push(quote);
            }
        } else if c == '\\' && backslash_escapes {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(quote);
    out
}

fn comment_body(bytes: &mut impl Iterator<Item = u8>) -> String {
    body(bytes).replace("*/", "* /").replace("/*", "/ *")
}

fn identifier(bytes: &mut impl Iterator<Item = u8>) -> String {
    let len = 1 + usize::from(bytes.next().unwrap_or(0) % 6);
    (0..len)
        .map(|i| {
            let b = bytes.next().unwrap_or(0);
            match b % 30 {
                n @ 0..=25 => char::from(b'a' + n),
                26 => '_',
                27 if i > 0 => '$',
                28 if i > 0 => '1',
                _ => 'é',
            }
        })
        .collect()
}

fn pick(b: Option<u8>, list: &[&'static str]) -> &'static str {
    list[usize::from(b.unwrap_or(0)) % list.len()]
}

fn token(kind: u8, bytes: &mut impl Iterator<Item = u8>, flavor: Flavor) -> String {
    let mysql = flavor == Flavor::MYSQL;
    match kind % 16 {
        0 | 1 => pick(bytes.next(), KEYWORDS).to_owned(),
        2 => identifier(bytes),
        3 => pick(bytes.next(), PUNCTUATION).to_owned(),
        4 => pick(
            bytes.next(),
            &[
                "1", "42", "3.14", ".5", "1e10", "2.5E-3", "0x1F", "0b101", "0",
            ],
        )
        .to_owned(),
        5 if mysql => "?".to_owned(),
        5 => format!("${}", 1 + bytes.next().unwrap_or(0) % 20),
        // Quoted identifiers: kept as they are, so no marker inside; a backslash is a plain
        // character in them, a quote is doubled.
        6 => {
            let quote = if mysql { '`' } else { '"' };
            let mut name = identifier(bytes);
            match bytes.next().unwrap_or(0) % 4 {
                0 => name.push('\\'),
                1 => name.push(quote),
                2 => name.push_str(" x"),
                _ => {}
            }
            quoted(&name, quote, false, 0)
        }
        // Comments.
        7 => format!("-- {}\n", body(bytes).replace('\n', " ")),
        // PostgreSQL block comments nest, MySQL ones do not.
        8 if !mysql && bytes.next().unwrap_or(0) & 1 == 1 => format!(
            "/* {} /* {} */ {} */",
            comment_body(bytes),
            comment_body(bytes),
            comment_body(bytes)
        ),
        8 => format!("/* {} */", comment_body(bytes)),
        9 if mysql => format!("# {}\n", body(bytes).replace('\n', " ")),
        // MySQL strings: backslash escapes (the default sql_mode), `'` or `"`.
        9..=12 if mysql => {
            let style = bytes.next().unwrap_or(0);
            let prefix = pick(Some(style >> 2), &["", "", "N", "_utf8mb4", "X", "B"]);
            let quote = if style & 2 == 0 { '\'' } else { '"' };
            let b = body(bytes);
            format!("{prefix}{}", quoted(&b, quote, true, style))
        }
        // PostgreSQL strings: standard (backslash is a plain character), E'' (backslash escapes),
        // U&'' (backslash introduces a unicode escape, quotes are doubled), dollar-quoted.
        9 | 10 => quoted(&body(bytes), '\'', false, 0),
        11 => {
            let style = bytes.next().unwrap_or(0);
            format!("E{}", quoted(&body(bytes), '\'', true, style))
        }
        12 => format!(
            "U&{}",
            quoted(&body(bytes).replace('\\', ""), '\'', false, 0)
        ),
        13 if !mysql => {
            let tag = pick(bytes.next(), &["", "x", "tag", "a_1"]);
            let b = body(bytes).replace('$', "");
            format!("${tag}${b}${tag}$")
        }
        _ => pick(bytes.next(), &["IN", "VALUES", "(", ")", ","]).to_owned(),
    }
}

/// A statement of well-formed tokens, separated by whitespace.
fn statement(recipe: &[u8], flavor: Flavor) -> String {
    let mut bytes = recipe.iter().copied();
    let mut sql = String::new();
    while let Some(kind) = bytes.next() {
        if !sql.is_empty() {
            sql.push(if kind & 0x80 == 0 { ' ' } else { '\n' });
        }
        sql.push_str(&token(kind, &mut bytes, flavor));
    }
    sql
}
