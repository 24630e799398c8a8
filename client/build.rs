//! Embeds the built-in driver components that exist in
//! `drivers/components/` (see `src/driver_host/builtin.rs`).

use std::fmt::Write as _;
use std::path::PathBuf;

/// The built-in drivers, by file stem.
const BUILTIN: [&str; 3] = ["raw_exec", "exec", "docker"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let components = manifest.join("../drivers/components");
    let mut out = String::from(
        "/// The embedded built-in drivers: (name, component bytes).\npub(crate) const BUILTIN: &[(&str, &[u8])] = &[\n",
    );
    for name in BUILTIN {
        let path = components.join(format!("{name}.wasm"));
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_file() {
            let abs = path.canonicalize().unwrap_or(path);
            let _ = writeln!(
                out,
                "    ({name:?}, include_bytes!({:?})),",
                abs.display().to_string()
            );
        }
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("builtin_drivers.rs");
    if std::fs::read_to_string(&dest).ok().as_deref() != Some(out.as_str())
        && let Err(e) = std::fs::write(&dest, out)
    {
        panic!("writing {}: {e}", dest.display());
    }
}
