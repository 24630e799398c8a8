//! Loading an image archive (`docker load`) from a file on the host.
//!
//! Owns checking the archive path, streaming the file to
//! `POST /images/load` in fixed-size chunks (never the whole archive in
//! memory) and reading the loaded image's name from the engine's progress
//! messages. Resolving a driver's path under the task directory is the host
//! adapter's job, not this module's.

use std::io;
use std::path::{Component, Path};

use bytes::Bytes;
use http_body_util::{BodyExt, Channel};
use hyper::Method;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::error::DockerError;
use super::transport::Transport;

/// How much of the archive is read and sent at a time.
const CHUNK: usize = 64 * 1024;

/// Refuses archive paths with `..` components; the host adapter resolves
/// driver paths under the task directory and they must not climb out.
pub(crate) fn check_archive_path(path: &Path) -> Result<(), DockerError> {
    if path.as_os_str().is_empty() {
        return Err(DockerError::Forbidden(
            "image archive path is empty".to_owned(),
        ));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(DockerError::Forbidden(format!(
            "image archive path {} contains `..`",
            path.display()
        )));
    }
    Ok(())
}

/// Streams the archive at `path` to the engine and returns the name of the
/// image it loaded (its first tag, or its ID when it has none).
pub(crate) async fn load(transport: &Transport, path: &Path) -> Result<String, DockerError> {
    let file = tokio::fs::File::open(path).await.map_err(|error| {
        DockerError::io(format!("opening image archive {}", path.display()), error)
    })?;
    let metadata = file.metadata().await.map_err(|error| {
        DockerError::io(format!("reading image archive {}", path.display()), error)
    })?;
    if !metadata.is_file() {
        return Err(DockerError::io(
            format!("reading image archive {}", path.display()),
            io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    let (mut sender, body) = Channel::<Bytes, io::Error>::new(2);
    let reader = tokio::spawn(async move {
        let mut file = file;
        loop {
            let mut chunk = vec![0; CHUNK];
            match file.read(&mut chunk).await {
                Ok(0) => break,
                Ok(read) => {
                    chunk.truncate(read);
                    if sender.send_data(Bytes::from(chunk)).await.is_err() {
                        break;
                    }
                }
                Err(error) => {
                    sender.abort(error);
                    break;
                }
            }
        }
    });
    let answer = transport
        .exchange(
            Method::POST,
            "/images/load?quiet=1",
            body.boxed(),
            Some("application/x-tar"),
        )
        .await;
    reader.abort();
    let answer = answer?;
    let status = answer.status.as_u16();
    if !answer.status.is_success() {
        return Err(DockerError::Api {
            status,
            message: super::error_message(&answer.body),
        });
    }
    loaded_image(status, &answer.body)
}

/// Reads the loaded image's name from the engine's stream of JSON progress
/// messages (`{"stream":"Loaded image: name:tag\n"}`, or
/// `Loaded image ID: sha256:...` for an untagged image).
fn loaded_image(status: u16, body: &[u8]) -> Result<String, DockerError> {
    let mut image_id = None;
    for message in serde_json::Deserializer::from_slice(body).into_iter::<Value>() {
        let message = message.map_err(|error| DockerError::Api {
            status,
            message: format!("unreadable image load progress: {error}"),
        })?;
        if let Some(error) = message.get("error").and_then(Value::as_str) {
            return Err(DockerError::Api {
                status,
                message: error.to_owned(),
            });
        }
        let Some(text) = message.get("stream").and_then(Value::as_str) else {
            continue;
        };
        for line in text.lines() {
            if let Some(id) = line.strip_prefix("Loaded image ID: ") {
                image_id.get_or_insert_with(|| id.trim().to_owned());
            } else if let Some(name) = line.strip_prefix("Loaded image: ") {
                return Ok(name.trim().to_owned());
            }
        }
    }
    image_id.ok_or_else(|| DockerError::Api {
        status,
        message: "the engine loaded no image from the archive".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tag_or_the_id() {
        let tagged = br#"{"stream":"Loaded image: sched-busybox:latest\n"}"#;
        assert_eq!(loaded_image(200, tagged).unwrap(), "sched-busybox:latest");
        let untagged = b"{\"stream\":\"Loaded image ID: sha256:abc\\n\"}\r\n";
        assert_eq!(loaded_image(200, untagged).unwrap(), "sha256:abc");
        let failed = br#"{"errorDetail":{"message":"bad tar"},"error":"bad tar"}"#;
        assert!(matches!(
            loaded_image(200, failed),
            Err(DockerError::Api { message, .. }) if message == "bad tar"
        ));
        assert!(loaded_image(200, b"").is_err());
    }

    #[test]
    fn refuses_climbing_paths() {
        assert!(check_archive_path(Path::new("/alloc/task/local/image.tar")).is_ok());
        assert!(check_archive_path(Path::new("local/../../etc/shadow")).is_err());
        assert!(check_archive_path(Path::new("")).is_err());
    }
}
