//! Input variables and locals.
//!
//! Variables are declared in `variable "name" { type default validation }`
//! blocks (or a `variables { name = default }` block) and receive their values,
//! last one wins, from: the default, `-var-file` files and the API's
//! `Variables` text, `NOMAD_VAR_name` / `SCHED_VAR_name` in the environment the
//! caller passes in, and `-var name=value`. Each value is converted to the
//! declared type and checked by the validation blocks. Locals are then
//! evaluated in dependency order.

use std::collections::{BTreeMap, BTreeSet};

use hcl_edit::Span;
use hcl_edit::expr::Expression as EExpr;
use hcl_edit::structure::{Block, Body};

use super::diag::{Diagnostic, SourceMap};
use super::eval::{Scope, type_name};
use super::functions;

/// A variable's declared type: the type expression `convert()` reads.
#[derive(Debug, Clone)]
pub(crate) struct VarType(hcl::Expression);

impl VarType {
    /// `any`: what a variable without a `type` accepts.
    fn any() -> Self {
        VarType(hcl::Expression::Variable(
            hcl::Identifier::unchecked("any").into(),
        ))
    }

    /// Reads and checks a type expression.
    fn parse(e: &EExpr) -> Result<Self, String> {
        let expr: hcl::Expression = e.clone().into();
        functions::check_type(&expr)?;
        Ok(VarType(expr))
    }

    /// Whether a raw `-var` or environment string is taken as the value
    /// itself (rather than parsed as an HCL expression).
    fn is_primitive(&self) -> bool {
        matches!(&self.0, hcl::Expression::Variable(_))
    }

    /// Converts `v` to this type.
    fn convert(&self, v: hcl::Value) -> Result<hcl::Value, String> {
        functions::convert(&v, &self.0).map_err(|e| e.trim_start_matches("convert: ").to_string())
    }
}

/// One declared variable.
#[derive(Debug)]
struct Declared<'b> {
    ty: VarType,
    default: Option<hcl::Value>,
    block: Option<&'b Block>,
    span: Option<std::ops::Range<usize>>,
}

/// A value for a variable from outside the job file.
#[derive(Debug, Clone)]
pub(crate) enum Given {
    /// `-var k=v` or the environment: a raw string.
    Raw(String),
    /// A var file: an evaluated HCL value.
    Value(hcl::Value),
}

/// Variables' values from outside, in increasing precedence.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    /// (name, value, where it came from) in the order they apply.
    pub values: Vec<(String, Given, String)>,
    /// Names given with `-var` (these must be declared).
    pub strict: BTreeSet<String>,
}

/// Declares the variables of `body`, resolves their values and runs their
/// validations, then evaluates the locals. Returns the scope job blocks see.
pub(crate) fn resolve(
    body: &Body,
    map: &SourceMap<'_>,
    inputs: &Inputs,
    diags: &mut Vec<Diagnostic>,
) -> Scope {
    let mut scope = Scope::new();
    let mut declared: BTreeMap<String, Declared<'_>> = BTreeMap::new();
    let at = |span: Option<std::ops::Range<usize>>| span.map(|s| map.position(s));
    let err = |diags: &mut Vec<Diagnostic>, msg: String, span: Option<std::ops::Range<usize>>| {
        let mut d = Diagnostic::error(msg);
        d.position = at(span);
        diags.push(d);
    };

    for block in body.get_blocks("variables") {
        for attr in block.body.attributes() {
            let name = attr.key.as_str().to_string();
            if declared.contains_key(&name) {
                err(
                    diags,
                    format!("Duplicate variable declaration \"{name}\""),
                    attr.key.span(),
                );
                continue;
            }
            match scope.eval(&attr.value, map.text) {
                Ok(v) => {
                    declared.insert(
                        name,
                        Declared {
                            ty: VarType::any(),
                            default: Some(v),
                            block: None,
                            span: attr.key.span(),
                        },
                    );
                }
                Err(e) => err(diags, e.message, e.span.or(attr.value.span())),
            }
        }
        for b in block.body.blocks() {
            err(
                diags,
                format!(
                    "Unsupported block type \"{}\" in variables: only name = default attributes are allowed",
                    b.ident.as_str()
                ),
                b.ident.span(),
            );
        }
    }
    for block in body.get_blocks("variable") {
        let name = match block.labels.as_slice() {
            [l] => l.as_str().to_string(),
            _ => {
                err(
                    diags,
                    "A variable block needs exactly one label: its name".into(),
                    block.ident.span(),
                );
                continue;
            }
        };
        if declared.contains_key(&name) {
            err(
                diags,
                format!("Duplicate variable declaration \"{name}\""),
                block.ident.span(),
            );
            continue;
        }
        if ["var", "local", "count", "each"].contains(&name.as_str())
            || !name
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
        {
            err(
                diags,
                format!(
                    "Invalid variable name \"{name}\": the name is reserved or not a valid identifier"
                ),
                block.ident.span(),
            );
            continue;
        }
        let mut ty = VarType::any();
        let mut default = None;
        for attr in block.body.attributes() {
            match attr.key.as_str() {
                "type" => match VarType::parse(&attr.value) {
                    Ok(t) => ty = t,
                    Err(e) => err(diags, format!("Invalid type: {e}"), attr.value.span()),
                },
                "default" => match scope.eval(&attr.value, map.text) {
                    Ok(v) => default = Some(v),
                    Err(e) => err(diags, e.message, e.span.or(attr.value.span())),
                },
                "description" | "sensitive" | "nullable" => {}
                other => err(
                    diags,
                    format!("Unsupported argument \"{other}\" in variable \"{name}\""),
                    attr.key.span(),
                ),
            }
        }
        for b in block.body.blocks() {
            if b.ident.as_str() != "validation" {
                err(
                    diags,
                    format!(
                        "Unsupported block type \"{}\" in variable \"{name}\"",
                        b.ident.as_str()
                    ),
                    b.ident.span(),
                );
            }
        }
        if let Some(d) = default.take() {
            match ty.convert(d) {
                Ok(v) => default = Some(v),
                Err(e) => err(
                    diags,
                    format!("Invalid default value for variable \"{name}\": {e}"),
                    block.ident.span(),
                ),
            }
        }
        declared.insert(
            name,
            Declared {
                ty,
                default,
                block: Some(block),
                span: block.ident.span(),
            },
        );
    }

    // Values from outside, last one wins.
    let mut values: BTreeMap<String, hcl::Value> = BTreeMap::new();
    for (name, d) in &declared {
        if let Some(v) = &d.default {
            values.insert(name.clone(), v.clone());
        }
    }
    // Variables given a value that does not convert: reported once, not again as unset.
    let mut invalid = BTreeSet::new();
    for (name, given, source) in &inputs.values {
        let Some(decl) = declared.get(name) else {
            if inputs.strict.contains(name) || !source.starts_with("environment") {
                let hint = super::diag::did_you_mean(name, declared.keys().map(String::as_str))
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                diags.push(Diagnostic::error(format!(
                    "Undefined variable \"{name}\" set by {source}: the job file declares no variable of that name{hint}"
                )));
            }
            continue;
        };
        let raw = match given {
            Given::Value(v) => v.clone(),
            Given::Raw(s) if decl.ty.is_primitive() => hcl::Value::String(s.clone()),
            Given::Raw(s) => match s.parse::<hcl::Expression>() {
                Ok(expr) => {
                    use hcl::eval::Evaluate;
                    match expr.evaluate(&scope.ctx) {
                        Ok(v) => v,
                        Err(e) => {
                            diags.push(Diagnostic::error(format!(
                                "Invalid value for variable \"{name}\" from {source}: {e}"
                            )));
                            continue;
                        }
                    }
                }
                Err(e) => {
                    diags.push(Diagnostic::error(format!(
                        "Invalid value for variable \"{name}\" from {source}: not a valid HCL expression: {}",
                        e.to_string().lines().last().unwrap_or("")
                    )));
                    continue;
                }
            },
        };
        match decl.ty.convert(raw) {
            Ok(v) => {
                values.insert(name.clone(), v);
            }
            Err(e) => {
                invalid.insert(name.clone());
                diags.push(Diagnostic::error(format!(
                    "Invalid value for variable \"{name}\" from {source}: {e}"
                )));
            }
        }
    }
    for (name, d) in &declared {
        if !values.contains_key(name) && !invalid.contains(name) {
            err(
                diags,
                format!(
                    "Unset variable \"{name}\": it has no default; give it a value with -var {name}=..., a -var-file, or the NOMAD_VAR_{name} environment variable"
                ),
                d.span.clone(),
            );
        }
    }

    scope.vars = declared.keys().cloned().collect();
    let var_obj: hcl::Map<String, hcl::Value> = values.into_iter().collect();
    scope.ctx.declare_var("var", hcl::Value::Object(var_obj));

    // Validation blocks see the variables.
    for (name, d) in &declared {
        let Some(block) = d.block else { continue };
        for v in block.body.get_blocks("validation") {
            let cond = v.body.get_attribute("condition");
            let msg = v.body.get_attribute("error_message");
            let (Some(cond), Some(msg)) = (cond, msg) else {
                err(
                    diags,
                    format!(
                        "validation in variable \"{name}\" needs both condition and error_message"
                    ),
                    v.ident.span(),
                );
                continue;
            };
            let message = match scope.eval(&msg.value, map.text) {
                Ok(hcl::Value::String(s)) => s,
                Ok(other) => {
                    err(
                        diags,
                        format!("error_message must be a string, got {}", type_name(&other)),
                        msg.value.span(),
                    );
                    continue;
                }
                Err(e) => {
                    err(diags, e.message, e.span.or(msg.value.span()));
                    continue;
                }
            };
            if message.trim().is_empty() {
                err(
                    diags,
                    format!(
                        "Invalid validation error message in variable \"{name}\": it must not be empty; say what a valid value looks like"
                    ),
                    msg.value.span(),
                );
                continue;
            }
            match scope.eval(&cond.value, map.text) {
                Ok(hcl::Value::Bool(true)) => {}
                Ok(hcl::Value::Bool(false)) => err(
                    diags,
                    format!("Invalid value for variable \"{name}\": {message}"),
                    cond.value.span(),
                ),
                Ok(other) => err(
                    diags,
                    format!(
                        "Invalid validation condition: it must be a bool, got {}",
                        type_name(&other)
                    ),
                    cond.value.span(),
                ),
                Err(e) => err(diags, e.message, e.span.or(cond.value.span())),
            }
        }
    }

    resolve_locals(body, map, &mut scope, diags);
    scope
}

/// Evaluates `locals` blocks; a local may use variables and other locals.
fn resolve_locals(
    body: &Body,
    map: &SourceMap<'_>,
    scope: &mut Scope,
    diags: &mut Vec<Diagnostic>,
) {
    let mut pending = Vec::new();
    for block in body.get_blocks("locals") {
        for attr in block.body.attributes() {
            let name = attr.key.as_str().to_string();
            if scope.locals.contains(&name) {
                let mut d = Diagnostic::error(format!("Duplicate local value \"{name}\""));
                d.position = attr.key.span().map(|s| map.position(s));
                diags.push(d);
                continue;
            }
            scope.locals.insert(name.clone());
            pending.push((name, attr));
        }
    }
    let mut done: hcl::Map<String, hcl::Value> = hcl::Map::new();
    // Each pass evaluates the locals whose inputs are ready; a pass that makes
    // no progress leaves only real errors (or a cycle), which are reported.
    while !pending.is_empty() {
        scope
            .ctx
            .declare_var("local", hcl::Value::Object(done.clone()));
        let before = pending.len();
        let mut next = Vec::new();
        let mut errors = Vec::new();
        for (name, attr) in pending {
            match scope.eval(&attr.value, map.text) {
                Ok(v) => {
                    done.insert(name, v);
                }
                Err(e) => {
                    errors.push((e, attr.value.span()));
                    next.push((name, attr));
                }
            }
        }
        if next.len() == before {
            for (e, span) in errors {
                let mut d = Diagnostic::error(e.message);
                d.position = e.span.or(span).map(|s| map.position(s));
                diags.push(d);
            }
            break;
        }
        pending = next;
    }
    scope.ctx.declare_var("local", hcl::Value::Object(done));
}

/// Parses a var file (`name = value` lines) into values.
pub(crate) fn parse_var_file(
    name: &str,
    text: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, hcl::Value)> {
    let map = SourceMap::new(name, text);
    let body = match super::parse_body(&map) {
        Ok(b) => b,
        Err(d) => {
            diags.push(d);
            return Vec::new();
        }
    };
    let scope = Scope::new();
    let mut out = Vec::new();
    for s in body.iter() {
        if let Some(attr) = s.as_attribute() {
            match scope.eval(&attr.value, text) {
                Ok(v) => out.push((attr.key.as_str().to_string(), v)),
                Err(e) => {
                    let mut d = Diagnostic::error(e.message);
                    d.position = e.span.or(attr.value.span()).map(|s| map.position(s));
                    diags.push(d);
                }
            }
        } else if let Some(b) = s.as_block() {
            let mut d = Diagnostic::error(format!(
                "Unexpected block \"{}\" in a variables file: only name = value lines are allowed",
                b.ident.as_str()
            ));
            d.position = b.ident.span().map(|s| map.position(s));
            diags.push(d);
        }
    }
    out
}
