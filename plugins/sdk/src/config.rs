//! The task's `config` block: typed parsing of `driver-config` JSON.
//!
//! [`parse`] deserializes into any serde type and reports failures as
//! [`DriverError::InvalidConfig`] whose message starts with the path of the
//! offending field (`args[1]: invalid type ...`, `command: missing field`).

use serde::de::DeserializeOwned;

use crate::DriverError;

/// Parses `driver_config` (the task's `config` block as JSON) into `T`.
///
/// An empty string or `null` is read as an empty object, so a task without
/// a config block gets `T`'s defaults (or a missing-field error).
pub fn parse<T: DeserializeOwned>(driver_config: &str) -> Result<T, DriverError> {
    let text = driver_config.trim();
    let text = if text.is_empty() || text == "null" {
        "{}"
    } else {
        text
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(to_error)?;
    de.end()
        .map_err(|e| DriverError::invalid_config("config", e))?;
    Ok(value)
}

fn to_error(err: serde_path_to_error::Error<serde_json::Error>) -> DriverError {
    let path = err.path().to_string();
    let inner = err.inner();
    let message = strip_position(&inner.to_string());
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        let field = if path == "." {
            field.to_string()
        } else {
            format!("{path}.{field}")
        };
        return DriverError::invalid_config(&field, "missing field");
    }
    let field = if path == "." { "config" } else { path.as_str() };
    DriverError::invalid_config(field, message)
}

/// serde_json appends " at line L column C"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Fails with an `invalid-config` error naming `field` when `value` is blank.
pub fn require_non_empty(field: &str, value: &str) -> Result<(), DriverError> {
    if value.trim().is_empty() {
        Err(DriverError::invalid_config(field, "must not be empty"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        command: String,
        #[serde(default)]
        args: Vec<String>,
    }

    #[test]
    fn parses_and_names_fields() {
        let c: Cfg = parse(r#"{"command":"/bin/true","args":["a"]}"#).unwrap();
        assert_eq!(c.args, vec!["a".to_string()]);

        let e = parse::<Cfg>("{}").unwrap_err();
        assert_eq!(
            e,
            DriverError::InvalidConfig("command: missing field".into())
        );

        let e = parse::<Cfg>(r#"{"command":"x","args":["a",5]}"#).unwrap_err();
        let DriverError::InvalidConfig(m) = e else {
            panic!("{e:?}")
        };
        assert!(m.starts_with("args[1]: invalid type"), "{m}");

        let e = parse::<Cfg>(r#"{"command":"x","bogus":1}"#).unwrap_err();
        let DriverError::InvalidConfig(m) = e else {
            panic!("{e:?}")
        };
        assert!(m.contains("bogus"), "{m}");

        let e = parse::<Cfg>("{not json").unwrap_err();
        assert!(matches!(e, DriverError::InvalidConfig(_)));
        assert!(matches!(
            parse::<Cfg>(""),
            Err(DriverError::InvalidConfig(_))
        ));
        assert!(require_non_empty("image", " ").is_err());
    }
}
