#!/usr/bin/env bash
# Builds the guest drivers into WebAssembly components:
#   drivers/components/NAME.wasm   the component the client embeds
#   drivers/components/NAME.stamp  the stamp of its sources (see stamp.sh)
#
# usage: drivers/build.sh [NAME...]     (default: every component)
#
# Toolchain: Debian's rustc-web/cargo-web (a current rustc with its library
# source, so `-Z build-std` can build std for wasm32-unknown-unknown) and
# lld-16 for wasm-ld; installed with apt-get when missing. The core modules
# are turned into components by drivers/componentize (wit-component 0.254),
# built with the ordinary host toolchain (`cargo` on PATH, or $HOST_CARGO).
# Intermediate files stay in drivers/target (ignored by git). Set
# CARGO_BUILD_JOBS to limit the parallel compile jobs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=stamp.sh
. "$here/stamp.sh"

GUEST_RUSTC=/usr/bin/rustc
GUEST_CARGO=/usr/bin/cargo
LINKER=wasm-ld-16
TOOLCHAIN_PACKAGES=(rustc-web cargo-web rust-web-src lld-16)

ensure_toolchain() {
    if [ -x "$GUEST_RUSTC" ] && [ -x "$GUEST_CARGO" ] && command -v "$LINKER" >/dev/null &&
       [ -d /usr/lib/rustlib/src/rust/library ]; then
        return
    fi
    echo "installing the guest toolchain: ${TOOLCHAIN_PACKAGES[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update
    $sudo apt-get install -y "${TOOLCHAIN_PACKAGES[@]}"
}

if [ $# -gt 0 ]; then names=("$@"); else mapfile -t names < <(guest_names); fi

ensure_toolchain

# The componentize tool (host target, its own lock file).
"${HOST_CARGO:-cargo}" build --release --locked \
    --manifest-path "$here/componentize/Cargo.toml" \
    --target-dir "$here/target/componentize"
componentize="$here/target/componentize/release/sched-componentize"

# Stamps are taken before compiling, so an edit during the build leaves the
# component stale rather than stamped with sources it was not built from.
declare -A stamps
for name in "${names[@]}"; do
    stamps[$name]=$(guest_stamp "$name")
done

# The guests' core modules, in one cargo run.
packages=()
for name in "${names[@]}"; do
    dir=$(guest_dir "$name")
    pkg=$(sed -n 's/^name = "\(.*\)"/\1/p' "$(guest_root)/$dir/Cargo.toml" | head -n1)
    packages+=(-p "$pkg")
done
# Cargo derives symbol hashes from the absolute paths of path dependencies,
# and source paths end up in panic locations: the guests are therefore built
# from a copy of their sources at a fixed path (and the cargo cache is mapped
# to a fixed name), so a rebuild in any checkout on any machine reproduces the
# committed components byte for byte. The copy's target dir is kept as a cache.
build_root=${SCHED_GUEST_BUILD_DIR:-/tmp/sched-guest-build}
rm -rf "$build_root/src"
mkdir -p "$build_root/src"
tar -C "$(guest_root)" --exclude=target -cf - plugins drivers | tar -C "$build_root/src" -xf -
cargo_home=${CARGO_HOME:-$HOME/.cargo}
remap="--remap-path-prefix=$build_root/src=/sched"$'\x1f'"--remap-path-prefix=$cargo_home=/cargo"
(
    cd "$build_root/src/drivers"
    # The rustup proxy must not pick the compiler: the guests need Debian's.
    CARGO_ENCODED_RUSTFLAGS="$remap" \
    RUSTC="$GUEST_RUSTC" RUSTC_BOOTSTRAP=1 "$GUEST_CARGO" build --release --locked \
        -Z build-std=std,panic_abort --target wasm32-unknown-unknown \
        --config "target.wasm32-unknown-unknown.linker=\"$LINKER\"" \
        --target-dir "$build_root/target" "${packages[@]}"
)

mkdir -p "$here/components"
for name in "${names[@]}"; do
    dir=$(guest_dir "$name")
    pkg=$(sed -n 's/^name = "\(.*\)"/\1/p' "$(guest_root)/$dir/Cargo.toml" | head -n1)
    core="$build_root/target/wasm32-unknown-unknown/release/${pkg//-/_}.wasm"
    "$componentize" "$core" "$here/components/$name.wasm"
    echo "${stamps[$name]}" > "$here/components/$name.stamp"
done
