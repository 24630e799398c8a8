//! Generates the gRPC code for the peer protocol. Uses `protoc` from `PROTOC`
//! or PATH when there is one, else the vendored binary, so a fresh machine
//! needs no extra install.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/sched.proto");
    println!("cargo:rerun-if-env-changed=PROTOC");
    let mut config = prost_build::Config::new();
    if std::env::var_os("PROTOC").is_none() && !protoc_on_path() {
        config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    }
    tonic_prost_build::configure()
        .bytes(".")
        .compile_with_config(config, &["proto/sched.proto"], &["proto"])?;
    Ok(())
}

fn protoc_on_path() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("protoc").is_file()))
}
