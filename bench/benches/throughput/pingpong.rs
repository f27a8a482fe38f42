//! The floor of one-way latency between processes: one cache line of a
//! file in `/dev/shm`, mapped by this process and a `line-pong` child, each
//! spinning on one word of it. The parent stores 2i+1 and waits for 2i+2;
//! the child waits for 2i+1 and stores 2i+2. Half of each round trip is a
//! sample: one line moving between two cores, which any shared-memory
//! channel pays at least once per item.

use crate::procs::{self, expect, Kid};
use crate::sys::SharedLine;
use crate::STALL;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// `line-pong PATH COUNT`: for i in 0..COUNT, waits for the word to be
/// 2i+1 and stores 2i+2.
pub fn line_pong_role(args: &[String]) -> Result<(), String> {
    let [path, count] = args else {
        return Err("usage: line-pong PATH COUNT".into());
    };
    let count: u64 = procs::parse("count", count)?;
    let line = SharedLine::map(Path::new(path), false)?;
    let word = line.word();
    println!("ready");
    let deadline = Instant::now() + STALL;
    for i in 0..count {
        let mut spins = 0u32;
        while word.load(Ordering::Acquire) != 2 * i + 1 {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins == 0 && Instant::now() > deadline {
                return Err(format!("no ping {i} within {STALL:?}"));
            }
        }
        word.store(2 * i + 2, Ordering::Release);
    }
    Ok(())
}

/// One-way latencies (half of each round trip), sorted, ns, of one cache
/// line moving between two processes that spin on it: the floor under
/// shmring's ping-pong on this machine.
pub fn run(round_trips: usize) -> Result<Vec<u64>, String> {
    /// Removes the line's file, also on an error.
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let path = Path::new("/dev/shm").join(procs::unique_name("line"));
    let line = SharedLine::map(&path, true)?;
    let _remove = Remove(path.clone());
    let warm = round_trips / 10;
    let total = (warm + round_trips) as u64;
    let args = [path.display().to_string(), total.to_string()];
    let mut kids = [Kid::spawn("line pong".into(), "line-pong", &args)?];
    expect(&mut kids, 0, "ready")?;
    let word = line.word();
    let mut samples = Vec::with_capacity(round_trips);
    for i in 0..total {
        let t = Instant::now();
        word.store(2 * i + 1, Ordering::Release);
        let mut spins = 0u32;
        while word.load(Ordering::Acquire) != 2 * i + 2 {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins == 0 && t.elapsed() > STALL {
                return Err(format!("no pong {i} within {STALL:?}"));
            }
        }
        let rtt = t.elapsed();
        if i >= warm as u64 {
            samples.push(rtt.as_nanos() as u64 / 2);
        }
    }
    let [kid] = kids;
    kid.finish()?;
    samples.sort_unstable();
    Ok(samples)
}
