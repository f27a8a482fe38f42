//! Helpers shared by the integration tests of `shmring`: the workspace's
//! test kit, for shmring's segment files.

pub use ringspec_testkit::unique;
use ringspec_testkit::Shm;

/// shmring's segment files (`/dev/shm/shmring-NAME`).
pub const SHM: Shm = Shm::new(shmring::OS_PREFIX);
