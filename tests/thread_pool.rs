//! `backend::join_thread_pool` makes the calling thread a worker of rayon's global pool, so the
//! parallel loops it starts run on it instead of being handed over while it sleeps. Its own test
//! binary: the global pool is built once per process, and any other test could build it first.

use mindlens::backend::join_thread_pool;
use rayon::prelude::*;

#[test]
fn the_calling_thread_becomes_worker_zero_once() {
    assert_eq!(rayon::current_thread_index(), None, "not a worker before");
    assert!(join_thread_pool(), "the first call builds the pool");
    assert_eq!(rayon::current_thread_index(), Some(0), "this thread is worker 0");
    // A parallel loop started here runs (partly) on this very thread.
    let me = std::thread::current().id();
    let on_me = (0..10_000)
        .into_par_iter()
        .filter(|_| std::thread::current().id() == me)
        .count();
    assert!(on_me > 0, "no item ran on the calling thread");
    assert!(!join_thread_pool(), "a second call changes nothing");
}
