//! The HCL function library (minimal stand-in until the full library lands).
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where file functions read from.
pub trait FileSource: std::fmt::Debug + Send + Sync {
    /// Reads a file.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// Whether a file exists.
    fn exists(&self, path: &Path) -> std::io::Result<bool>;
    /// Files matching a pattern.
    fn glob(&self, base: &Path, pattern: &str) -> std::io::Result<Vec<String>>;
}
/// std::fs.
#[derive(Debug)]
pub struct StdFileSource;
impl FileSource for StdFileSource {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn exists(&self, path: &Path) -> std::io::Result<bool> {
        Ok(path.exists())
    }
    fn glob(&self, _: &Path, _: &str) -> std::io::Result<Vec<String>> {
        Ok(Vec::new())
    }
}
/// What functions see.
#[derive(Debug, Clone)]
pub struct FnEnv {
    /// fs
    pub fs: Option<Arc<dyn FileSource>>,
    /// base
    pub base_dir: PathBuf,
    /// home
    pub home_dir: Option<PathBuf>,
    /// now
    pub now: chrono::DateTime<chrono::Utc>,
}
/// Runs f with env.
pub fn with_env<R>(_env: FnEnv, f: impl FnOnce() -> R) -> R {
    f()
}
/// Declares functions.
pub fn declare_all(ctx: &mut hcl::eval::Context<'_>) {
    use hcl::eval::{FuncArgs, FuncDef, ParamType};
    fn upper(a: FuncArgs) -> Result<hcl::Value, String> {
        Ok(hcl::Value::String(
            a[0].as_str().unwrap_or("").to_uppercase(),
        ))
    }
    fn format(a: FuncArgs) -> Result<hcl::Value, String> {
        Ok(hcl::Value::String(
            format!(
                "{}{}",
                a[0].as_str().unwrap_or(""),
                a.iter()
                    .skip(1)
                    .map(|v| match v {
                        hcl::Value::String(s) => s.clone(),
                        o => o.to_string(),
                    })
                    .collect::<String>()
            )
            .replace("%s", ""),
        ))
    }
    ctx.declare_func("upper", FuncDef::new(upper, [ParamType::String]));
    ctx.declare_func(
        "format",
        FuncDef::builder()
            .param(ParamType::String)
            .variadic_param(ParamType::Any)
            .build(format),
    );
}
/// Names.
pub const NAMES: &[&str] = &["upper", "format", "try", "can", "lookup", "file"];
