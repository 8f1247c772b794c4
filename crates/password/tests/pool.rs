//! The hashing pool: bounded concurrency and queue, busy fails closed, the dummy runs, one
//! memory block per worker. No async runtime: a minimal executor drives the futures, and
//! workers are held at a gate (the `on_start` hook) instead of relying on timing.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tower_authn_password::{
    DUMMY_PHC, HashLimits, HashPool, PoolBuildError, PoolStats, Verification, VerifyError,
};

/// A cheap argon2id hash of "wonderland" (m=64 KiB, t=1): the pool's behaviour, not the
/// hash's cost, is under test.
const CHEAP: &str = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Cuua17cl2YubVybYBtlHu2NsplWnQizG438vZAwK+QI";

fn secret(s: &str) -> SecretString {
    SecretString::from(s)
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `f` to completion on this thread.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// The answer if `v` is already answered (a refused check is, at once).
fn answered_now(v: &mut Verification) -> Option<Result<bool, VerifyError>> {
    match pin!(v).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(answer) => Some(answer),
        Poll::Pending => None,
    }
}

/// Polls the pool's stats until `done` holds, for at most 20 s.
fn wait_for(pool: &HashPool, done: impl Fn(&PoolStats) -> bool) -> PoolStats {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = pool.stats();
        if done(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "never reached: {stats:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Holds every worker that starts a check until opened; counts who is inside.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    inside: AtomicUsize,
    most_inside: AtomicUsize,
}

impl Gate {
    fn hold(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_inside.fetch_max(now, Ordering::SeqCst);
        let mut open = self.open.lock().expect("gate");
        while !*open {
            open = self.opened.wait(open).expect("gate");
        }
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn open(&self) {
        *self.open.lock().expect("gate") = true;
        self.opened.notify_all();
    }
}

fn gated(workers: usize, queue: usize) -> (HashPool, Arc<Gate>) {
    let gate = Arc::new(Gate::default());
    let hook = gate.clone();
    let pool = HashPool::builder()
        .workers(workers)
        .queue(queue)
        .on_start(move || hook.hold())
        .build()
        .expect("pool");
    (pool, gate)
}

#[test]
fn cheap_fixture_is_a_hash_of_wonderland() {
    assert!(tower_authn_password::verify_password(CHEAP, "wonderland").expect("usable"));
}

#[test]
fn verifies_right_wrong_and_unusable() {
    let pool = HashPool::builder().workers(2).build().expect("pool");
    let phc = secret(&tower_authn_password::hash_password("wonderland").expect("hash"));
    assert_eq!(
        block_on(pool.verify(phc.clone(), secret("wonderland"))),
        Ok(true)
    );
    assert_eq!(block_on(pool.verify(phc, secret("Wonderland"))), Ok(false));
    assert_eq!(
        block_on(pool.verify(secret(CHEAP), secret("wonderland"))),
        Ok(true)
    );
    for bad in ["", "plain text", "$pbkdf2-sha256$i=1$c2FsdA$aGFzaA"] {
        let answer = block_on(pool.verify(secret(bad), secret("wonderland")));
        assert!(
            matches!(answer, Err(VerifyError::Unusable(_))),
            "{bad:?}: {answer:?}"
        );
    }
    assert_eq!(pool.stats().verifications, 3);
}

#[test]
fn never_more_than_workers_running_nor_workers_plus_queue_admitted() {
    let (workers, queue) = (2, 3);
    let (pool, gate) = gated(workers, queue);
    let mut checks: Vec<Verification> = (0..10)
        .map(|_| pool.verify(secret(CHEAP), secret("wonderland")))
        .collect();
    // Admission is decided at the call: the first workers + queue are admitted, the rest
    // are refused at once, before any worker is free.
    for (i, check) in checks.iter_mut().enumerate() {
        let answer = answered_now(check);
        if i < workers + queue {
            assert_eq!(answer, None, "check {i} admitted");
        } else {
            assert_eq!(answer, Some(Err(VerifyError::Busy)), "check {i} refused");
        }
    }
    let held = wait_for(&pool, |s| s.running == workers);
    assert_eq!(held.queued, queue);
    assert_eq!(held.busy, 5);
    assert_eq!(held.max_in_flight, workers + queue);
    // Still refused while everything is held.
    let mut late = pool.verify(secret(CHEAP), secret("wonderland"));
    assert_eq!(answered_now(&mut late), Some(Err(VerifyError::Busy)));
    let mut late_dummy = pool.verify_dummy(secret("wonderland"));
    assert_eq!(answered_now(&mut late_dummy), Some(Err(VerifyError::Busy)));

    gate.open();
    for check in checks.drain(..workers + queue) {
        assert_eq!(block_on(check), Ok(true));
    }
    let stats = pool.stats();
    assert_eq!(stats.verifications, (workers + queue) as u64);
    assert_eq!(stats.busy, 7);
    assert_eq!(stats.max_running, workers);
    assert_eq!(stats.max_in_flight, workers + queue);
    assert_eq!(gate.most_inside.load(Ordering::SeqCst), workers);
    assert_eq!((stats.running, stats.queued), (0, 0));
    // Free again: admitted again.
    assert_eq!(
        block_on(pool.verify(secret(CHEAP), secret("nope"))),
        Ok(false)
    );
}

#[test]
fn many_threads_at_once_stay_within_the_bound() {
    let (workers, queue) = (2, 4);
    let pool = HashPool::builder()
        .workers(workers)
        .queue(queue)
        .build()
        .expect("pool");
    let answers: Vec<Result<bool, VerifyError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..32)
            .map(|_| s.spawn(|| block_on(pool.verify(secret(DUMMY_PHC), secret("guess")))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let stats = pool.stats();
    assert!(stats.max_running <= workers, "{stats:?}");
    assert!(stats.max_in_flight <= workers + queue, "{stats:?}");
    let busy = answers
        .iter()
        .filter(|a| **a == Err(VerifyError::Busy))
        .count();
    let checked = answers.iter().filter(|a| **a == Ok(false)).count();
    assert_eq!(
        busy + checked,
        32,
        "every answer is a mismatch or busy: {answers:?}"
    );
    assert_eq!(busy as u64, stats.busy);
    assert_eq!(checked as u64, stats.verifications);
    // Never more than one block per worker, whatever the load.
    assert!(stats.block_allocations <= workers as u64, "{stats:?}");
    assert!(stats.memory_kib <= workers as u64 * 19456, "{stats:?}");
}

#[test]
fn an_empty_queue_admits_only_while_a_worker_is_free() {
    let (pool, gate) = gated(1, 0);
    let first = pool.verify(secret(CHEAP), secret("wonderland"));
    wait_for(&pool, |s| s.running == 1);
    let mut second = pool.verify(secret(CHEAP), secret("wonderland"));
    assert_eq!(answered_now(&mut second), Some(Err(VerifyError::Busy)));
    gate.open();
    assert_eq!(block_on(first), Ok(true));
}

#[test]
fn the_dummy_runs_for_real_and_never_matches() {
    let pool = HashPool::builder().workers(1).build().expect("pool");
    assert_eq!(block_on(pool.verify_dummy(secret("guess"))), Ok(false));
    // Even the dummy's own password: an unknown user never gets in.
    let own = secret("tower-authn dummy password");
    assert_eq!(block_on(pool.verify_dummy(own)), Ok(false));
    let stats = pool.stats();
    assert_eq!((stats.dummy_verifications, stats.verifications), (2, 0));
    // It did the work: the default-parameter block (19 MiB) was taken.
    assert_eq!(stats.memory_kib, 19456);
}

#[test]
fn a_custom_dummy_hash_sets_the_dummy_cost() {
    let pool = HashPool::builder()
        .workers(1)
        .dummy_hash(CHEAP)
        .build()
        .expect("pool");
    assert_eq!(block_on(pool.verify_dummy(secret("wonderland"))), Ok(false));
    assert_eq!(pool.stats().memory_kib, 64);
}

#[test]
fn each_worker_reuses_one_memory_block() {
    let pool = HashPool::builder().workers(1).build().expect("pool");
    for _ in 0..4 {
        assert_eq!(
            block_on(pool.verify(secret(DUMMY_PHC), secret("x"))),
            Ok(false)
        );
        assert_eq!(block_on(pool.verify_dummy(secret("x"))), Ok(false));
    }
    let stats = pool.stats();
    assert_eq!((stats.verifications, stats.dummy_verifications), (4, 4));
    assert_eq!(stats.block_allocations, 1, "{stats:?}");
    assert_eq!(stats.memory_kib, 19456);
    // A smaller hash reuses the block; no new allocation.
    assert_eq!(
        block_on(pool.verify(secret(CHEAP), secret("wonderland"))),
        Ok(true)
    );
    assert_eq!(pool.stats().block_allocations, 1);
}

#[test]
fn a_hash_past_the_limits_is_unusable_and_allocates_nothing() {
    let pool = HashPool::builder()
        .workers(1)
        .limits(HashLimits {
            max_memory_kib: 1024,
            max_time_cost: 3,
        })
        .dummy_hash(CHEAP)
        .build()
        .expect("pool");
    let answer = block_on(pool.verify(secret(DUMMY_PHC), secret("x")));
    assert!(
        matches!(answer, Err(VerifyError::Unusable(_))),
        "{answer:?}"
    );
    let four_gib = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    let answer = block_on(pool.verify(secret(four_gib), secret("x")));
    assert!(
        matches!(answer, Err(VerifyError::Unusable(_))),
        "{answer:?}"
    );
    let stats = pool.stats();
    assert_eq!((stats.block_allocations, stats.memory_kib), (0, 0));
    assert_eq!(stats.verifications, 0);
}

#[test]
fn a_dropped_answer_withdraws_its_queued_check() {
    let (pool, gate) = gated(1, 4);
    let first = pool.verify(secret(CHEAP), secret("wonderland"));
    wait_for(&pool, |s| s.running == 1);
    drop(pool.verify(secret(CHEAP), secret("wonderland")));
    let third = pool.verify(secret(CHEAP), secret("wonderland"));
    gate.open();
    assert_eq!(block_on(first), Ok(true));
    assert_eq!(block_on(third), Ok(true));
    // The withdrawn one was never hashed.
    assert_eq!(pool.stats().verifications, 2);
}

#[test]
fn dropping_the_pool_still_answers_what_was_admitted() {
    let (pool, gate) = gated(1, 4);
    let first = pool.verify(secret(CHEAP), secret("wonderland"));
    let second = pool.verify_dummy(secret("wonderland"));
    wait_for(&pool, |s| s.running == 1);
    drop(pool);
    gate.open();
    assert_eq!(block_on(first), Ok(true));
    assert_eq!(block_on(second), Ok(false));
}

#[test]
fn a_failing_check_fails_closed_and_the_worker_lives_on() {
    let failed_once = Arc::new(AtomicBool::new(false));
    let flag = failed_once.clone();
    let pool = HashPool::builder()
        .workers(1)
        .on_start(move || {
            if !flag.swap(true, Ordering::SeqCst) {
                panic!("injected worker failure");
            }
        })
        .build()
        .expect("pool");
    assert_eq!(
        block_on(pool.verify(secret(CHEAP), secret("wonderland"))),
        Err(VerifyError::Failed)
    );
    assert!(failed_once.load(Ordering::SeqCst));
    assert_eq!(
        block_on(pool.verify(secret(CHEAP), secret("wonderland"))),
        Ok(true)
    );
}

#[test]
fn bad_configurations_are_refused() {
    assert!(matches!(
        HashPool::builder().workers(0).build(),
        Err(PoolBuildError::NoWorkers)
    ));
    assert!(matches!(
        HashPool::builder().dummy_hash("not a phc").build(),
        Err(PoolBuildError::DummyHash(_))
    ));
    let tight = HashLimits {
        max_memory_kib: 1024,
        max_time_cost: 10,
    };
    // The default dummy (19 MiB) is past these limits: refused, not silently skipped.
    assert!(matches!(
        HashPool::builder().limits(tight).build(),
        Err(PoolBuildError::DummyHash(_))
    ));
}

#[test]
fn the_global_pool_is_one_pool_with_the_defaults() {
    let a = HashPool::global();
    let b = HashPool::global();
    assert!(std::ptr::eq(a, b));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!((a.workers(), a.queue_capacity()), (cpus, 256));
    assert_eq!(
        block_on(a.verify(secret(CHEAP), secret("wonderland"))),
        Ok(true)
    );
}

#[test]
fn debug_shows_no_secret() {
    let pool = HashPool::builder().workers(1).build().expect("pool");
    let pending = pool.verify(secret(CHEAP), secret("wonderland"));
    let shown = format!("{pool:?} {pending:?} {:?}", HashPool::builder());
    assert!(
        !shown.contains("wonderland") && !shown.contains("argon2"),
        "{shown}"
    );
    assert_eq!(block_on(pending), Ok(true));
}
