//! Hash and identifier functions: `md5`, `sha1`, `sha256`, `sha512` (hex of
//! the UTF-8 bytes), `bcrypt` (cost-capped), `rsadecrypt`, `uuidv4` and
//! `uuidv5`.

use hcl::Value;
use hcl::eval::{FuncArgs, FuncDef, ParamType};
use sha2::Digest;

use super::int_of;

/// The highest bcrypt cost accepted; each step doubles the work, and higher
/// costs would stall a parse for seconds or more.
pub const MAX_BCRYPT_COST: u32 = 14;

/// The cost `bcrypt` uses when none is given (as Terraform does).
const DEFAULT_BCRYPT_COST: u32 = 10;

pub(super) fn register(defs: &mut Vec<(&'static str, FuncDef)>) {
    let one = |f| FuncDef::builder().param(ParamType::String).build(f);
    defs.push(("md5", one(md5)));
    defs.push(("sha1", one(sha1)));
    defs.push(("sha256", one(sha256)));
    defs.push(("sha512", one(sha512)));
    defs.push((
        "bcrypt",
        FuncDef::builder()
            .param(ParamType::String)
            .variadic_param(ParamType::Number)
            .build(bcrypt),
    ));
    defs.push((
        "rsadecrypt",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::String)
            .build(rsadecrypt),
    ));
    defs.push(("uuidv4", FuncDef::builder().build(uuidv4)));
    defs.push((
        "uuidv5",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::String)
            .build(uuidv5),
    ));
}

/// The string in positional argument `i` (already type-checked by hcl-rs).
fn arg_str(args: &FuncArgs, i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or_default()
}

/// Lower-case hex of some bytes.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn md5(args: FuncArgs) -> Result<Value, String> {
    Ok(hex(&md5::Md5::digest(arg_str(&args, 0).as_bytes())).into())
}

fn sha1(args: FuncArgs) -> Result<Value, String> {
    Ok(hex(&sha1::Sha1::digest(arg_str(&args, 0).as_bytes())).into())
}

fn sha256(args: FuncArgs) -> Result<Value, String> {
    Ok(hex(&sha2::Sha256::digest(arg_str(&args, 0).as_bytes())).into())
}

fn sha512(args: FuncArgs) -> Result<Value, String> {
    Ok(hex(&sha2::Sha512::digest(arg_str(&args, 0).as_bytes())).into())
}

/// `bcrypt(string, cost?)`: a `$2a$` hash with a random salt.
fn bcrypt(args: FuncArgs) -> Result<Value, String> {
    let cost = match args.len() {
        1 => DEFAULT_BCRYPT_COST,
        2 => {
            let c = int_of(&args[1], "bcrypt", "cost")?;
            u32::try_from(c)
                .ok()
                .filter(|c| (4..=MAX_BCRYPT_COST).contains(c))
                .ok_or_else(|| {
                    format!("bcrypt: cost {c} must be between 4 and {MAX_BCRYPT_COST}")
                })?
        }
        n => return Err(format!("bcrypt: expected 1 or 2 arguments, got {n}")),
    };
    let password = arg_str(&args, 0);
    if password.len() > 72 {
        return Err("bcrypt: the string is longer than bcrypt's limit of 72 bytes".into());
    }
    bcrypt::hash_with_result(password, cost)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA).into())
        .map_err(|e| format!("bcrypt: {e}"))
}

/// `rsadecrypt(ciphertext_base64, private_key_pem)`: PKCS #1 v1.5
/// decryption with a PKCS #1 or PKCS #8 PEM private key.
fn rsadecrypt(args: FuncArgs) -> Result<Value, String> {
    use base64::Engine;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(arg_str(&args, 0).trim())
        .map_err(|e| format!("rsadecrypt: ciphertext is not valid base64: {e}"))?;
    let pem = arg_str(&args, 1);
    let key = rsa::PrivateKey::from_pkcs1_pem(pem)
        .or_else(|_| rsa::PrivateKey::from_pkcs8_pem(pem))
        .map_err(|_| {
            "rsadecrypt: private key is not a PEM-encoded PKCS #1 or PKCS #8 RSA key".to_string()
        })?;
    let plain = key
        .decrypt(rsa::Pkcs1v15Encrypt, &ciphertext)
        .map_err(|e| format!("rsadecrypt: cannot decrypt: {e}"))?;
    String::from_utf8(plain)
        .map(Value::from)
        .map_err(|_| "rsadecrypt: the decrypted message is not valid UTF-8 (wrong key?)".into())
}

fn uuidv4(_args: FuncArgs) -> Result<Value, String> {
    Ok(uuid::Uuid::new_v4().to_string().into())
}

/// `uuidv5(namespace, name)`: namespace is `dns`, `url`, `oid`, `x500` or a UUID.
fn uuidv5(args: FuncArgs) -> Result<Value, String> {
    let ns = match arg_str(&args, 0) {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other).map_err(|_| {
            format!("uuidv5: namespace {other:?} must be dns, url, oid, x500 or a UUID")
        })?,
    };
    Ok(uuid::Uuid::new_v5(&ns, arg_str(&args, 1).as_bytes())
        .to_string()
        .into())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_err, assert_eval, eval};

    #[test]
    fn digests() {
        assert_eval(
            r#"md5("hello world")"#,
            r#""5eb63bbbe01eeed093cb22bb8f5acdc3""#,
        );
        assert_err("md5(1)", "string");
        assert_eval(
            r#"sha1("hello world")"#,
            r#""2aae6c35c94fcfb415dbe95f408b9ce91ee846ed""#,
        );
        assert_err("sha1([])", "string");
        assert_eval(
            r#"sha256("hello world")"#,
            r#""b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9""#,
        );
        assert_err("sha256(null)", "string");
        assert_eval(
            r#"sha512("hello world")"#,
            r#""309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f""#,
        );
        assert_err("sha512({})", "string");
    }

    #[test]
    fn bcrypt_hashes() {
        let Ok(hcl::Value::String(h)) = eval(r#"bcrypt("hello", 4)"#) else {
            panic!("bcrypt failed");
        };
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert_eq!(bcrypt::verify("hello", &h).ok(), Some(true));
        assert_err(r#"bcrypt("hello", 3)"#, "between 4 and 14");
        assert_err(r#"bcrypt("hello", 31)"#, "between 4 and 14");
        assert_err(r#"bcrypt("hello", 4, 5)"#, "1 or 2 arguments");
        assert_err(r#"bcrypt("hello", 4.5)"#, "whole number");
    }

    #[test]
    fn rsa_decryption() {
        let ct = include_str!("testdata/rsa_ciphertext.b64").trim();
        for key in [
            include_str!("testdata/rsa_pkcs1.pem"),
            include_str!("testdata/rsa_pkcs8.pem"),
        ] {
            let expr = format!("rsadecrypt({ct:?}, {key:?})");
            assert_eq!(eval(&expr), Ok("Hello, sched".into()));
        }
        let key = include_str!("testdata/rsa_pkcs1.pem");
        assert_err(&format!("rsadecrypt(\"!!\", {key:?})"), "not valid base64");
        assert_err(
            &format!("rsadecrypt({ct:?}, \"nope\")"),
            "not a PEM-encoded",
        );
        assert_err(&format!("rsadecrypt(\"AAAA\", {key:?})"), "cannot decrypt");
    }

    #[test]
    fn uuids() {
        let Ok(hcl::Value::String(u)) = eval("uuidv4()") else {
            panic!("uuidv4 failed");
        };
        assert_eq!(
            uuid::Uuid::parse_str(&u).map(|u| u.get_version_num()),
            Ok(4)
        );
        assert_ne!(eval("uuidv4()"), eval("uuidv4()"));
        assert_err("uuidv4(1)", "positional arguments");
        assert_eval(
            r#"uuidv5("dns", "www.terraform.io")"#,
            r#""a5008fae-b28c-5ba5-96cd-82b4c53552d6""#,
        );
        assert_eval(
            r#"uuidv5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.terraform.io")"#,
            r#""a5008fae-b28c-5ba5-96cd-82b4c53552d6""#,
        );
        assert_eval(
            r#"uuidv5("url", "https://www.terraform.io/")"#,
            r#""9db6f67c-dd95-5ea0-aa5b-e70e5c5f7cf5""#,
        );
        assert_err(
            r#"uuidv5("bogus", "x")"#,
            "must be dns, url, oid, x500 or a UUID",
        );
    }
}
