//! The crate-wide error type.
//!
//! Every failure a user can cause (a bad file, an unknown hook name, a malformed JSONL line)
//! becomes an [`Error`] whose message names the file, field or value at fault, so the CLI can
//! print it and exit non-zero instead of panicking.

use std::path::PathBuf;

/// Errors returned by mindlens' library API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or parsing a GGUF file failed.
    #[error(transparent)]
    Gguf(#[from] crate::gguf::GgufError),
    /// Building or running a tokenizer failed.
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    /// Rendering a chat template failed.
    #[error(transparent)]
    Chat(#[from] crate::chat::ChatError),
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file exists but its content is wrong (bad JSON, missing field, wrong shape...).
    #[error("{path}: {msg}")]
    BadFile {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A model checkpoint is not usable (unsupported architecture, missing tensor...).
    #[error("model {model}: {msg}")]
    Model {
        /// The model name or path.
        model: String,
        /// What is wrong.
        msg: String,
    },
    /// A hook name that does not exist, or a layer out of range.
    #[error("hook {name:?}: {msg}")]
    Hook {
        /// The name as given.
        name: String,
        /// Why it is rejected.
        msg: String,
    },
    /// A user-supplied value is invalid (a steering vector of the wrong length, an option...).
    #[error("{0}")]
    Invalid(String),
    /// An `.npy` file could not be read or written.
    #[error("{path}: {msg}")]
    Npy {
        /// The `.npy` file.
        path: PathBuf,
        /// The reason.
        msg: String,
    },
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A content error in a named file.
    pub fn bad_file(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// A problem with a model checkpoint.
    pub fn model(model: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Model {
            model: model.into(),
            msg: msg.into(),
        }
    }
}
