//! `sched-componentize IN.wasm OUT.wasm`: wraps a core module that carries
//! wit-bindgen's component-type section into a validated component.
//! `sched-componentize --wit COMPONENT.wasm` prints a component's world
//! (its imports and exports) as WIT, to check what a driver asks for.
//!
//! The guests are built for `wasm32-unknown-unknown`, so the core module has
//! no WASI imports and needs no adapter: every import is a WIT import.

use std::process::ExitCode;

fn run(input: &str, output: &str) -> Result<usize, String> {
    let module = std::fs::read(input).map_err(|e| format!("reading {input}: {e}"))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .map_err(|e| format!("{input}: {e:#}"))?
        .validate(true)
        .encode()
        .map_err(|e| format!("{input}: {e:#}"))?;
    std::fs::write(output, &component).map_err(|e| format!("writing {output}: {e}"))?;
    Ok(component.len())
}

fn print_wit(path: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))?;
    let decoded = wit_component::decode(&bytes).map_err(|e| format!("{path}: {e:#}"))?;
    let resolve = decoded.resolve();
    let root = decoded.package();
    let nested: Vec<_> = resolve
        .packages
        .iter()
        .map(|(id, _)| id)
        .filter(|id| *id != root)
        .collect();
    let mut printer = wit_component::WitPrinter::default();
    printer.emit_docs(false);
    printer
        .print(resolve, root, &nested)
        .map_err(|e| format!("{path}: {e:#}"))?;
    Ok(printer.output.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path] = args.as_slice()
        && flag == "--wit"
    {
        return match print_wit(path) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let [input, output] = args.as_slice() else {
        eprintln!("usage: sched-componentize IN.wasm OUT.wasm | --wit COMPONENT.wasm");
        return ExitCode::from(2);
    };
    match run(input, output) {
        Ok(size) => {
            eprintln!("{output}: {size} bytes");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
