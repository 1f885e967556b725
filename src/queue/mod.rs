//! Queue (placeholder).
