//! Artifacts: files fetched into the task directory before it starts, over
//! HTTP or from a local path, checked against a `checksum` option and
//! unpacked when they are archives (tar, tar.gz, zip), like go-getter does
//! for Nomad.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use sched_core::model::Artifact;
use sha2::Digest;

/// The most an artifact may weigh.
pub const MAX_ARTIFACT_BYTES: u64 = 1 << 30;
/// How long one download may take.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// Why an artifact could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The artifact names no source.
    #[error("artifact has no source")]
    NoSource,
    /// The source is not a URL or path this client fetches.
    #[error("unsupported artifact source {0:?} (http://, https:// and local paths are)")]
    Unsupported(String),
    /// The server answered with an error status.
    #[error("GET {url}: bad response code: {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The request failed (connection, TLS, timeout).
    #[error("GET {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The artifact is larger than [`MAX_ARTIFACT_BYTES`].
    #[error("{source_name} is larger than {MAX_ARTIFACT_BYTES} bytes")]
    TooLarge {
        /// The artifact's source.
        source_name: String,
    },
    /// The `checksum` option is malformed or names an unknown hash.
    #[error("invalid checksum {0:?} (expected sha256:<hex> or sha512:<hex>)")]
    BadChecksumOption(String),
    /// The content does not match the checksum.
    #[error("checksums did not match for {source_name}: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The artifact's source.
        source_name: String,
        /// The expected digest (hex).
        expected: String,
        /// The digest of what was fetched (hex).
        actual: String,
    },
    /// The destination leaves the task directory.
    #[error("artifact destination {0:?} escapes the task directory")]
    Escapes(String),
    /// Reading, writing or unpacking failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArtifactError + '_ {
    move |e| ArtifactError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn option(a: &Artifact, key: &str) -> Option<String> {
    a.getter_options.as_ref()?.get(key).map(|v| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Joins a relative destination to the task dir, refusing `..` and absolute
/// paths.
pub fn dest_in(task_dir: &Path, rel: &str) -> Result<PathBuf, ArtifactError> {
    let p = Path::new(rel);
    if p.components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    }) {
        return Err(ArtifactError::Escapes(rel.to_string()));
    }
    Ok(task_dir.join(p))
}

/// Fetches one artifact into `task_dir`, returning where it went.
pub fn fetch(a: &Artifact, task_dir: &Path) -> Result<PathBuf, ArtifactError> {
    let source = a
        .getter_source
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or(ArtifactError::NoSource)?;
    let dest = dest_in(task_dir, a.relative_dest.as_deref().unwrap_or("local/"))?;
    let bytes = read_source(&source, a)?;
    if let Some(sum) = option(a, "checksum") {
        verify(&source, &sum, &bytes)?;
    }
    let name = source
        .rsplit('/')
        .next()
        .and_then(|n| n.split('?').next())
        .filter(|n| !n.is_empty())
        .unwrap_or("artifact")
        .to_string();
    let archive = option(a, "archive").is_none_or(|v| v != "false");
    let mode = a.getter_mode.as_deref().unwrap_or("any");
    if archive && mode != "file" {
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            std::fs::create_dir_all(&dest).map_err(io(&dest))?;
            let gz = flate2::read::GzDecoder::new(&bytes[..]);
            tar::Archive::new(gz).unpack(&dest).map_err(io(&dest))?;
            return Ok(dest);
        }
        if name.ends_with(".tar") {
            std::fs::create_dir_all(&dest).map_err(io(&dest))?;
            tar::Archive::new(&bytes[..])
                .unpack(&dest)
                .map_err(io(&dest))?;
            return Ok(dest);
        }
        if name.ends_with(".zip") {
            std::fs::create_dir_all(&dest).map_err(io(&dest))?;
            unzip(&bytes, &dest)?;
            return Ok(dest);
        }
    }
    let target = if mode == "file" {
        dest
    } else {
        std::fs::create_dir_all(&dest).map_err(io(&dest))?;
        dest.join(&name)
    };
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(&target, &bytes).map_err(io(&target))?;
    Ok(target)
}

/// An error with its causes: reqwest's own message ("error sending
/// request") hides what failed, such as a certificate no root vouches for.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

fn read_source(source: &str, a: &Artifact) -> Result<Vec<u8>, ArtifactError> {
    if source.starts_with("http://") || source.starts_with("https://") {
        // rustls, checking certificates against the system's roots (the OS
        // CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR where set), as any
        // other program on the machine would.
        let client = reqwest::blocking::Client::builder()
            .timeout(DOWNLOAD_TIMEOUT)
            .build()
            .map_err(|e| ArtifactError::Http {
                url: source.to_string(),
                message: with_causes(&e),
            })?;
        let mut req = client.get(source);
        for (k, v) in a.getter_headers.iter().flatten() {
            req = req.header(k, v);
        }
        let resp = req.send().map_err(|e| ArtifactError::Http {
            url: source.to_string(),
            message: with_causes(&e),
        })?;
        if !resp.status().is_success() {
            return Err(ArtifactError::Status {
                url: source.to_string(),
                status: resp.status().as_u16(),
            });
        }
        let mut out = Vec::new();
        resp.take(MAX_ARTIFACT_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| ArtifactError::Http {
                url: source.to_string(),
                message: e.to_string(),
            })?;
        if out.len() as u64 > MAX_ARTIFACT_BYTES {
            return Err(ArtifactError::TooLarge {
                source_name: source.to_string(),
            });
        }
        return Ok(out);
    }
    let path = source.strip_prefix("file://").unwrap_or(source);
    if !path.starts_with('/') {
        return Err(ArtifactError::Unsupported(source.to_string()));
    }
    let path = Path::new(path);
    let len = std::fs::metadata(path).map_err(io(path))?.len();
    if len > MAX_ARTIFACT_BYTES {
        return Err(ArtifactError::TooLarge {
            source_name: source.to_string(),
        });
    }
    std::fs::read(path).map_err(io(path))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `bytes` against `type:hex`.
pub fn verify(source: &str, sum: &str, bytes: &[u8]) -> Result<(), ArtifactError> {
    let (kind, expected) = sum
        .split_once(':')
        .ok_or_else(|| ArtifactError::BadChecksumOption(sum.to_string()))?;
    let actual = match kind {
        "sha256" => hex(&sha2::Sha256::digest(bytes)),
        "sha512" => hex(&sha2::Sha512::digest(bytes)),
        _ => return Err(ArtifactError::BadChecksumOption(sum.to_string())),
    };
    let expected = expected.to_ascii_lowercase();
    if actual != expected {
        return Err(ArtifactError::ChecksumMismatch {
            source_name: source.to_string(),
            expected,
            actual,
        });
    }
    Ok(())
}

fn unzip(bytes: &[u8], dest: &Path) -> Result<(), ArtifactError> {
    let zerr = |e: zip::result::ZipError| ArtifactError::Io {
        path: dest.to_path_buf(),
        message: e.to_string(),
    };
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zerr)?;
    for i in 0..z.len() {
        let mut f = z.by_index(i).map_err(zerr)?;
        let Some(rel) = f.enclosed_name() else {
            return Err(ArtifactError::Escapes(f.name().to_string()));
        };
        let out = dest.join(rel);
        if f.is_dir() {
            std::fs::create_dir_all(&out).map_err(io(&out))?;
            continue;
        }
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut w = std::fs::File::create(&out).map_err(io(&out))?;
        std::io::copy(&mut f, &mut w).map_err(io(&out))?;
        #[cfg(unix)]
        if let Some(mode) = f.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode & 0o777))
                .map_err(io(&out))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn artifact(source: &str, checksum: Option<&str>) -> Artifact {
        Artifact {
            getter_source: Some(source.to_string()),
            getter_options: checksum.map(|c| {
                [("checksum".to_string(), serde_json::Value::String(c.into()))]
                    .into_iter()
                    .collect()
            }),
            ..Artifact::default()
        }
    }

    #[test]
    fn local_file_with_checksum_and_tarball() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("hello.txt");
        std::fs::write(&src, b"hello").unwrap();
        let task = d.path().join("task");
        let sum = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let got = fetch(&artifact(src.to_str().unwrap(), Some(sum)), &task).unwrap();
        assert_eq!(got, task.join("local/hello.txt"));
        assert_eq!(std::fs::read(&got).unwrap(), b"hello");

        let bad = fetch(&artifact(src.to_str().unwrap(), Some("sha256:00")), &task).unwrap_err();
        assert!(
            matches!(bad, ArtifactError::ChecksumMismatch { .. }),
            "{bad}"
        );
        assert!(bad.to_string().contains("checksums did not match"));

        // A tarball is unpacked into the destination.
        let tgz = d.path().join("bundle.tar.gz");
        {
            let f = std::fs::File::create(&tgz).unwrap();
            let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            let mut b = tar::Builder::new(gz);
            let mut h = tar::Header::new_gnu();
            h.set_size(3);
            h.set_mode(0o755);
            h.set_cksum();
            b.append_data(&mut h, "bin/run.sh", &b"abc"[..]).unwrap();
            b.into_inner().unwrap().finish().unwrap();
        }
        fetch(&artifact(tgz.to_str().unwrap(), None), &task).unwrap();
        assert_eq!(
            std::fs::read(task.join("local/bin/run.sh")).unwrap(),
            b"abc"
        );
    }

    #[test]
    fn destinations_stay_in_the_task_dir() {
        assert!(matches!(
            dest_in(Path::new("/t"), "../x"),
            Err(ArtifactError::Escapes(_))
        ));
        assert!(matches!(
            dest_in(Path::new("/t"), "/etc"),
            Err(ArtifactError::Escapes(_))
        ));
        assert_eq!(
            dest_in(Path::new("/t"), "local/x").unwrap(),
            Path::new("/t/local/x")
        );
        assert!(matches!(
            fetch(&artifact("ftp://x/y", None), Path::new("/t")),
            Err(ArtifactError::Unsupported(_))
        ));
    }
}
