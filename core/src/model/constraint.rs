//! Placement rules: constraints (hard), affinities (soft) and spreads.

use serde::{Deserialize, Serialize};

/// A hard placement filter: `LTarget Operand RTarget` must hold on the node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Constraint {
    /// Attribute or interpolation on the left side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l_target: Option<String>,
    /// Value on the right side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r_target: Option<String>,
    /// Comparison; `=` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operand: Option<String>,
}

/// A soft placement preference scored by `Weight`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Affinity {
    /// Attribute or interpolation on the left side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l_target: Option<String>,
    /// Value on the right side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r_target: Option<String>,
    /// Comparison; `=` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operand: Option<String>,
    /// Preference strength in -100..=100; negative repels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i8>,
}

/// Spreads allocations over the values of an attribute.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Spread {
    /// Node attribute whose values are spread over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// Importance relative to other spreads (0..=100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i8>,
    /// Desired share per value; absent means even.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_target: Option<Vec<SpreadTarget>>,
}

/// Desired share of allocations for one attribute value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SpreadTarget {
    /// Attribute value (block label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Share in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
}
