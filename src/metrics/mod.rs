//! Prometheus metrics: the names the daemon exports, the process-global recorder, and the
//! `/metrics` HTTP endpoint. Emitters use the `metrics` macros with the constants in
//! [`names`] and label keys in [`labels`].

mod error;
mod exporter;
mod http;
pub mod labels;
pub mod names;

pub use error::MetricsError;
pub use exporter::{install, MetricsHandle};
pub use http::serve;
pub use names::describe_all;
