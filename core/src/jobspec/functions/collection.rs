//! Collection functions over lists (and sets, which are lists here) and
//! objects (maps): `length`, `concat`, `merge`, `lookup`, `range`, the set
//! functions, and friends.

use hcl::eval::{FuncArgs, FuncDef, ParamType};
use hcl::{Map, Value};
use unicode_segmentation::UnicodeSegmentation;

use super::{
    bool_of, check_elements, dedup, int_of, list_of, normalize_set, num_of, num_value, object_of,
    str_of, type_name, value_set,
};

pub(super) fn register(defs: &mut Vec<(&'static str, FuncDef)>) {
    let any = || ParamType::Any;
    let one = |f| FuncDef::builder().param(any()).build(f);
    let two = |f| FuncDef::builder().param(any()).param(any()).build(f);
    let var = |f| FuncDef::builder().variadic_param(any()).build(f);
    defs.push(("length", one(length)));
    defs.push(("distinct", one(distinct)));
    defs.push(("flatten", one(flatten)));
    defs.push(("keys", one(keys)));
    defs.push(("values", one(values)));
    defs.push(("reverse", one(reverse)));
    defs.push(("sort", one(sort)));
    defs.push(("compact", one(compact)));
    defs.push(("transpose", one(transpose)));
    defs.push(("one", one(one_fn)));
    defs.push(("sum", one(sum)));
    defs.push(("alltrue", one(alltrue)));
    defs.push(("anytrue", one(anytrue)));
    defs.push(("contains", two(contains)));
    defs.push(("element", two(element)));
    defs.push(("index", two(index)));
    defs.push(("chunklist", two(chunklist)));
    defs.push(("zipmap", two(zipmap)));
    defs.push(("concat", var(concat)));
    defs.push(("merge", var(merge)));
    defs.push(("range", var(range)));
    defs.push(("coalesce", var(coalesce)));
    defs.push(("coalescelist", var(coalescelist)));
    defs.push(("setintersection", var(setintersection)));
    defs.push(("setproduct", var(setproduct)));
    defs.push(("setsubtract", two(setsubtract)));
    defs.push(("setunion", var(setunion)));
    defs.push((
        "lookup",
        FuncDef::builder()
            .param(any())
            .param(any())
            .variadic_param(any())
            .build(lookup),
    ));
    defs.push((
        "slice",
        FuncDef::builder()
            .params([any(), any(), any()])
            .build(slice),
    ));
}

/// `length(list | object | string)`.
fn length(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(a) => Ok(a.len().into()),
        Value::Object(o) => Ok(o.len().into()),
        Value::String(s) => Ok(s.graphemes(true).count().into()),
        other => Err(format!(
            "length: argument must be a list, object or string, got {}",
            type_name(other)
        )),
    }
}

fn distinct(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(dedup(list_of(&args[0], "distinct")?.clone())))
}

/// Flattens nested lists into `out`, checking the size as it goes.
fn flatten_into(list: &[Value], out: &mut Vec<Value>) -> Result<(), String> {
    for item in list {
        match item {
            Value::Array(inner) => flatten_into(inner, out)?,
            other => {
                out.push(other.clone());
                check_elements(out.len(), "flatten")?;
            }
        }
    }
    Ok(())
}

fn flatten(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    flatten_into(list_of(&args[0], "flatten")?, &mut out)?;
    Ok(Value::Array(out))
}

/// The keys of an object, sorted.
fn sorted_keys(obj: &Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    keys
}

fn keys(args: FuncArgs) -> Result<Value, String> {
    let obj = object_of(&args[0], "keys")?;
    Ok(Value::Array(
        sorted_keys(obj)
            .into_iter()
            .map(|k| Value::String(k.clone()))
            .collect(),
    ))
}

/// The values of an object, in the order of its sorted keys.
fn values(args: FuncArgs) -> Result<Value, String> {
    let obj = object_of(&args[0], "values")?;
    Ok(Value::Array(
        sorted_keys(obj)
            .into_iter()
            .filter_map(|k| obj.get(k).cloned())
            .collect(),
    ))
}

/// `reverse(list)`; also reverses the characters of a string, as Nomad's
/// `reverse` does.
fn reverse(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(a) => Ok(Value::Array(a.iter().rev().cloned().collect())),
        Value::String(s) => Ok(s.graphemes(true).rev().collect::<String>().into()),
        other => Err(format!(
            "reverse: argument must be a list or string, got {}",
            type_name(other)
        )),
    }
}

/// `sort(list of strings)`: lexical order; numbers are sorted as strings.
fn sort(args: FuncArgs) -> Result<Value, String> {
    let mut items = Vec::new();
    for item in list_of(&args[0], "sort")? {
        if item.is_null() {
            return Err("sort: list elements must not be null".into());
        }
        items.push(str_of(item, "sort")?);
    }
    items.sort();
    Ok(Value::Array(items.into_iter().map(Value::String).collect()))
}

/// `compact(list of strings)`: drops nulls and empty strings.
fn compact(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for item in list_of(&args[0], "compact")? {
        if item.is_null() {
            continue;
        }
        let s = str_of(item, "compact")?;
        if !s.is_empty() {
            out.push(Value::String(s));
        }
    }
    Ok(Value::Array(out))
}

/// `transpose(map of lists of strings)`: swaps keys and values.
fn transpose(args: FuncArgs) -> Result<Value, String> {
    let obj = object_of(&args[0], "transpose")?;
    let mut out: Map<String, Vec<String>> = Map::new();
    let mut total = 0usize;
    for key in sorted_keys(obj) {
        let list = obj
            .get(key)
            .map(|v| list_of(v, "transpose"))
            .transpose()?
            .map(Vec::as_slice)
            .unwrap_or_default();
        for v in list {
            let s = str_of(v, "transpose")?;
            out.entry(s).or_default().push(key.clone());
            total += 1;
            check_elements(total, "transpose")?;
        }
    }
    let mut keys: Vec<String> = out.keys().cloned().collect();
    keys.sort();
    let mut result = Map::new();
    for k in keys {
        if let Some(v) = out.swap_remove(&k) {
            result.insert(k, Value::Array(v.into_iter().map(Value::String).collect()));
        }
    }
    Ok(Value::Object(result))
}

/// `one(list)`: null for an empty list, the element for a single-element
/// list, an error otherwise.
fn one_fn(args: FuncArgs) -> Result<Value, String> {
    let list = list_of(&args[0], "one")?;
    match list.as_slice() {
        [] => Ok(Value::Null),
        [x] => Ok(x.clone()),
        more => Err(format!(
            "one: list must have no more than one element, got {}",
            more.len()
        )),
    }
}

fn sum(args: FuncArgs) -> Result<Value, String> {
    let list = list_of(&args[0], "sum")?;
    if list.is_empty() {
        return Err("sum: cannot sum an empty list".into());
    }
    let mut all_int = true;
    let mut int_total: i64 = 0;
    let mut float_total = 0f64;
    for item in list {
        if item.is_null() {
            return Err("sum: list elements must not be null".into());
        }
        let n = num_of(item, "sum")?;
        float_total += n.as_f64().unwrap_or(0.0);
        match (all_int, n.as_i64()) {
            (true, Some(i)) => match int_total.checked_add(i) {
                Some(t) => int_total = t,
                None => all_int = false,
            },
            _ => all_int = false,
        }
    }
    if all_int {
        Ok(int_total.into())
    } else {
        num_value(float_total, "sum")
    }
}

fn alltrue(args: FuncArgs) -> Result<Value, String> {
    for item in list_of(&args[0], "alltrue")? {
        if !bool_of(item, "alltrue")? {
            return Ok(false.into());
        }
    }
    Ok(true.into())
}

fn anytrue(args: FuncArgs) -> Result<Value, String> {
    for item in list_of(&args[0], "anytrue")? {
        if bool_of(item, "anytrue")? {
            return Ok(true.into());
        }
    }
    Ok(false.into())
}

fn contains(args: FuncArgs) -> Result<Value, String> {
    Ok(list_of(&args[0], "contains")?.contains(&args[1]).into())
}

/// `element(list, index)`: the index wraps around modulo the length.
fn element(args: FuncArgs) -> Result<Value, String> {
    let list = list_of(&args[0], "element")?;
    let idx = int_of(&args[1], "element", "index")?;
    if idx < 0 {
        return Err(format!("element: index {idx} must not be negative"));
    }
    if list.is_empty() {
        return Err("element: cannot use element on an empty list".into());
    }
    let i = usize::try_from(idx).unwrap_or(usize::MAX) % list.len();
    Ok(list[i].clone())
}

/// `index(collection, key)`: the element of a list at a numeric key, or the
/// value of an object at a string key. (This is Nomad's `index`; it is not
/// Terraform's search for a value's position.)
fn index(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(list) => {
            if !args[1].is_number() {
                return Err("index: key for list must be number".into());
            }
            let i = int_of(&args[1], "index", "key")?;
            usize::try_from(i)
                .ok()
                .and_then(|i| list.get(i))
                .cloned()
                .ok_or_else(|| format!("index: invalid index {i} for list of {}", list.len()))
        }
        Value::Object(obj) => {
            let Value::String(key) = &args[1] else {
                return Err("index: key for map must be string".into());
            };
            obj.get(key)
                .cloned()
                .ok_or_else(|| format!("index: invalid index {key:?}; no such key"))
        }
        other => Err(format!(
            "index: collection must be a list or a map, got {}",
            type_name(other)
        )),
    }
}

/// `chunklist(list, size)`; a size of 0 yields one chunk with everything.
fn chunklist(args: FuncArgs) -> Result<Value, String> {
    let list = list_of(&args[0], "chunklist")?;
    let size = int_of(&args[1], "chunklist", "size")?;
    let size = usize::try_from(size)
        .map_err(|_| format!("chunklist: size {size} must not be negative"))?;
    if list.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    if size == 0 {
        return Ok(Value::Array(vec![Value::Array(list.clone())]));
    }
    Ok(Value::Array(
        list.chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

/// `zipmap(keys, values)`.
fn zipmap(args: FuncArgs) -> Result<Value, String> {
    let keys = list_of(&args[0], "zipmap")?;
    let values = list_of(&args[1], "zipmap")?;
    if keys.len() != values.len() {
        return Err(format!(
            "zipmap: {} keys but {} values; the lists must have the same length",
            keys.len(),
            values.len()
        ));
    }
    let mut out = Map::new();
    for (k, v) in keys.iter().zip(values) {
        out.insert(str_of(k, "zipmap")?, v.clone());
    }
    Ok(Value::Object(out))
}

/// `concat(list...)`.
fn concat(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for arg in args.iter() {
        let list = list_of(arg, "concat")?;
        check_elements(out.len() + list.len(), "concat")?;
        out.extend(list.iter().cloned());
    }
    Ok(Value::Array(out))
}

/// `merge(object...)`: later keys win; null arguments are skipped, and if
/// every argument is null so is the result.
fn merge(args: FuncArgs) -> Result<Value, String> {
    if !args.is_empty() && args.iter().all(Value::is_null) {
        return Ok(Value::Null);
    }
    let mut out = Map::new();
    for arg in args.iter() {
        if arg.is_null() {
            continue;
        }
        for (k, v) in object_of(arg, "merge")? {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

/// The most values `range` generates, as in Nomad.
const RANGE_LIMIT: usize = 1024;

/// `range(limit)`, `range(start, limit)`, `range(start, limit, step)`;
/// at most [`RANGE_LIMIT`] values.
fn range(args: FuncArgs) -> Result<Value, String> {
    let nums = args
        .iter()
        .map(|a| num_of(a, "range"))
        .collect::<Result<Vec<_>, _>>()?;
    let (start, limit, step) = match nums.as_slice() {
        [l] => (0.into(), *l, None),
        [s, l] => (*s, *l, None),
        [s, l, st] => (*s, *l, Some(*st)),
        _ => {
            return Err(format!(
                "range: expected 1 to 3 arguments, got {}",
                nums.len()
            ));
        }
    };
    let f = |n: hcl::Number| n.as_f64().unwrap_or(0.0);
    let (s, l) = (f(start), f(limit));
    let st = match step {
        Some(st) => f(st),
        None if l < s => -1.0,
        None => 1.0,
    };
    if st == 0.0 {
        return Err("range: step must not be zero".into());
    }
    if st < 0.0 && l > s {
        return Err("range: end must be less than start when step is negative".into());
    }
    if st > 0.0 && l < s {
        return Err("range: end must be greater than start when step is positive".into());
    }
    let count = ((l - s) / st).ceil();
    if count > RANGE_LIMIT as f64 {
        return Err(format!(
            "range: more than {RANGE_LIMIT} values would be generated; either decrease the \
             difference between start and end or use a larger step"
        ));
    }
    let all_int = [Some(start), Some(limit), step]
        .iter()
        .flatten()
        .all(|n| n.as_i64().is_some());
    let mut out = Vec::new();
    let mut i = 0f64;
    loop {
        let v = s + i * st;
        // Round away float noise (0.1 * 3 is 0.30000000000000004) so
        // steps like 0.1 give the decimal values written.
        let v = format!("{v:.12e}").parse::<f64>().unwrap_or(v);
        if (st > 0.0 && v >= l) || (st < 0.0 && v <= l) {
            break;
        }
        if out.len() >= RANGE_LIMIT {
            return Err(format!(
                "range: more than {RANGE_LIMIT} values would be generated"
            ));
        }
        if all_int {
            #[allow(clippy::cast_possible_truncation)]
            out.push(Value::from(v as i64));
        } else {
            out.push(num_value(v, "range")?);
        }
        i += 1.0;
    }
    Ok(Value::Array(out))
}

/// `coalesce(value...)`: the first argument that is neither null nor "".
/// When strings are mixed with numbers or bools the result is a string, as
/// the arguments are unified to one type.
fn coalesce(args: FuncArgs) -> Result<Value, String> {
    let found = args
        .iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .ok_or_else(|| "coalesce: no non-null, non-empty-string arguments".to_string())?;
    let any_string = args.iter().any(Value::is_string);
    match found {
        Value::Number(_) | Value::Bool(_) if any_string => Ok(str_of(found, "coalesce")?.into()),
        other => Ok(other.clone()),
    }
}

/// `coalescelist(list...)`: the first non-empty list.
fn coalescelist(args: FuncArgs) -> Result<Value, String> {
    if args.is_empty() {
        return Err("coalescelist: at least one list is required".into());
    }
    for arg in args.iter() {
        if arg.is_null() {
            continue;
        }
        if !list_of(arg, "coalescelist")?.is_empty() {
            return Ok(arg.clone());
        }
    }
    Err("coalescelist: no non-empty lists among the arguments".into())
}

/// The argument lists of a set function, at least one.
fn set_args<'a>(args: &'a FuncArgs, func: &str) -> Result<Vec<&'a Vec<Value>>, String> {
    if args.is_empty() {
        return Err(format!("{func}: at least one set is required"));
    }
    args.iter().map(|a| list_of(a, func)).collect()
}

fn setintersection(args: FuncArgs) -> Result<Value, String> {
    let sets = set_args(&args, "setintersection")?;
    let mut out: Vec<Value> = sets[0].clone();
    for other in &sets[1..] {
        let other = value_set(other);
        out.retain(|v| other.contains(&super::encoding::canonical(v)));
    }
    Ok(Value::Array(normalize_set(out)))
}

fn setunion(args: FuncArgs) -> Result<Value, String> {
    let sets = set_args(&args, "setunion")?;
    let mut out = Vec::new();
    for s in sets {
        check_elements(out.len() + s.len(), "setunion")?;
        out.extend(s.iter().cloned());
    }
    Ok(Value::Array(normalize_set(out)))
}

fn setsubtract(args: FuncArgs) -> Result<Value, String> {
    let a = list_of(&args[0], "setsubtract")?;
    let b = list_of(&args[1], "setsubtract")?;
    let b = value_set(b);
    let out = a
        .iter()
        .filter(|v| !b.contains(&super::encoding::canonical(v)))
        .cloned()
        .collect();
    Ok(Value::Array(normalize_set(out)))
}

/// `setproduct(list...)`: every combination, one element from each list.
fn setproduct(args: FuncArgs) -> Result<Value, String> {
    if args.len() < 2 {
        return Err("setproduct: at least two arguments are required".into());
    }
    let sets = set_args(&args, "setproduct")?;
    let mut total: usize = 1;
    for s in &sets {
        total = total.saturating_mul(s.len());
    }
    check_elements(total.saturating_mul(sets.len()), "setproduct")?;
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for s in sets {
        let mut next = Vec::with_capacity(out.len() * s.len());
        for prefix in &out {
            for v in s {
                let mut row = prefix.clone();
                row.push(v.clone());
                next.push(row);
            }
        }
        out = next;
    }
    Ok(Value::Array(out.into_iter().map(Value::Array).collect()))
}

/// `lookup(map, key)` or `lookup(map, key, default)`.
fn lookup(args: FuncArgs) -> Result<Value, String> {
    if args.len() > 3 {
        return Err(format!(
            "lookup: expected 2 or 3 arguments, got {}",
            args.len()
        ));
    }
    let obj = object_of(&args[0], "lookup")?;
    let key = str_of(&args[1], "lookup")?;
    match (obj.get(&key), args.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!(
            "lookup: key {key:?} not found and no default given"
        )),
    }
}

/// `slice(list, start, end)`: elements `start` up to but not including `end`.
fn slice(args: FuncArgs) -> Result<Value, String> {
    let list = list_of(&args[0], "slice")?;
    let start = int_of(&args[1], "slice", "start index")?;
    let end = int_of(&args[2], "slice", "end index")?;
    let len = list.len();
    let s =
        usize::try_from(start).map_err(|_| format!("slice: start index {start} is negative"))?;
    let e = usize::try_from(end).map_err(|_| format!("slice: end index {end} is negative"))?;
    if e > len {
        return Err(format!(
            "slice: end index {end} out of range for list of {len}"
        ));
    }
    if s > e {
        return Err(format!(
            "slice: start index {start} is greater than end index {end}"
        ));
    }
    Ok(Value::Array(list[s..e].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_err, assert_eval, eval};

    #[test]
    fn length_of_things() {
        assert_eval("length([1, 2, 3])", "3");
        assert_eval(r#"length({a = 1})"#, "1");
        assert_eval(r#"length("héllo")"#, "5");
        assert_eval(r#"length("e\u0301x")"#, "2");
        assert_err("length(5)", "must be a list, object or string");
        assert_err("length(null)", "null");
    }

    #[test]
    fn concat_and_merge() {
        assert_eval(r#"concat(["a"], [], ["b", 1])"#, r#"["a", "b", 1]"#);
        assert_err(r#"concat(["a"], "b")"#, "expected a list");
        assert_eval(
            r#"merge({a = 1, b = 2}, null, {b = 3, c = 4})"#,
            "{a = 1, b = 3, c = 4}",
        );
        assert_err(r#"merge({a = 1}, [1])"#, "expected an object");
        assert_eval("merge(null, null)", "null");
        assert_eval("merge()", "{}");
    }

    #[test]
    fn membership() {
        assert_eval(r#"contains(["a", "b"], "b")"#, "true");
        assert_eval(r#"contains([1, 2], 3)"#, "false");
        assert_err(r#"contains("ab", "a")"#, "expected a list");
        assert_eval(r#"index(["a", "b", "c"], 1)"#, r#""b""#);
        assert_eval(r#"index({a = 1, b = 2}, "b")"#, "2");
        assert_err(r#"index(["a"], 1)"#, "invalid index 1 for list of 1");
        assert_err(r#"index(["a"], "a")"#, "key for list must be number");
        assert_err(r#"index({a = 1}, "z")"#, "no such key");
        assert_err(r#"index("ab", 0)"#, "must be a list or a map");
        assert_eval(
            r#"distinct(["a", "b", "a", "c", "b"])"#,
            r#"["a", "b", "c"]"#,
        );
        assert_err(r#"distinct({})"#, "expected a list");
    }

    #[test]
    fn element_wraps() {
        assert_eval(r#"element(["a", "b", "c"], 1)"#, r#""b""#);
        assert_eval(r#"element(["a", "b", "c"], 5)"#, r#""c""#);
        assert_err(r#"element([], 0)"#, "empty list");
        assert_err(r#"element(["a"], -1)"#, "negative");
        assert_err(r#"element(["a"], 0.5)"#, "whole number");
    }

    #[test]
    fn flatten_lists() {
        assert_eval(
            r#"flatten([["a", "b"], [], ["c", ["d"]]])"#,
            r#"["a", "b", "c", "d"]"#,
        );
        assert_err(r#"flatten("a")"#, "expected a list");
    }

    #[test]
    fn keys_and_values() {
        assert_eval(r#"keys({b = 1, a = 2, c = 3})"#, r#"["a", "b", "c"]"#);
        assert_eval(r#"values({b = 1, a = 2, c = 3})"#, "[2, 1, 3]");
        assert_err("keys([1])", "expected an object");
        assert_err("values(1)", "expected an object");
    }

    #[test]
    fn lookups() {
        assert_eval(r#"lookup({a = "x"}, "a")"#, r#""x""#);
        assert_eval(r#"lookup({a = "x"}, "b", "dflt")"#, r#""dflt""#);
        assert_err(r#"lookup({a = "x"}, "b")"#, "not found");
        assert_err(r#"lookup({a = "x"}, "b", 1, 2)"#, "2 or 3 arguments");
        assert_err(r#"lookup(["a"], "b", 1)"#, "expected an object");
    }

    #[test]
    fn ranges() {
        assert_eval("range(3)", "[0, 1, 2]");
        assert_eval("range(1, 4)", "[1, 2, 3]");
        assert_eval("range(4, 1)", "[4, 3, 2]");
        assert_eval("range(0, 10, 3)", "[0, 3, 6, 9]");
        assert_eval("range(0, 1, 0.5)", "[0, 0.5]");
        assert_eval("range(0, 0.35, 0.1)", "[0, 0.1, 0.2, 0.3]");
        assert_eval("range(-3)", "[0, -1, -2]");
        assert_eval("length(range(1024))", "1024");
        assert_eval("range(0)", "[]");
        assert_err("range(0, 10, 0)", "must not be zero");
        assert_err("range(0, 10, -1)", "end must be less than start");
        assert_err("range(10, 0, 1)", "end must be greater than start");
        assert_err("range(1025)", "more than 1024 values");
        assert_err("range(0, 1, 0.0000001)", "more than 1024 values");
        assert_err("range()", "1 to 3 arguments");
        assert_err(r#"range("x")"#, "not a valid number");
    }

    #[test]
    fn reverse_sort_slice() {
        assert_eval("reverse([1, 2, 3])", "[3, 2, 1]");
        assert_eval(r#"reverse("abc")"#, r#""cba""#);
        assert_err("reverse(1)", "list or string");
        assert_eval(r#"sort(["b", "a", "c"])"#, r#"["a", "b", "c"]"#);
        assert_eval("sort([10, 9])", r#"["10", "9"]"#);
        assert_err("sort([[1]])", "expected a string");
        assert_eval(r#"slice(["a", "b", "c", "d"], 1, 3)"#, r#"["b", "c"]"#);
        assert_err(
            r#"slice(["a", "b", "c"], 1, 5)"#,
            "end index 5 out of range for list of 3",
        );
        assert_err(r#"slice(["a", "b", "c"], 2, 1)"#, "greater than end");
        assert_err(r#"slice(["a"], -1, 1)"#, "negative");
    }

    #[test]
    fn compact_chunk_coalesce() {
        assert_eval(r#"compact(["a", "", null, "b"])"#, r#"["a", "b"]"#);
        assert_err(r#"compact([{}])"#, "expected a string");
        assert_eval("chunklist([1, 2, 3, 4, 5], 2)", "[[1, 2], [3, 4], [5]]");
        assert_eval("chunklist([1, 2], 0)", "[[1, 2]]");
        assert_eval("chunklist([], 0)", "[]");
        assert_err("chunklist([1], -1)", "negative");
        assert_eval(r#"coalesce(null, "", "b", "c")"#, r#""b""#);
        assert_eval("coalesce(null, 1)", "1");
        assert_eval(r#"coalesce("", 1)"#, r#""1""#);
        assert_err(r#"coalesce(null, "")"#, "no non-null");
        assert_eval(r#"coalescelist([], ["a"], ["b"])"#, r#"["a"]"#);
        assert_err(r#"coalescelist("a")"#, "expected a list");
        assert_err("coalescelist([], [])", "no non-empty lists");
    }

    #[test]
    fn set_functions() {
        assert_eval(
            r#"setintersection(["b", "a", "c"], ["c", "b"])"#,
            r#"["b", "c"]"#,
        );
        assert_err(r#"setintersection("a")"#, "expected a list");
        assert_eval(r#"setunion(["b", "a"], ["c", "a"])"#, r#"["a", "b", "c"]"#);
        assert_eval("setunion([3, 1], [2])", "[1, 2, 3]");
        assert_err("setunion()", "at least one set");
        assert_eval(r#"setsubtract(["a", "b", "c"], ["b"])"#, r#"["a", "c"]"#);
        assert_err(r#"setsubtract(["a"], 1)"#, "expected a list");
        assert_eval(
            r#"setproduct(["a", "b"], [1, 2])"#,
            r#"[["a", 1], ["a", 2], ["b", 1], ["b", 2]]"#,
        );
        assert_eval(r#"setproduct(["a"], [])"#, "[]");
        assert_err(r#"setproduct(["a"])"#, "at least two");
        assert_err("setproduct(range(1000), range(1000), range(1000))", "limit");
    }

    #[test]
    fn large_sets_are_linear() {
        let items: Vec<String> = (0..100_000).map(|i| (i % 50_000).to_string()).collect();
        let json = format!("[{}]", items.join(","));
        let expr =
            format!("length(setunion(distinct(jsondecode({json:?})), jsondecode({json:?})))");
        let started = std::time::Instant::now();
        assert_eq!(eval(&expr), Ok(50_000.into()));
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn zipmap_transpose() {
        assert_eval(r#"zipmap(["a", "b"], [1, 2])"#, "{a = 1, b = 2}");
        assert_err(r#"zipmap(["a"], [1, 2])"#, "same length");
        assert_eval(
            r#"transpose({a = ["1", "2"], b = ["2", "3"]})"#,
            r#"{"1" = ["a"], "2" = ["a", "b"], "3" = ["b"]}"#,
        );
        assert_err(r#"transpose({a = "x"})"#, "expected a list");
    }

    #[test]
    fn one_sum_bools() {
        assert_eval("one([])", "null");
        assert_eval(r#"one(["a"])"#, r#""a""#);
        assert_err("one([1, 2])", "no more than one");
        assert_eval("sum([1, 2, 3])", "6");
        assert_eval("sum([1, 2.5])", "3.5");
        assert_err("sum([])", "empty");
        assert_err(r#"sum(["x"])"#, "not a valid number");
        assert_eval(r#"alltrue([true, "true"])"#, "true");
        assert_eval("alltrue([])", "true");
        assert_eval("alltrue([true, false])", "false");
        assert_err("alltrue([1])", "expected a bool");
        assert_eval("anytrue([false, true])", "true");
        assert_eval("anytrue([])", "false");
        assert_err("anytrue(true)", "expected a list");
    }
}
