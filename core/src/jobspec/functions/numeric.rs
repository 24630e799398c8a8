//! Numeric functions: `abs`, `ceil`, `floor`, `log`, `max`, `min`, `pow`,
//! `signum` and `parseint`. Integers stay integers where the result is whole.

use hcl::eval::{FuncArgs, FuncDef, ParamType};
use hcl::{Number, Value};

use super::{int_of, num_of, num_value};

pub(super) fn register(defs: &mut Vec<(&'static str, FuncDef)>) {
    let n = || ParamType::Number;
    let one = |f| FuncDef::builder().param(n()).build(f);
    let two = |f| FuncDef::builder().param(n()).param(n()).build(f);
    defs.push(("abs", one(abs)));
    defs.push(("ceil", one(ceil)));
    defs.push(("floor", one(floor)));
    defs.push(("signum", one(signum)));
    defs.push(("log", two(log)));
    defs.push(("pow", two(pow)));
    defs.push(("max", FuncDef::builder().variadic_param(n()).build(max)));
    defs.push(("min", FuncDef::builder().variadic_param(n()).build(min)));
    defs.push((
        "parseint",
        FuncDef::builder()
            .param(ParamType::String)
            .param(n())
            .build(parseint),
    ));
}

/// The float value of argument `i`.
fn f(args: &FuncArgs, i: usize) -> f64 {
    args.get(i).and_then(Value::as_f64).unwrap_or(0.0)
}

/// A whole float as an integer number where it fits, else as a float.
fn whole_value(x: f64, func: &str) -> Result<Value, String> {
    num_value(x, func)
}

fn abs(args: FuncArgs) -> Result<Value, String> {
    let n = num_of(&args[0], "abs")?;
    if let Some(i) = n.as_i64() {
        return Ok(match i.checked_abs() {
            Some(a) => a.into(),
            None => Value::from(i.unsigned_abs()),
        });
    }
    if n.as_u64().is_some() {
        return Ok(Value::Number(n));
    }
    num_value(f(&args, 0).abs(), "abs")
}

fn ceil(args: FuncArgs) -> Result<Value, String> {
    whole_value(f(&args, 0).ceil(), "ceil")
}

fn floor(args: FuncArgs) -> Result<Value, String> {
    whole_value(f(&args, 0).floor(), "floor")
}

fn signum(args: FuncArgs) -> Result<Value, String> {
    let x = f(&args, 0);
    Ok(Value::from(if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }))
}

/// `log(number, base)`.
fn log(args: FuncArgs) -> Result<Value, String> {
    let (x, base) = (f(&args, 0), f(&args, 1));
    if x <= 0.0 {
        return Err(format!("log: number {x} must be greater than zero"));
    }
    if base <= 0.0 || base == 1.0 {
        return Err(format!(
            "log: base {base} must be greater than zero and not 1"
        ));
    }
    num_value(x.ln() / base.ln(), "log")
}

/// `pow(base, exponent)`: exact for integer results that fit.
fn pow(args: FuncArgs) -> Result<Value, String> {
    let (b, e) = (&args[0], &args[1]);
    if let (Some(bi), Some(ei)) = (b.as_i64(), e.as_i64())
        && let Ok(ei) = u32::try_from(ei)
        && let Some(r) = bi.checked_pow(ei)
    {
        return Ok(r.into());
    }
    let r = f(&args, 0).powf(f(&args, 1));
    if r.is_nan() {
        return Err(format!(
            "pow: {} to the power of {} is not a real number",
            f(&args, 0),
            f(&args, 1)
        ));
    }
    num_value(r, "pow")
}

/// The extreme of the arguments by `better`.
fn extreme(args: &FuncArgs, func: &str, better: fn(f64, f64) -> bool) -> Result<Value, String> {
    let mut best: Option<Number> = None;
    for a in args.iter() {
        let n = num_of(a, func)?;
        best = match best {
            Some(b) if !better(n.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0)) => Some(b),
            _ => Some(n),
        };
    }
    best.map(Value::Number)
        .ok_or_else(|| format!("{func}: at least one number is required"))
}

fn max(args: FuncArgs) -> Result<Value, String> {
    extreme(&args, "max", |a, b| a > b)
}

fn min(args: FuncArgs) -> Result<Value, String> {
    extreme(&args, "min", |a, b| a < b)
}

/// `parseint(string, base)` for bases 2 to 62 (digits, then lower case, then
/// upper case letters; case-insensitive up to base 36).
fn parseint(args: FuncArgs) -> Result<Value, String> {
    let s = args[0].as_str().unwrap_or_default();
    let base = int_of(&args[1], "parseint", "base")?;
    if !(2..=62).contains(&base) {
        return Err(format!("parseint: base {base} must be between 2 and 62"));
    }
    let base = u32::try_from(base).unwrap_or(10);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(format!(
            "parseint: cannot parse {s:?} as a base {base} integer"
        ));
    }
    let mut acc: u128 = 0;
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 10,
            'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
            'A'..='Z' => c as u32 - 'A' as u32 + 36,
            _ => base,
        };
        if d >= base {
            return Err(format!(
                "parseint: cannot parse {s:?} as a base {base} integer"
            ));
        }
        acc = acc
            .checked_mul(u128::from(base))
            .and_then(|a| a.checked_add(u128::from(d)))
            .ok_or_else(|| format!("parseint: {s:?} is too large"))?;
    }
    if negative {
        let v = i64::try_from(acc)
            .ok()
            .and_then(i64::checked_neg)
            .or_else(|| (acc == 1u128 << 63).then_some(i64::MIN));
        return v
            .map(Value::from)
            .ok_or_else(|| format!("parseint: {s:?} is too large"));
    }
    u64::try_from(acc)
        .map(Value::from)
        .map_err(|_| format!("parseint: {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_err, assert_eval};

    #[test]
    fn abs_ceil_floor_signum() {
        assert_eval("abs(-3)", "3");
        assert_eval("abs(-1.5)", "1.5");
        assert_eval("abs(0)", "0");
        assert_err(r#"abs("x")"#, "number");
        assert_eval("ceil(1.2)", "2");
        assert_eval("ceil(-1.2)", "-1");
        assert_err("ceil(true)", "number");
        assert_eval("floor(1.8)", "1");
        assert_eval("floor(-1.2)", "-2");
        assert_err("floor(null)", "number");
        assert_eval("signum(-4)", "-1");
        assert_eval("signum(0)", "0");
        assert_eval("signum(3.5)", "1");
        assert_err("signum([])", "number");
    }

    #[test]
    fn log_and_pow() {
        assert_eval("log(8, 2)", "3");
        assert_eval("log(1, 10)", "0");
        assert_err("log(0, 10)", "greater than zero");
        assert_err("log(8, 1)", "not 1");
        assert_eval("pow(3, 2)", "9");
        assert_eval("pow(4, 0.5)", "2");
        assert_eval("pow(2, -1)", "0.5");
        assert_err("pow(-8, 0.5)", "not a real number");
        assert_err("pow(10, 400)", "finite");
    }

    #[test]
    fn max_and_min() {
        assert_eval("max(12, 54, 3)", "54");
        assert_eval("max(1.5, 1)", "1.5");
        assert_err("max()", "at least one");
        assert_err(r#"max(1, "x")"#, "number");
        assert_eval("min(12, 54, 3)", "3");
        assert_err("min()", "at least one");
    }

    #[test]
    fn parse_int() {
        assert_eval(r#"parseint("100", 10)"#, "100");
        assert_eval(r#"parseint("FF", 16)"#, "255");
        assert_eval(r#"parseint("-10", 16)"#, "-16");
        assert_eval(r#"parseint("1011111011101111", 2)"#, "48879");
        assert_eval(r#"parseint("aA", 62)"#, "656");
        assert_eval(
            r#"parseint("18446744073709551615", 10)"#,
            "18446744073709551615",
        );
        assert_err(
            r#"parseint("12", 2)"#,
            "cannot parse \"12\" as a base 2 integer",
        );
        assert_err(r#"parseint("1", 1)"#, "between 2 and 62");
        assert_err(r#"parseint("", 10)"#, "cannot parse");
        assert_err(r#"parseint("99999999999999999999999", 10)"#, "too large");
    }
}
