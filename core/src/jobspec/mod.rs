//! Job specifications: Nomad-format HCL2 (and Nomad JSON) into the job model.
//!
//! The pipeline for an HCL file, each stage in its own module:
//! 1. `parse_body`: size and nesting guards, then hcl-edit's parser, which
//!    keeps byte spans so every later error can name file, line and column.
//! 2. `vars`: `variable`/`variables` and `locals` blocks; values from var
//!    files, the API's variables text, `NOMAD_VAR_*`/`SCHED_VAR_*` entries of
//!    the environment the caller passes in, and `-var` flags.
//! 3. `decode`: the `job` block walked against `schema` (unknown names are
//!    errors with a did-you-mean), attributes evaluated by `eval` (runtime
//!    interpolations such as `${attr.kernel.name}` kept verbatim), `dynamic`
//!    blocks expanded.
//! 4. `reshape`: Nomad's own rules (implicit groups, port splitting,
//!    constraint sugar, vault inheritance).
//! 5. serde into [`crate::model::Job`].
//!
//! This module does not canonicalize or validate the job (see
//! `Job::canonicalize` and `Job::validate`), and does no I/O of its own: file
//! contents, the environment, the clock and, for `file()`, a [`FileSource`]
//! are passed in through [`ParseOptions`].

mod decode;
pub mod diag;
pub mod duration;
mod eval;
pub mod fmt;
pub mod functions;
mod reshape;
mod schema;
mod vars;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use hcl_edit::Span;

pub use diag::{Diagnostic, Diagnostics, Position, Severity, SourceMap};
pub use functions::{FileSource, StdFileSource};

/// Job files larger than this are refused before parsing: real job files are
/// kilobytes, and the limit keeps parse time and memory bounded.
pub const MAX_SOURCE_BYTES: usize = 4 * 1024 * 1024;

/// Brackets nested deeper than this are refused before parsing, so that no
/// input can exhaust the parser's stack.
pub const MAX_NESTING: usize = 128;

/// A `-var-file` (or any variables text) and the name to report errors under.
#[derive(Debug, Clone)]
pub struct VarFile {
    /// Shown in diagnostics.
    pub name: String,
    /// The file's text: `name = value` lines.
    pub contents: String,
}

/// Everything a parse may use from outside the job file.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// `-var name=value` arguments, in command-line order.
    pub arg_vars: Vec<String>,
    /// `-var-file` files, in command-line order.
    pub var_files: Vec<VarFile>,
    /// Variables text from the API (`/v1/jobs/parse`'s `Variables`), applied after the files.
    pub var_content: Option<String>,
    /// Environment entries; only `NOMAD_VAR_*` and `SCHED_VAR_*` are used.
    pub env: Vec<(String, String)>,
    /// Where `file()` and friends read from; `None` disables them.
    pub fs: Option<Arc<dyn FileSource>>,
    /// Relative paths in `file()` resolve against this (the job file's directory).
    pub base_dir: PathBuf,
    /// For `pathexpand("~/...")`.
    pub home_dir: Option<PathBuf>,
    /// What `timestamp()` returns.
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            arg_vars: Vec::new(),
            var_files: Vec::new(),
            var_content: None,
            env: Vec::new(),
            fs: None,
            base_dir: PathBuf::from("."),
            home_dir: None,
            now: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        }
    }
}

/// A parsed job file before it is typed: Nomad API JSON, plus what the parse
/// noticed on the way.
#[derive(Debug, Clone)]
pub struct ParsedValue {
    /// The job in Nomad's API JSON shape.
    pub job: serde_json::Value,
    /// Warnings: the job was produced, but parts of the file are ignored.
    pub warnings: Vec<Diagnostic>,
    /// What Nomad records as the job's submission: `-var` flags and variables text.
    pub variable_flags: BTreeMap<String, String>,
    /// Var files and the API's variables text, joined by blank lines.
    pub variables: String,
}

/// Parses an HCL job file into Nomad API JSON.
///
/// `file` is only used in diagnostics. On failure every error found is
/// returned, each with its position when it has one.
pub fn parse_value(file: &str, src: &str, opts: &ParseOptions) -> Result<ParsedValue, Diagnostics> {
    let env = functions::FnEnv {
        fs: opts.fs.clone(),
        base_dir: opts.base_dir.clone(),
        home_dir: opts.home_dir.clone(),
        now: opts.now,
    };
    functions::with_env(env, || parse_value_inner(file, src, opts))
}

fn parse_value_inner(
    file: &str,
    src: &str,
    opts: &ParseOptions,
) -> Result<ParsedValue, Diagnostics> {
    let map = SourceMap::new(file, src);
    let body = parse_body(&map)?;
    let mut diags = Vec::new();

    // Values from outside, in increasing precedence.
    let mut inputs = vars::Inputs::default();
    let mut variables_text = Vec::new();
    for vf in &opts.var_files {
        for (k, v) in vars::parse_var_file(&vf.name, &vf.contents, &mut diags) {
            inputs.values.push((
                k,
                vars::Given::Value(v),
                format!("the variables file {}", vf.name),
            ));
        }
        variables_text.push(vf.contents.clone());
    }
    if let Some(text) = &opts.var_content {
        for (k, v) in vars::parse_var_file("variables", text, &mut diags) {
            inputs.values.push((
                k,
                vars::Given::Value(v),
                "the submitted variables".to_string(),
            ));
        }
        variables_text.push(text.clone());
    }
    for (k, v) in &opts.env {
        for prefix in ["NOMAD_VAR_", "SCHED_VAR_"] {
            if let Some(name) = k.strip_prefix(prefix) {
                inputs.values.push((
                    name.to_string(),
                    vars::Given::Raw(v.clone()),
                    format!("environment variable {k}"),
                ));
            }
        }
    }
    let mut variable_flags = BTreeMap::new();
    for arg in &opts.arg_vars {
        match arg.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                let k = k.trim().to_string();
                inputs.values.push((
                    k.clone(),
                    vars::Given::Raw(v.to_string()),
                    format!("-var {k}"),
                ));
                inputs.strict.insert(k.clone());
                variable_flags.insert(k, v.to_string());
            }
            _ => diags.push(Diagnostic::error(format!(
                "Invalid -var \"{arg}\": expected name=value"
            ))),
        }
    }
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(Diagnostics(diags));
    }

    // Top level: variables, locals and exactly one job.
    let mut job_blocks = Vec::new();
    for s in body.iter() {
        if let Some(attr) = s.as_attribute() {
            let mut d = Diagnostic::error(format!(
                "Unsupported argument \"{}\" at the top level: a job file holds variable, locals and job blocks",
                attr.key.as_str()
            ));
            d.position = attr.key.span().map(|r| map.position(r));
            diags.push(d);
        } else if let Some(b) = s.as_block() {
            match b.ident.as_str() {
                "job" => job_blocks.push(b),
                "variable" | "variables" | "locals" => {}
                other => {
                    let hint =
                        diag::did_you_mean(other, ["job", "variable", "variables", "locals"])
                            .map(|s| format!("; did you mean \"{s}\"?"))
                            .unwrap_or_default();
                    let mut d = Diagnostic::error(format!(
                        "Unsupported block type \"{other}\" at the top level{hint}"
                    ));
                    d.position = b.ident.span().map(|r| map.position(r));
                    diags.push(d);
                }
            }
        }
    }
    let scope = vars::resolve(&body, &map, &inputs, &mut diags);
    let job_block = match job_blocks.as_slice() {
        [b] => *b,
        [] => {
            diags.push(
                Diagnostic::error("No job block: a job file needs one job \"name\" { ... } block")
                    .at(map.line_col(1, 1)),
            );
            return Err(Diagnostics(diags));
        }
        [_, second, ..] => {
            let mut d = Diagnostic::error("Duplicate job block: a file holds exactly one job");
            d.position = second.ident.span().map(|r| map.position(r));
            diags.push(d);
            return Err(Diagnostics(diags));
        }
    };
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(Diagnostics(diags));
    }
    let mut decoder = decode::Decoder::new(&map);
    let job = decoder.job(job_block, &scope);
    diags.extend(decoder.diags);
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(Diagnostics(diags));
    }
    Ok(ParsedValue {
        job,
        warnings: diags,
        variable_flags,
        variables: variables_text.join("\n\n"),
    })
}

/// Refuses a job file over [`MAX_SOURCE_BYTES`] before any parser sees it.
fn size_guard(file: &str, src: &str) -> Result<(), Diagnostic> {
    if src.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::error(format!(
            "{file} is {} bytes; job files are limited to {MAX_SOURCE_BYTES} bytes",
            src.len()
        )));
    }
    Ok(())
}

/// Parses HCL text into a body with spans, after the size and nesting guards.
///
/// Public so that other HCL files of the project (the agent's config) get the
/// same guards and the same syntax messages as job files.
pub fn parse_body(map: &SourceMap<'_>) -> Result<hcl_edit::structure::Body, Diagnostic> {
    let src = map.text;
    size_guard(map.file, src)?;
    if let Some(i) = src.find('\0') {
        return Err(
            Diagnostic::error("The file contains a NUL byte: it is binary data, not HCL")
                .at(map.position(i..i + 1)),
        );
    }
    prescan(src).map_err(|(msg, at)| Diagnostic::error(msg).at(map.position(at..at + 1)))?;
    hcl_edit::parser::parse_body(src).map_err(|e| {
        let loc = e.location();
        let pos = map.line_col(loc.line(), loc.column());
        Diagnostic::error(syntax_message(e.message(), &pos.source_line, pos.column)).at(pos)
    })
}

/// Explains a syntax error in HCL's own terms where the shape is recognisable.
fn syntax_message(raw: &str, line: &str, column: usize) -> String {
    if raw.contains("expected `{`") {
        return format!(
            "Invalid block definition: a block is a name, optional quoted labels and {{ ... }}; an argument is name = value ({raw})"
        );
    }
    let rest: String = line.chars().skip(column.saturating_sub(1)).collect();
    let rest = rest.trim_start();
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let after = rest[word.len()..].trim_start();
    if !word.is_empty()
        && !after.starts_with('=')
        && !after.starts_with('{')
        && !after.starts_with('"')
    {
        return format!(
            "Invalid block definition: \"{word}\" must be followed by = (an argument) or by labels and {{ (a block) ({raw})"
        );
    }
    format!("Invalid HCL syntax: {raw}")
}

/// Finds unterminated strings and excessive nesting before the real parser
/// runs, returning a message and the byte offset to point at.
fn prescan(src: &str) -> Result<(), (String, usize)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Frame {
        Bracket,
        Str(usize),
        Interp,
    }
    let bytes = src.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let in_str = matches!(stack.last(), Some(Frame::Str(_)));
        if in_str {
            match b {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                b'\n' => {
                    if let Some(Frame::Str(start)) = stack.last() {
                        return Err((
                            "Unterminated string: the closing quote is missing on this line".into(),
                            *start,
                        ));
                    }
                }
                b'$' | b'%' if bytes.get(i + 1) == Some(&b'{') => {
                    if bytes.get(i.wrapping_sub(1)) != Some(&b) {
                        stack.push(Frame::Interp);
                    }
                    i += 1;
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => stack.push(Frame::Str(i)),
                b'{' | b'[' | b'(' => stack.push(Frame::Bracket),
                b'}' | b']' | b')' => {
                    stack.pop();
                }
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    let start = i;
                    match src[i + 2..].find("*/") {
                        Some(end) => i += end + 3,
                        None => {
                            return Err((
                                "Unterminated comment: /* has no closing */".into(),
                                start,
                            ));
                        }
                    }
                }
                b'<' if bytes.get(i + 1) == Some(&b'<') => {
                    // A heredoc: skip to the line holding only its delimiter.
                    let rest = &src[i + 2..];
                    let rest_t = rest.strip_prefix('-').unwrap_or(rest);
                    let ident: String = rest_t
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !ident.is_empty() {
                        let start = i;
                        let Some(nl) = src[i..].find('\n') else {
                            return Err(("Unterminated heredoc".into(), start));
                        };
                        let mut pos = i + nl + 1;
                        let mut closed = false;
                        while pos <= src.len() {
                            let end = src[pos..].find('\n').map(|e| pos + e).unwrap_or(src.len());
                            if src[pos..end].trim() == ident {
                                closed = true;
                                i = end;
                                break;
                            }
                            if end >= src.len() {
                                break;
                            }
                            pos = end + 1;
                        }
                        if !closed {
                            return Err((
                                format!("Unterminated heredoc: no line closes <<{ident}"),
                                start,
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        if stack.len() > MAX_NESTING {
            return Err((
                format!(
                    "Nesting is deeper than {MAX_NESTING} levels: the file is not a plausible job file"
                ),
                i,
            ));
        }
        i += 1;
    }
    if let Some(Frame::Str(start)) = stack.iter().rev().find(|f| matches!(f, Frame::Str(_))) {
        return Err((
            "Unterminated string: the closing quote is missing".into(),
            *start,
        ));
    }
    Ok(())
}

/// A parsed job file.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The job exactly as the file says it: not canonicalized, not validated.
    pub job: crate::model::Job,
    /// Parts of the file that were accepted but are ignored.
    pub warnings: Vec<Diagnostic>,
    /// The source and variables, as Nomad records them beside a job version.
    pub submission: crate::model::Submission,
}

/// Parses a job file, HCL or Nomad JSON (a file whose first character is `{`).
///
/// `file` names the file in diagnostics. The result is the job as written:
/// call `Job::canonicalize` and `Job::validate` before submitting it.
pub fn parse(file: &str, src: &str, opts: &ParseOptions) -> Result<Parsed, Diagnostics> {
    if src.trim_start().starts_with('{') {
        let job = parse_json(file, src)?;
        return Ok(Parsed {
            job,
            warnings: Vec::new(),
            submission: crate::model::Submission {
                source: Some(src.to_string()),
                format: Some("json".into()),
                ..Default::default()
            },
        });
    }
    let parsed = parse_value(file, src, opts)?;
    let job = serde_json::from_value(parsed.job).map_err(|e| {
        Diagnostic::error(format!(
            "the decoded job does not fit the job model ({e}); this is a bug in sched"
        ))
    })?;
    Ok(Parsed {
        job,
        warnings: parsed.warnings,
        submission: crate::model::Submission {
            source: Some(src.to_string()),
            format: Some("hcl2".into()),
            variable_flags: (!parsed.variable_flags.is_empty()).then_some(parsed.variable_flags),
            variables: (!parsed.variables.is_empty()).then_some(parsed.variables),
        },
    })
}

/// Parses a job in Nomad's API JSON: `{"Job": {...}}` or the bare job object.
pub fn parse_json(file: &str, src: &str) -> Result<crate::model::Job, Diagnostics> {
    let map = SourceMap::new(file, src);
    size_guard(file, src)?;
    let at = |e: &serde_json::Error| map.line_col(e.line().max(1), e.column().max(1));
    // serde_json limits nesting itself (128 levels), so hostile input cannot
    // exhaust the stack here.
    let value: serde_json::Value = serde_json::from_str(src)
        .map_err(|e| Diagnostic::error(format!("Invalid JSON: {e}")).at(at(&e)))?;
    let job = match value {
        serde_json::Value::Object(mut m) if m.contains_key("Job") => {
            m.remove("Job").unwrap_or(serde_json::Value::Null)
        }
        other => other,
    };
    if !job.is_object() {
        return Err(
            Diagnostic::error("Invalid job JSON: expected an object, or {\"Job\": {...}}")
                .at(map.line_col(1, 1))
                .into(),
        );
    }
    serde_json::from_value(job).map_err(|e| {
        Diagnostics::from(Diagnostic::error(format!(
            "Invalid job JSON in {file}: {e}"
        )))
    })
}
