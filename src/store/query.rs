//! The filters of `/api/v1/activities`, which the store turns into SQL.

/// Filters of `/api/v1/activities`.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub project: Option<String>,
    pub environment: Option<String>,
    pub kind: Option<String>,
    /// `success`, `failure` or `cancelled`.
    pub result: Option<String>,
    pub limit: usize,
}
