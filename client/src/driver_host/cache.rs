//! The on-disk cache of compiled driver components.
//!
//! A component is compiled once per content and engine: the first load
//! compiles it and writes `<cache_dir>/<sha256 of the component>-<engine
//! hash>.cwasm` (written to a temporary name and renamed, so a reader never
//! sees half a file); later loads map that file back in with
//! `Component::deserialize_file`. The engine hash covers wasmtime's version
//! and every compiler setting, so an upgrade or a config change misses the
//! cache instead of loading incompatible code. A file that fails to load is
//! removed and recompiled; files unused for 30 days are removed when a host
//! opens the cache. This module owns nothing but those files.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::{DriverError, chain_message};

/// Where a component came from on this load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Compiled now (and written to the cache).
    Compiled,
    /// Mapped from the cache.
    Cached,
}

/// The cache directory of one host.
#[derive(Debug)]
pub(crate) struct ComponentCache {
    dir: PathBuf,
    engine_tag: String,
}

impl ComponentCache {
    /// Opens (creating it, readable by the client only) the cache in `dir`.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> Result<Self, DriverError> {
        let io = |source| DriverError::Io {
            path: dir.to_path_buf(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
        let mut h = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_tag = hex(&h.0.finalize())[..16].to_string();
        prune(dir);
        Ok(ComponentCache {
            dir: dir.to_path_buf(),
            engine_tag,
        })
    }

    /// The cache file for a component with these bytes.
    pub(crate) fn path_for(&self, bytes: &[u8]) -> PathBuf {
        let digest = hex(&Sha256::digest(bytes));
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_tag))
    }

    /// The compiled component for `bytes`, from the cache or compiled now.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        source_name: &str,
    ) -> Result<(Component, CacheOutcome), DriverError> {
        let path = self.path_for(bytes);
        if path.is_file() {
            let t = Instant::now();
            match deserialize_own_file(engine, &path) {
                Ok(c) => {
                    touch(&path);
                    tracing::debug!(source = source_name, path = %path.display(), elapsed_us = t.elapsed().as_micros() as u64, "driver component loaded from cache");
                    return Ok((c, CacheOutcome::Cached));
                }
                Err(e) => {
                    tracing::warn!(source = source_name, path = %path.display(), error = %chain_message(&e), "dropping an unusable cached component");
                    let _ = fs::remove_file(&path);
                }
            }
        }
        let t = Instant::now();
        let component = Component::new(engine, bytes).map_err(|e| DriverError::Load {
            source_name: source_name.to_string(),
            message: format!("not a valid WebAssembly component: {}", chain_message(&e)),
        })?;
        tracing::info!(
            source = source_name,
            elapsed_ms = t.elapsed().as_millis() as u64,
            "compiled driver component"
        );
        match component.serialize() {
            Ok(compiled) => {
                if let Err(e) = write_atomically(&path, &compiled) {
                    tracing::warn!(source = source_name, path = %path.display(), error = %e, "cannot write the component cache");
                }
            }
            Err(e) => {
                tracing::warn!(source = source_name, error = %chain_message(&e), "cannot serialize a compiled component");
            }
        }
        Ok((component, CacheOutcome::Compiled))
    }
}

/// Maps a compiled component back in from the cache.
#[allow(unsafe_code)]
fn deserialize_own_file(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts its input to be machine code wasmtime
    // produced for this engine. The file is ours: only `ComponentCache::load`
    // writes into the cache directory, which it creates readable and
    // writable by the client alone, from `Component::serialize` output of an
    // engine with the same compatibility hash (part of the file name), and
    // it renames complete files into place. wasmtime still checks the
    // header's version and engine settings and fails cleanly on a mismatch.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Cache files unused this long are removed when a host opens the cache.
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Temporary files older than this are left over from a crash.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// Removes compiled components unused for [`UNUSED_FOR`] (older components
/// and engines leave theirs behind) and stale temporary files. Removing a
/// file another host has mapped is safe: the mapping keeps it alive.
fn prune(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        let max_age = if name.ends_with(".cwasm") {
            UNUSED_FOR
        } else if name.contains(".tmp") {
            STALE_TMP
        } else {
            continue;
        };
        let age = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| now.duration_since(m).ok());
        if age.is_some_and(|a| a > max_age) && fs::remove_file(&path).is_ok() {
            tracing::debug!(path = %path.display(), "pruned the component cache");
        }
    }
}

/// Marks a cache file as used now (its modification time), for [`prune`].
fn touch(path: &Path) {
    if let Ok(f) = fs::OpenOptions::new().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let tmp = path.with_extension(format!(
        "tmp{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A [`Hasher`] feeding a sha256, for a hash that is stable across runs.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        let d = self.0.clone().finalize();
        u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
