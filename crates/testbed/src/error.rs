//! Errors of the testbed.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a testbed could not be started or changed.
#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    /// The control-plane binaries are not there: Go is missing or `testbed/build` failed.
    #[error("{0}")]
    Unavailable(String),
    /// A component exited or never became ready; `tail` holds the end of its log.
    #[error("{component} failed: {reason}; log {log}, last lines:\n{tail}")]
    ComponentFailed {
        /// Component name, e.g. "kube-apiserver".
        component: String,
        /// What went wrong.
        reason: String,
        /// The component's log file.
        log: PathBuf,
        /// The last lines of that log.
        tail: String,
    },
    /// A file or process operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file, directory or program involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Generating certificates or keys failed.
    #[error("generating certificates: {0}")]
    Certificates(String),
    /// Building a Kubernetes client or talking to the apiserver failed.
    #[error("kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// A kubeconfig could not be loaded.
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The kubeconfig file.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },
    /// Something did not happen in time.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The caller asked for something the testbed was not started with.
    #[error("{0}")]
    Usage(String),
}

impl TestbedError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        TestbedError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

impl From<rcgen::Error> for TestbedError {
    fn from(e: rcgen::Error) -> Self {
        TestbedError::Certificates(e.to_string())
    }
}
