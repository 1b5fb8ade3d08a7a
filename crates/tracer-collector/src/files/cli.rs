//! The `export` and `import` subcommands of the `tracer-collector` binary.
//!
//! Both talk to a running collector's query port (`--collector`, default
//! `http://127.0.0.1:16686`), presenting the collector's access token when one is given
//! (`--auth-token` / `TRACER_COLLECTOR_AUTH_TOKEN`, see [`crate::access`]).
//!
//! - `export --trace ID [--format otlp-json|jaeger-json] [--output FILE]` writes one trace;
//!   `export --service NAME --since DURATION [--limit N]` writes the newest traces of a service
//!   (found through `/api/v3/trace-summaries`, fetched one at a time from `/api/export/{id}`).
//!   OTLP JSON is one `ExportTraceServiceRequest` per line (one line per trace), as the
//!   OpenTelemetry Collector's file exporter writes it; Jaeger JSON is one
//!   `{"data": [trace, ...]}` document, as the Jaeger UI downloads it.
//! - `import FILE...` reads each file here first (so a bad file is reported with its name,
//!   line and field before anything is sent, and nothing of it is stored), then sends its
//!   documents as OTLP JSON lines, in batches of at most [`IMPORT_BATCH_BYTES`], to
//!   `POST /api/import`; it prints the stored trace ids on stdout.
//!
//! Exit codes (sysexits): 0 done; 1 a trace to export is not found; 2 bad arguments; 65 a file
//! is not a trace file (nothing of that file was sent; the other files are still imported); 66
//! a file cannot be read or is larger than [`MAX_FILE_BYTES`]; 69 the collector cannot be
//! reached or refused a request.

use std::io::Write;
use std::path::PathBuf;

use crate::query::params::parse_go_duration;

/// Largest file `import` reads. It holds the file and its re-encoded batches (about as large)
/// in memory, never all the decoded requests at once.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Largest body `import` sends in one request (a single larger document is sent alone).
pub const IMPORT_BATCH_BYTES: usize = 4 << 20;
/// Default `--collector`.
pub const DEFAULT_COLLECTOR_URL: &str = "http://127.0.0.1:16686";

/// Exit code: a trace asked for is not in the collector.
pub const EXIT_NOT_FOUND: u8 = 1;
/// Exit code: a file is not a valid trace file (EX_DATAERR).
pub const EXIT_DATA: u8 = 65;
/// Exit code: a file cannot be read or is too large (EX_NOINPUT).
pub const EXIT_NO_INPUT: u8 = 66;
/// Exit code: the collector cannot be reached or refused a request (EX_UNAVAILABLE).
pub const EXIT_UNAVAILABLE: u8 = 69;

/// A failed command: the message to print and the exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    /// The process exit code.
    pub code: u8,
    /// What went wrong.
    pub message: String,
}

fn fail(code: u8, message: impl Into<String>) -> CliError {
    CliError {
        code,
        message: message.into(),
    }
}

/// The file formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// OTLP JSON lines, one trace per line.
    OtlpJson,
    /// Jaeger UI JSON, one `{"data": [...]}` document.
    JaegerJson,
}

/// Arguments of `export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The trace to export (hex id).
    #[arg(long = "trace", conflicts_with_all = ["service", "since"], required_unless_present = "service")]
    pub trace_id: Option<String>,
    /// Export the newest traces of this service (with --since).
    #[arg(long, requires = "since")]
    pub service: Option<String>,
    /// How far back to look for --service, as a Go duration (`30m`, `2h`).
    #[arg(long)]
    pub since: Option<String>,
    /// Most traces to export with --service.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FileFormat::OtlpJson)]
    pub format: FileFormat,
    /// Write here instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Base URL of the collector's query port.
    #[arg(long, env = "TRACER_COLLECTOR_QUERY_URL", default_value = DEFAULT_COLLECTOR_URL)]
    pub collector: String,
}

/// Arguments of `import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// Trace files: OTLP JSON (one request per line, or one document) or Jaeger UI JSON.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Base URL of the collector's query port.
    #[arg(long, env = "TRACER_COLLECTOR_QUERY_URL", default_value = DEFAULT_COLLECTOR_URL)]
    pub collector: String,
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(base: &str, token: Option<String>) -> Result<Self, CliError> {
        let http = reqwest::Client::builder().build().map_err(|e| {
            fail(
                EXIT_UNAVAILABLE,
                format!("cannot build an HTTP client: {e}"),
            )
        })?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.filter(|t| !t.is_empty()),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request; the status and body, or an error naming the URL.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<(u16, Vec<u8>), CliError> {
        let url = format!("{}{path}", self.base);
        let response = request.send().await.map_err(|e| {
            fail(
                EXIT_UNAVAILABLE,
                format!(
                    "cannot reach the collector at {url}: {e} (is it running? see --collector)"
                ),
            )
        })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| {
            fail(
                EXIT_UNAVAILABLE,
                format!("{url}: cannot read the answer: {e}"),
            )
        })?;
        if status == 401 {
            return Err(fail(
                EXIT_UNAVAILABLE,
                format!(
                    "{url}: 401, the collector wants its access token (--auth-token or TRACER_COLLECTOR_AUTH_TOKEN)"
                ),
            ));
        }
        Ok((status, body.to_vec()))
    }
}

/// The first envelope error message of a Jaeger-style answer, or the body's start.
fn answer_error(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let msg = parsed.as_ref().and_then(|v| {
        v.pointer("/errors/0/msg")
            .or_else(|| v.pointer("/error/message"))
            .and_then(|m| m.as_str().map(str::to_owned))
    });
    msg.unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
}

/// RFC 3339 (UTC, seconds) of Unix seconds.
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn format_name(format: FileFormat) -> &'static str {
    match format {
        FileFormat::OtlpJson => "otlp-json",
        FileFormat::JaegerJson => "jaeger-json",
    }
}

/// Runs `export`.
pub async fn export(args: ExportArgs, token: Option<String>) -> Result<(), CliError> {
    let client = Client::new(&args.collector, token)?;
    let ids = match (&args.trace_id, &args.service) {
        (Some(id), _) => vec![id.clone()],
        (None, Some(service)) => find_ids(&client, service, &args).await?,
        (None, None) => {
            return Err(fail(
                2,
                "give --trace ID, or --service NAME --since DURATION",
            ));
        }
    };
    let mut out: Vec<u8> = Vec::new();
    let mut jaeger: Vec<serde_json::Value> = Vec::new();
    for id in &ids {
        let path = format!(
            "/api/export/{}?format={}",
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC),
            format_name(args.format)
        );
        let (status, body) = client
            .send(client.request(reqwest::Method::GET, &path), &path)
            .await?;
        match status {
            200 => {}
            404 => {
                return Err(fail(
                    EXIT_NOT_FOUND,
                    format!("trace {id} not found in the collector at {}", client.base),
                ));
            }
            _ => {
                return Err(fail(
                    EXIT_UNAVAILABLE,
                    format!("{}{path}: {status} {}", client.base, answer_error(&body)),
                ));
            }
        }
        match args.format {
            FileFormat::OtlpJson => out.extend_from_slice(&body),
            FileFormat::JaegerJson => {
                let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                    fail(EXIT_UNAVAILABLE, format!("{path}: unexpected answer: {e}"))
                })?;
                if let Some(serde_json::Value::Array(traces)) = doc.get("data") {
                    jaeger.extend(traces.iter().cloned());
                }
            }
        }
    }
    if args.format == FileFormat::JaegerJson {
        let doc = serde_json::json!({
            "data": jaeger, "total": jaeger.len(), "limit": 0, "offset": 0, "errors": null,
        });
        out = doc.to_string().into_bytes();
        out.push(b'\n');
    }
    match &args.output {
        Some(path) => std::fs::write(path, &out).map_err(|e| {
            fail(
                EXIT_NO_INPUT,
                format!("cannot write {}: {e}", path.display()),
            )
        })?,
        None => std::io::stdout()
            .write_all(&out)
            .map_err(|e| fail(1, format!("cannot write to stdout: {e}")))?,
    }
    eprintln!("exported {} trace(s)", ids.len());
    Ok(())
}

async fn find_ids(
    client: &Client,
    service: &str,
    args: &ExportArgs,
) -> Result<Vec<String>, CliError> {
    let since = args.since.as_deref().unwrap_or("1h");
    let since_ns = parse_go_duration(since).map_err(|e| {
        fail(
            2,
            format!("--since {since:?}: {e}; give a Go duration such as 30m or 2h"),
        )
    })?;
    if !(1..=1500).contains(&args.limit) {
        return Err(fail(
            2,
            format!("--limit {}: accepted 1 to 1500", args.limit),
        ));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let start = now.saturating_sub(since_ns / 1_000_000_000);
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let path = format!(
        "/api/v3/trace-summaries?query.service_name={}&query.start_time_min={}&query.start_time_max={}&query.search_depth={}",
        enc(service),
        enc(&rfc3339(start)),
        enc(&rfc3339(now + 1)),
        args.limit
    );
    let (status, body) = client
        .send(client.request(reqwest::Method::GET, &path), &path)
        .await?;
    if status != 200 {
        return Err(fail(
            EXIT_UNAVAILABLE,
            format!("{}{path}: {status} {}", client.base, answer_error(&body)),
        ));
    }
    let doc: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| fail(EXIT_UNAVAILABLE, format!("{path}: unexpected answer: {e}")))?;
    let ids = doc
        .get("summaries")
        .and_then(|s| s.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|s| s.get("traceId")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(ids)
}

/// Runs `import`: every file is tried; the exit code is that of the first failure.
pub async fn import(args: ImportArgs, token: Option<String>) -> Result<(), CliError> {
    let client = Client::new(&args.collector, token)?;
    let mut first_error: Option<CliError> = None;
    for path in &args.files {
        match import_file(&client, path).await {
            Ok(()) => {}
            Err(e) if e.code == EXIT_UNAVAILABLE => return Err(e),
            Err(e) => {
                eprintln!("error: {}", e.message);
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(fail(e.code, "some files were not imported (see above)")),
        None => Ok(()),
    }
}

async fn import_file(client: &Client, path: &std::path::Path) -> Result<(), CliError> {
    let name = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| fail(EXIT_NO_INPUT, format!("{name}: cannot read: {e}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(fail(
            EXIT_NO_INPUT,
            format!(
                "{name}: {size} bytes is over the import limit of {MAX_FILE_BYTES} bytes; split it"
            ),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| fail(EXIT_NO_INPUT, format!("{name}: cannot read: {e}")))?;
    // First pass: the whole file is valid, or nothing of it is sent.
    let file = super::parse::for_each(&bytes, drop)
        .map_err(|e| fail(EXIT_DATA, format!("{name}: {e}")))?;
    // Second pass: one document at a time, re-encoded into batches (the file and its batches
    // are held, never all the decoded requests at once).
    let mut batches: Vec<Vec<u8>> = Vec::new();
    let mut batch: Vec<u8> = Vec::new();
    let mut encode_error = None;
    super::parse::for_each(&bytes, |request| match serde_json::to_vec(&request) {
        Ok(line) => {
            if !batch.is_empty() && batch.len() + line.len() + 1 > IMPORT_BATCH_BYTES {
                batches.push(std::mem::take(&mut batch));
            }
            batch.extend_from_slice(&line);
            batch.push(b'\n');
        }
        Err(e) => {
            encode_error.get_or_insert(e);
        }
    })
    .map_err(|e| fail(EXIT_DATA, format!("{name}: {e}")))?;
    if let Some(e) = encode_error {
        return Err(fail(EXIT_DATA, format!("{name}: cannot re-encode: {e}")));
    }
    drop(bytes);
    batches.push(batch);
    let mut ids: Vec<String> = Vec::new();
    let (mut spans, mut rejected) = (0u64, 0u64);
    for body in batches {
        let (status, answer) = client
            .send(
                client
                    .request(reqwest::Method::POST, super::api::IMPORT_PATH)
                    .header("content-type", "application/json")
                    .body(body),
                super::api::IMPORT_PATH,
            )
            .await?;
        if status != 200 {
            return Err(fail(
                EXIT_UNAVAILABLE,
                format!(
                    "{name}: the collector refused the import: {status} {}",
                    answer_error(&answer)
                ),
            ));
        }
        let doc: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
        let data = &doc["data"];
        spans += data["spans"].as_u64().unwrap_or(0);
        rejected += data["rejected"].as_u64().unwrap_or(0);
        if let Some(message) = data["message"].as_str().filter(|m| !m.is_empty()) {
            eprintln!("warning: {name}: {message}");
        }
        for id in data["traceIDs"].as_array().into_iter().flatten() {
            if let Some(id) = id.as_str()
                && !ids.iter().any(|i| i == id)
            {
                ids.push(id.to_owned());
            }
        }
    }
    eprintln!(
        "{name}: {spans} span(s) in {} trace(s) imported ({} OTLP JSON, {} Jaeger JSON document(s)){}",
        ids.len(),
        file.otlp_documents,
        file.jaeger_documents,
        if rejected > 0 {
            format!(", {rejected} rejected")
        } else {
            String::new()
        }
    );
    let mut stdout = std::io::stdout().lock();
    for id in ids {
        let _ = writeln!(stdout, "{id}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_prints_utc_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
