//! Helper threads that spin between the parallel loops of a decoding step.
//!
//! Decoding a token runs one short parallel product after another (seven a layer), with
//! serial work between them. On rayon's pool the second worker finds no work after each
//! product, yields, and falls asleep; waking it for the next product costs a round trip
//! through the kernel's scheduler, which in a VM took 17% of SmolLM2's decoding time
//! (BENCHMARKS.md, the decode profile). llama.cpp keeps its threads polling between the
//! operations of a graph; these helpers do the same: after a loop they poll for the next one
//! for [`SPIN`] before sleeping on a condition variable.
//!
//! One loop runs at a time. A loop started while another is running (a second thread, or a
//! loop inside a loop) runs on its caller's thread alone: correct, only not parallel.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long an idle helper polls for the next loop before it sleeps: far longer than the
/// serial steps between a token's products, short enough not to hold a core when idle.
const SPIN: Duration = Duration::from_millis(2);

/// A loop body as the helpers see it: its lifetime is erased, and [`run`] does not
/// return (or unwind) before every helper has left it.
type Body = &'static (dyn Fn(usize) + Sync);

struct Pool {
    helpers: usize,
    /// Whether a loop is running (taken by the caller that publishes it).
    busy: AtomicBool,
    /// Bumped once per published loop; helpers wait for it to change.
    epoch: AtomicU64,
    /// The running loop's body and length, `None` between loops. Helpers join under this lock,
    /// so once the caller has taken the loop away none can join it late.
    job: Mutex<Option<(Body, usize)>>,
    /// The next index to claim.
    next: AtomicUsize,
    /// Helpers inside the running loop.
    active: AtomicUsize,
    /// Whether a body panicked on a helper (the caller panics in turn).
    panicked: AtomicBool,
    /// Helpers asleep, and where they sleep.
    sleeping: AtomicUsize,
    wake: (Mutex<()>, Condvar),
}

/// Calls `f(i)` for each `i` in `0..n`, on the calling thread and the helpers (one fewer
/// than rayon's threads), and returns when all have finished. A panic in `f` panics here.
pub fn run(n: usize, f: &(dyn Fn(usize) + Sync)) {
    let pool = pool();
    if n <= 1 || pool.helpers == 0 || pool.busy.compare_exchange(false, true, Acquire, Relaxed).is_err() {
        return (0..n).for_each(f);
    }
    // SAFETY: the body outlives its use: `Finish` (below, also run on unwinding) takes it
    // away from the helpers and waits until none is inside it before this function returns.
    let body: Body = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Body>(f) };
    {
        let mut job = pool.job.lock().unwrap_or_else(|e| e.into_inner());
        pool.next.store(0, Relaxed);
        *job = Some((body, n));
        pool.epoch.fetch_add(1, SeqCst);
    }
    if pool.sleeping.load(SeqCst) > 0 {
        let _guard = pool.wake.0.lock().unwrap_or_else(|e| e.into_inner());
        pool.wake.1.notify_all();
    }
    let finish = Finish(pool);
    claim(pool, body, n);
    drop(finish);
    if pool.panicked.swap(false, AcqRel) {
        panic!("a parallel product's body panicked on a helper thread");
    }
}

/// Takes the loop away from the helpers and waits for those inside it; then the pool is free.
struct Finish(&'static Pool);

impl Drop for Finish {
    fn drop(&mut self) {
        *self.0.job.lock().unwrap_or_else(|e| e.into_inner()) = None;
        while self.0.active.load(Acquire) != 0 {
            std::hint::spin_loop();
        }
        if std::thread::panicking() {
            // The caller's own panic is the one reported; a helper's is not left for the next loop.
            self.0.panicked.store(false, Relaxed);
        }
        self.0.busy.store(false, Release);
    }
}

/// Runs indices of the loop until none is left.
fn claim(pool: &Pool, body: Body, n: usize) {
    loop {
        let i = pool.next.fetch_add(1, Relaxed);
        if i >= n {
            return;
        }
        body(i);
    }
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let helpers = rayon::current_num_threads().saturating_sub(1);
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            helpers,
            busy: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            job: Mutex::new(None),
            next: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            sleeping: AtomicUsize::new(0),
            wake: (Mutex::new(()), Condvar::new()),
        }));
        for k in 0..helpers {
            // A helper that cannot start leaves its share to the others (the caller at least).
            let _ = std::thread::Builder::new()
                .name(format!("mindlens-matvec-{k}"))
                .spawn(move || helper(pool));
        }
        pool
    })
}

fn helper(pool: &'static Pool) {
    let mut seen = 0;
    loop {
        seen = next_epoch(pool, seen);
        let (body, n) = {
            let job = pool.job.lock().unwrap_or_else(|e| e.into_inner());
            match *job {
                Some(j) => {
                    pool.active.fetch_add(1, AcqRel);
                    j
                }
                None => continue,
            }
        };
        if catch_unwind(AssertUnwindSafe(|| claim(pool, body, n))).is_err() {
            pool.panicked.store(true, Release);
        }
        pool.active.fetch_sub(1, Release);
    }
}

/// Waits until the epoch differs from `seen`, polling for [`SPIN`], then asleep; returns it.
fn next_epoch(pool: &Pool, seen: u64) -> u64 {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            let e = pool.epoch.load(Acquire);
            if e != seen {
                return e;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() > SPIN {
            break;
        }
    }
    let mut guard = pool.wake.0.lock().unwrap_or_else(|e| e.into_inner());
    pool.sleeping.fetch_add(1, SeqCst);
    let e = loop {
        let e = pool.epoch.load(SeqCst);
        if e != seen {
            break e;
        }
        guard = pool.wake.1.wait(guard).unwrap_or_else(|e| e.into_inner());
    };
    pool.sleeping.fetch_sub(1, SeqCst);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_runs_once_including_from_concurrent_callers() {
        let callers: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for n in [0, 1, 2, 7, 300] {
                        let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                        run(n, &|i| {
                            hits[i].fetch_add(1, Relaxed);
                        });
                        assert!(hits.iter().all(|h| h.load(Relaxed) == 1), "n = {n}");
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
    }

    #[test]
    fn a_panicking_body_panics_the_caller_and_leaves_the_pool_usable() {
        let r = catch_unwind(|| run(64, &|i| assert!(i != 40, "index 40")));
        assert!(r.is_err());
        let hits = AtomicUsize::new(0);
        run(64, &|_| {
            hits.fetch_add(1, Relaxed);
        });
        assert_eq!(hits.load(Relaxed), 64);
    }
}
