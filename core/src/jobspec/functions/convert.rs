//! Type conversion functions: `tobool`, `tonumber`, `tostring`, `tolist`,
//! `toset`, `tomap`, and [`convert()`] for the evaluator's `convert(value, type)`.

use hcl::eval::{FuncArgs, FuncDef, ParamType};
use hcl::{Expression, Map, ObjectKey, Value};

use super::{normalize_set, parse_number, type_name};

pub(super) fn register(defs: &mut Vec<(&'static str, FuncDef)>) {
    let one = |f| FuncDef::builder().param(ParamType::Any).build(f);
    defs.push(("tobool", one(tobool)));
    defs.push(("tonumber", one(tonumber)));
    defs.push(("tostring", one(tostring)));
    defs.push(("tolist", one(tolist)));
    defs.push(("toset", one(toset)));
    defs.push(("tomap", one(tomap)));
}

/// Converts to a bool; null stays null.
fn to_bool(v: &Value, func: &str) -> Result<Value, String> {
    match v {
        Value::Null | Value::Bool(_) => Ok(v.clone()),
        Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
        Value::String(s) => Err(format!(
            "{func}: cannot convert {s:?} to bool; only \"true\" or \"false\" are allowed"
        )),
        other => Err(format!(
            "{func}: cannot convert {} to bool",
            type_name(other)
        )),
    }
}

/// Converts to a number; null stays null.
fn to_number(v: &Value, func: &str) -> Result<Value, String> {
    match v {
        Value::Null | Value::Number(_) => Ok(v.clone()),
        Value::String(s) => parse_number(s)
            .map(Value::Number)
            .ok_or_else(|| format!("{func}: cannot convert {s:?} to number")),
        other => Err(format!(
            "{func}: cannot convert {} to number",
            type_name(other)
        )),
    }
}

/// Converts to a string; null stays null.
fn to_string(v: &Value, func: &str) -> Result<Value, String> {
    match v {
        Value::Null | Value::String(_) => Ok(v.clone()),
        Value::Number(n) => Ok(super::number_text(n).into()),
        Value::Bool(b) => Ok(b.to_string().into()),
        other => Err(format!(
            "{func}: cannot convert {} to string",
            type_name(other)
        )),
    }
}

fn tobool(args: FuncArgs) -> Result<Value, String> {
    to_bool(&args[0], "tobool")
}

fn tonumber(args: FuncArgs) -> Result<Value, String> {
    to_number(&args[0], "tonumber")
}

fn tostring(args: FuncArgs) -> Result<Value, String> {
    to_string(&args[0], "tostring")
}

/// Makes the elements of a collection one type: mixed primitives become
/// strings when any is a string; other mixtures are errors.
fn unify<'a>(items: impl Iterator<Item = &'a Value>, func: &str) -> Result<Vec<Value>, String> {
    let items: Vec<&Value> = items.collect();
    let mut kinds: Vec<&str> = items
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| type_name(v))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    match kinds.as_slice() {
        [] | [_] => Ok(items.into_iter().cloned().collect()),
        many if many.contains(&"string")
            && many
                .iter()
                .all(|k| matches!(*k, "string" | "number" | "bool")) =>
        {
            items.into_iter().map(|v| to_string(v, func)).collect()
        }
        many => Err(format!(
            "{func}: all elements must have the same type, found {}",
            many.join(" and ")
        )),
    }
}

fn tolist(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Array(a) => Ok(Value::Array(unify(a.iter(), "tolist")?)),
        other => Err(format!(
            "tolist: cannot convert {} to list",
            type_name(other)
        )),
    }
}

fn toset(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Array(a) => Ok(Value::Array(normalize_set(unify(a.iter(), "toset")?))),
        other => Err(format!("toset: cannot convert {} to set", type_name(other))),
    }
}

fn tomap(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Object(o) => {
            let values = unify(o.values(), "tomap")?;
            Ok(Value::Object(o.keys().cloned().zip(values).collect()))
        }
        other => Err(format!("tomap: cannot convert {} to map", type_name(other))),
    }
}

/// Converts `value` to the type written as the type expression `ty` (`string`,
/// `number`, `bool`, `any`, `list(T)`, `set(T)`, `map(T)`, `tuple([T, ...])`,
/// `object({name = T, ...})`), as `convert(value, ty)` in a job file does.
///
/// `convert` is not declared by [`super::declare_all`]: its second argument is
/// a type, not a value, so the evaluator calls this with the unevaluated
/// expression.
pub fn convert(value: &Value, ty: &Expression) -> Result<Value, String> {
    convert_at(value, ty, 0)
}

/// Checks that `ty` is a type expression `convert` understands, so a bad
/// `type = ...` in a variable is reported where it is written, not when a
/// value first arrives.
pub fn check_type(ty: &Expression) -> Result<(), String> {
    check_type_at(ty, 0)
}

fn check_type_at(ty: &Expression, depth: usize) -> Result<(), String> {
    if depth > MAX_TYPE_DEPTH {
        return Err("type expression nested too deeply".into());
    }
    match ty {
        Expression::Parenthesis(inner) => check_type_at(inner, depth + 1),
        Expression::Variable(v) => match v.as_str() {
            "string" | "number" | "bool" | "any" => Ok(()),
            other => Err(format!(
                "unknown type {other:?}; expected string, number, bool, any, list(...), set(...), map(...), object({{...}}) or tuple([...])"
            )),
        },
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let [arg] = call.args.as_slice() else {
                return Err(format!("type {name}(...) takes exactly one argument"));
            };
            match (name, arg) {
                ("list" | "set" | "map" | "optional", t) => check_type_at(t, depth + 1),
                ("tuple", Expression::Array(ts)) => {
                    ts.iter().try_for_each(|t| check_type_at(t, depth + 1))
                }
                ("object", Expression::Object(attrs)) => {
                    attrs.values().try_for_each(|t| check_type_at(t, depth + 1))
                }
                ("tuple", _) => Err("tuple(...) takes a list of types".into()),
                ("object", _) => Err("object(...) takes an object of attribute types".into()),
                (other, _) => Err(format!("unknown type constructor {other:?}")),
            }
        }
        _ => Err("a type is required here, such as string or list(string)".into()),
    }
}

/// Type expressions nest at most this deep.
const MAX_TYPE_DEPTH: usize = 64;

fn convert_at(value: &Value, ty: &Expression, depth: usize) -> Result<Value, String> {
    const F: &str = "convert";
    if depth > MAX_TYPE_DEPTH {
        return Err(format!("{F}: type expression nested too deeply"));
    }
    match ty {
        Expression::Parenthesis(inner) => convert_at(value, inner, depth + 1),
        Expression::Variable(v) => match v.as_str() {
            "string" => to_string(value, F),
            "number" => to_number(value, F),
            "bool" => to_bool(value, F),
            "any" => Ok(value.clone()),
            other => Err(format!("{F}: unknown type {other:?}")),
        },
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let [arg] = call.args.as_slice() else {
                return Err(format!("{F}: type {name}(...) takes exactly one argument"));
            };
            if value.is_null() {
                return Ok(Value::Null);
            }
            match name {
                "list" | "set" => {
                    let Value::Array(items) = value else {
                        return Err(format!(
                            "{F}: cannot convert {} to {name}",
                            type_name(value)
                        ));
                    };
                    let out = items
                        .iter()
                        .map(|v| convert_at(v, arg, depth + 1))
                        .collect::<Result<Vec<_>, _>>()?;
                    let out = if name == "set" {
                        normalize_set(out)
                    } else {
                        out
                    };
                    Ok(Value::Array(out))
                }
                "map" => {
                    let Value::Object(obj) = value else {
                        return Err(format!("{F}: cannot convert {} to map", type_name(value)));
                    };
                    let mut out = Map::new();
                    for (k, v) in obj {
                        out.insert(k.clone(), convert_at(v, arg, depth + 1)?);
                    }
                    Ok(Value::Object(out))
                }
                "tuple" => {
                    let (Value::Array(items), Expression::Array(types)) = (value, arg) else {
                        return Err(format!(
                            "{F}: cannot convert {} to tuple([...])",
                            type_name(value)
                        ));
                    };
                    if items.len() != types.len() {
                        return Err(format!(
                            "{F}: tuple needs {} elements, got {}",
                            types.len(),
                            items.len()
                        ));
                    }
                    items
                        .iter()
                        .zip(types)
                        .map(|(v, t)| convert_at(v, t, depth + 1))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Value::Array)
                }
                "object" => {
                    let (Value::Object(obj), Expression::Object(attrs)) = (value, arg) else {
                        return Err(format!(
                            "{F}: cannot convert {} to object({{...}})",
                            type_name(value)
                        ));
                    };
                    let mut out = Map::new();
                    for (key, t) in attrs {
                        let key = match key {
                            ObjectKey::Identifier(id) => id.as_str().to_string(),
                            ObjectKey::Expression(Expression::String(s)) => s.clone(),
                            _ => {
                                return Err(format!("{F}: object attribute names must be names"));
                            }
                        };
                        // optional(T): a missing attribute is null.
                        let (t, optional) = match t {
                            Expression::FuncCall(c) if c.name.name.as_str() == "optional" => {
                                match c.args.as_slice() {
                                    [inner] => (inner, true),
                                    _ => return Err(format!("{F}: optional(...) takes one type")),
                                }
                            }
                            t => (t, false),
                        };
                        match obj.get(&key) {
                            Some(v) => {
                                out.insert(key, convert_at(v, t, depth + 1)?);
                            }
                            None if optional => {
                                out.insert(key, Value::Null);
                            }
                            None => return Err(format!("{F}: attribute {key:?} is required")),
                        }
                    }
                    Ok(Value::Object(out))
                }
                other => Err(format!("{F}: unknown type constructor {other:?}")),
            }
        }
        _ => Err(format!("{F}: invalid type expression")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_err, assert_eval, eval};

    #[test]
    fn scalars() {
        assert_eval(r#"tobool("true")"#, "true");
        assert_eval("tobool(null)", "null");
        assert_err(r#"tobool("yes")"#, "cannot convert");
        assert_eval(r#"tonumber("1.5")"#, "1.5");
        assert_eval(r#"tonumber("42")"#, "42");
        assert_eval("tonumber(3)", "3");
        assert_err(r#"tonumber("no")"#, "cannot convert");
        assert_err(r#"tonumber("inf")"#, "cannot convert");
        assert_err(r#"tonumber(" 5")"#, "cannot convert");
        assert_eval(r#"tonumber("-2.5e2")"#, "-250");
        assert_eval("tostring(42)", r#""42""#);
        assert_eval("tostring(true)", r#""true""#);
        assert_eval("tostring(1e21)", r#""1000000000000000000000""#);
        assert_eval("tostring(0.5)", r#""0.5""#);
        assert_err("tostring([])", "cannot convert list to string");
    }

    #[test]
    fn collections() {
        assert_eval(r#"tolist(["a", 1, true])"#, r#"["a", "1", "true"]"#);
        assert_err("tolist([1, true])", "same type");
        assert_err(r#"tolist({a = 1})"#, "cannot convert object to list");
        assert_eval(r#"toset(["b", "a", "b"])"#, r#"["a", "b"]"#);
        assert_err("toset(1)", "cannot convert number to set");
        assert_eval(r#"tomap({a = 1, b = "x"})"#, r#"{a = "1", b = "x"}"#);
        assert_err(r#"tomap(["a"])"#, "cannot convert list to map");
    }

    #[test]
    fn convert_by_type_expression() {
        let conv = |v: &str, t: &str| -> Result<hcl::Value, String> {
            let v = eval(v)?;
            let t: hcl::Expression = t.parse().map_err(|e| format!("{e}"))?;
            super::convert(&v, &t)
        };
        assert_eq!(conv("[1, 2]", "list(string)"), eval(r#"["1", "2"]"#));
        assert_eq!(conv(r#"["b", "a"]"#, "set(string)"), eval(r#"["a", "b"]"#));
        assert_eq!(conv(r#"{a = "1"}"#, "map(number)"), eval("{a = 1}"));
        assert_eq!(
            conv(
                r#"{a = "1", b = true, c = 9}"#,
                "object({a = number, b = string})"
            ),
            eval(r#"{a = 1, b = "true"}"#)
        );
        assert_eq!(
            conv(r#"["1", 2]"#, "tuple([number, string])"),
            eval(r#"[1, "2"]"#)
        );
        assert_eq!(conv("null", "list(string)"), Ok(hcl::Value::Null));
        assert!(conv(r#"{a = 1}"#, "object({b = number})").is_err());
        assert!(conv(r#""x""#, "number").is_err());
        assert!(conv("1", "widget").is_err());
        assert!(conv("[1]", "tuple([number, number])").is_err());
    }
}
