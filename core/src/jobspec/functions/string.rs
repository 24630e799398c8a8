//! String functions: case, trimming, splitting and joining, `format`, and the
//! regular-expression functions.

use hcl::eval::{FuncArgs, FuncDef, ParamType};
use hcl::{Map, Number, Value};
use regex::{Regex, RegexBuilder};
use unicode_segmentation::UnicodeSegmentation;

use super::{check_elements, check_string, int_of, list_of, str_of, type_name};

pub(super) fn register(defs: &mut Vec<(&'static str, FuncDef)>) {
    let s = || ParamType::String;
    let one_str = |f| FuncDef::builder().param(s()).build(f);
    let two_str = |f| FuncDef::builder().param(s()).param(s()).build(f);
    defs.push(("upper", one_str(upper)));
    defs.push(("lower", one_str(lower)));
    defs.push(("title", one_str(title)));
    defs.push(("strrev", one_str(strrev)));
    defs.push(("strlen", one_str(strlen)));
    defs.push(("trimspace", one_str(trimspace)));
    defs.push(("chomp", one_str(chomp)));
    defs.push(("trim", two_str(trim)));
    defs.push(("trimprefix", two_str(trimprefix)));
    defs.push(("trimsuffix", two_str(trimsuffix)));
    defs.push(("startswith", two_str(startswith)));
    defs.push(("endswith", two_str(endswith)));
    defs.push(("strcontains", two_str(strcontains)));
    defs.push(("split", two_str(split)));
    defs.push(("regex", two_str(regex)));
    defs.push(("regexall", two_str(regexall)));
    defs.push((
        "format",
        FuncDef::builder()
            .param(s())
            .variadic_param(ParamType::Any)
            .build(format),
    ));
    defs.push((
        "formatlist",
        FuncDef::builder()
            .param(s())
            .variadic_param(ParamType::Any)
            .build(formatlist),
    ));
    defs.push((
        "join",
        FuncDef::builder()
            .param(s())
            .variadic_param(ParamType::Any)
            .build(join),
    ));
    defs.push((
        "replace",
        FuncDef::builder().params([s(), s(), s()]).build(replace),
    ));
    defs.push((
        "regex_replace",
        FuncDef::builder()
            .params([s(), s(), s()])
            .build(regex_replace),
    ));
    defs.push((
        "substr",
        FuncDef::builder()
            .params([s(), ParamType::Number, ParamType::Number])
            .build(substr),
    ));
    defs.push((
        "indent",
        FuncDef::builder()
            .params([ParamType::Number, s()])
            .build(indent),
    ));
}

/// The string in positional argument `i` (already type-checked by hcl-rs).
fn arg_str(args: &FuncArgs, i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or_default()
}

/// A character's upper case by simple (one-to-one) case mapping, as Go's
/// `strings.ToUpper` does: `ß` stays `ß` rather than becoming `SS`.
fn upper_char(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// A character's lower case by simple case mapping (`İ` becomes `i`).
fn lower_char(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn upper(args: FuncArgs) -> Result<Value, String> {
    Ok(arg_str(&args, 0)
        .chars()
        .map(upper_char)
        .collect::<String>()
        .into())
}

fn lower(args: FuncArgs) -> Result<Value, String> {
    Ok(arg_str(&args, 0)
        .chars()
        .map(lower_char)
        .collect::<String>()
        .into())
}

/// Whether `c` separates words for `title`, as in Go's `strings.Title`.
fn is_word_separator(c: char) -> bool {
    if c.is_ascii() {
        !(c.is_ascii_alphanumeric() || c == '_')
    } else if c.is_alphanumeric() {
        false
    } else {
        c.is_whitespace()
    }
}

/// Upper-cases the first letter of each word, like Go's `strings.Title`.
fn title(args: FuncArgs) -> Result<Value, String> {
    let mut out = String::new();
    let mut prev_sep = true;
    for c in arg_str(&args, 0).chars() {
        if prev_sep {
            out.push(upper_char(c));
        } else {
            out.push(c);
        }
        prev_sep = is_word_separator(c);
    }
    Ok(out.into())
}

fn strrev(args: FuncArgs) -> Result<Value, String> {
    Ok(arg_str(&args, 0)
        .graphemes(true)
        .rev()
        .collect::<String>()
        .into())
}

fn strlen(args: FuncArgs) -> Result<Value, String> {
    Ok(arg_str(&args, 0).graphemes(true).count().into())
}

fn trimspace(args: FuncArgs) -> Result<Value, String> {
    Ok(arg_str(&args, 0).trim().into())
}

/// Removes every trailing newline (`\n` or `\r\n`).
fn chomp(args: FuncArgs) -> Result<Value, String> {
    let mut s = arg_str(&args, 0);
    while let Some(rest) = s.strip_suffix('\n').or_else(|| s.strip_suffix('\r')) {
        s = rest;
    }
    Ok(s.into())
}

fn trim(args: FuncArgs) -> Result<Value, String> {
    let cutset: Vec<char> = arg_str(&args, 1).chars().collect();
    Ok(arg_str(&args, 0)
        .trim_matches(|c| cutset.contains(&c))
        .into())
}

fn trimprefix(args: FuncArgs) -> Result<Value, String> {
    let s = arg_str(&args, 0);
    Ok(s.strip_prefix(arg_str(&args, 1)).unwrap_or(s).into())
}

fn trimsuffix(args: FuncArgs) -> Result<Value, String> {
    let s = arg_str(&args, 0);
    Ok(s.strip_suffix(arg_str(&args, 1)).unwrap_or(s).into())
}

fn startswith(args: FuncArgs) -> Result<Value, String> {
    Ok(arg_str(&args, 0).starts_with(arg_str(&args, 1)).into())
}

fn endswith(args: FuncArgs) -> Result<Value, String> {
    Ok(arg_str(&args, 0).ends_with(arg_str(&args, 1)).into())
}

fn strcontains(args: FuncArgs) -> Result<Value, String> {
    Ok(arg_str(&args, 0).contains(arg_str(&args, 1)).into())
}

/// `split(separator, string)`; an empty separator splits into characters.
fn split(args: FuncArgs) -> Result<Value, String> {
    let sep = arg_str(&args, 0);
    let s = arg_str(&args, 1);
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep).map(Value::from).collect()
    };
    check_elements(parts.len(), "split")?;
    Ok(Value::Array(parts))
}

/// `join(separator, list...)`: numbers and bools are converted to strings.
fn join(args: FuncArgs) -> Result<Value, String> {
    let sep = arg_str(&args, 0);
    if args.len() < 2 {
        return Err("join: at least one list is required".into());
    }
    let mut items = Vec::new();
    for list in args.variadic_args() {
        for item in list_of(list, "join")? {
            if item.is_null() {
                return Err("join: list elements must not be null".into());
            }
            items.push(str_of(item, "join")?);
        }
    }
    let out = items.join(sep);
    check_string(out.len(), "join")?;
    Ok(out.into())
}

/// Compiles a user regular expression with a bounded size.
fn compile(pattern: &str, func: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 22)
        .build()
        .map_err(|e| format!("{func}: invalid regular expression: {e}"))
}

/// Replaces every `$name`/`${name}` reference; checks the result size.
fn regex_replace_all(re: &Regex, s: &str, rep: &str, func: &str) -> Result<Value, String> {
    let out = re.replace_all(s, rep);
    check_string(out.len(), func)?;
    Ok(out.into_owned().into())
}

/// `replace(string, substring, replacement)`; a substring written `/re/` is a
/// regular expression and the replacement may use `$1`.
fn replace(args: FuncArgs) -> Result<Value, String> {
    let s = arg_str(&args, 0);
    let pat = arg_str(&args, 1);
    let rep = arg_str(&args, 2);
    if pat.len() > 1 && pat.starts_with('/') && pat.ends_with('/') {
        let re = compile(&pat[1..pat.len() - 1], "replace")?;
        return regex_replace_all(&re, s, rep, "replace");
    }
    if pat.is_empty() {
        // Go inserts the replacement around every character.
        let n = s.chars().count() + 1;
        check_string(s.len() + n.saturating_mul(rep.len()), "replace")?;
        let mut out = String::from(rep);
        for c in s.chars() {
            out.push(c);
            out.push_str(rep);
        }
        return Ok(out.into());
    }
    let count = s.matches(pat).count();
    check_string(
        s.len() + count.saturating_mul(rep.len().saturating_sub(pat.len())),
        "replace",
    )?;
    Ok(s.replace(pat, rep).into())
}

/// `regex_replace(string, pattern, replacement)`.
fn regex_replace(args: FuncArgs) -> Result<Value, String> {
    let re = compile(arg_str(&args, 1), "regex_replace")?;
    regex_replace_all(&re, arg_str(&args, 0), arg_str(&args, 2), "regex_replace")
}

/// The value of one match: the whole match without groups, a list for
/// unnamed groups, an object for named groups.
fn match_value(re: &Regex, caps: &regex::Captures<'_>, func: &str) -> Result<Value, String> {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        return Ok(caps.get(0).map(|m| m.as_str()).unwrap_or_default().into());
    }
    let named = names.iter().filter(|n| n.is_some()).count();
    let group = |i: usize| -> Value {
        caps.get(i)
            .map(|m| Value::from(m.as_str()))
            .unwrap_or(Value::Null)
    };
    if named == 0 {
        Ok(Value::Array((1..=names.len()).map(group).collect()))
    } else if named == names.len() {
        let mut obj = Map::new();
        for (i, name) in names.iter().enumerate() {
            if let Some(name) = name {
                obj.insert((*name).to_string(), group(i + 1));
            }
        }
        Ok(Value::Object(obj))
    } else {
        Err(format!(
            "{func}: pattern must use either only named or only unnamed capture groups"
        ))
    }
}

/// `regex(pattern, string)`: the first match; fails if there is none.
fn regex(args: FuncArgs) -> Result<Value, String> {
    let re = compile(arg_str(&args, 0), "regex")?;
    let caps = re
        .captures(arg_str(&args, 1))
        .ok_or("regex: pattern did not match any part of the string")?;
    match_value(&re, &caps, "regex")
}

/// `regexall(pattern, string)`: every match, possibly none.
fn regexall(args: FuncArgs) -> Result<Value, String> {
    let re = compile(arg_str(&args, 0), "regexall")?;
    let mut out = Vec::new();
    for caps in re.captures_iter(arg_str(&args, 1)) {
        out.push(match_value(&re, &caps, "regexall")?);
        check_elements(out.len(), "regexall")?;
    }
    Ok(Value::Array(out))
}

/// `substr(string, offset, length)` in characters (grapheme clusters); a
/// negative offset counts from the end and a negative length means "to the
/// end".
fn substr(args: FuncArgs) -> Result<Value, String> {
    let chars: Vec<&str> = arg_str(&args, 0).graphemes(true).collect();
    let len = i64::try_from(chars.len()).map_err(|_| "substr: string too long")?;
    let mut offset = int_of(&args[1], "substr", "offset")?;
    let length = int_of(&args[2], "substr", "length")?;
    if offset < 0 {
        offset = offset.saturating_add(len).max(0);
    }
    if offset >= len {
        return Ok("".into());
    }
    let end = if length < 0 {
        len
    } else {
        offset.saturating_add(length).min(len)
    };
    let (from, to) = (
        usize::try_from(offset).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    Ok(chars[from..to].concat().into())
}

/// `indent(spaces, string)`: indents every line but the first.
fn indent(args: FuncArgs) -> Result<Value, String> {
    let n = int_of(&args[0], "indent", "number of spaces")?;
    let n = usize::try_from(n).map_err(|_| format!("indent: number of spaces {n} is negative"))?;
    let s = arg_str(&args, 1);
    let lines = s.matches('\n').count();
    check_string(s.len().saturating_add(lines.saturating_mul(n)), "indent")?;
    let pad = format!("\n{}", " ".repeat(n));
    Ok(s.replace('\n', &pad).into())
}

// ---------------------------------------------------------------------------
// format / formatlist

/// One parsed `%` verb.
#[derive(Debug, Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
    verb: char,
}

/// `format(spec, args...)`, following Go's `fmt` verbs as HCL does.
fn format(args: FuncArgs) -> Result<Value, String> {
    let spec = arg_str(&args, 0);
    let rest: Vec<Value> = args.variadic_args().cloned().collect();
    sprintf(spec, &rest, "format").map(Value::from)
}

/// `formatlist(spec, args...)`: list arguments are iterated in lock step,
/// other arguments repeat.
fn formatlist(args: FuncArgs) -> Result<Value, String> {
    let spec = arg_str(&args, 0);
    let rest: Vec<&Value> = args.variadic_args().collect();
    let mut n: Option<usize> = None;
    for (i, a) in rest.iter().enumerate() {
        if let Value::Array(list) = a {
            match n {
                Some(m) if m != list.len() => {
                    return Err(format!(
                        "formatlist: argument {} has length {}, but earlier lists have length {m}",
                        i + 1,
                        list.len()
                    ));
                }
                _ => n = Some(list.len()),
            }
        }
    }
    let n = n.unwrap_or(1);
    check_elements(n, "formatlist")?;
    let mut out = Vec::with_capacity(n);
    for idx in 0..n {
        let row: Vec<Value> = rest
            .iter()
            .map(|a| match a {
                Value::Array(list) => list.get(idx).cloned().unwrap_or(Value::Null),
                other => (*other).clone(),
            })
            .collect();
        out.push(Value::String(sprintf(spec, &row, "formatlist")?));
    }
    Ok(Value::Array(out))
}

/// Reads decimal digits starting at `*i`.
fn read_num(chars: &[char], i: &mut usize) -> Option<usize> {
    let start = *i;
    let mut n: usize = 0;
    while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
        n = n.saturating_mul(10).saturating_add(d as usize);
        *i += 1;
    }
    (*i > start).then_some(n)
}

/// Formats `args` by `spec` the way Go's `fmt.Sprintf` would.
pub(super) fn sprintf(spec: &str, args: &[Value], func: &str) -> Result<String, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut next_arg = 0usize;
    let mut used = 0usize;
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut sp = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => sp.minus = true,
                '+' => sp.plus = true,
                ' ' => sp.space = true,
                '0' => sp.zero = true,
                '#' => sp.sharp = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'[') {
            i += 1;
            let n = read_num(&chars, &mut i)
                .ok_or_else(|| format!("{func}: invalid argument index in {spec:?}"))?;
            if chars.get(i) != Some(&']') || n == 0 {
                return Err(format!("{func}: invalid argument index in {spec:?}"));
            }
            i += 1;
            next_arg = n - 1;
        }
        sp.width = read_num(&chars, &mut i);
        if chars.get(i) == Some(&'.') {
            i += 1;
            sp.precision = Some(read_num(&chars, &mut i).unwrap_or(0));
        }
        if sp.width.is_some_and(|w| w > 10_000) || sp.precision.is_some_and(|p| p > 10_000) {
            return Err(format!("{func}: width or precision too large"));
        }
        let Some(&verb) = chars.get(i) else {
            return Err(format!(
                "{func}: unterminated format verb at end of {spec:?}"
            ));
        };
        i += 1;
        sp.verb = verb;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args.get(next_arg).ok_or_else(|| {
            format!(
                "{func}: not enough arguments for %{verb} (verb {} wants argument {})",
                out.len(),
                next_arg + 1
            )
        })?;
        next_arg += 1;
        used = used.max(next_arg);
        let text = format_one(&sp, arg, func)?;
        out.push_str(&text);
        check_string(out.len(), func)?;
    }
    if used < args.len() {
        return Err(format!(
            "{func}: too many arguments; {} given but the format uses {used}",
            args.len()
        ));
    }
    Ok(out)
}

/// Pads `s` to the spec's width. Numeric verbs put zero padding after the
/// sign; `%v`, `%s` and `%q` pad with the fill character (`0` under the zero
/// flag) on the left, or spaces on the right under `-`, as HCL does.
fn pad(s: String, sp: &Spec, numeric: bool) -> String {
    let Some(width) = sp.width else { return s };
    let len = s.graphemes(true).count();
    if len >= width {
        return s;
    }
    let fill = width - len;
    if sp.minus {
        let c = if sp.zero && !numeric { "0" } else { " " };
        format!("{s}{}", c.repeat(fill))
    } else if sp.zero && numeric {
        let (sign, digits) = match s.chars().next() {
            Some(c @ ('+' | '-' | ' ')) => (c.to_string(), s[1..].to_string()),
            _ => (String::new(), s),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else if sp.zero {
        format!("{}{s}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// The sign prefix for a number under the `+` and space flags.
fn sign_prefix(sp: &Spec, negative: bool) -> &'static str {
    if negative {
        "-"
    } else if sp.plus {
        "+"
    } else if sp.space {
        " "
    } else {
        ""
    }
}

/// An "unsupported value" error for a verb.
fn unsupported(func: &str, verb: char, arg: &Value, why: &str) -> String {
    if arg.is_null() {
        format!("{func}: unsupported value for %{verb}: null value cannot be formatted")
    } else {
        format!("{func}: unsupported value for %{verb}: {why}")
    }
}

/// Formats one argument for one verb.
fn format_one(sp: &Spec, arg: &Value, func: &str) -> Result<String, String> {
    let verb = sp.verb;
    match verb {
        'v' => {
            let s = match arg {
                _ if sp.sharp => super::encoding::json_encode(arg)?,
                Value::Null => "null".to_string(),
                Value::String(s) => s.clone(),
                // Numbers as Go's %g in shortest form.
                Value::Number(n) => {
                    let (negative, body) = g_number(n, None, false);
                    format!("{}{body}", if negative { "-" } else { "" })
                }
                other => super::encoding::json_encode(other)?,
            };
            Ok(pad(s, sp, false))
        }
        's' | 'q' => {
            let s = str_of(arg, func).map_err(|_| {
                unsupported(
                    func,
                    verb,
                    arg,
                    &format!("{} cannot be converted to a string", type_name(arg)),
                )
            })?;
            let s = match sp.precision {
                Some(p) if p > 0 => s.graphemes(true).take(p).collect(),
                _ => s,
            };
            let s = if verb == 'q' {
                super::encoding::json_encode(&Value::String(s))?
            } else {
                s
            };
            Ok(pad(s, sp, false))
        }
        't' => {
            // HCL ignores width and flags for %t.
            let b = super::bool_of(arg, func).map_err(|_| {
                unsupported(
                    func,
                    verb,
                    arg,
                    &format!("{} cannot be converted to bool", type_name(arg)),
                )
            })?;
            Ok(b.to_string())
        }
        'd' | 'b' | 'o' | 'x' | 'X' => {
            let n = super::num_of(arg, func)
                .map_err(|_| unsupported(func, verb, arg, "a number is required"))?;
            let i = whole(&n).ok_or_else(|| {
                unsupported(func, verb, arg, &format!("{n} is not a whole number"))
            })?;
            let mag = i.unsigned_abs();
            let digits = match verb {
                'd' => mag.to_string(),
                'b' => format!("{mag:b}"),
                'o' => format!("{mag:o}"),
                'x' => format!("{mag:x}"),
                _ => format!("{mag:X}"),
            };
            let prefix = match (sp.sharp, verb) {
                (true, 'b') => "0b",
                (true, 'o') => "0",
                (true, 'x') => "0x",
                (true, 'X') => "0X",
                _ => "",
            };
            let digits = match sp.precision {
                Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
                _ => digits,
            };
            Ok(pad(
                format!("{}{prefix}{digits}", sign_prefix(sp, i < 0)),
                sp,
                true,
            ))
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let n = super::num_of(arg, func)
                .map_err(|_| unsupported(func, verb, arg, "a number is required"))?;
            let f = n.as_f64().unwrap_or(0.0);
            let (negative, body) = match verb {
                'e' | 'E' => (f < 0.0, fmt_e(f.abs(), sp.precision.unwrap_or(6))),
                'f' | 'F' => (
                    f < 0.0,
                    format!("{:.*}", sp.precision.unwrap_or(6), f.abs()),
                ),
                _ => g_number(&n, sp.precision, sp.sharp),
            };
            let body = if verb.is_ascii_uppercase() {
                body.to_uppercase()
            } else {
                body
            };
            Ok(pad(
                format!("{}{body}", sign_prefix(sp, negative)),
                sp,
                true,
            ))
        }
        other => Err(format!("{func}: unsupported format verb %{other}")),
    }
}

/// The number as an integer, if it is whole.
fn whole(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    #[allow(clippy::cast_possible_truncation)]
    (f.fract() == 0.0 && f.abs() < 1e38).then_some(f as i128)
}

/// Go's `%e`: `d.dddddde+XX` with at least two exponent digits.
fn fmt_e(f: f64, precision: usize) -> String {
    let s = format!("{f:.precision$e}");
    match s.split_once('e') {
        Some((mant, exp)) => go_exponent(mant, exp),
        None => s,
    }
}

/// Rewrites Rust's exponent (`e5`, `e-5`) in Go's form (`e+05`, `e-05`).
fn go_exponent(mant: &str, exp: &str) -> String {
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    let digits = if digits.len() < 2 {
        format!("0{digits}")
    } else {
        digits.to_string()
    };
    format!("{mant}e{sign}{digits}")
}

/// Go's `%g` of a number, as (is negative, text without sign): the shortest
/// representation (or `precision` significant digits), in exponent form for
/// exponents below -4 or at least the precision (6 for the shortest form).
/// Integers keep all their digits.
fn g_number(n: &Number, precision: Option<usize>, sharp: bool) -> (bool, String) {
    let f = n.as_f64().unwrap_or(0.0);
    let negative = f < 0.0;
    // Significant digits and the decimal exponent of the first one.
    let (mut digits, exp) = match (
        n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
        precision,
    ) {
        (Some(i), None) => {
            let d = i.unsigned_abs().to_string();
            let exp = i32::try_from(d.len()).unwrap_or(i32::MAX) - 1;
            (d, exp)
        }
        _ => {
            if f == 0.0 {
                return (false, "0".into());
            }
            let sci = match precision {
                Some(p) => format!("{:.*e}", p.max(1) - 1, f.abs()),
                None => format!("{:e}", f.abs()),
            };
            let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
            let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
            (digits, exp.parse().unwrap_or(0))
        }
    };
    if !sharp {
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
        }
    }
    let nd = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let eprec = match precision {
        None => 6,
        Some(p) => {
            let p = i32::try_from(p.max(1)).unwrap_or(i32::MAX);
            if p > nd && nd > exp { nd } else { p }
        }
    };
    if exp < -4 || exp >= eprec {
        let mant = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        return (negative, go_exponent(&mant, &exp.to_string()));
    }
    let text = if exp < 0 {
        let zeros = usize::try_from(-exp - 1).unwrap_or(0);
        format!("0.{}{digits}", "0".repeat(zeros))
    } else if exp + 1 >= nd {
        let zeros = usize::try_from(exp + 1 - nd).unwrap_or(0);
        format!("{digits}{}", "0".repeat(zeros))
    } else {
        let point = usize::try_from(exp + 1).unwrap_or(0);
        format!("{}.{}", &digits[..point], &digits[point..])
    };
    (negative, text)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_err, assert_eval};

    #[test]
    fn case_functions() {
        assert_eval(r#"upper("hello")"#, r#""HELLO""#);
        assert_eval(r#"upper("straße")"#, r#""STRAßE""#);
        assert_eval(r#"lower("İX")"#, r#""ix""#);
        assert_err("upper(1)", "string");
        assert_eval(r#"lower("HeLLo")"#, r#""hello""#);
        assert_err("lower([])", "string");
        assert_eval(
            r#"title("hello world-wide web_x")"#,
            r#""Hello World-Wide Web_x""#,
        );
        assert_err("title(null)", "string");
    }

    #[test]
    fn reverse_and_length() {
        assert_eval(r#"strrev("héllo")"#, r#""olléh""#);
        assert_err("strrev(true)", "string");
        assert_eval(r#"strlen("héllo")"#, "5");
        assert_eval(r#"strlen("e\u0301")"#, "1");
        assert_eval(r#"strrev("ae\u0301")"#, r#""e\u0301a""#);
        assert_err("strlen([1])", "string");
    }

    #[test]
    fn trimming() {
        assert_eval(r#"trimspace("  a b \n")"#, r#""a b""#);
        assert_err("trimspace(1)", "string");
        assert_eval(r#"chomp("hello\n\r\n")"#, r#""hello""#);
        assert_eval(r#"chomp("a\nb")"#, r#""a\nb""#);
        assert_err("chomp({})", "string");
        assert_eval(r#"trim("?!hello?!", "!?")"#, r#""hello""#);
        assert_err(r#"trim("x")"#, "positional arguments");
        assert_eval(r#"trimprefix("helloworld", "hello")"#, r#""world""#);
        assert_eval(r#"trimprefix("helloworld", "x")"#, r#""helloworld""#);
        assert_err(r#"trimprefix("a", 1)"#, "string");
        assert_eval(r#"trimsuffix("helloworld", "world")"#, r#""hello""#);
        assert_err(r#"trimsuffix("a", [])"#, "string");
    }

    #[test]
    fn predicates() {
        assert_eval(r#"startswith("hello", "he")"#, "true");
        assert_eval(r#"startswith("hello", "lo")"#, "false");
        assert_err(r#"startswith("hello")"#, "positional arguments");
        assert_eval(r#"endswith("hello", "lo")"#, "true");
        assert_err(r#"endswith(1, "x")"#, "string");
        assert_eval(r#"strcontains("hello", "ell")"#, "true");
        assert_eval(r#"strcontains("hello", "z")"#, "false");
        assert_err(r#"strcontains(null, "x")"#, "string");
    }

    #[test]
    fn split_and_join() {
        assert_eval(r#"split(",", "a,b,,c")"#, r#"["a", "b", "", "c"]"#);
        assert_eval(r#"split("", "abc")"#, r#"["a", "b", "c"]"#);
        assert_eval(r#"split(",", "")"#, r#"[""]"#);
        assert_err(r#"split(",", 5)"#, "string");
        assert_eval(r#"join("-", ["a", 1, true], ["b"])"#, r#""a-1-true-b""#);
        assert_eval(r#"join(",", [])"#, r#""""#);
        assert_err(r#"join(",", [null])"#, "null");
        assert_err(r#"join(",", "a")"#, "expected a list");
        assert_err(r#"join(",")"#, "at least one list");
    }

    #[test]
    fn replacing() {
        assert_eval(r#"replace("1 + 2 + 3", "+", "-")"#, r#""1 - 2 - 3""#);
        assert_eval(
            r#"replace("hello world", "/w.*d/", "everybody")"#,
            r#""hello everybody""#,
        );
        assert_eval(
            r#"replace("a1b22", "/([0-9]+)/", "<$1>")"#,
            r#""a<1>b<22>""#,
        );
        assert_eval(r#"replace("ab", "", "-")"#, r#""-a-b-""#);
        assert_err(r#"replace("x", "/(/", "y")"#, "invalid regular expression");
        assert_eval(r#"regex_replace("a1b22", "[0-9]", "_")"#, r#""a_b__""#);
        assert_err(
            r#"regex_replace("x", "[", "y")"#,
            "invalid regular expression",
        );
    }

    #[test]
    fn regexes() {
        assert_eval(
            r#"regex("[a-z]+", "53453453.345345aaabbbccc23454")"#,
            r#""aaabbbccc""#,
        );
        assert_eval(
            r#"regex("(\\d\\d\\d\\d)-(\\d\\d)", "2019-02-01")"#,
            r#"["2019", "02"]"#,
        );
        assert_eval(
            r#"regex("(?P<y>\\d+)-(?P<m>\\d+)", "2019-02")"#,
            r#"{y = "2019", m = "02"}"#,
        );
        assert_err(r#"regex("z", "abc")"#, "did not match");
        assert_err(r#"regex("(?P<a>x)(y)", "xy")"#, "named or only unnamed");
        assert_eval(
            r#"regexall("[a-z]+", "1234abcd5678efgh9")"#,
            r#"["abcd", "efgh"]"#,
        );
        assert_eval(r#"regexall("z", "abc")"#, "[]");
        assert_err(r#"regexall("(", "abc")"#, "invalid regular expression");
    }

    #[test]
    fn substrings() {
        assert_eval(r#"substr("hello world", 1, 4)"#, r#""ello""#);
        assert_eval(r#"substr("🤔🤷", 0, 1)"#, r#""🤔""#);
        assert_eval(r#"substr("hello world", -5, -1)"#, r#""world""#);
        assert_eval(r#"substr("hello", -10, 2)"#, r#""he""#);
        assert_eval(r#"substr("hello", 10, 2)"#, r#""""#);
        assert_eval(r#"substr("hello", 2, 100)"#, r#""llo""#);
        assert_err(r#"substr("hello", 1.5, 1)"#, "whole number");
    }

    #[test]
    fn indenting() {
        assert_eval(r#"indent(2, "a\nb\nc")"#, r#""a\n  b\n  c""#);
        assert_err(r#"indent(-1, "a")"#, "negative");
        assert_err(r#"indent(100000000, "\n\n\n\n\n\n\n\n\n\n")"#, "limit");
    }

    #[test]
    fn format_verbs() {
        assert_eval(r#"format("%d", 3)"#, r#""3""#);
        assert_eval(r#"format("%s-%03d", "a", 7)"#, r#""a-007""#);
        assert_eval(r#"format("%v %v %v", "x", 1.5, true)"#, r#""x 1.5 true""#);
        assert_eval(r#"format("%v", [1, "a"])"#, r#""[1,\"a\"]""#);
        assert_eval(r#"format("%q", "a\"b")"#, r#""\"a\\\"b\"""#);
        assert_eval(r#"format("100%%")"#, r#""100%""#);
        assert_eval(r#"format("%.2f", 3.14159)"#, r#""3.14""#);
        assert_eval(
            r#"format("%8.3f|%-5s|%5s", -3.14159, "ab", "cd")"#,
            r#""  -3.142|ab   |   cd""#,
        );
        assert_eval(
            r#"format("%+d %x %X %o %b", 5, 255, 255, 8, 5)"#,
            r#""+5 ff FF 10 101""#,
        );
        assert_eval(r#"format("%e", 1234.5678)"#, r#""1.234568e+03""#);
        assert_eval(
            r#"format("%g %g", 1234.5678, 0.00001)"#,
            r#""1234.5678 1e-05""#,
        );
        assert_eval(r#"format("%t", true)"#, r#""true""#);
        assert_eval(r#"format("%[2]s %[1]s", "a", "b")"#, r#""b a""#);
        assert_eval(r#"format("%d", "12")"#, r#""12""#);
        assert_eval(r#"format("%05d", -42)"#, r#""-0042""#);
        assert_err(r#"format("%d", 1.5)"#, "not a whole number");
        assert_err(r#"format("%d", "x")"#, "unsupported value for %d");
        assert_err(r#"format("%s %s", "a")"#, "not enough arguments");
        assert_err(r#"format("%s", "a", "b")"#, "too many arguments");
        assert_err(r#"format("%z", 1)"#, "unsupported format verb");
        assert_err(r#"format("%", 1)"#, "unterminated");
        assert_err(r#"format("%s", [1])"#, "unsupported value for %s");
        assert_err(r#"format("%d", null)"#, "null value cannot be formatted");
        assert_err(r#"format("%999999d", 1)"#, "too large");
    }

    #[test]
    fn formatlist_rows() {
        assert_eval(
            r#"formatlist("Hello, %s!", ["Valentina", "Ander"])"#,
            r#"["Hello, Valentina!", "Hello, Ander!"]"#,
        );
        assert_eval(
            r#"formatlist("%s=%d", ["a", "b"], [1, 2])"#,
            r#"["a=1", "b=2"]"#,
        );
        assert_eval(
            r#"formatlist("%s-%s", "x", ["a", "b"])"#,
            r#"["x-a", "x-b"]"#,
        );
        assert_err(r#"formatlist("%s%s", ["a"], ["b", "c"])"#, "length");
    }
}
