//! Validation (placeholder).
/// x
#[derive(Debug)]
pub struct PathSegment;
/// x
#[derive(Debug)]
pub struct ValidationError;
/// x
#[derive(Debug)]
pub struct ValidationErrors;
