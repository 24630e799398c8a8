//! Encoding functions: JSON, YAML, CSV, base64 (plain and gzipped) and URL
//! query encoding.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hcl::eval::{FuncArgs, FuncDef, ParamType};
use hcl::{Map, Number, Value};

use super::{check_elements, check_string};

pub(super) fn register(defs: &mut Vec<(&'static str, FuncDef)>) {
    let one = |p, f| FuncDef::builder().param(p).build(f);
    defs.push(("jsonencode", one(ParamType::Any, jsonencode)));
    defs.push(("jsondecode", one(ParamType::String, jsondecode)));
    defs.push(("yamlencode", one(ParamType::Any, yamlencode)));
    defs.push(("yamldecode", one(ParamType::String, yamldecode)));
    defs.push(("csvdecode", one(ParamType::String, csvdecode)));
    defs.push(("base64encode", one(ParamType::String, base64encode)));
    defs.push(("base64decode", one(ParamType::String, base64decode)));
    defs.push(("base64gzip", one(ParamType::String, base64gzip)));
    defs.push(("urlencode", one(ParamType::String, urlencode)));
}

/// The string in positional argument `i` (already type-checked by hcl-rs).
fn arg_str(args: &FuncArgs, i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or_default()
}

/// Writes a JSON string literal, escaping as Go's encoding/json does
/// (including `<`, `>`, `&`, U+2028 and U+2029).
fn write_json_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a value as compact JSON with object keys sorted and numbers in
/// plain decimal notation.
fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&super::number_text(n)),
        Value::String(s) => write_json_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                if let Some(v) = o.get(k) {
                    write_json(out, v);
                }
            }
            out.push('}');
        }
    }
}

/// A canonical text for a value: equal values give equal texts (used to
/// deduplicate and compare collections in linear time).
pub(super) fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

/// Encodes a value as compact JSON the way HCL's `jsonencode` does: keys
/// sorted, numbers without exponents, HTML-sensitive characters escaped.
pub(super) fn json_encode(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v);
    check_string(out.len(), "jsonencode")?;
    Ok(out)
}

/// Converts decoded JSON into an HCL value.
fn from_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => Value::Array(a.into_iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, from_json(v))).collect())
        }
    }
}

fn jsonencode(args: FuncArgs) -> Result<Value, String> {
    json_encode(&args[0]).map(Value::from)
}

fn jsondecode(args: FuncArgs) -> Result<Value, String> {
    let v: serde_json::Value = serde_json::from_str(arg_str(&args, 0))
        .map_err(|e| format!("jsondecode: invalid JSON: {e}"))?;
    Ok(from_json(v))
}

/// `yamlencode(value)`: block-style YAML laid out as Nomad's yamlencode does.
fn yamlencode(args: FuncArgs) -> Result<Value, String> {
    let out = super::yaml_emit::encode(&args[0]);
    check_string(out.len(), "yamlencode")?;
    Ok(out.into())
}

/// `yamldecode(string)`: one YAML document, scalars resolved as Nomad does.
fn yamldecode(args: FuncArgs) -> Result<Value, String> {
    super::yaml_decode::decode(arg_str(&args, 0))
}

/// `csvdecode(string)`: a list of objects keyed by the header row.
fn csvdecode(args: FuncArgs) -> Result<Value, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(arg_str(&args, 0).as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("csvdecode: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    if headers.is_empty() || headers == [""] {
        return Err("csvdecode: missing header line".into());
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("csvdecode: {e}"))?;
        let mut obj = Map::new();
        for (h, field) in headers.iter().zip(record.iter()) {
            obj.insert(h.clone(), Value::from(field));
        }
        rows.push(Value::Object(obj));
        check_elements(rows.len(), "csvdecode")?;
    }
    Ok(Value::Array(rows))
}

fn base64encode(args: FuncArgs) -> Result<Value, String> {
    let s = arg_str(&args, 0);
    check_string(s.len().saturating_mul(4) / 3, "base64encode")?;
    Ok(STANDARD.encode(s).into())
}

fn base64decode(args: FuncArgs) -> Result<Value, String> {
    let bytes = STANDARD
        .decode(arg_str(&args, 0))
        .map_err(|e| format!("base64decode: invalid base64 data: {e}"))?;
    String::from_utf8(bytes)
        .map(Value::from)
        .map_err(|_| "base64decode: the decoded bytes are not valid UTF-8".into())
}

/// `base64gzip(string)`: gzip-compresses then base64-encodes.
fn base64gzip(args: FuncArgs) -> Result<Value, String> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(arg_str(&args, 0).as_bytes())
        .map_err(|e| format!("base64gzip: {e}"))?;
    let bytes = enc.finish().map_err(|e| format!("base64gzip: {e}"))?;
    Ok(STANDARD.encode(bytes).into())
}

/// Bytes `urlencode` escapes: everything but ASCII letters, digits and `-_.~`.
const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `urlencode(string)`: query-string escaping, spaces as `+`.
fn urlencode(args: FuncArgs) -> Result<Value, String> {
    let s = arg_str(&args, 0);
    let encoded = percent_encoding::utf8_percent_encode(s, QUERY).to_string();
    // A literal "%20" in the input was itself escaped to "%2520", so this only
    // touches spaces.
    Ok(encoded.replace("%20", "+").into())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_err, assert_eval, eval};

    #[test]
    fn json() {
        assert_eval(
            r#"jsonencode({b = [1, 2.5, true, null], a = "x<y"})"#,
            r#""{\"a\":\"x\\u003cy\",\"b\":[1,2.5,true,null]}""#,
        );
        assert_eval(r#"jsonencode("a")"#, r#""\"a\"""#);
        assert_eval(
            r#"jsonencode(["q\"\\\n\t\u0001 é", 1e21, 0.000001, -3])"#,
            r#""[\"q\\\"\\\\\\n\\t\\u0001 é\",1000000000000000000000,0.000001,-3]""#,
        );
        assert_err("jsonencode()", "positional arguments");
        assert_eval(
            r#"jsondecode("{\"a\": [1, 2.5, \"x\", null, false]}")"#,
            r#"{a = [1, 2.5, "x", null, false]}"#,
        );
        assert_err(r#"jsondecode("{")"#, "invalid JSON");
        assert_err("jsondecode(1)", "string");
    }

    #[test]
    fn yaml() {
        assert_eval(
            r#"yamldecode("a: 1\nb:\n  - x\n  - true\n  - 1.5\nc: null\n")"#,
            r#"{a = 1, b = ["x", true, 1.5], c = null}"#,
        );
        assert_err(r#"yamldecode("a: [")"#, "invalid YAML");
        assert_err(r#"yamldecode("? [1]\n: 2\n")"#, "mapping keys");
        assert_eval(
            r#"yamlencode({b = [1, "x"], a = true})"#,
            r#""\"a\": true\n\"b\":\n- 1\n- \"x\"\n""#,
        );
        assert_err("yamlencode()", "positional arguments");
        assert_err("yamlencode(1, 2)", "positional arguments");
        let round = eval(r#"yamldecode(yamlencode({k = ["v", 2, null]}))"#);
        assert_eq!(round, eval(r#"{k = ["v", 2, null]}"#));
    }

    #[test]
    fn csv() {
        assert_eval(
            r#"csvdecode("a,b\n1,2\n3,4\n")"#,
            r#"[{a = "1", b = "2"}, {a = "3", b = "4"}]"#,
        );
        assert_err(r#"csvdecode("a,b\n1,2,3\n")"#, "csvdecode");
        assert_err(r#"csvdecode("")"#, "missing header");
    }

    #[test]
    fn base64() {
        assert_eval(r#"base64encode("Hello World")"#, r#""SGVsbG8gV29ybGQ=""#);
        assert_err("base64encode(1)", "string");
        assert_eval(r#"base64decode("SGVsbG8gV29ybGQ=")"#, r#""Hello World""#);
        assert_err(r#"base64decode("!!")"#, "invalid base64");
        assert_err(r#"base64decode("/w==")"#, "not valid UTF-8");
        assert_eval(r#"base64decode(base64encode("héllo"))"#, r#""héllo""#);
        let gz = eval(r#"base64gzip("hello")"#);
        let Ok(hcl::Value::String(gz)) = gz else {
            panic!("base64gzip returned {gz:?}");
        };
        assert!(gz.starts_with("H4sI"), "{gz}");
        assert_err("base64gzip([])", "string");
    }

    #[test]
    fn url() {
        assert_eval(r#"urlencode("Hello World!")"#, r#""Hello+World%21""#);
        assert_eval(r#"urlencode("a=b&c/d~e%20")"#, r#""a%3Db%26c%2Fd~e%2520""#);
        assert_err("urlencode(null)", "string");
    }
}
