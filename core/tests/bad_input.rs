//! Bad job files: each gets a clear error naming what is wrong and where, and
//! none panics, overflows the stack, or takes unbounded time or memory.

use proptest::prelude::*;
use sched_core::jobspec::{Diagnostics, ParseOptions, parse};

fn fails(src: &str) -> Diagnostics {
    match parse("bad.nomad.hcl", src, &ParseOptions::default()) {
        Ok(p) => panic!("expected an error, parsed {:?}", p.job),
        Err(e) => e,
    }
}

/// The first error's message and line.
fn first(e: &Diagnostics) -> (String, usize) {
    let d = e.errors().next().expect("an error");
    (
        d.message.clone(),
        d.position.as_ref().map(|p| p.line).unwrap_or(0),
    )
}

fn validate(src: &str) -> String {
    let mut job = parse("job.hcl", src, &ParseOptions::default())
        .expect("parses")
        .job;
    job.canonicalize();
    job.validate().expect_err("validation fails").to_string()
}

#[test]
fn empty_file() {
    let e = fails("");
    assert!(first(&e).0.contains("No job block"), "{e}");
    let e = fails("   \n# only a comment\n");
    assert!(first(&e).0.contains("No job block"), "{e}");
}

#[test]
fn binary_garbage() {
    let e = fails("job \"x\" {\0\u{1}\u{2}}");
    assert!(first(&e).0.contains("NUL byte"), "{e}");
    let garbage: String = (0..4096u32)
        .map(|i| char::from_u32((i * 7919) % 0xD7FF + 1).unwrap_or('?'))
        .collect();
    let e = fails(&garbage);
    assert!(e.has_errors());
}

#[test]
fn oversized_file_is_refused_before_parsing() {
    let big = format!(
        "job \"x\" {{\n{}}}\n",
        "  # padding padding padding padding\n".repeat(50 * 1024 * 1024 / 36)
    );
    assert!(big.len() > 50_000_000);
    let e = fails(&big);
    assert!(first(&e).0.contains("limited to"), "{e}");
}

#[test]
fn deep_nesting_does_not_overflow() {
    let depth = 10_000;
    let blocks = format!(
        "job \"x\" {{ {} {} }}",
        "a {".repeat(depth),
        "}".repeat(depth)
    );
    let e = fails(&blocks);
    assert!(first(&e).0.contains("Nesting is deeper"), "{e}");
    let lists = format!(
        "job \"x\" {{ meta = {}{} }}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert!(first(&fails(&lists)).0.contains("Nesting is deeper"));
    let interp = format!(
        "job \"x\" {{ region = \"{}x{}\" }}",
        "${\"".repeat(depth),
        "\"}".repeat(depth)
    );
    assert!(fails(&interp).has_errors());
    let json = format!("{}{}", "{\"Job\":".repeat(depth), "}".repeat(depth));
    assert!(first(&fails(&json)).0.contains("Invalid JSON"));
}

#[test]
fn unterminated_string_points_at_its_line() {
    let e = fails("job \"x\" {\n  region = \"global\n  type = \"batch\"\n}\n");
    let (msg, line) = first(&e);
    assert!(msg.contains("Unterminated string"), "{e}");
    assert_eq!(line, 2, "{e}");
    let e = fails("job \"x\" {\n  meta = <<EOF\n  never closed\n}\n");
    assert!(first(&e).0.contains("Unterminated heredoc"), "{e}");
    let e = fails("job \"x\" {\n /* open comment\n}\n");
    assert!(first(&e).0.contains("Unterminated comment"), "{e}");
}

#[test]
fn duplicate_labels() {
    let e = fails(
        "job \"x\" {\n group \"g\" {\n  volume \"v\" { type = \"host\" }\n  volume \"v\" { type = \"host\" }\n }\n}\n",
    );
    let (msg, line) = first(&e);
    assert!(msg.contains("Duplicate volume \"v\""), "{e}");
    assert_eq!(line, 4);
    let e = fails("job \"a\" {}\njob \"b\" {}\n");
    assert_eq!(
        first(&e),
        (
            "Duplicate job block: a file holds exactly one job".into(),
            2
        )
    );
    let group = "  group \"web\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n    }\n  }\n";
    let v = validate(&format!("job \"x\" {{\n{group}{group}}}\n"));
    assert!(
        v.contains("task group \"web\" is defined more than once"),
        "{v}"
    );
}

#[test]
fn negative_count_is_a_validation_error() {
    let v = validate(
        "job \"x\" {\n group \"web\" {\n  count = -1\n  task \"t\" {\n   driver = \"raw_exec\"\n  }\n }\n}\n",
    );
    assert!(
        v.contains("group \"web\"") && v.to_lowercase().contains("count"),
        "{v}"
    );
}

#[test]
fn unsuitable_values_name_the_attribute_and_line() {
    let e = fails(
        "job \"x\" {\n group \"g\" {\n  task \"t\" {\n   resources {\n    memory = \"lots\"\n   }\n  }\n }\n}\n",
    );
    let (msg, line) = first(&e);
    assert!(
        msg.contains("Unsuitable value") && msg.contains("\"lots\"") && msg.contains("memory"),
        "{e}"
    );
    assert_eq!(line, 5);
    let text = e.to_string();
    assert!(text.contains("--> bad.nomad.hcl:5:14"), "{text}");
    assert!(text.contains("^^^^^^"), "{text}");
    let e = fails("job \"x\" {\n update { stagger = \"5 days\" }\n}\n");
    assert!(first(&e).0.contains("duration"), "{e}");
}

#[test]
fn unknown_names_get_suggestions() {
    let e = fails("job \"x\" {\n  datacenter = [\"dc1\"]\n  gruop \"g\" {}\n}\n");
    let all = e.to_string();
    assert!(
        all.contains(
            "Unsupported argument \"datacenter\" in job block; did you mean \"datacenters\"?"
        ),
        "{all}"
    );
    assert!(
        all.contains("Unsupported block type \"gruop\" in job block; did you mean \"group\"?"),
        "{all}"
    );
    assert_eq!(e.errors().count(), 2, "every error is reported at once");
    let e = fails("variable \"region\" { default = \"x\" }\njob \"x\" { region = var.regoin }\n");
    assert!(first(&e).0.contains("did you mean \"region\"?"), "{e}");
    let e = fails("job \"x\" { region = uper(\"a\") }\n");
    assert!(first(&e).0.contains("did you mean \"upper\"?"), "{e}");
}

#[test]
fn bad_variables() {
    let opts = ParseOptions {
        arg_vars: vec!["nope=1".into()],
        ..Default::default()
    };
    let e = parse("j.hcl", "job \"x\" {}\n", &opts).expect_err("undeclared -var");
    assert!(e.to_string().contains("Undefined variable \"nope\""), "{e}");
    let opts = ParseOptions {
        arg_vars: vec!["n=abc".into()],
        ..Default::default()
    };
    let e = parse(
        "j.hcl",
        "variable \"n\" { type = number }\njob \"x\" {}\n",
        &opts,
    )
    .expect_err("bad number");
    assert!(
        e.to_string().contains("cannot convert \"abc\" to number"),
        "{e}"
    );
    assert_eq!(e.errors().count(), 1, "reported once: {e}");
    let opts = ParseOptions {
        arg_vars: vec!["novalue".into()],
        ..Default::default()
    };
    assert!(parse("j.hcl", "job \"x\" {}\n", &opts).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary text never panics the parser.
    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,400}") {
        let _ = parse("p.hcl", &src, &ParseOptions::default());
    }

    /// Token soup built from HCL's own pieces never panics either.
    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(prop_oneof![
        Just("job"), Just("\"x\""), Just("{"), Just("}"), Just("["), Just("]"), Just("="),
        Just("group"), Just("task"), Just("count"), Just("1"), Just("-1"), Just("\"${"),
        Just("var.x"), Just("\n"), Just(","), Just("dynamic"), Just("for_each"), Just("<<EOF\n"),
        Just("EOF\n"), Just("#"), Just("try("), Just(")"), Just("%{ if true }"), Just("meta"),
    ], 0..80)) {
        let src = tokens.join(" ");
        let _ = parse("p.hcl", &src, &ParseOptions::default());
    }
}
