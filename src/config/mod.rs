pub mod error;
pub mod settings;
pub(crate) mod spans;

pub use error::{ConfigErrors, ConfigProblem, Origin};
