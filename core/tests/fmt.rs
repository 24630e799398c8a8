//! `sched fmt` against Nomad's own formatter output and the jobspec corpus.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sched_core::jobspec::fmt::format;

/// The shared corpus lives next to the repository root (`../../shared/corpus`
/// from this crate); from a linked worktree it is found further up.
fn corpus_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = manifest
        .ancestors()
        .skip(2)
        .map(|dir| dir.join("shared/corpus/nomad-jobspecs"))
        .find(|dir| dir.is_dir());
    match found {
        Some(dir) => dir,
        None => panic!(
            "\n\n*** The Nomad jobspec corpus is missing: expected `shared/corpus/nomad-jobspecs` \
             next to the repository root ({}/../../shared/corpus). ***\n\n",
            manifest.display()
        ),
    }
}

fn read(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(err) => panic!("cannot read {}: {err}", path.display()),
    }
}

fn must_format(src: &str, what: &str) -> String {
    match format(src) {
        Ok(out) => out,
        Err(err) => panic!("{what}: format failed: {err}"),
    }
}

#[test]
fn matches_nomad_fmt_reference_output() {
    let dir = corpus_dir();
    let input = read(&dir.join("command__testdata__fmt__job.in.hcl"));
    let want = read(&dir.join("command__testdata__fmt__job.out.hcl"));
    let got = must_format(&input, "job.in.hcl");
    assert_eq!(got, want);
    // The reference output is already canonical.
    assert_eq!(must_format(&want, "job.out.hcl"), want);
}

#[test]
fn corpus_is_idempotent_and_keeps_structure() {
    let dir = corpus_dir();
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(err) => panic!("cannot list {}: {err}", dir.display()),
    };
    entries.sort();
    let mut formatted = 0;
    let mut skipped = Vec::new();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() || matches!(name, "INDEX.tsv" | "README.md" | "EXPECTATIONS.md") {
            continue;
        }
        let src = read(&path);
        let Ok(original) = hcl::parse(&src) else {
            skipped.push(name.to_owned());
            continue;
        };
        let once = must_format(&src, name);
        let twice = must_format(&once, name);
        assert_eq!(twice, once, "{name}: formatting is not idempotent");
        let reparsed = hcl::parse(&once);
        assert!(
            reparsed.as_ref().is_ok_and(|body| *body == original),
            "{name}: formatting changed the structure"
        );
        formatted += 1;
    }
    eprintln!(
        "formatted {formatted} corpus files; {} do not parse and were skipped: {skipped:?}",
        skipped.len()
    );
    assert!(formatted > 200, "only {formatted} corpus files formatted");
}

#[test]
fn empty_input_formats_to_nothing() {
    assert_eq!(format("").ok().as_deref(), Some(""));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let src = String::from_utf8_lossy(&bytes);
    assert!(format(&src).is_err());
    for src in [
        "}",
        "{{{",
        "a = ",
        "a = [1,",
        "\"",
        "<<EOF\nx\n",
        "a = <<EOF\nx\n",
        "a = 1 /*",
        "\u{0}",
    ] {
        assert!(format(src).is_err(), "{src:?} should not format");
    }
}

#[test]
fn unterminated_string_is_reported_with_its_position() {
    let err = format("job \"x\" {\n  a = \"oops\n}\n").err();
    assert!(err.as_ref().is_some_and(|e| e.line == 2), "{err:?}");
}

#[test]
fn very_deep_nesting_is_refused() {
    let depth = 10_000;
    let src = "a { ".repeat(depth) + &"}\n".repeat(depth);
    let err = format(&src).err();
    assert!(
        err.as_ref()
            .is_some_and(|e| e.line == 1 && e.message.contains("nesting")),
        "{err:?}"
    );
    for src in [
        format!("x = {}1{}", "[".repeat(depth), "]".repeat(depth)),
        format!("x = {}1{}", "(".repeat(depth), ")".repeat(depth)),
        format!("x = {}", "{a = ".repeat(depth)),
        format!("x = \"{}\"", "${\"".repeat(depth)),
    ] {
        assert!(format(&src).is_err());
    }
}

#[test]
fn large_file_formats() {
    let block = "job \"j\" {\n  group \"g\" {\n    count=3\n    meta { k = \"v\" }\n    task \"t\" {\n      driver   = \"docker\"\n      config {\n        args = [ \"-a\",\"b\" ]  # flags\n        n = 1+2*3\n      }\n      template {\n        data = <<EOF\n  {{ key \"x\" }}  \nEOF\n      }\n    }\n  }\n}\n";
    let mut src = String::new();
    let mut i = 0;
    while src.len() < 5 << 20 {
        src.push_str(&block.replacen("job \"j\"", &format!("job \"j{i}\""), 1));
        i += 1;
    }
    let out = must_format(&src, "large file");
    assert!(out.contains("    count = 3\n"));
    assert!(out.contains("        args = [\"-a\", \"b\"] # flags\n"));
}

// --- Random bodies ---------------------------------------------------------

#[derive(Debug, Clone)]
enum Expr {
    Leaf(&'static str),
    Unary(&'static str, Box<Expr>),
    Binary(Box<Expr>, &'static str, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Array(Vec<Expr>, bool),
    Object(Vec<Expr>, bool),
    Call(Vec<Expr>, bool),
    Paren(Box<Expr>),
    ForList(Box<Expr>, Box<Expr>),
    ForObject(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone)]
enum Item {
    Attr(Expr, Option<&'static str>),
    Heredoc(&'static str),
    Block(&'static str, Vec<Item>),
    Comment(&'static str),
    Blank,
}

const LEAVES: &[&str] = &[
    "1",
    "2.5",
    "1e3",
    "0",
    "\"s\"",
    "\"\"",
    "\"a ${b} c\"",
    "\"%{ if x }y%{ else }z%{ endif }\"",
    "\"esc \\\" $${no}\"",
    "a",
    "foo-bar",
    "true",
    "null",
    "var.x",
    "a.b[0].c",
    "l[*].id",
    "l.*.id",
    "m[\"k\"]",
    "local.a[1]",
];
const BINARY: &[&str] = &[
    "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||",
];
const COMMENTS: &[&str] = &["# c", "// c", "/* c */", "#", "# a = [ 1 ]"];
const NAMES: &[&str] = &["a", "bb", "count", "long_name", "x-y"];

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop::sample::select(LEAVES).prop_map(Expr::Leaf);
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            (prop::sample::select(&["-", "!"][..]), inner.clone())
                .prop_map(|(op, e)| Expr::Unary(op, Box::new(e))),
            (inner.clone(), prop::sample::select(BINARY), inner.clone())
                .prop_map(|(a, op, b)| Expr::Binary(Box::new(a), op, Box::new(b))),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| Expr::Cond(
                Box::new(c),
                Box::new(a),
                Box::new(b)
            )),
            (prop::collection::vec(inner.clone(), 0..4), any::<bool>())
                .prop_map(|(v, ml)| Expr::Array(v, ml)),
            (prop::collection::vec(inner.clone(), 0..4), any::<bool>())
                .prop_map(|(v, ml)| Expr::Object(v, ml)),
            (prop::collection::vec(inner.clone(), 0..3), any::<bool>())
                .prop_map(|(v, ml)| Expr::Call(v, ml)),
            inner.clone().prop_map(|e| Expr::Paren(Box::new(e))),
            (inner.clone(), inner.clone())
                .prop_map(|(c, v)| Expr::ForList(Box::new(c), Box::new(v))),
            (inner.clone(), inner).prop_map(|(c, v)| Expr::ForObject(Box::new(c), Box::new(v))),
        ]
    })
}

fn item() -> impl Strategy<Value = Item> {
    let leaf = prop_oneof![
        4 => (expr(), prop::option::of(prop::sample::select(COMMENTS)))
            .prop_map(|(e, c)| Item::Attr(e, c)),
        1 => prop::sample::select(&["<<EOF\n  kept  ${ x }\nEOF", "<<-EOT\n    a\n  EOT"][..])
            .prop_map(Item::Heredoc),
        1 => prop::sample::select(COMMENTS).prop_map(Item::Comment),
        1 => Just(Item::Blank),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        (
            prop::sample::select(&["job", "group", "task \"t\"", "config"][..]),
            prop::collection::vec(inner, 0..5),
        )
            .prop_map(|(t, body)| Item::Block(t, body))
    })
}

/// Writes random but valid whitespace: `rng` picks among a few layouts.
struct Writer {
    out: String,
    rng: u64,
}

impl Writer {
    fn pick(&mut self, n: u64) -> u64 {
        self.rng = self
            .rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.rng >> 33) % n
    }

    /// Optional whitespace (at least one space when `need`).
    fn ws(&mut self, need: bool) {
        let s = match (self.pick(4), need) {
            (0, false) => "",
            (0, true) | (1, _) => " ",
            (2, _) => "   ",
            _ => "\t",
        };
        self.out.push_str(s);
    }

    fn nl(&mut self) {
        self.out.push('\n');
        for _ in 0..self.pick(6) {
            self.out.push(' ');
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Leaf(s) => self.out.push_str(s),
            Expr::Unary(op, e) => {
                self.out.push_str(op);
                self.ws(false);
                self.operand(e);
            }
            Expr::Binary(a, op, b) => {
                self.operand(a);
                self.ws(true);
                self.out.push_str(op);
                self.ws(true);
                self.operand(b);
            }
            Expr::Cond(c, a, b) => {
                self.operand(c);
                self.ws(true);
                self.out.push('?');
                self.ws(false);
                self.operand(a);
                self.ws(true);
                self.out.push(':');
                self.ws(false);
                self.operand(b);
            }
            Expr::Array(items, multiline) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if *multiline {
                        self.nl();
                    } else {
                        self.ws(false);
                    }
                    self.expr(item);
                    self.ws(false);
                    if i + 1 < items.len() || self.pick(2) == 0 {
                        self.out.push(',');
                    }
                }
                if *multiline {
                    self.nl();
                }
                self.out.push(']');
            }
            Expr::Object(items, multiline) => {
                self.out.push('{');
                for (i, item) in items.iter().enumerate() {
                    if *multiline {
                        self.nl();
                    } else {
                        self.ws(true);
                    }
                    self.out.push_str(&format!("k{i}"));
                    self.ws(false);
                    let sep = if self.pick(3) == 0 { ':' } else { '=' };
                    self.out.push(sep);
                    self.ws(false);
                    self.expr(item);
                    self.ws(false);
                    if !*multiline && i + 1 < items.len() {
                        self.out.push(',');
                    }
                }
                if *multiline {
                    self.nl();
                } else {
                    self.ws(false);
                }
                self.out.push('}');
            }
            Expr::Call(args, multiline) => {
                self.out.push_str("f(");
                for (i, arg) in args.iter().enumerate() {
                    if *multiline {
                        self.nl();
                    } else {
                        self.ws(false);
                    }
                    self.expr(arg);
                    self.ws(false);
                    if i + 1 < args.len() {
                        self.out.push(',');
                    } else if *multiline {
                        self.out.push(',');
                        self.nl();
                    } else if self.pick(3) == 0 {
                        self.out.push_str("...");
                    }
                }
                self.out.push(')');
            }
            Expr::Paren(e) => {
                self.out.push('(');
                self.ws(false);
                self.expr(e);
                self.ws(false);
                self.out.push(')');
            }
            Expr::ForList(c, v) => {
                self.out.push_str("[for v in ");
                self.operand(c);
                self.ws(false);
                self.out.push(':');
                self.ws(false);
                self.operand(v);
                self.out.push_str(" if v]");
            }
            Expr::ForObject(c, v) => {
                self.out.push_str("{for k, v in ");
                self.operand(c);
                self.ws(false);
                self.out.push(':');
                self.ws(false);
                self.out.push_str("k=>");
                self.ws(false);
                self.operand(v);
                self.out.push_str("...}");
            }
        }
    }

    /// Nested operators go in parentheses so the source means what it says.
    fn operand(&mut self, e: &Expr) {
        let bare_unary = matches!(e, Expr::Unary(..)) && self.pick(2) == 0;
        if matches!(e, Expr::Binary(..) | Expr::Cond(..) | Expr::Unary(..)) && !bare_unary {
            self.out.push('(');
            self.expr(e);
            self.out.push(')');
        } else {
            self.expr(e);
        }
    }

    fn body(&mut self, items: &[Item]) {
        for (i, item) in items.iter().enumerate() {
            for _ in 0..self.pick(5) {
                let c = if self.pick(3) == 0 { '\t' } else { ' ' };
                self.out.push(c);
            }
            let name = format!("{}{i}", NAMES[self.pick(NAMES.len() as u64) as usize]);
            match item {
                Item::Attr(e, comment) => {
                    self.out.push_str(&name);
                    self.ws(false);
                    self.out.push('=');
                    self.ws(false);
                    self.expr(e);
                    if let Some(c) = comment {
                        self.ws(false);
                        self.out.push_str(c);
                    }
                }
                Item::Heredoc(h) => {
                    self.out.push_str(&name);
                    self.ws(false);
                    self.out.push('=');
                    self.ws(false);
                    self.out.push_str(h);
                }
                Item::Block(t, body) => {
                    self.out.push_str(t);
                    self.ws(true);
                    self.out.push('{');
                    self.ws(false);
                    self.out.push('\n');
                    self.body(body);
                    self.out.push('}');
                }
                Item::Comment(c) => self.out.push_str(c),
                Item::Blank => {}
            }
            self.ws(false);
            self.out.push('\n');
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_bodies_format_idempotently_and_keep_structure(
        items in prop::collection::vec(item(), 0..8),
        seed in any::<u64>(),
        ending in 0..3u8,
    ) {
        let mut w = Writer { out: String::new(), rng: seed };
        w.body(&items);
        let src = match ending {
            // Unterminated last line.
            1 => w.out.trim_end_matches('\n').to_owned(),
            // Windows line endings.
            2 => w.out.replace('\n', "\r\n"),
            _ => w.out,
        };
        let original = hcl::parse(&src);
        prop_assume!(original.is_ok(), "generated source does not parse:\n{}", src);
        let once = format(&src);
        prop_assert!(once.is_ok(), "format failed: {:?}\n{}", once, src);
        let once = once.unwrap_or_default();
        let twice = format(&once);
        prop_assert_eq!(twice.as_deref().ok(), Some(once.as_str()), "not idempotent for\n{}", src);
        let reparsed = hcl::parse(&once).ok();
        prop_assert_eq!(reparsed, original.ok(), "structure changed for\n{}", src);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever the input, `format` returns: no panics, and any output is
    /// stable.
    #[test]
    fn arbitrary_input_never_panics(
        pieces in prop::collection::vec(
            prop::sample::select(&[
                "a", "b-c", " ", "\t", "\n", "\r\n", "=", "{", "}", "[", "]", "(", ")", "\"", "${",
                "%{", "$${", "~", "<<EOF\n", "<<-EOF\n", "EOF", "#", "//", "/*", "*/", "\\", ",",
                ".", "...", ":", "?", "-", "!", "1", "2.5e3", "for", "in", "=>", "&&", "é", "\u{1f600}",
            ][..]),
            0..60,
        ),
        noise in "\\PC{0,20}",
    ) {
        let src = pieces.concat() + &noise;
        if let Ok(out) = format(&src) {
            let again = format(&out);
            prop_assert_eq!(again.as_deref().ok(), Some(out.as_str()), "not idempotent for {:?}", src);
        }
    }
}
