pub mod error;
pub mod settings;
pub(crate) mod spans;
pub mod validate;

pub use error::{ConfigErrors, ConfigProblem, Origin};
pub use validate::Issue;
