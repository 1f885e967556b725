//! Settings, their loading from `hotline.toml` and the environment, and their validation.

pub mod error;
pub mod load;
pub mod settings;
pub mod validate;

pub use error::{ConfigErrors, ConfigProblem, Origin};
pub use load::{load, load_with, LoadOptions, LoadedConfig};
