//! Decoding a job block against the schema into Nomad's API JSON.
//!
//! The decoder evaluates every attribute in its scope, converts it to the
//! type the schema names, expands `dynamic` blocks, and reports every unknown
//! name, duplicate block or unsuitable value with its position; it keeps going
//! after an error so one run shows them all.

use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::Expression as EExpr;
use hcl_edit::structure::{Block, Body as HBody};
use serde_json::{Map, Value};

use super::diag::{Diagnostic, SourceMap, did_you_mean};
use super::duration::parse_go_duration;
use super::eval::{Scope, to_json, type_name};
use super::schema::{Body, Child, Labels, Nest, Spec, Ty};

/// At most this many errors are collected; past it the file is hopeless and
/// more would only bury the first ones.
const MAX_ERRORS: usize = 50;

/// Dynamic blocks may not generate more than this many blocks in total.
const MAX_DYNAMIC: usize = 100_000;

/// One decoding run over a file.
pub(crate) struct Decoder<'a> {
    pub map: &'a SourceMap<'a>,
    pub diags: Vec<Diagnostic>,
    generated: usize,
}

/// A block as the decoder sees it: written in the file or produced by `dynamic`.
struct BlockView<'b> {
    ident: &'b str,
    ident_span: Option<Range<usize>>,
    labels: Vec<String>,
    body: &'b HBody,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(map: &'a SourceMap<'a>) -> Self {
        Decoder {
            map,
            diags: Vec::new(),
            generated: 0,
        }
    }

    fn error(&mut self, msg: impl Into<String>, span: Option<Range<usize>>) {
        if self.error_count() >= MAX_ERRORS {
            return;
        }
        let mut d = Diagnostic::error(msg);
        d.position = span.map(|s| self.map.position(s));
        self.diags.push(d);
    }

    fn warn(&mut self, msg: impl Into<String>, span: Option<Range<usize>>) {
        let mut d = Diagnostic::warning(msg);
        d.position = span.map(|s| self.map.position(s));
        self.diags.push(d);
    }

    pub(crate) fn error_count(&self) -> usize {
        self.diags
            .iter()
            .filter(|d| d.severity == super::diag::Severity::Error)
            .count()
    }

    /// Decodes the `job` block.
    pub(crate) fn job(&mut self, block: &Block, scope: &Scope) -> Value {
        let view = BlockView {
            ident: block.ident.as_str(),
            ident_span: block.ident.span(),
            labels: block
                .labels
                .iter()
                .map(|l| l.as_str().to_string())
                .collect(),
            body: &block.body,
        };
        self.spec_block(&view, &super::schema::JOB, scope)
            .map(Value::Object)
            .unwrap_or(Value::Null)
    }

    fn spec_block(
        &mut self,
        b: &BlockView<'_>,
        spec: &Spec,
        scope: &Scope,
    ) -> Option<Map<String, Value>> {
        let mut out = Map::new();
        match spec.labels {
            Labels::None => {
                if !b.labels.is_empty() {
                    self.error(
                        format!(
                            "Extraneous label for {}: no labels are expected for {} blocks",
                            spec.name, spec.name
                        ),
                        b.ident_span.clone(),
                    );
                    return None;
                }
            }
            Labels::One(key) => match b.labels.as_slice() {
                [l] => {
                    out.insert(key.to_string(), Value::String(l.clone()));
                }
                [] => {
                    self.error(
                        format!("Missing name for {}: a {} block needs one label, e.g. {} \"name\" {{ ... }}", spec.name, spec.name, spec.name),
                        b.ident_span.clone(),
                    );
                    return None;
                }
                _ => {
                    self.error(
                        format!(
                            "Extraneous label for {}: only one label (the name) is expected",
                            spec.name
                        ),
                        b.ident_span.clone(),
                    );
                    return None;
                }
            },
        }
        let errors_before = self.error_count();
        self.body(b.body, spec, scope, &mut out);
        if self.error_count() > errors_before {
            return Some(out);
        }
        if let Some(post) = spec.post {
            let mut warnings = Vec::new();
            if let Err(e) = post(&mut out, &mut warnings) {
                self.error(e, b.ident_span.clone());
            }
            for w in warnings {
                self.warn(w, b.ident_span.clone());
            }
        }
        Some(out)
    }

    fn body(&mut self, body: &HBody, spec: &Spec, scope: &Scope, out: &mut Map<String, Value>) {
        let mut seen_attrs: Vec<&str> = Vec::new();
        for s in body.iter() {
            if self.error_count() >= MAX_ERRORS {
                return;
            }
            if let Some(attr) = s.as_attribute() {
                let name = attr.key.as_str();
                if seen_attrs.contains(&name) {
                    self.error(
                        format!(
                            "Attribute redefined: \"{name}\" was already set in this {} block",
                            spec.name
                        ),
                        attr.key.span(),
                    );
                    continue;
                }
                seen_attrs.push(name);
                if let Some(a) = spec.attr(name) {
                    if let Some(v) = self.attr_value(&attr.value, a.ty, name, scope) {
                        out.insert(a.key.to_string(), v);
                    }
                } else if let Some(c) = spec
                    .child(name)
                    .filter(|c| matches!(c.body, Body::StrMap | Body::FreeForm | Body::StrListMap))
                {
                    // meta = { ... } and friends: the attribute form of a map block.
                    if out.contains_key(c.key) {
                        self.error(format!("Duplicate {name} block"), attr.key.span());
                        continue;
                    }
                    let ty = match c.body {
                        Body::StrMap => Ty::StrMap,
                        _ => Ty::Any,
                    };
                    if let Some(v) = self.attr_value(&attr.value, ty, name, scope) {
                        let v = match c.body {
                            Body::StrListMap => match self.str_list_map(v, name) {
                                Ok(v) => v,
                                Err(e) => {
                                    self.error(e, attr.value.span());
                                    continue;
                                }
                            },
                            _ => v,
                        };
                        out.insert(c.key.to_string(), v);
                    }
                } else {
                    let hint = did_you_mean(name, spec.names())
                        .map(|s| format!("; did you mean \"{s}\"?"))
                        .unwrap_or_default();
                    self.error(
                        format!(
                            "Unsupported argument \"{name}\" in {} block{hint}",
                            spec.name
                        ),
                        attr.key.span(),
                    );
                }
            } else if let Some(block) = s.as_block() {
                for (view, inner) in self.expand(block, scope) {
                    self.child_block(&view, spec, inner.as_ref().unwrap_or(scope), out);
                }
            }
        }
    }

    /// A block, or the blocks a `dynamic` block generates, each with the scope
    /// it is decoded in (`None`: the enclosing one, which is then not cloned).
    fn expand<'b>(
        &mut self,
        block: &'b Block,
        scope: &Scope,
    ) -> Vec<(BlockView<'b>, Option<Scope>)> {
        let labels: Vec<String> = block
            .labels
            .iter()
            .map(|l| l.as_str().to_string())
            .collect();
        if block.ident.as_str() != "dynamic" {
            return vec![(
                BlockView {
                    ident: block.ident.as_str(),
                    ident_span: block.ident.span(),
                    labels,
                    body: &block.body,
                },
                None,
            )];
        }
        let span = block.ident.span();
        let [kind] = labels.as_slice() else {
            self.error(
                "A dynamic block needs one label: the type of block to generate",
                span,
            );
            return Vec::new();
        };
        let Some(for_each) = block.body.get_attribute("for_each") else {
            self.error(
                format!("dynamic \"{kind}\": the argument \"for_each\" is required"),
                span,
            );
            return Vec::new();
        };
        let mut iterator = kind.clone();
        let mut label_exprs: Option<&EExpr> = None;
        for attr in block.body.attributes() {
            match attr.key.as_str() {
                "for_each" => {}
                "labels" => label_exprs = Some(&attr.value),
                "iterator" => match &attr.value {
                    EExpr::Variable(v) => iterator = v.as_str().to_string(),
                    _ => {
                        self.error("iterator must be a plain name", attr.value.span());
                        return Vec::new();
                    }
                },
                other => {
                    self.error(
                        format!("Unsupported argument \"{other}\" in dynamic block; expected for_each, iterator, labels or a content block"),
                        attr.key.span(),
                    );
                    return Vec::new();
                }
            }
        }
        let contents: Vec<&Block> = block.body.get_blocks("content").collect();
        let content = match contents.as_slice() {
            [c] => *c,
            [] => {
                self.error(
                    format!("dynamic \"{kind}\": a content block is required"),
                    span,
                );
                return Vec::new();
            }
            _ => {
                self.error(
                    format!("dynamic \"{kind}\": only one content block is allowed"),
                    span,
                );
                return Vec::new();
            }
        };
        let items = match scope.eval(&for_each.value, self.map.text) {
            Ok(hcl::Value::Array(a)) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| (hcl::Value::from(i as u64), v))
                .collect::<Vec<_>>(),
            Ok(hcl::Value::Object(o)) => o
                .into_iter()
                .map(|(k, v)| (hcl::Value::String(k), v))
                .collect(),
            Ok(other) => {
                self.error(
                    format!(
                        "for_each must be a list, set or map, got {}",
                        type_name(&other)
                    ),
                    for_each.value.span(),
                );
                return Vec::new();
            }
            Err(e) => {
                self.error(e.message, e.span.or(for_each.value.span()));
                return Vec::new();
            }
        };
        if self.generated + items.len() > MAX_DYNAMIC {
            self.error(
                format!("dynamic blocks would generate more than {MAX_DYNAMIC} blocks"),
                span,
            );
            return Vec::new();
        }
        self.generated += items.len();
        let mut out = Vec::new();
        for (key, value) in items {
            let mut it = hcl::Map::new();
            it.insert("key".to_string(), key);
            it.insert("value".to_string(), value);
            let inner = scope.with_iterator(&iterator, hcl::Value::Object(it));
            let labels = match label_exprs {
                None => Vec::new(),
                Some(e) => match inner.eval(e, self.map.text) {
                    Ok(hcl::Value::Array(ls)) => ls
                        .into_iter()
                        .map(|l| match l {
                            hcl::Value::String(s) => s,
                            other => to_json(&other).to_string(),
                        })
                        .collect(),
                    Ok(other) => {
                        self.error(
                            format!(
                                "labels must be a list of strings, got {}",
                                type_name(&other)
                            ),
                            e.span(),
                        );
                        continue;
                    }
                    Err(err) => {
                        self.error(err.message, err.span.or(e.span()));
                        continue;
                    }
                },
            };
            out.push((
                BlockView {
                    ident: kind_static(block, kind),
                    ident_span: span.clone(),
                    labels,
                    body: &content.body,
                },
                Some(inner),
            ));
        }
        out
    }

    fn child_block(
        &mut self,
        b: &BlockView<'_>,
        spec: &Spec,
        scope: &Scope,
        out: &mut Map<String, Value>,
    ) {
        let Some(child) = spec.child(b.ident) else {
            let hint = did_you_mean(b.ident, spec.names())
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            let what = if spec.attr(b.ident).is_some() {
                format!(
                    "\"{}\" is an argument of {}, not a block: write {} = ...",
                    b.ident, spec.name, b.ident
                )
            } else {
                format!(
                    "Unsupported block type \"{}\" in {} block{hint}",
                    b.ident, spec.name
                )
            };
            self.error(what, b.ident_span.clone());
            return;
        };
        let value = match child.body {
            Body::Spec(s) => match self.spec_block(b, s, scope) {
                Some(m) => Value::Object(m),
                None => return,
            },
            Body::StrMap | Body::StrListMap | Body::FreeForm | Body::Loose => {
                if !b.labels.is_empty() {
                    self.error(
                        format!("Extraneous label for {}: no labels are expected", b.ident),
                        b.ident_span.clone(),
                    );
                    return;
                }
                match child.body {
                    Body::StrMap => Value::Object(self.str_map_block(b, scope)),
                    Body::StrListMap => {
                        let m = self.str_map_like(b, scope, Ty::Any);
                        match self.str_list_map(Value::Object(m), b.ident) {
                            Ok(v) => v,
                            Err(e) => {
                                self.error(e, b.ident_span.clone());
                                return;
                            }
                        }
                    }
                    Body::FreeForm => Value::Object(self.free_form(b.body, scope)),
                    _ => Value::Object(self.loose(b.body, scope)),
                }
            }
        };
        self.place(child, b, value, out);
    }

    fn place(
        &mut self,
        child: &Child,
        b: &BlockView<'_>,
        value: Value,
        out: &mut Map<String, Value>,
    ) {
        match child.nest {
            Nest::One | Nest::OneInList => {
                if out.contains_key(child.key) {
                    let label = b
                        .labels
                        .first()
                        .map(|l| format!(" \"{l}\""))
                        .unwrap_or_default();
                    self.error(
                        format!(
                            "Duplicate {}{label} block: only one is allowed here",
                            b.ident
                        ),
                        b.ident_span.clone(),
                    );
                    return;
                }
                let v = if child.nest == Nest::OneInList {
                    Value::Array(vec![value])
                } else {
                    value
                };
                out.insert(child.key.to_string(), v);
            }
            Nest::Many => {
                if let Value::Array(list) = out
                    .entry(child.key.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    list.push(value);
                }
            }
            Nest::ByLabel => {
                let label = b.labels.first().cloned().unwrap_or_default();
                if let Value::Object(m) = out
                    .entry(child.key.to_string())
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    if m.contains_key(&label) {
                        self.error(
                            format!(
                                "Duplicate {} \"{label}\" block: the name is already used",
                                b.ident
                            ),
                            b.ident_span.clone(),
                        );
                        return;
                    }
                    m.insert(label, value);
                }
            }
        }
    }

    /// `meta { k = v }`: a map of strings.
    fn str_map_block(&mut self, b: &BlockView<'_>, scope: &Scope) -> Map<String, Value> {
        self.str_map_like(b, scope, Ty::Str)
    }

    fn str_map_like(&mut self, b: &BlockView<'_>, scope: &Scope, ty: Ty) -> Map<String, Value> {
        let mut out = Map::new();
        for s in b.body.iter() {
            if let Some(attr) = s.as_attribute() {
                let key = attr.key.as_str().to_string();
                if out.contains_key(&key) {
                    self.error(format!("Attribute redefined: \"{key}\""), attr.key.span());
                    continue;
                }
                if let Some(v) = self.attr_value(&attr.value, ty, &key, scope) {
                    out.insert(key, v);
                }
            } else if let Some(block) = s.as_block() {
                self.error(
                    format!(
                        "Unexpected block \"{}\" inside {}: only key = value pairs are allowed",
                        block.ident.as_str(),
                        b.ident
                    ),
                    block.ident.span(),
                );
            }
        }
        out
    }

    /// A check's header: every value must be a list of strings.
    fn str_list_map(&self, v: Value, name: &str) -> Result<Value, String> {
        let Value::Object(m) = v else {
            return Err(format!(
                "Unsuitable value for {name}: a map of lists of strings is required"
            ));
        };
        for (k, item) in &m {
            let ok = matches!(item, Value::Array(a) if a.iter().all(Value::is_string));
            if !ok {
                return Err(format!(
                    "Unsuitable value for {name} \"{k}\": a list of strings is required, e.g. {k} = [\"value\"]"
                ));
            }
        }
        Ok(Value::Object(m))
    }

    /// Driver configuration: attributes keep their values (objects wrapped in a
    /// one-element list), blocks become lists of maps, labels nest.
    fn free_form(&mut self, body: &HBody, scope: &Scope) -> Map<String, Value> {
        let mut out = Map::new();
        for s in body.iter() {
            if let Some(attr) = s.as_attribute() {
                let key = attr.key.as_str().to_string();
                match scope.eval(&attr.value, self.map.text) {
                    Ok(v) => {
                        let v = to_json(&v);
                        let v = if v.is_object() {
                            Value::Array(vec![v])
                        } else {
                            v
                        };
                        out.insert(key, v);
                    }
                    Err(e) => self.error(e.message, e.span.or(attr.value.span())),
                }
            } else if let Some(block) = s.as_block() {
                for (view, inner) in self.expand(block, scope) {
                    let mut v =
                        Value::Object(self.free_form(view.body, inner.as_ref().unwrap_or(scope)));
                    for label in view.labels.iter().rev() {
                        let mut m = Map::new();
                        m.insert(label.clone(), Value::Array(vec![v]));
                        v = Value::Object(m);
                    }
                    if let Value::Array(list) = out
                        .entry(view.ident.to_string())
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        list.push(v);
                    }
                }
            }
        }
        out
    }

    /// Consul blocks sched keeps but does not act on: snake_case keys become
    /// Go field names, blocks become objects (lists when repeated).
    fn loose(&mut self, body: &HBody, scope: &Scope) -> Map<String, Value> {
        let mut out = Map::new();
        for s in body.iter() {
            if let Some(attr) = s.as_attribute() {
                match scope.eval(&attr.value, self.map.text) {
                    Ok(v) => {
                        out.insert(go_name(attr.key.as_str()), to_json(&v));
                    }
                    Err(e) => self.error(e.message, e.span.or(attr.value.span())),
                }
            } else if let Some(block) = s.as_block() {
                for (view, inner) in self.expand(block, scope) {
                    let mut v =
                        Value::Object(self.loose(view.body, inner.as_ref().unwrap_or(scope)));
                    if let Some(label) = view.labels.first() {
                        let mut m = Map::new();
                        m.insert(label.clone(), v);
                        v = Value::Object(m);
                    }
                    let key = go_name(view.ident);
                    match out.remove(&key) {
                        None => {
                            out.insert(key, v);
                        }
                        Some(Value::Array(mut list)) => {
                            list.push(v);
                            out.insert(key, Value::Array(list));
                        }
                        Some(prev) => {
                            out.insert(key, Value::Array(vec![prev, v]));
                        }
                    }
                }
            }
        }
        out
    }

    /// Evaluates an attribute and converts it to `ty`.
    fn attr_value(&mut self, expr: &EExpr, ty: Ty, name: &str, scope: &Scope) -> Option<Value> {
        let v = match scope.eval(expr, self.map.text) {
            Ok(v) => v,
            Err(e) => {
                self.error(e.message, e.span.or(expr.span()));
                return None;
            }
        };
        match convert(&v, ty) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.error(
                    format!("Unsuitable value: {msg} (in \"{name}\")"),
                    expr.span(),
                );
                None
            }
        }
    }
}

/// The generated block type name, borrowed from the file.
fn kind_static<'b>(block: &'b Block, kind: &str) -> &'b str {
    block
        .labels
        .first()
        .map(|l| l.as_str())
        .filter(|l| *l == kind)
        .unwrap_or("dynamic")
}

/// snake_case to a Go field name, with Go's initialisms.
fn go_name(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| match part {
            "id" | "uid" | "ip" | "tls" | "dns" | "sni" | "url" | "tcp" | "http" | "grpc"
            | "cidrs" => part.to_ascii_uppercase().replace("CIDRS", "CIDRs"),
            _ => {
                let mut c = part.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            }
        })
        .collect()
}

/// Converts an evaluated value to the schema's type.
pub(crate) fn convert(v: &hcl::Value, ty: Ty) -> Result<Value, String> {
    use hcl::Value as V;
    let scalar_str = |v: &V| -> Option<String> {
        match v {
            V::String(s) => Some(s.clone()),
            V::Number(_) => Some(to_json(v).to_string()),
            V::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    match ty {
        Ty::Any => Ok(to_json(v)),
        Ty::Str => scalar_str(v)
            .map(Value::String)
            .ok_or_else(|| format!("a string is required, got {}", type_name(v))),
        Ty::Int => int(v).map(Value::from),
        Ty::Bool => match v {
            V::Bool(b) => Ok(Value::Bool(*b)),
            V::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            other => Err(format!("a bool is required, got {}", describe(other))),
        },
        Ty::Dur => match v {
            V::String(s) => parse_go_duration(s).map(Value::from).map_err(|e| {
                format!("{e}; a duration is written like \"30s\", \"5m\" or \"1h30m\"")
            }),
            V::Number(_) => int(v).map(Value::from),
            other => Err(format!(
                "a duration string such as \"30s\" is required, got {}",
                describe(other)
            )),
        },
        Ty::StrList => match v {
            V::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    scalar_str(item).map(Value::String).ok_or_else(|| {
                        format!("element {i} must be a string, got {}", type_name(item))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Err(format!(
                "a list of strings is required, got {}",
                describe(other)
            )),
        },
        Ty::IntList => match v {
            V::Array(a) => a
                .iter()
                .map(|item| int(item).map(Value::from))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Err(format!(
                "a list of numbers is required, got {}",
                describe(other)
            )),
        },
        Ty::StrMap => match v {
            V::Object(o) => o
                .iter()
                .map(|(k, item)| {
                    scalar_str(item)
                        .map(|s| (k.clone(), Value::String(s)))
                        .ok_or_else(|| {
                            format!(
                                "map of string required; the value of \"{k}\" is a {}",
                                type_name(item)
                            )
                        })
                })
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object),
            other => Err(format!("map of string required, got {}", describe(other))),
        },
    }
}

fn int(v: &hcl::Value) -> Result<i64, String> {
    match v {
        hcl::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() == 0.0 && f.abs() < 9.0e18 {
                    Ok(f as i64)
                } else {
                    Err(format!("a whole number is required, got {n}"))
                }
            }
        }
        hcl::Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("a number is required, got the string \"{s}\"")),
        other => Err(format!("a number is required, got {}", describe(other))),
    }
}

fn describe(v: &hcl::Value) -> String {
    match v {
        hcl::Value::String(s) => format!("the string \"{s}\""),
        other => format!("a {}", type_name(other)),
    }
}
