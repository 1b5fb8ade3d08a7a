//! "Save as HTML": one self-contained page holding the UI, its styles and traces, which opens
//! from `file://` in a browser with no network access at all.
//!
//! Browsers do not load ES modules from `file://` (module scripts need a CORS-same-origin URL),
//! so the page cannot simply reference the UI's modules. Instead the modules are inlined into one
//! classic script: each module becomes a function whose imports read the exports of the modules
//! before it and which returns its own exports, called in dependency order. The rewrite handles
//! exactly the forms the UI uses (`import { a, b as c } from './x.js';`, `import * as x from
//! './x.js';`, `export function|async function|class|const|let name`); anything else is a
//! [`BundleError`], which the unit tests turn into a failure, so a new form cannot slip by.
//!
//! In the page, `api.js` is replaced by `offline-api.js`, which answers the same calls from the
//! traces inlined as JSON (`<script type="application/json">`, with every `<` escaped so span
//! data cannot close the element). The page's Content-Security-Policy (a `<meta>`) allows only
//! its own inline script and style and `data:` images: `connect-src 'none'`, so the page cannot
//! reach the network even if some code tried to.

use std::collections::{BTreeMap, BTreeSet};

use super::{ASSETS, INDEX_HTML};
use crate::query::model::Trace;

/// The Content-Security-Policy of the saved page: nothing but its inline script and style.
pub const OFFLINE_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// Id of the `<script type="application/json">` element holding the traces.
pub const DATA_ELEMENT_ID: &str = "tracer-offline-traces";

/// Why the UI's modules cannot be inlined (a UI change the bundler does not understand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// A module imports one that is not embedded.
    #[error("{module} imports {import}, which is not an embedded module")]
    Missing {
        /// The importing module.
        module: String,
        /// The module it names.
        import: String,
    },
    /// An import or export form the rewrite does not handle.
    #[error("{module}: unsupported statement {statement:?}")]
    Unsupported {
        /// The module.
        module: String,
        /// The statement.
        statement: String,
    },
    /// Modules import each other in a cycle.
    #[error("import cycle through {0}")]
    Cycle(String),
    /// The page template lacks a part the page is built from.
    #[error("index.html no longer contains {0:?}")]
    Template(&'static str),
}

/// One module after the rewrite: the modules it imports and its function body.
struct Module {
    imports: Vec<String>,
    body: String,
}

fn unsupported(module: &str, statement: &str) -> BundleError {
    BundleError::Unsupported {
        module: module.to_owned(),
        statement: statement.chars().take(120).collect(),
    }
}

/// `'./x.js'` -> `x.js`.
fn specifier(module: &str, statement: &str, quoted: &str) -> Result<String, BundleError> {
    let inner = quoted
        .trim()
        .trim_end_matches(';')
        .trim()
        .strip_prefix("'./")
        .and_then(|s| s.strip_suffix('\''))
        .ok_or_else(|| unsupported(module, statement))?;
    Ok(inner.to_owned())
}

fn identifier(s: &str) -> Option<&str> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// Rewrites one module; `rename` maps an imported file name to the module used instead.
fn rewrite(
    name: &str,
    source: &str,
    rename: &dyn Fn(&str) -> String,
) -> Result<Module, BundleError> {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let mut body = String::with_capacity(source.len() + 256);
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("import ") || line == "import" {
            let mut statement = line.to_owned();
            while !statement.trim_end().ends_with(';') {
                match lines.next() {
                    Some(next) => {
                        statement.push(' ');
                        statement.push_str(next.trim());
                    }
                    None => return Err(unsupported(name, &statement)),
                }
            }
            let rest = statement["import ".len()..].trim();
            let (what, from) = rest
                .rsplit_once(" from ")
                .ok_or_else(|| unsupported(name, &statement))?;
            let target = rename(&specifier(name, &statement, from)?);
            let binding = if let Some(ns) = what.trim().strip_prefix("* as ") {
                identifier(ns.trim())
                    .filter(|id| id.len() == ns.trim().len())
                    .ok_or_else(|| unsupported(name, &statement))?
                    .to_owned()
            } else if let Some(list) = what
                .trim()
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
            {
                let mut parts = Vec::new();
                for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let (from, to) = match item.split_once(" as ") {
                        Some((a, b)) => (a.trim(), b.trim()),
                        None => (item, item),
                    };
                    if identifier(from) != Some(from) || identifier(to) != Some(to) {
                        return Err(unsupported(name, &statement));
                    }
                    parts.push(if from == to {
                        from.to_owned()
                    } else {
                        format!("{from}: {to}")
                    });
                }
                format!("{{ {} }}", parts.join(", "))
            } else {
                return Err(unsupported(name, &statement));
            };
            body.push_str(&format!(
                "const {binding} = __tracer_modules[{target:?}];\n"
            ));
            imports.push(target);
            continue;
        }
        if let Some(rest) = line.strip_prefix("export ") {
            let declared = ["async function ", "function ", "class ", "const ", "let "]
                .iter()
                .find_map(|kw| rest.strip_prefix(kw))
                .and_then(identifier)
                .ok_or_else(|| unsupported(name, line))?;
            exports.push(declared.to_owned());
            body.push_str(rest);
            body.push('\n');
            continue;
        }
        if line.trim_start().starts_with("export ") || line.contains("import(") {
            return Err(unsupported(name, line));
        }
        body.push_str(line);
        body.push('\n');
    }
    body.push_str(&format!("return {{ {} }};\n", exports.join(", ")));
    Ok(Module { imports, body })
}

/// The UI's modules as one classic script, `entry` and what it imports, in dependency order.
/// In the offline page `api.js` is served by `offline-api.js`.
pub fn bundle(entry: &str, offline: bool) -> Result<String, BundleError> {
    let sources: BTreeMap<&str, &str> = ASSETS
        .iter()
        .filter_map(|a| Some((a.path.strip_prefix("/ui/")?, a.body)))
        .filter(|(name, _)| name.ends_with(".js"))
        .collect();
    let rename = |name: &str| {
        if offline && name == "api.js" {
            "offline-api.js".to_owned()
        } else {
            name.to_owned()
        }
    };
    let mut modules: BTreeMap<String, Module> = BTreeMap::new();
    let mut pending = vec![rename(entry)];
    while let Some(name) = pending.pop() {
        if modules.contains_key(&name) {
            continue;
        }
        let source = sources
            .get(name.as_str())
            .ok_or_else(|| BundleError::Missing {
                module: entry.to_owned(),
                import: name.clone(),
            })?;
        let module = rewrite(&name, source, &rename)?;
        for import in &module.imports {
            if !sources.contains_key(import.as_str()) {
                return Err(BundleError::Missing {
                    module: name.clone(),
                    import: import.clone(),
                });
            }
            pending.push(import.clone());
        }
        modules.insert(name, module);
    }
    // Depth-first post-order from the entry: every module after the ones it imports.
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    let mut visiting = BTreeSet::new();
    fn visit(
        name: &str,
        modules: &BTreeMap<String, Module>,
        done: &mut BTreeSet<String>,
        visiting: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) -> Result<(), BundleError> {
        if done.contains(name) {
            return Ok(());
        }
        if !visiting.insert(name.to_owned()) {
            return Err(BundleError::Cycle(name.to_owned()));
        }
        for import in &modules[name].imports {
            visit(import, modules, done, visiting, order)?;
        }
        visiting.remove(name);
        done.insert(name.to_owned());
        order.push(name.to_owned());
        Ok(())
    }
    visit(
        &rename(entry),
        &modules,
        &mut done,
        &mut visiting,
        &mut order,
    )?;
    let mut out = String::from("(() => {\n'use strict';\nconst __tracer_modules = {};\n");
    for name in order {
        out.push_str(&format!(
            "// ---- {name}\n__tracer_modules[{name:?}] = (() => {{\n{}}})();\n",
            modules[&name].body
        ));
    }
    out.push_str("})();\n");
    // Inside a <script> element, `</script` would end it early.
    Ok(out.replace("</script", "<\\/script"))
}

fn replace_once(page: &mut String, from: &'static str, to: &str) -> Result<(), BundleError> {
    let at = page.find(from).ok_or(BundleError::Template(from))?;
    page.replace_range(at..at + from.len(), to);
    Ok(())
}

/// Percent-encodes an SVG for a `data:` URL.
fn svg_data_url(svg: &str) -> String {
    let encoded: String =
        percent_encoding::utf8_percent_encode(svg, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("data:image/svg+xml,{encoded}")
}

fn asset(path: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|a| a.path == path)
        .map_or("", |a| a.body)
}

/// The self-contained page showing `traces` (Jaeger UI model), opening on the first.
pub fn page(traces: &[Trace]) -> Result<String, BundleError> {
    let data = serde_json::to_string(traces)
        .unwrap_or_else(|_| "[]".to_owned())
        .replace('<', "\\u003c");
    let script = bundle("app.js", true)?;
    let mut page = INDEX_HTML.to_owned();
    replace_once(
        &mut page,
        "<meta charset=\"utf-8\">",
        &format!(
            "<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{OFFLINE_CONTENT_SECURITY_POLICY}\">"
        ),
    )?;
    replace_once(
        &mut page,
        "href=\"/ui/favicon.svg\"",
        &format!("href=\"{}\"", svg_data_url(asset("/ui/favicon.svg"))),
    )?;
    replace_once(
        &mut page,
        "<link rel=\"stylesheet\" href=\"/ui/style.css\">",
        &format!(
            "<style>\n{}</style>",
            asset("/ui/style.css").replace("</style", "<\\/style")
        ),
    )?;
    replace_once(
        &mut page,
        "<script type=\"module\" src=\"/ui/app.js\"></script>\n",
        "",
    )?;
    replace_once(
        &mut page,
        "</body>",
        &format!(
            "<script type=\"application/json\" id=\"{DATA_ELEMENT_ID}\">{data}</script>\n<script>\n{script}</script>\n</body>"
        ),
    )?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_of_the_ui_inlines() {
        for offline in [false, true] {
            let script = bundle("app.js", offline).unwrap();
            for line in script.lines() {
                assert!(
                    !line.starts_with("import ") && !line.starts_with("export "),
                    "left over: {line}"
                );
            }
            assert!(script.contains("__tracer_modules[\"trace.js\"]"));
            assert_eq!(script.contains("\"offline-api.js\""), offline);
        }
    }

    #[test]
    fn the_page_inlines_everything_and_escapes_span_data() {
        let mut trace: Trace = serde_json::from_value(serde_json::json!({
            "traceID": "ab", "spans": [], "processes": {}, "warnings": null,
        }))
        .unwrap();
        trace.trace_id = "</script><script>alert(1)</script>".to_owned();
        let page = page(&[trace]).unwrap();
        assert!(!page.contains("src=\"/"), "a same-origin reference is left");
        assert!(
            !page.contains("href=\"/"),
            "a same-origin reference is left"
        );
        assert!(!page.contains("alert(1)</script>"));
        assert!(page.contains("connect-src") || page.contains("default-src 'none'"));
    }

    #[test]
    fn unsupported_forms_are_refused() {
        let same = |n: &str| n.to_owned();
        for source in [
            "import x from './a.js';",
            "export default 1;",
            "export { a };",
            "const m = import('./a.js');",
        ] {
            assert!(rewrite("m.js", source, &same).is_err(), "{source}");
        }
    }
}
