//! Reading trace files: OTLP JSON (one document or JSON lines) and Jaeger UI JSON.
//!
//! A file is a sequence of JSON documents separated by whitespace: one whole document (a
//! pretty-printed `ExportTraceServiceRequest`, a Jaeger `{"data": [...]}` download) or one per
//! line, as the OpenTelemetry Collector's file exporter and the OpenTelemetry Python
//! `opentelemetry-exporter-otlp-json-file` write them. Each document is recognised by its
//! shape:
//!
//! - `{"resourceSpans": [...]}`: OTLP JSON (`ExportTraceServiceRequest` or `TracesData`, which
//!   have the same JSON), read by the same serde model the OTLP/HTTP endpoint uses;
//! - `{"data": [trace, ...]}` or one bare trace `{"traceID", "spans", "processes"}`: Jaeger UI
//!   JSON, converted to OTLP by `files/jaeger_json.rs` (the inverse of the Jaeger conversion).
//!
//! Parsing happens in two passes so memory stays bounded by the input: the first only finds
//! where each document starts and ends (nothing is allocated per value), the second decodes
//! one document at a time straight into the OTLP model. The whole file is read before anything
//! is stored, so a bad file stores nothing. Errors name the line (1-based), the column and, for
//! a well-formed document with a bad field, the field's JSON path, e.g.
//! `line 3, column 120: resourceSpans[0].scopeSpans[0].spans[1].traceId: invalid hex ...`.
//! Nesting deeper than serde_json's recursion limit (128) is an error, not a stack overflow.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::jaeger_json;

/// Most JSON documents (lines) one file may hold.
pub const MAX_DOCUMENTS: usize = 100_000;

/// The format a document was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OTLP JSON (`resourceSpans`).
    OtlpJson,
    /// Jaeger UI JSON (`data` list of traces, or one trace).
    JaegerJson,
}

/// A file read into OTLP requests, one per document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFile {
    /// One request per document, in file order.
    pub requests: Vec<ExportTraceServiceRequest>,
    /// Documents read as OTLP JSON.
    pub otlp_documents: usize,
    /// Documents read as Jaeger JSON.
    pub jaeger_documents: usize,
}

/// Why a file cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not JSON at this place.
    #[error("line {line}, column {column}: not valid JSON: {detail}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's message.
        detail: String,
    },
    /// A document is JSON but a field has the wrong shape or value.
    #[error("line {line}, column {column}: {path}: {detail}")]
    Field {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// JSON path of the field (`resourceSpans[0].scopeSpans[0].spans[1].traceId`).
        path: String,
        /// What is wrong and what is accepted.
        detail: String,
    },
    /// A document is neither OTLP JSON nor Jaeger JSON.
    #[error(
        "line {line}: the document is neither OTLP JSON (an object with a `resourceSpans` \
         list) nor Jaeger JSON (an object with a `data` list of traces, or one trace with \
         `traceID` and `spans`)"
    )]
    UnknownFormat {
        /// 1-based line where the document starts.
        line: usize,
    },
    /// No document at all.
    #[error("the file holds no JSON document")]
    Empty,
    /// More documents than [`MAX_DOCUMENTS`].
    #[error("the file holds more than {MAX_DOCUMENTS} JSON documents; split it")]
    TooManyDocuments,
}

/// One document, decoded into whichever shape it has. Unknown fields are ignored (the Jaeger
/// envelope's `total`, `limit`, ...; OTLP fields newer than the model).
#[derive(Deserialize)]
struct Document {
    #[serde(rename = "resourceSpans")]
    resource_spans: Option<Vec<ResourceSpans>>,
    data: Option<Vec<jaeger_json::Trace>>,
    #[serde(rename = "traceID")]
    trace_id: Option<String>,
    spans: Option<Vec<jaeger_json::Span>>,
    processes: Option<std::collections::BTreeMap<String, jaeger_json::Process>>,
    errors: Option<serde_json::Value>,
}

/// Line and column of byte offsets met in increasing order, counting each byte once (a file of
/// many short lines is scanned once, not once per line).
struct Positions<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Positions<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Positions {
            bytes,
            offset: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// 1-based line and column of byte `offset` (not before the previous one asked for).
    fn at(&mut self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.bytes.len()).max(self.offset);
        for (i, &b) in self.bytes[self.offset..offset].iter().enumerate() {
            if b == b'\n' {
                self.line += 1;
                self.line_start = self.offset + i + 1;
            }
        }
        self.offset = offset;
        (self.line, offset - self.line_start + 1)
    }
}

/// serde_json's message without its " at line L column C" suffix (the position is reported
/// separately, relative to the file).
fn message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Reads a whole file: every document, in order, as OTLP requests.
pub fn parse(bytes: &[u8]) -> Result<ParsedFile, ParseError> {
    let mut requests = Vec::new();
    let counts = for_each(bytes, |request| requests.push(request))?;
    Ok(ParsedFile { requests, ..counts })
}

/// Reads a file one document at a time, handing each request to `each` as soon as it is
/// decoded, so only one document's request is held at once. Returns the counts (with no
/// requests). An error stops the reading; the requests handed over before it were valid.
pub fn for_each(
    bytes: &[u8],
    mut each: impl FnMut(ExportTraceServiceRequest),
) -> Result<ParsedFile, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = ParsedFile::default();
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<IgnoredAny>();
    let mut end = 0;
    let mut positions = Positions::new(bytes);
    loop {
        let start = end
            + bytes[end..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        match stream.next() {
            None => break,
            Some(Err(e)) => {
                return Err(ParseError::Syntax {
                    line: e.line(),
                    column: e.column(),
                    detail: message(&e),
                });
            }
            Some(Ok(IgnoredAny)) => {}
        }
        end = stream.byte_offset();
        if out.otlp_documents + out.jaeger_documents == MAX_DOCUMENTS {
            return Err(ParseError::TooManyDocuments);
        }
        let (format, request) = document(bytes, positions.at(start), start, end)?;
        match format {
            Format::OtlpJson => out.otlp_documents += 1,
            Format::JaegerJson => out.jaeger_documents += 1,
        }
        each(request);
    }
    if out.otlp_documents + out.jaeger_documents == 0 {
        return Err(ParseError::Empty);
    }
    Ok(out)
}

/// Decodes the document at `bytes[start..end]`, which starts at `(line, column)`.
fn document(
    bytes: &[u8],
    (line, column): (usize, usize),
    start: usize,
    end: usize,
) -> Result<(Format, ExportTraceServiceRequest), ParseError> {
    let mut de = serde_json::Deserializer::from_slice(&bytes[start..end]);
    let doc: Document = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        // Positions inside the slice, moved to the file.
        let (l, c) = (inner.line(), inner.column());
        ParseError::Field {
            line: line + l.saturating_sub(1),
            column: if l <= 1 {
                column + c.saturating_sub(1)
            } else {
                c
            },
            path: match e.path().to_string() {
                p if p == "." => "(document)".to_owned(),
                p => p,
            },
            detail: message(inner),
        }
    })?;
    let field = |path: String, detail: String| ParseError::Field {
        line,
        column,
        path,
        detail,
    };
    if let Some(resource_spans) = doc.resource_spans {
        return Ok((
            Format::OtlpJson,
            ExportTraceServiceRequest { resource_spans },
        ));
    }
    if let Some(traces) = doc.data {
        let mut request = ExportTraceServiceRequest::default();
        for (i, trace) in traces.iter().enumerate() {
            jaeger_json::append(&mut request, trace, &format!("data[{i}]"))
                .map_err(|e| field(e.path, e.detail))?;
        }
        return Ok((Format::JaegerJson, request));
    }
    if let Some(spans) = doc.spans {
        let trace = jaeger_json::Trace {
            trace_id: doc.trace_id.unwrap_or_default(),
            spans,
            processes: doc.processes.unwrap_or_default(),
        };
        let mut request = ExportTraceServiceRequest::default();
        jaeger_json::append(&mut request, &trace, "").map_err(|e| field(e.path, e.detail))?;
        return Ok((Format::JaegerJson, request));
    }
    if let Some(errors) = doc.errors.filter(|e| !e.is_null()) {
        let mut text = errors.to_string();
        text.truncate(200);
        return Err(field(
            "errors".to_owned(),
            format!("the document is an error answer without traces: {text}"),
        ));
    }
    Err(ParseError::UnknownFormat { line })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OTLP_LINE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

    #[test]
    fn json_lines_and_one_document_read_alike() {
        let lines = format!("{OTLP_LINE}\n{OTLP_LINE}\n");
        let parsed = parse(lines.as_bytes()).unwrap();
        assert_eq!(parsed.requests.len(), 2);
        assert_eq!(parsed.otlp_documents, 2);
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(OTLP_LINE).unwrap(),
        )
        .unwrap();
        let one = parse(pretty.as_bytes()).unwrap();
        assert_eq!(one.requests[0], parsed.requests[0]);
    }

    #[test]
    fn a_bad_field_is_named_with_its_line_and_path() {
        let bad = OTLP_LINE.replace("b7ad6b7169203331", "zz");
        let text = format!("{OTLP_LINE}\n{bad}\n");
        let err = parse(text.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with("line 2, column "), "{err}");
        assert!(
            err.contains("resourceSpans[0].scopeSpans[0].spans[0].spanId"),
            "{err}"
        );
    }

    #[test]
    fn the_line_of_an_error_deep_in_many_lines_is_right() {
        let mut text = format!("{OTLP_LINE}\n").repeat(5000);
        text.push_str("  {\"resourceSpans\": 7}\n");
        match parse(text.as_bytes()).unwrap_err() {
            ParseError::Field { line, column, .. } => assert_eq!((line, column), (5001, 21)), // the `7`,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn broken_json_names_its_line_and_column() {
        let text = format!("{OTLP_LINE}\n{{\"resourceSpans\": [\n");
        match parse(text.as_bytes()).unwrap_err() {
            ParseError::Syntax { line, .. } => assert_eq!(line, 3),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn unknown_documents_and_empty_files_are_refused() {
        assert_eq!(
            parse(b"\n{\"spanz\": 1}").unwrap_err(),
            ParseError::UnknownFormat { line: 2 }
        );
        assert_eq!(parse(b"  \n ").unwrap_err(), ParseError::Empty);
        let deep = "[".repeat(10_000);
        assert!(matches!(
            parse(deep.as_bytes()).unwrap_err(),
            ParseError::Syntax { .. }
        ));
    }
}
