//! Test drivers assembled from WAT: the `task-driver` world's dummy module
//! (every export traps) with chosen export bodies replaced, turned into a
//! component. They stand in for misbehaving plugins (a loop, a memory hog, a
//! driver that calls a capability it was not granted) without a guest
//! toolchain.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

/// An export body that returns an all-zero result from fresh memory (valid
/// for `info`, `fingerprint` and `config-schema`: empty strings and lists).
pub const ZEROES: &str = "(drop (memory.grow (i32.const 1))) (i32.const 0)";
/// An export body that never returns.
pub const LOOP: &str = "(loop $spin (br $spin)) unreachable";
/// An export body that grows memory until it is stopped.
pub const HOG: &str = "(loop $grow (drop (memory.grow (i32.const 16))) (br $grow)) unreachable";
/// An export body that asks the process capability about pid 1, then traps.
pub const SNEAKY: &str = "(drop (call {process.is-alive} (i32.const 1) (i64.const 0))) unreachable";

/// One compiled-component cache for every test of every test binary, so
/// each component is compiled once per machine (tests of the cache itself
/// use their own).
pub fn shared_cache() -> PathBuf {
    std::env::temp_dir().join("sched-test-driver-cache")
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A `task-driver` component whose exports (by WIT name, e.g. `info`) have
/// the given bodies; every other export traps. In a body,
/// `{interface.function}` is replaced by the index of that import.
pub fn component(bodies: &[(&str, &str)]) -> Vec<u8> {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(workspace().join("plugins/wit")).unwrap();
    let world = resolve.select_world(&[pkg], Some("task-driver")).unwrap();
    let mangling = ManglingAndAbi::Legacy(LiftLowerAbi::Sync);
    let dummy = wit_component::dummy_module(&resolve, world, mangling);
    let mut text = wasmprinter::print_bytes(&dummy).unwrap();
    for (export, body) in bodies {
        let name = format!("\"sched:driver/driver@0.1.0#{export}\"");
        let at = text
            .find(&format!("(export {name} (func "))
            .unwrap_or_else(|| panic!("no export {export}"));
        let rest = &text[at + name.len() + 15..];
        let index: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let header = format!("(func (;{index};)");
        let start = text.find(&header).unwrap();
        let body_at = start + text[start..].find("unreachable").unwrap();
        let body = resolve_imports(&text, body);
        text.replace_range(body_at..body_at + "unreachable".len(), &body);
    }
    let mut module = wat::parse_str(&text).unwrap();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

/// Replaces `{interface.function}` with `call N`.
fn resolve_imports(text: &str, body: &str) -> String {
    let mut out = body.to_string();
    while let Some(open) = out.find("{") {
        let close = out[open..].find('}').unwrap() + open;
        let (iface, func) = out[open + 1..close].split_once('.').unwrap();
        let import = format!("(import \"sched:driver/{iface}@0.1.0\" \"{func}\" (func (;");
        let at = text
            .find(&import)
            .unwrap_or_else(|| panic!("no import {iface}.{func}"))
            + import.len();
        let index: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        out.replace_range(open..=close, &index);
    }
    out
}
