//! The HCL function library that Nomad job files may call (`upper`, `merge`,
//! `cidrsubnet`, `formatdate`, `file`, ...), as [`hcl::eval::FuncDef`]s.
//!
//! This module owns the functions themselves: their argument checking, their
//! semantics (modelled on Nomad's jobspec2 / Terraform's function library) and
//! their error messages, plus the [`FnEnv`] through which the few functions that
//! look at the outside world (the file system, the clock, the home directory)
//! get it handed in. It does not own evaluation: `try` and `can` need their
//! arguments unevaluated and `convert` takes a type expression, so the
//! evaluator intercepts those three itself (see [`convert()`]); they are
//! listed in [`NAMES`] but not declared by [`declare_all`].
//!
//! Every function is bounded: collections it builds are capped at
//! [`MAX_ELEMENTS`] elements (`range` at 1024 values, as in Nomad) and strings
//! at [`MAX_STRING_BYTES`] bytes, `bcrypt`'s cost is capped, and no input
//! makes a function panic.
//!
//! Where Nomad and Terraform differ, job files get Nomad's meaning (`index`
//! reads an element by key, YAML is read with YAML 1.1 words), with these
//! deliberate extensions: `replace` also takes a `/regex/` pattern, `reverse`
//! also reverses lists, `length` also counts a string's characters, and
//! Terraform's `regex`, `regexall`, `startswith`, `endswith`, `strcontains`,
//! `setsubtract`, `transpose`, `one`, `sum`, `alltrue`, `anytrue`,
//! `base64gzip`, `timestamp` and `to*` conversions are available. `abspath`
//! resolves against [`FnEnv::base_dir`], not the process's directory.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;

use hcl::eval::{Context, FuncDef};
use hcl::{Number, Value};

mod collection;
mod convert;
mod crypto;
mod datetime;
mod encoding;
mod fs;
mod net;
mod numeric;
mod string;
mod yaml_decode;
mod yaml_emit;

pub use convert::{check_type, convert};
pub use fs::{FileSource, StdFileSource};

/// The largest number of elements a function may build into one list or object.
pub const MAX_ELEMENTS: usize = 1_000_000;

/// The largest string, in bytes, a function may build.
pub const MAX_STRING_BYTES: usize = 64 * 1024 * 1024;

/// What functions may see of the outside world during one parse: passed in,
/// never read from the process.
#[derive(Debug, Clone)]
pub struct FnEnv {
    /// Where `file()`, `fileexists()`, `fileset()`, `filebase64()` read from;
    /// `None` makes every file-system function fail with
    /// "filesystem function disabled".
    pub fs: Option<Arc<dyn FileSource>>,
    /// Relative paths given to `file()` and friends resolve against it.
    pub base_dir: PathBuf,
    /// The home directory `pathexpand("~/...")` expands to.
    pub home_dir: Option<PathBuf>,
    /// The time `timestamp()` returns.
    pub now: chrono::DateTime<chrono::Utc>,
}

thread_local! {
    static CURRENT_ENV: RefCell<Option<FnEnv>> = const { RefCell::new(None) };
}

/// Restores the previous thread-local environment when dropped, including
/// during unwinding.
struct EnvGuard {
    previous: Option<FnEnv>,
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT_ENV.with(|cell| {
            if let Ok(mut current) = cell.try_borrow_mut() {
                *current = previous;
            }
        });
    }
}

/// Runs `f` with `env` visible to the functions on this thread (a
/// thread-local set and restored by a guard, also on panic/unwind).
pub fn with_env<R>(env: FnEnv, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT_ENV.with(|cell| match cell.try_borrow_mut() {
        Ok(mut current) => current.replace(env),
        // Unreachable: no borrow outlives `with_current_env`.
        Err(_) => None,
    });
    let _guard = EnvGuard { previous };
    f()
}

/// Calls `f` with the environment of the innermost [`with_env`] on this
/// thread, or `None` outside any. The environment is cloned out first, so
/// nothing stays borrowed while `f` (and any file source it calls) runs.
pub(crate) fn with_current_env<R>(f: impl FnOnce(Option<&FnEnv>) -> R) -> R {
    let env = CURRENT_ENV.with(|cell| cell.try_borrow().ok().and_then(|e| e.clone()));
    f(env.as_ref())
}

/// Every function name (including `try` and `can`, which the evaluator
/// handles itself because their arguments are evaluated lazily, and
/// `convert`, whose second argument is a type expression), for did-you-mean
/// suggestions. Sorted.
pub const NAMES: &[&str] = &[
    "abs",
    "abspath",
    "alltrue",
    "anytrue",
    "base64decode",
    "base64encode",
    "base64gzip",
    "basename",
    "bcrypt",
    "can",
    "ceil",
    "chomp",
    "chunklist",
    "cidrhost",
    "cidrnetmask",
    "cidrsubnet",
    "cidrsubnets",
    "coalesce",
    "coalescelist",
    "compact",
    "concat",
    "contains",
    "convert",
    "csvdecode",
    "dirname",
    "distinct",
    "element",
    "endswith",
    "file",
    "filebase64",
    "fileexists",
    "fileset",
    "flatten",
    "floor",
    "format",
    "formatdate",
    "formatlist",
    "indent",
    "index",
    "join",
    "jsondecode",
    "jsonencode",
    "keys",
    "length",
    "log",
    "lookup",
    "lower",
    "max",
    "md5",
    "merge",
    "min",
    "one",
    "parseint",
    "pathexpand",
    "pow",
    "range",
    "regex",
    "regex_replace",
    "regexall",
    "replace",
    "reverse",
    "rsadecrypt",
    "setintersection",
    "setproduct",
    "setsubtract",
    "setunion",
    "sha1",
    "sha256",
    "sha512",
    "signum",
    "slice",
    "sort",
    "split",
    "startswith",
    "strcontains",
    "strlen",
    "strrev",
    "substr",
    "sum",
    "timeadd",
    "timestamp",
    "title",
    "tobool",
    "tolist",
    "tomap",
    "tonumber",
    "toset",
    "tostring",
    "transpose",
    "trim",
    "trimprefix",
    "trimspace",
    "trimsuffix",
    "try",
    "upper",
    "urlencode",
    "uuidv4",
    "uuidv5",
    "values",
    "yamldecode",
    "yamlencode",
    "zipmap",
];

/// Names in [`NAMES`] that [`declare_all`] leaves to the evaluator.
pub const EVALUATOR_HANDLED: &[&str] = &["can", "convert", "try"];

/// Declares every function on the context.
///
/// `try`, `can` and `convert` are left out (see [`EVALUATOR_HANDLED`]): the
/// evaluator must intercept calls to them before evaluating their arguments.
pub fn declare_all(ctx: &mut Context<'_>) {
    for (name, def) in definitions() {
        ctx.declare_func(name, def);
    }
}

/// Every declared function with its definition.
fn definitions() -> Vec<(&'static str, FuncDef)> {
    let mut defs = Vec::new();
    string::register(&mut defs);
    collection::register(&mut defs);
    encoding::register(&mut defs);
    numeric::register(&mut defs);
    datetime::register(&mut defs);
    crypto::register(&mut defs);
    net::register(&mut defs);
    convert::register(&mut defs);
    fs::register(&mut defs);
    defs
}

// ---------------------------------------------------------------------------
// Helpers shared by the function files.

/// A short name for the type of a value, for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// Converts a primitive value to a string the way HCL's automatic conversion
/// does (numbers and bools become their text); null and collections fail.
pub(crate) fn str_of(v: &Value, func: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(number_text(n)),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err(format!("{func}: argument must not be null")),
        other => Err(format!(
            "{func}: expected a string, got {}",
            type_name(other)
        )),
    }
}

/// A number as text the way HCL converts numbers to strings: plain decimal
/// notation, never an exponent.
pub(crate) fn number_text(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => f.to_string(),
        _ => n.to_string(),
    }
}

/// Parses a number from its decimal text (as HCL converts strings to numbers).
pub(crate) fn parse_number(s: &str) -> Option<Number> {
    let t = s;
    if t.is_empty() {
        return None;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = t.parse::<u64>() {
        return Some(Number::from(u));
    }
    // Only plain decimal notation: reject "inf", "NaN" and friends.
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    t.parse::<f64>().ok().and_then(Number::from_f64)
}

/// Converts a value to a number (strings are parsed).
pub(crate) fn num_of(v: &Value, func: &str) -> Result<Number, String> {
    match v {
        Value::Number(n) => Ok(*n),
        Value::String(s) => {
            parse_number(s).ok_or_else(|| format!("{func}: {s:?} is not a valid number"))
        }
        Value::Null => Err(format!("{func}: argument must not be null")),
        other => Err(format!(
            "{func}: expected a number, got {}",
            type_name(other)
        )),
    }
}

/// Converts a value to a whole number.
pub(crate) fn int_of(v: &Value, func: &str, what: &str) -> Result<i64, String> {
    let n = num_of(v, func)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 => Err(format!("{func}: {what} {n} is too large")),
        _ => Err(format!("{func}: {what} must be a whole number, got {n}")),
    }
}

/// Converts a value to a bool (the strings "true" and "false" are accepted).
pub(crate) fn bool_of(v: &Value, func: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        Value::Null => Err(format!("{func}: argument must not be null")),
        other => Err(format!("{func}: expected a bool, got {}", type_name(other))),
    }
}

/// Makes a number value from a float, failing for infinities and NaN.
pub(crate) fn num_value(f: f64, func: &str) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("{func}: result is not a finite number"))
}

/// Fails when a collection would grow past [`MAX_ELEMENTS`].
pub(crate) fn check_elements(n: usize, func: &str) -> Result<(), String> {
    if n > MAX_ELEMENTS {
        Err(format!(
            "{func}: result would have {n} elements, more than the limit of {MAX_ELEMENTS}"
        ))
    } else {
        Ok(())
    }
}

/// Fails when a string would grow past [`MAX_STRING_BYTES`].
pub(crate) fn check_string(n: usize, func: &str) -> Result<(), String> {
    if n > MAX_STRING_BYTES {
        Err(format!(
            "{func}: result would be {n} bytes long, more than the limit of {MAX_STRING_BYTES}"
        ))
    } else {
        Ok(())
    }
}

/// The array in argument `v`, or an error naming the function.
pub(crate) fn list_of<'a>(v: &'a Value, func: &str) -> Result<&'a Vec<Value>, String> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Err(format!("{func}: argument must not be null")),
        other => Err(format!("{func}: expected a list, got {}", type_name(other))),
    }
}

/// The object in argument `v`, or an error naming the function.
pub(crate) fn object_of<'a>(
    v: &'a Value,
    func: &str,
) -> Result<&'a hcl::Map<String, Value>, String> {
    match v {
        Value::Object(o) => Ok(o),
        Value::Null => Err(format!("{func}: argument must not be null")),
        other => Err(format!(
            "{func}: expected an object, got {}",
            type_name(other)
        )),
    }
}

/// Drops repeated values, keeping first occurrences, in linear time.
pub(crate) fn dedup(items: Vec<Value>) -> Vec<Value> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items
        .into_iter()
        .filter(|v| seen.insert(encoding::canonical(v)))
        .collect()
}

/// The canonical texts of a collection's values, for membership tests.
pub(crate) fn value_set(items: &[Value]) -> std::collections::HashSet<String> {
    items.iter().map(encoding::canonical).collect()
}

/// Orders a set's elements as HCL's set type does: strings lexically,
/// numbers numerically, anything else in first-seen order; duplicates dropped.
pub(crate) fn normalize_set(items: Vec<Value>) -> Vec<Value> {
    let mut out = dedup(items);
    if out.iter().all(Value::is_string) {
        out.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    } else if out.iter().all(Value::is_number) {
        out.sort_by(|a, b| {
            let x = a.as_f64().unwrap_or(0.0);
            let y = b.as_f64().unwrap_or(0.0);
            x.total_cmp(&y)
        });
    }
    out
}

#[cfg(test)]
pub(crate) mod testutil {
    use hcl::Value;
    use hcl::eval::{Context, Evaluate};

    /// Parses and evaluates `expr` with every function declared.
    pub fn eval(expr: &str) -> Result<Value, String> {
        let parsed = expr
            .parse::<hcl::Expression>()
            .map_err(|e| format!("parse error: {e}"))?;
        let mut ctx = Context::new();
        super::declare_all(&mut ctx);
        parsed.evaluate(&ctx).map_err(|e| e.to_string())
    }

    /// Evaluates `expr` and asserts it equals the evaluation of `want`.
    #[track_caller]
    pub fn assert_eval(expr: &str, want: &str) {
        let got = eval(expr);
        let want = eval(want);
        assert_eq!(got, want, "evaluating {expr}");
    }

    /// Evaluates `expr` and asserts it fails with an error containing `needle`.
    #[track_caller]
    pub fn assert_err(expr: &str, needle: &str) {
        match eval(expr) {
            Ok(v) => panic!("{expr} evaluated to {v:?}, expected an error containing {needle:?}"),
            Err(e) => assert!(
                e.contains(needle),
                "{expr} failed with {e:?}, expected it to contain {needle:?}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_and_all_declared() {
        let mut sorted = NAMES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, NAMES);
        let declared: Vec<&str> = definitions().into_iter().map(|(n, _)| n).collect();
        for name in NAMES {
            assert_eq!(
                declared.contains(name),
                !EVALUATOR_HANDLED.contains(name),
                "{name}"
            );
        }
        for name in &declared {
            assert!(NAMES.contains(name), "{name} missing from NAMES");
        }
    }

    /// HCL literal text for an arbitrary value of modest size.
    fn literal() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("null".to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            (-70i64..70).prop_map(|i| i.to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            (-1e6f64..1e6).prop_map(|f| format!("{f:?}")),
            "[a-z0-9%/.~:, \\-]{0,12}".prop_map(|s| format!("{s:?}")),
            prop::sample::select(vec![
                "\"%d %s %v %-05.2f %[2]q %\"",
                "\"10.0.0.0/8\"",
                "\"fd00::/56\"",
                "\"2024-01-02T03:04:05Z\"",
                "\"1h30m\"",
                "\"/(a+)b/\"",
                "\"YYYY-MM-DD'T'hh:mm ZZZZZ\"",
                "\"a: [1, {b: c}]\"",
                "\"{\\\"a\\\": [1, 2.5]}\"",
                "\"e\\u0301\\n\"",
                "\"dns\"",
            ])
            .prop_map(str::to_string),
        ];
        leaf.prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(", "))),
                proptest::collection::btree_map("[a-c]", inner, 0..3).prop_map(|kv| {
                    let body: Vec<String> =
                        kv.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("{{{}}}", body.join(", "))
                }),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// No function panics, whatever it is given.
        #[test]
        fn no_function_panics(
            name in proptest::sample::select(
                NAMES
                    .iter()
                    .copied()
                    .filter(|n| !EVALUATOR_HANDLED.contains(n) && *n != "bcrypt")
                    .collect::<Vec<_>>(),
            ),
            args in proptest::collection::vec(literal(), 0..4),
        ) {
            let expr = format!("{name}({})", args.join(", "));
            proptest::prop_assert!(expr.parse::<hcl::Expression>().is_ok(), "{}", expr);
            let env = FnEnv {
                fs: None,
                base_dir: PathBuf::from("/"),
                home_dir: Some(PathBuf::from("/home/u")),
                now: chrono::DateTime::<chrono::Utc>::MIN_UTC,
            };
            let _ = with_env(env, || testutil::eval(&expr));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// yamlencode/yamldecode and jsonencode/jsondecode give back the value.
        #[test]
        fn encodings_round_trip(
            v in literal(),
            long in "[a-z ]{60,200}",
        ) {
            let wrapped = format!("{{a = {v}, b = [{long:?}, \"x\\ny \\n\"]}}");
            let want = testutil::eval(&wrapped);
            for f in ["yaml", "json"] {
                let got = testutil::eval(&format!("{f}decode({f}encode({wrapped}))"));
                proptest::prop_assert_eq!(&got, &want, "{} round trip of {}", f, wrapped);
            }
        }
    }

    #[test]
    fn with_env_restores_on_unwind() {
        let env = FnEnv {
            fs: None,
            base_dir: PathBuf::from("/x"),
            home_dir: None,
            now: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            with_env(env, || {
                assert!(with_current_env(|e| e.is_some()));
                panic!("boom");
            })
        }));
        assert!(result.is_err());
        assert!(with_current_env(|e| e.is_none()));
    }

    #[test]
    fn with_env_nests() {
        let env = |dir: &str| FnEnv {
            fs: None,
            base_dir: PathBuf::from(dir),
            home_dir: None,
            now: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        };
        let base = || with_current_env(|e| e.map(|e| e.base_dir.clone()));
        with_env(env("/outer"), || {
            with_env(env("/inner"), || {
                assert_eq!(base(), Some(PathBuf::from("/inner")))
            });
            assert_eq!(base(), Some(PathBuf::from("/outer")));
        });
        assert_eq!(base(), None);
    }
}
