//! Typed identifiers for cluster objects, and the serde helpers that read
//! Nomad's JSON conventions for them (empty string or `null` for "none").
//!
//! Node, allocation, evaluation and deployment IDs are UUID strings wrapped in
//! their own types so one cannot be passed where another is meant. Job IDs and
//! namespaces stay plain `String`s: users choose them, they appear in job files
//! as free text, and the job model (which mirrors Nomad's `api.Job`) keeps them
//! optional until canonicalisation.

use std::fmt;

use serde::{Deserialize, Deserializer};

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// A fresh random (version 4) UUID.
            pub fn generate() -> Self {
                $name(uuid::Uuid::new_v4().to_string())
            }

            /// A deterministic UUID built from `n`, for tests and simulations.
            pub fn from_u128(n: u128) -> Self {
                $name(uuid::Uuid::from_u128(n).to_string())
            }

            /// The first 8 characters, as the CLI shows IDs.
            pub fn short(&self) -> &str {
                self.0.get(..8).unwrap_or(&self.0)
            }

            /// The full ID.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether the ID is the empty string (Nomad's "none").
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }
    };
}

uuid_id!(
    /// Identifies a client node; generated once by the client and kept.
    NodeId
);
uuid_id!(
    /// Identifies an allocation.
    AllocId
);
uuid_id!(
    /// Identifies an evaluation.
    EvalId
);
uuid_id!(
    /// Identifies a deployment.
    DeploymentId
);

/// Reads an optional ID where Nomad writes `""` or `null` for "none".
pub(crate) fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    Ok(Option::<String>::deserialize(d)?
        .filter(|s| !s.is_empty())
        .map(T::from))
}

/// Reads a concrete field where Go may write `null` (nil slices and maps).
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_short_display() {
        let a = NodeId::generate();
        let b = NodeId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 36);
        assert_eq!(a.short().len(), 8);
        assert!(a.as_str().starts_with(a.short()));
        let d = EvalId::from_u128(1);
        assert_eq!(d.to_string(), "00000000-0000-0000-0000-000000000001");
        assert_eq!(d, EvalId::from_u128(1));
        assert_eq!(AllocId::from("abc").short(), "abc");
    }

    #[test]
    fn serde_transparent() {
        let id = DeploymentId::from_u128(7);
        let v = serde_json::to_value(&id).unwrap_or_default();
        assert_eq!(v, serde_json::json!("00000000-0000-0000-0000-000000000007"));
    }
}
