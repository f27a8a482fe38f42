//! Ring names and how they map to POSIX shared-memory object names.

use crate::error::{Error, Result};

/// Longest accepted ring name, bytes.
pub const MAX_NAME_LEN: usize = 200;

/// Prefix of every shmring object in `/dev/shm`: ring `jobs` lives in
/// `/dev/shm/shmring-jobs`. It keeps our objects apart from other programs'
/// and lets `shmring ls` find them without opening foreign files.
pub const OS_PREFIX: &str = "shmring-";

/// A validated ring name: 1 to [`MAX_NAME_LEN`] bytes of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RingName(String);

impl RingName {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`Error::InvalidName`] if it is empty, longer than [`MAX_NAME_LEN`]
    /// bytes, or holds a byte outside `[A-Za-z0-9._-]`.
    ///
    /// ```
    /// use shmring::RingName;
    /// assert!(RingName::new("jobs.v2").is_ok());
    /// assert!(RingName::new("a/b").is_err());
    /// ```
    pub fn new(name: &str) -> Result<Self> {
        let reason = if name.is_empty() {
            Some("empty")
        } else if name.len() > MAX_NAME_LEN {
            Some("longer than 200 bytes")
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            Some("only A-Z, a-z, 0-9, '.', '_' and '-' are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidName {
                name: name.to_owned(),
                reason,
            }),
            None => Ok(RingName(name.to_owned())),
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The POSIX shared-memory object name, `/shmring-<name>`.
    pub fn os_name(&self) -> String {
        format!("/{OS_PREFIX}{}", self.0)
    }
}

impl std::fmt::Display for RingName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
