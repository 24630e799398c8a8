//! File-system functions (`file`, `fileexists`, `fileset`, `filebase64`) and
//! path functions (`abspath`, `basename`, `dirname`, `pathexpand`).
//!
//! They see only what [`super::FnEnv`] hands in: files through a
//! [`FileSource`], relative paths against `base_dir`, `~` against `home_dir`.
//! As in Nomad, all eight fail with "filesystem function disabled" when the
//! environment has no file source (or there is no environment at all).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hcl::Value;
use hcl::eval::{FuncArgs, FuncDef, ParamType};

use super::{FnEnv, MAX_ELEMENTS, MAX_STRING_BYTES, with_current_env};

/// Where file(), fileexists(), fileset(), filebase64() etc. read from. None in FnEnv = disabled.
pub trait FileSource: std::fmt::Debug + Send + Sync {
    /// The contents of the file at `path`.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// Whether a regular file exists at `path`: `Ok(false)` when nothing is
    /// there, an error when something other than a regular file is.
    fn exists(&self, path: &Path) -> std::io::Result<bool>;
    /// Paths (relative to `base`, sorted) of regular files matching a glob pattern.
    fn glob(&self, base: &Path, pattern: &str) -> std::io::Result<Vec<String>>;
}

/// A [`FileSource`] over the real file system (`std::fs`, and the `glob`
/// crate for `fileset`).
///
/// The core crate does no I/O of its own; this implementation is the one
/// explicit exception, for the CLI and tests to pass in when a job file may
/// read files. Files larger than [`MAX_STRING_BYTES`] are refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdFileSource;

impl FileSource for StdFileSource {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        if meta.len() > MAX_STRING_BYTES as u64 {
            return Err(std::io::Error::other(format!(
                "file is larger than the limit of {MAX_STRING_BYTES} bytes"
            )));
        }
        std::fs::read(path)
    }

    fn exists(&self, path: &Path) -> std::io::Result<bool> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => Ok(true),
            Ok(_) => Err(std::io::Error::other("not a regular file")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn glob(&self, base: &Path, pattern: &str) -> std::io::Result<Vec<String>> {
        let base_str = base
            .to_str()
            .ok_or_else(|| std::io::Error::other("base directory is not valid UTF-8"))?;
        let full = format!(
            "{}/{}",
            glob::Pattern::escape(base_str.trim_end_matches('/')),
            pattern
        );
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let paths = glob::glob_with(&full, options)
            .map_err(|e| std::io::Error::other(format!("invalid pattern: {e}")))?;
        let mut out = Vec::new();
        for entry in paths {
            let path = entry.map_err(std::io::Error::from)?;
            if !path.is_file() {
                continue;
            }
            let rel = path.strip_prefix(base).unwrap_or(&path);
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
            if out.len() > MAX_ELEMENTS {
                return Err(std::io::Error::other(format!(
                    "more than {MAX_ELEMENTS} files match"
                )));
            }
        }
        out.sort();
        Ok(out)
    }
}

pub(super) fn register(defs: &mut Vec<(&'static str, FuncDef)>) {
    let one = |f| FuncDef::builder().param(ParamType::String).build(f);
    defs.push(("file", one(file)));
    defs.push(("filebase64", one(filebase64)));
    defs.push(("fileexists", one(fileexists)));
    defs.push(("abspath", one(abspath)));
    defs.push(("basename", one(basename)));
    defs.push(("dirname", one(dirname)));
    defs.push(("pathexpand", one(pathexpand)));
    defs.push((
        "fileset",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::String)
            .build(fileset),
    ));
}

/// The string in positional argument `i` (already type-checked by hcl-rs).
fn arg_str(args: &FuncArgs, i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or_default()
}

/// Runs `f` with the environment and its file source, or fails as disabled.
fn with_fs<R>(
    func: &str,
    f: impl FnOnce(&FnEnv, &dyn FileSource) -> Result<R, String>,
) -> Result<R, String> {
    with_current_env(|env| match env {
        Some(env) => match &env.fs {
            Some(fs) => f(env, fs.as_ref()),
            None => Err(format!("{func}: filesystem function disabled")),
        },
        None => Err(format!("{func}: filesystem function disabled")),
    })
}

/// Expands a leading `~` to the home directory.
fn expand_home(env: &FnEnv, path: &str, func: &str) -> Result<String, String> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path.to_string());
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(format!(
            "{func}: cannot expand user-specific home directory in {path:?}"
        ));
    }
    let home = env
        .home_dir
        .as_ref()
        .ok_or_else(|| format!("{func}: no home directory is known to expand {path:?}"))?;
    let home = home.to_string_lossy();
    Ok(format!("{}{rest}", home.trim_end_matches('/')))
}

/// Expands `~` and resolves a relative path against the base directory.
fn resolve(env: &FnEnv, path: &str, func: &str) -> Result<PathBuf, String> {
    let expanded = expand_home(env, path, func)?;
    let p = Path::new(&expanded);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        env.base_dir.join(p)
    })
}

/// Reads a file through the file source.
fn read(func: &str, path: &str) -> Result<Vec<u8>, String> {
    with_fs(func, |env, fs| {
        let full = resolve(env, path, func)?;
        fs.read(&full)
            .map_err(|e| format!("{func}: cannot read {path:?}: {e}"))
    })
}

/// `file(path)`: the contents as a UTF-8 string.
fn file(args: FuncArgs) -> Result<Value, String> {
    let path = arg_str(&args, 0);
    let bytes = read("file", path)?;
    String::from_utf8(bytes).map(Value::from).map_err(|_| {
        format!("file: contents of {path:?} are not valid UTF-8; use filebase64 for binary files")
    })
}

/// `filebase64(path)`: the contents, base64-encoded.
fn filebase64(args: FuncArgs) -> Result<Value, String> {
    let bytes = read("filebase64", arg_str(&args, 0))?;
    Ok(STANDARD.encode(bytes).into())
}

/// `fileexists(path)`: whether a regular file is there.
fn fileexists(args: FuncArgs) -> Result<Value, String> {
    let path = arg_str(&args, 0);
    with_fs("fileexists", |env, fs| {
        let full = resolve(env, path, "fileexists")?;
        fs.exists(&full)
            .map(Value::from)
            .map_err(|e| format!("fileexists: {path:?}: {e}"))
    })
}

/// `fileset(path, pattern)`: the sorted paths, relative to `path`, of the
/// regular files matching `pattern`.
fn fileset(args: FuncArgs) -> Result<Value, String> {
    let (path, pattern) = (arg_str(&args, 0), arg_str(&args, 1));
    with_fs("fileset", |env, fs| {
        let base = resolve(env, path, "fileset")?;
        glob::Pattern::new(pattern)
            .map_err(|e| format!("fileset: invalid pattern {pattern:?}: {e}"))?;
        let found = fs
            .glob(&base, pattern)
            .map_err(|e| format!("fileset: {e}"))?;
        Ok(Value::Array(found.into_iter().map(Value::String).collect()))
    })
}

/// Go's `filepath.Clean` for `/`-separated paths.
fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            c => parts.push(c),
        }
    }
    let body = parts.join("/");
    if rooted {
        format!("/{body}")
    } else if body.is_empty() {
        ".".into()
    } else {
        body
    }
}

/// `abspath(path)`: absolute and cleaned, relative to the base directory.
fn abspath(args: FuncArgs) -> Result<Value, String> {
    let path = arg_str(&args, 0);
    with_fs("abspath", |env, _| {
        let full = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{path}", env.base_dir.to_string_lossy())
        };
        Ok(clean(&full).into())
    })
}

/// `basename(path)`: the last element, as Go's `filepath.Base`.
fn basename(args: FuncArgs) -> Result<Value, String> {
    let path = arg_str(&args, 0);
    with_fs("basename", |_, _| {
        if path.is_empty() {
            return Ok(".".into());
        }
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok("/".into());
        }
        Ok(trimmed.rsplit('/').next().unwrap_or(trimmed).into())
    })
}

/// `dirname(path)`: all but the last element, as Go's `filepath.Dir`.
fn dirname(args: FuncArgs) -> Result<Value, String> {
    let path = arg_str(&args, 0);
    with_fs("dirname", |_, _| {
        let dir = match path.rfind('/') {
            Some(i) => &path[..=i],
            None => "",
        };
        Ok(clean(dir).into())
    })
}

/// `pathexpand(path)`: replaces a leading `~` with the home directory.
fn pathexpand(args: FuncArgs) -> Result<Value, String> {
    let path = arg_str(&args, 0);
    with_fs("pathexpand", |env, _| {
        expand_home(env, path, "pathexpand").map(Value::from)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::testutil::{assert_err, eval};
    use super::super::{FnEnv, with_env};
    use super::*;

    /// A fresh empty directory under the system temp directory.
    fn temp_dir(name: &str) -> std::io::Result<PathBuf> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("sched-fn-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn env_for(dir: &Path) -> FnEnv {
        FnEnv {
            fs: Some(Arc::new(StdFileSource)),
            base_dir: dir.to_path_buf(),
            home_dir: Some(PathBuf::from("/home/alice")),
            now: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        }
    }

    #[test]
    fn reads_files() -> std::io::Result<()> {
        let dir = temp_dir("read")?;
        std::fs::write(dir.join("hello.txt"), "Hello World")?;
        std::fs::write(dir.join("bin"), [0xffu8, 0x00])?;
        std::fs::create_dir_all(dir.join("sub/deep"))?;
        std::fs::write(dir.join("sub/a.txt"), "a")?;
        std::fs::write(dir.join("sub/b.tpl"), "b")?;
        std::fs::write(dir.join("sub/deep/c.txt"), "c")?;
        let abs = dir.join("hello.txt");
        let abs = abs.to_string_lossy();
        with_env(env_for(&dir), || {
            assert_eq!(eval(r#"file("hello.txt")"#), Ok("Hello World".into()));
            assert_eq!(eval(&format!("file({abs:?})")), Ok("Hello World".into()));
            assert_err(r#"file("missing.txt")"#, "cannot read \"missing.txt\"");
            assert_err(r#"file("bin")"#, "not valid UTF-8");
            assert_err(r#"file("sub")"#, "not a regular file");
            assert_eq!(eval(r#"filebase64("bin")"#), Ok("/wA=".into()));
            assert_err(r#"filebase64("nope")"#, "cannot read");
            assert_eq!(eval(r#"fileexists("hello.txt")"#), Ok(true.into()));
            assert_eq!(eval(r#"fileexists("nope.txt")"#), Ok(false.into()));
            assert_err(r#"fileexists("sub")"#, "not a regular file");
            assert_eq!(eval(r#"fileset("sub", "*.txt")"#), eval(r#"["a.txt"]"#));
            assert_eq!(
                eval(r#"fileset(".", "sub/**/*.txt")"#),
                eval(r#"["sub/a.txt", "sub/deep/c.txt"]"#)
            );
            assert_eq!(eval(r#"fileset("sub", "*.nothing")"#), eval("[]"));
            assert_err(r#"fileset(".", "[")"#, "invalid pattern");
        });
        std::fs::remove_dir_all(&dir)
    }

    #[test]
    fn paths() {
        let env = env_for(Path::new("/jobs/web"));
        with_env(env, || {
            assert_eq!(eval(r#"abspath("a/../b/./c")"#), Ok("/jobs/web/b/c".into()));
            assert_eq!(eval(r#"abspath("/x//y/")"#), Ok("/x/y".into()));
            assert_err("abspath(1)", "string");
            assert_eq!(eval(r#"basename("foo/bar/baz.txt")"#), Ok("baz.txt".into()));
            assert_eq!(eval(r#"basename("/a/b/")"#), Ok("b".into()));
            assert_eq!(eval(r#"basename("/")"#), Ok("/".into()));
            assert_eq!(eval(r#"basename("")"#), Ok(".".into()));
            assert_err("basename([])", "string");
            assert_eq!(eval(r#"dirname("foo/bar/baz.txt")"#), Ok("foo/bar".into()));
            assert_eq!(eval(r#"dirname("baz.txt")"#), Ok(".".into()));
            assert_eq!(eval(r#"dirname("/baz.txt")"#), Ok("/".into()));
            assert_err("dirname(null)", "string");
            assert_eq!(
                eval(r#"pathexpand("~/.ssh/id")"#),
                Ok("/home/alice/.ssh/id".into())
            );
            assert_eq!(eval(r#"pathexpand("/etc/x")"#), Ok("/etc/x".into()));
            assert_err(r#"pathexpand("~bob/x")"#, "user-specific");
        });
        let mut no_home = env_for(Path::new("/"));
        no_home.home_dir = None;
        with_env(no_home, || {
            assert_err(r#"pathexpand("~/x")"#, "no home directory");
        });
    }

    #[test]
    fn disabled_without_file_source() {
        let mut env = env_for(Path::new("/"));
        env.fs = None;
        for expr in [
            r#"file("x")"#,
            r#"filebase64("x")"#,
            r#"fileexists("x")"#,
            r#"fileset(".", "*")"#,
            r#"abspath("x")"#,
            r#"basename("x")"#,
            r#"dirname("x")"#,
            r#"pathexpand("x")"#,
        ] {
            with_env(env.clone(), || {
                assert_err(expr, "filesystem function disabled")
            });
            // Outside any environment too.
            assert_err(expr, "filesystem function disabled");
        }
    }
}
