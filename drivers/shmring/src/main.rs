//! `shmring-driver`: the built-in ring, `shmring`, served over the ring
//! driver protocol on stdin/stdout, for `ringcheck` (its default target)
//! and any other harness that speaks the protocol.
//!
//! It is also the example of a Rust driver: `ringcheck-protocol` does the
//! protocol; this file only maps shmring's calls and errors onto it.
//!
//! `shmring-driver --single-roles` creates every ring with
//! [`Config::single_roles`] (one producer and one consumer handle at a
//! time, no lock on the data path) and declares the roles
//! `{"producers": 1, "consumers": 1}` in `hello`.

use clap::Parser;
use ringcheck_protocol::{
    serve_stdio, DriverError, ErrorCode, Feature, Implementation, Ring, Roles,
};
use shmring::{Config, Error, SharedBuffer};
use std::time::Duration;

/// Serves the shmring ring over the ring driver protocol on stdin/stdout.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Create rings with single roles (one producer handle and one consumer
    /// handle at a time) and declare roles 1/1 in hello.
    #[arg(long)]
    single_roles: bool,
    /// Free text shown in the process table and otherwise ignored, so that
    /// a script can find the drivers it started (`pgrep -f`).
    #[arg(long, value_name = "TEXT")]
    label: Option<String>,
}

/// `shmring` as a driver [`Implementation`].
struct Shmring {
    /// Rings are created with [`Config::single_roles`].
    single_roles: bool,
}

/// A `shmring` handle as a driver [`Ring`].
struct ShmringRing(SharedBuffer);

fn code(e: Error) -> DriverError {
    let c = match &e {
        Error::NotFound { .. } => ErrorCode::NotFound,
        Error::AlreadyExists { .. } => ErrorCode::Exists,
        Error::TooLarge { .. } => ErrorCode::TooLarge,
        Error::InvalidConfig { .. } | Error::InvalidName { .. } => ErrorCode::Invalid,
        Error::Corrupt { .. } => ErrorCode::Corrupt,
        Error::Closed => ErrorCode::Closed,
        _ => ErrorCode::Internal,
    };
    DriverError::new(c, e.to_string())
}

fn geometry(n: u64, what: &str) -> Result<u32, DriverError> {
    u32::try_from(n)
        .map_err(|_| DriverError::new(ErrorCode::Invalid, format!("{what} {n} is too large")))
}

impl Implementation for Shmring {
    type Ring = ShmringRing;

    fn name(&self) -> String {
        let roles = if self.single_roles {
            " (single roles)"
        } else {
            ""
        };
        format!("shmring {}{roles}", env!("CARGO_PKG_VERSION"))
    }

    fn features(&self) -> Vec<Feature> {
        Feature::ALL.to_vec()
    }

    fn roles(&self) -> Roles {
        if self.single_roles {
            Roles::SPSC
        } else {
            Roles::ANY
        }
    }

    fn create(
        &self,
        name: &str,
        capacity: u64,
        item_size: u64,
    ) -> Result<ShmringRing, DriverError> {
        let mut config = Config::new(
            geometry(capacity, "capacity")?,
            geometry(item_size, "item_size")?,
        );
        if self.single_roles {
            config = config.single_roles();
        }
        SharedBuffer::create(name, config)
            .map(ShmringRing)
            .map_err(code)
    }

    fn open(&self, name: &str) -> Result<(ShmringRing, u64, u64), DriverError> {
        let ring = SharedBuffer::open(name).map_err(code)?;
        let (c, s) = (ring.capacity() as u64, ring.item_size() as u64);
        Ok((ShmringRing(ring), c, s))
    }
}

impl Ring for ShmringRing {
    fn put(&self, data: &[u8]) -> Result<bool, DriverError> {
        self.0.put(data).map_err(code)
    }

    fn get(&self) -> Result<Option<Vec<u8>>, DriverError> {
        self.0.get().map_err(code)
    }

    fn len(&self) -> Result<u64, DriverError> {
        self.0.len().map(|n| n as u64).map_err(code)
    }

    fn close(&mut self) -> Result<(), DriverError> {
        self.0.close().map_err(code)
    }

    fn put_wait(&self, data: &[u8], timeout: Duration) -> Result<bool, DriverError> {
        self.0.put_timeout(data, timeout).map_err(code)
    }

    fn get_wait(&self, timeout: Duration) -> Result<Option<Vec<u8>>, DriverError> {
        self.0.get_timeout(timeout).map_err(code)
    }

    fn corrupt(&self) -> Result<(), DriverError> {
        match self.0.corrupt_oldest().map_err(code)? {
            true => Ok(()),
            false => Err(DriverError::new(
                ErrorCode::Invalid,
                "corrupt on an empty ring",
            )),
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    serve_stdio(&Shmring {
        single_roles: args.single_roles,
    })
}
