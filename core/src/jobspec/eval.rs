//! Expression evaluation for job files.
//!
//! hcl-rs evaluates expressions; this module decides what may be evaluated at
//! parse time and what must reach the client untouched:
//! - `var.*`, `local.*`, iterator names of `for` expressions and `dynamic`
//!   blocks, and functions are evaluated here;
//! - any other root (`${attr.kernel.name}`, `${NOMAD_PORT_http}`, `meta.x`) is a
//!   runtime interpolation: its source text is kept byte for byte, as Nomad does;
//! - `try()` and `can()` evaluate their arguments lazily, which a plain hcl-rs
//!   function cannot, so they are resolved here before evaluation.

use std::collections::BTreeSet;
use std::ops::Range;

use hcl::eval::Evaluate;
use hcl_edit::expr::{Expression as EExpr, TraversalOperator};
use hcl_edit::template::{Directive, Element, Template};
use hcl_edit::{Decorate, Span};

use super::diag::did_you_mean;
use super::functions;

/// An evaluation failure, with the byte range it is about when known.
#[derive(Debug, Clone)]
pub(crate) struct EvalError {
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl EvalError {
    fn new(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        EvalError {
            message: message.into(),
            span,
        }
    }
}

/// What expressions can see: the hcl-rs context plus the names that make a
/// reference parse-time rather than runtime.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// Variables (`var`, `local`, iterators) and functions.
    pub ctx: hcl::eval::Context<'static>,
    /// Declared variable names, to report `var.typo` at parse time.
    pub vars: BTreeSet<String>,
    /// Declared local names, to report `local.typo` at parse time.
    pub locals: BTreeSet<String>,
    /// Iterator names bound by enclosing `dynamic` blocks.
    pub iterators: Vec<String>,
}

impl Scope {
    /// A scope with functions and no variables.
    pub(crate) fn new() -> Self {
        let mut ctx = hcl::eval::Context::new();
        functions::declare_all(&mut ctx);
        Scope {
            ctx,
            vars: BTreeSet::new(),
            locals: BTreeSet::new(),
            iterators: Vec::new(),
        }
    }

    /// A child scope with one more iterator bound to `value`.
    pub(crate) fn with_iterator(&self, name: &str, value: hcl::Value) -> Scope {
        let mut s = self.clone();
        s.ctx.declare_var(name.to_string(), value);
        s.iterators.push(name.to_string());
        s
    }

    fn is_root(&self, name: &str, bound: &[String]) -> bool {
        name == "var"
            || name == "local"
            || bound.iter().any(|b| b == name)
            || self.iterators.iter().any(|b| b == name)
    }

    /// Evaluates one expression of the file `src`.
    pub(crate) fn eval(&self, expr: &EExpr, src: &str) -> Result<hcl::Value, EvalError> {
        let mut expr = expr.clone();
        let mut unknown = false;
        self.prepare(&mut expr, src, &mut Vec::new(), &mut unknown)?;
        let span = expr.span();
        let expr: hcl::Expression = expr.into();
        expr.evaluate(&self.ctx)
            .map_err(|e| EvalError::new(clean_message(&e.to_string()), span))
    }

    /// Rewrites `e` so that hcl-rs can evaluate it: runtime references become
    /// literal text, `try`/`can` are resolved, typos in `var.`/`local.` and
    /// unknown functions are reported. Sets `unknown` when a runtime reference
    /// was found.
    fn prepare(
        &self,
        e: &mut EExpr,
        src: &str,
        bound: &mut Vec<String>,
        unknown: &mut bool,
    ) -> Result<(), EvalError> {
        match e {
            EExpr::Variable(v) => {
                let name = v.as_str().to_string();
                if !self.is_root(&name, bound) {
                    *unknown = true;
                    *e = literal(format!("${{{name}}}"));
                }
            }
            EExpr::Traversal(t) => {
                if let EExpr::Variable(v) = &t.expr {
                    let name = v.as_str();
                    if !self.is_root(name, bound) {
                        *unknown = true;
                        let text = t.span().map(|r| src.get(r).unwrap_or("")).unwrap_or("");
                        *e = literal(format!("${{{}}}", text.trim()));
                        return Ok(());
                    }
                    if name == "var" || name == "local" {
                        let declared = if name == "var" {
                            &self.vars
                        } else {
                            &self.locals
                        };
                        if let Some(first) = t.operators.first()
                            && let TraversalOperator::GetAttr(attr) = first.value()
                            && !declared.contains(attr.as_str())
                        {
                            {
                                {
                                    let what = if name == "var" { "variable" } else { "local" };
                                    let hint = did_you_mean(
                                        attr.as_str(),
                                        declared.iter().map(String::as_str),
                                    )
                                    .map(|s| format!("; did you mean \"{s}\"?"))
                                    .unwrap_or_default();
                                    return Err(EvalError::new(
                                        format!(
                                            "Unsupported attribute: this object does not have an attribute named \"{}\" (no {what} of that name is declared){hint}",
                                            attr.as_str()
                                        ),
                                        t.span(),
                                    ));
                                }
                            }
                        }
                    }
                } else {
                    self.prepare(&mut t.expr, src, bound, unknown)?;
                }
                for op in t.operators.iter_mut() {
                    if let TraversalOperator::Index(ix) = op.value_mut() {
                        self.prepare(ix, src, bound, unknown)?;
                    }
                }
            }
            EExpr::StringTemplate(t) => {
                let mut tpl: Template = t.iter().cloned().collect();
                self.prepare_template(&mut tpl, src, bound, unknown)?;
                let decor = t.decor().clone();
                let mut st = hcl_edit::template::StringTemplate::from(tpl);
                st.decorate(decor);
                *t = st;
            }
            EExpr::HeredocTemplate(h) => {
                self.prepare_template(&mut h.template, src, bound, unknown)?;
            }
            EExpr::Parenthesis(p) => self.prepare(p.inner_mut(), src, bound, unknown)?,
            EExpr::Array(a) => {
                for item in a.iter_mut() {
                    self.prepare(item, src, bound, unknown)?;
                }
            }
            EExpr::Object(o) => {
                // Keys are evaluated as written: a runtime reference in a key
                // has no meaning at parse time and is reported by evaluation.
                for (_, v) in o.iter_mut() {
                    self.prepare(v.expr_mut(), src, bound, unknown)?;
                }
            }
            EExpr::Conditional(c) => {
                self.prepare(&mut c.cond_expr, src, bound, unknown)?;
                self.prepare(&mut c.true_expr, src, bound, unknown)?;
                self.prepare(&mut c.false_expr, src, bound, unknown)?;
            }
            EExpr::UnaryOp(u) => self.prepare(&mut u.expr, src, bound, unknown)?,
            EExpr::BinaryOp(b) => {
                self.prepare(&mut b.lhs_expr, src, bound, unknown)?;
                self.prepare(&mut b.rhs_expr, src, bound, unknown)?;
            }
            EExpr::ForExpr(f) => {
                self.prepare(&mut f.intro.collection_expr, src, bound, unknown)?;
                let n = bound.len();
                if let Some(k) = &f.intro.key_var {
                    bound.push(k.as_str().to_string());
                }
                bound.push(f.intro.value_var.as_str().to_string());
                let r = (|| {
                    if let Some(k) = &mut f.key_expr {
                        self.prepare(k, src, bound, unknown)?;
                    }
                    self.prepare(&mut f.value_expr, src, bound, unknown)?;
                    if let Some(c) = &mut f.cond {
                        self.prepare(&mut c.expr, src, bound, unknown)?;
                    }
                    Ok(())
                })();
                bound.truncate(n);
                r?;
            }
            EExpr::FuncCall(call) => {
                let name = call.name.name.as_str().to_string();
                let span = call.span();
                // convert()'s second argument is a type, read as written.
                let value_args = if name == "convert" { 1 } else { usize::MAX };
                for arg in call.args.iter_mut().take(value_args) {
                    self.prepare(arg, src, bound, unknown)?;
                }
                if name == "try" || name == "can" {
                    let value = self.lazy_call(&name, call.args.iter(), bound, span.clone())?;
                    *e = EExpr::from(hcl::Expression::from(value));
                } else if name == "convert" {
                    // The second argument is a type, which is read, not evaluated.
                    let args: Vec<&EExpr> = call.args.iter().collect();
                    let [value, ty] = args.as_slice() else {
                        return Err(EvalError::new("convert() takes a value and a type", span));
                    };
                    if !bound.is_empty() {
                        return Err(EvalError::new(
                            "convert() cannot be used inside a for expression",
                            span,
                        ));
                    }
                    let value: hcl::Expression = (*value).clone().into();
                    let value = value
                        .evaluate(&self.ctx)
                        .map_err(|e| EvalError::new(clean_message(&e.to_string()), span.clone()))?;
                    let ty: hcl::Expression = (*ty).clone().into();
                    let converted = functions::convert(&value, &ty)
                        .map_err(|m| EvalError::new(format!("convert: {m}"), span.clone()))?;
                    *e = EExpr::from(hcl::Expression::from(converted));
                } else if !functions::NAMES.contains(&name.as_str()) {
                    let hint = did_you_mean(&name, functions::NAMES.iter().copied())
                        .map(|s| format!("; did you mean \"{s}\"?"))
                        .unwrap_or_default();
                    return Err(EvalError::new(
                        format!("Call to unknown function \"{name}\"{hint}"),
                        span,
                    ));
                }
            }
            EExpr::Null(_) | EExpr::Bool(_) | EExpr::Number(_) | EExpr::String(_) => {}
        }
        Ok(())
    }

    fn prepare_template(
        &self,
        tpl: &mut Template,
        src: &str,
        bound: &mut Vec<String>,
        unknown: &mut bool,
    ) -> Result<(), EvalError> {
        for el in tpl.iter_mut() {
            match el {
                Element::Literal(_) => {}
                Element::Interpolation(i) => {
                    let mut probe = i.expr.clone();
                    let mut runtime = false;
                    self.prepare(&mut probe, src, bound, &mut runtime)?;
                    if runtime {
                        // Keep the whole `${ ... }` exactly as written.
                        *unknown = true;
                        let text = i
                            .span()
                            .and_then(|r| src.get(r))
                            .unwrap_or_default()
                            .to_string();
                        *el = Element::Literal(hcl_edit::Spanned::new(text));
                    } else {
                        i.expr = probe;
                    }
                }
                Element::Directive(d) => match d.as_mut() {
                    Directive::If(ifd) => {
                        let mut runtime = false;
                        self.prepare(&mut ifd.if_expr.cond_expr, src, bound, &mut runtime)?;
                        if runtime {
                            return Err(EvalError::new(
                                "a template %{if} directive cannot test a runtime value; use the task's template block for that",
                                ifd.if_expr.cond_expr.span(),
                            ));
                        }
                        self.prepare_template(&mut ifd.if_expr.template, src, bound, unknown)?;
                        if let Some(else_expr) = &mut ifd.else_expr {
                            self.prepare_template(&mut else_expr.template, src, bound, unknown)?;
                        }
                    }
                    Directive::For(ford) => {
                        let mut runtime = false;
                        self.prepare(&mut ford.for_expr.collection_expr, src, bound, &mut runtime)?;
                        if runtime {
                            return Err(EvalError::new(
                                "a template %{for} directive cannot loop over a runtime value",
                                ford.for_expr.collection_expr.span(),
                            ));
                        }
                        let n = bound.len();
                        if let Some(k) = &ford.for_expr.key_var {
                            bound.push(k.as_str().to_string());
                        }
                        bound.push(ford.for_expr.value_var.as_str().to_string());
                        let r =
                            self.prepare_template(&mut ford.for_expr.template, src, bound, unknown);
                        bound.truncate(n);
                        r?;
                    }
                },
            }
        }
        Ok(())
    }

    /// `try(a, b, ...)`: the first argument that evaluates; `can(a)`: whether it does.
    fn lazy_call<'e>(
        &self,
        name: &str,
        args: impl Iterator<Item = &'e EExpr>,
        bound: &[String],
        span: Option<Range<usize>>,
    ) -> Result<hcl::Value, EvalError> {
        let args: Vec<&EExpr> = args.collect();
        if !bound.is_empty() {
            return Err(EvalError::new(
                format!("{name}() cannot be used inside a for expression"),
                span,
            ));
        }
        if name == "can" {
            if args.len() != 1 {
                return Err(EvalError::new("can() takes exactly one argument", span));
            }
            let expr: hcl::Expression = args[0].clone().into();
            return Ok(hcl::Value::Bool(expr.evaluate(&self.ctx).is_ok()));
        }
        let mut last = String::from("try() needs at least one argument");
        for arg in args {
            let expr: hcl::Expression = arg.clone().into();
            match expr.evaluate(&self.ctx) {
                Ok(v) => return Ok(v),
                Err(e) => last = clean_message(&e.to_string()),
            }
        }
        Err(EvalError::new(
            format!("no argument of try() could be evaluated; the last error: {last}"),
            span,
        ))
    }
}

/// A string expression whose whole text is `text`, verbatim.
fn literal(text: String) -> EExpr {
    let mut tpl = Template::new();
    tpl.push(Element::Literal(hcl_edit::Spanned::new(text)));
    EExpr::StringTemplate(tpl.into())
}

/// hcl-rs errors carry an expression dump after the message; keep the message.
fn clean_message(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg);
    match first.find(" in expression `") {
        Some(i) => first[..i].to_string(),
        None => first.to_string(),
    }
}

/// Converts an evaluated value to JSON (numbers stay integers when whole).
pub(crate) fn to_json(v: &hcl::Value) -> serde_json::Value {
    match v {
        hcl::Value::Null => serde_json::Value::Null,
        hcl::Value::Bool(b) => serde_json::Value::Bool(*b),
        hcl::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    serde_json::Value::from(f as i64)
                } else {
                    serde_json::Number::from_f64(f)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::Null)
                }
            }
        }
        hcl::Value::String(s) => serde_json::Value::String(s.clone()),
        hcl::Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        hcl::Value::Object(o) => {
            serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

/// A short name of a value's type, for messages.
pub(crate) fn type_name(v: &hcl::Value) -> &'static str {
    match v {
        hcl::Value::Null => "null",
        hcl::Value::Bool(_) => "bool",
        hcl::Value::Number(_) => "number",
        hcl::Value::String(_) => "string",
        hcl::Value::Array(_) => "list",
        hcl::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use crate::jobspec::{ParseOptions, parse_value};

    fn region(body: &str) -> Result<serde_json::Value, String> {
        let src =
            format!("locals {{\n  m = {{ a = 1 }}\n}}\njob \"x\" {{\n  region = {body}\n}}\n");
        parse_value("t.hcl", &src, &ParseOptions::default())
            .map(|p| p.job["Region"].clone())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn runtime_references_are_kept_verbatim() {
        assert_eq!(
            region("\"${attr.kernel.name}-${local.m.a}\"").unwrap(),
            "${attr.kernel.name}-1"
        );
        assert_eq!(
            region("\"${ upper(node.unique.name) }\"").unwrap(),
            "${ upper(node.unique.name) }"
        );
        assert_eq!(region("meta.rack").unwrap(), "${meta.rack}");
        assert_eq!(region("\"$${escaped}\"").unwrap(), "${escaped}");
        let heredoc = region("<<EOT\nport=${NOMAD_PORT_http} n=${local.m.a}\nEOT").unwrap();
        assert_eq!(heredoc, "port=${NOMAD_PORT_http} n=1\n");
    }

    #[test]
    fn try_can_and_convert() {
        assert_eq!(
            region("try(local.m.missing, \"fallback\")").unwrap(),
            "fallback"
        );
        assert_eq!(region("try(local.m.a, \"fallback\")").unwrap(), "1");
        assert_eq!(
            region("can(local.m.missing) ? \"yes\" : \"no\"").unwrap(),
            "no"
        );
        assert_eq!(region("convert(5, string)").unwrap(), "5");
        assert!(
            region("try(local.m.missing)")
                .unwrap_err()
                .contains("no argument of try()")
        );
        assert!(
            region("convert(\"x\", number)")
                .unwrap_err()
                .contains("convert")
        );
    }

    #[test]
    fn for_expressions_and_templates() {
        assert_eq!(
            region("join(\",\", [for k, v in local.m : \"${k}=${v}\"])").unwrap(),
            "a=1"
        );
        assert_eq!(
            region("\"%{ if local.m.a == 1 }one%{ else }other%{ endif }\"").unwrap(),
            "one"
        );
        assert!(
            region("\"%{ if attr.x }y%{ endif }\"")
                .unwrap_err()
                .contains("runtime value")
        );
    }

    #[test]
    fn typos_in_var_and_local_are_errors() {
        let e = region("local.n").unwrap_err();
        assert!(e.contains("does not have an attribute named \"n\""), "{e}");
        let e = region("var.nope").unwrap_err();
        assert!(e.contains("no variable of that name"), "{e}");
    }
}
