//! [`HashPool`]: a fixed set of worker threads that run every argon2 check, behind a
//! bounded queue, each worker reusing one argon2 memory block.
//!
//! So a flood of password attempts costs at most `workers` x one block of hashing memory and
//! `workers` busy threads; past `workers + queue` checks in flight a new one is refused at
//! once with [`VerifyError::Busy`] (the caller answers 503, never "skip the check").

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};

use argon2::Block;
use futures_channel::oneshot;
use secrecy::{ExposeSecret, SecretString};

use crate::phc::{DUMMY_PHC, HashLimits, PasswordError, Prepared};

/// The default number of checks that may wait for a worker.
pub const DEFAULT_QUEUE: usize = 256;

/// Why a check through a [`HashPool`] gave no answer. Every variant fails closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Every worker is busy and the queue is full: the check was not admitted. Answer
    /// "unavailable, retry later"; never treat it as a match or skip the check.
    Busy,
    /// The stored hash cannot be used (not an argon2 PHC string, or past the pool's
    /// [`HashLimits`]): a fault of the store, not a wrong password.
    Unusable(PasswordError),
    /// The worker failed while checking (it panicked); the pool keeps running.
    Failed,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Busy => f.write_str("password hashing pool is busy"),
            Self::Unusable(e) => e.fmt(f),
            Self::Failed => f.write_str("password hashing worker failed"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// A [`HashPool`] could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolBuildError {
    /// `workers(0)`: a pool needs at least one worker.
    NoWorkers,
    /// The dummy hash is unusable under the pool's limits.
    DummyHash(PasswordError),
    /// A worker thread could not be started.
    Spawn(std::io::Error),
}

impl fmt::Display for PoolBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoWorkers => f.write_str("a hashing pool needs at least one worker"),
            Self::DummyHash(e) => write!(f, "dummy hash: {e}"),
            Self::Spawn(e) => write!(f, "cannot start a hashing worker: {e}"),
        }
    }
}

impl std::error::Error for PoolBuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NoWorkers => None,
            Self::DummyHash(e) => Some(e),
            Self::Spawn(e) => Some(e),
        }
    }
}

/// What a pool has done so far, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Worker threads.
    pub workers: usize,
    /// How many checks may wait for a worker.
    pub queue_capacity: usize,
    /// Checks against a stored hash that ran to the end (matched or not).
    pub verifications: u64,
    /// Dummy checks (unknown users) that ran to the end.
    pub dummy_verifications: u64,
    /// Checks refused with [`VerifyError::Busy`].
    pub busy: u64,
    /// Times a worker allocated its memory block (once per worker, plus once each time a
    /// stored hash needs a larger block than the worker holds).
    pub block_allocations: u64,
    /// KiB of argon2 memory the workers hold now.
    pub memory_kib: u64,
    /// Checks running now.
    pub running: usize,
    /// Checks waiting now.
    pub queued: usize,
    /// The most checks ever running at once (never more than `workers`).
    pub max_running: usize,
    /// The most checks ever admitted at once, running or waiting (never more than
    /// `workers + queue_capacity`).
    pub max_in_flight: usize,
}

type StartHook = Arc<dyn Fn() + Send + Sync>;

/// Builds a [`HashPool`].
///
/// ```
/// use tower_authn_password::HashPool;
///
/// let pool = HashPool::builder().workers(2).queue(16).build().unwrap();
/// assert_eq!((pool.workers(), pool.queue_capacity()), (2, 16));
/// ```
#[must_use]
pub struct HashPoolBuilder {
    workers: usize,
    queue: usize,
    limits: HashLimits,
    dummy: String,
    on_start: Option<StartHook>,
}

impl fmt::Debug for HashPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashPoolBuilder")
            .field("workers", &self.workers)
            .field("queue", &self.queue)
            .field("limits", &self.limits)
            .field("on_start", &self.on_start.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for HashPoolBuilder {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            queue: DEFAULT_QUEUE,
            limits: HashLimits::default(),
            dummy: DUMMY_PHC.to_owned(),
            on_start: None,
        }
    }
}

impl HashPoolBuilder {
    /// Worker threads: how many checks run at once (default: the available parallelism).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// How many checks may wait for a worker (default [`DEFAULT_QUEUE`]); `0` admits a check
    /// only when a worker is free.
    pub fn queue(mut self, queue: usize) -> Self {
        self.queue = queue;
        self
    }

    /// The most work one stored hash may ask for (default [`HashLimits::default`]).
    pub fn limits(mut self, limits: HashLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The PHC string checked for unknown users (default [`DUMMY_PHC`]). Give one with the
    /// parameters your stored hashes use, so an unknown user costs what a known one does.
    pub fn dummy_hash(mut self, phc: impl Into<String>) -> Self {
        self.dummy = phc.into();
        self
    }

    /// Runs `hook` on the worker thread as each check starts, before any hashing (metrics,
    /// tracing; tests hold a worker in it to fill the queue). Keep it short: a worker is
    /// busy while it runs.
    pub fn on_start(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_start = Some(Arc::new(hook));
        self
    }

    /// Starts the workers.
    ///
    /// # Errors
    ///
    /// [`PoolBuildError`] for zero workers, a dummy hash the limits refuse, or a thread that
    /// cannot be started.
    pub fn build(self) -> Result<HashPool, PoolBuildError> {
        if self.workers == 0 {
            return Err(PoolBuildError::NoWorkers);
        }
        let dummy =
            Prepared::parse(&self.dummy, &self.limits).map_err(PoolBuildError::DummyHash)?;
        let shared = Arc::new(Shared::new(
            self.workers,
            self.queue,
            self.limits,
            Some(dummy),
            self.on_start,
        ));
        // The handle exists before the threads: if one cannot start, dropping it stops the
        // ones that did.
        let handle = Arc::new(Handle(shared.clone()));
        for i in 0..self.workers {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("tower-authn-hash-{i}"))
                .spawn(move || shared.work_loop())
                .map_err(PoolBuildError::Spawn)?;
        }
        Ok(HashPool { handle })
    }
}

/// A pool of argon2 workers behind a bounded queue. Cloning shares the pool; the workers
/// stop when the last clone is dropped (after finishing what was admitted).
///
/// [`verify`](Self::verify) needs no async runtime: the answer comes back on a oneshot
/// channel, so any executor can await it, and the hashing never runs on the executor.
///
/// ```
/// use secrecy::SecretString;
/// use tower_authn_password::{HashPool, hash_password};
///
/// let pool = HashPool::builder().workers(1).build().unwrap();
/// let phc = SecretString::from(hash_password("wonderland").unwrap());
/// let ok = pool.verify(phc.clone(), SecretString::from("wonderland"));
/// let wrong = pool.verify(phc, SecretString::from("looking-glass"));
/// assert_eq!(futures_executor_block_on(ok), Ok(true));
/// assert_eq!(futures_executor_block_on(wrong), Ok(false));
/// # fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     // A minimal executor: the doc test needs no runtime either.
/// #     struct Wake(std::thread::Thread);
/// #     impl std::task::Wake for Wake { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
/// #     let waker = std::sync::Arc::new(Wake(std::thread::current())).into();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop {
/// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
/// #         std::thread::park();
/// #     }
/// # }
/// ```
#[derive(Clone)]
pub struct HashPool {
    handle: Arc<Handle>,
}

impl fmt::Debug for HashPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashPool")
            .field("workers", &self.workers())
            .field("queue_capacity", &self.queue_capacity())
            .finish_non_exhaustive()
    }
}

impl HashPool {
    /// A builder with the defaults: the available parallelism, a queue of [`DEFAULT_QUEUE`],
    /// [`HashLimits::default`], [`DUMMY_PHC`].
    pub fn builder() -> HashPoolBuilder {
        HashPoolBuilder::default()
    }

    /// The process-wide pool with the defaults, started on first use. Verifiers that are
    /// given no pool use it, so all of them together stay within one bound.
    ///
    /// If its threads cannot be started it has none, and every check answers
    /// [`VerifyError::Busy`] (fail closed).
    pub fn global() -> &'static HashPool {
        static GLOBAL: OnceLock<HashPool> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            HashPool::builder().build().unwrap_or_else(|_| {
                // No thread to run on: a pool that admits nothing.
                let shared = Shared::new(0, 0, HashLimits::default(), None, None);
                HashPool {
                    handle: Arc::new(Handle(Arc::new(shared))),
                }
            })
        })
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.handle.0.workers
    }

    /// How many checks may wait for a worker.
    pub fn queue_capacity(&self) -> usize {
        self.handle.0.queue_capacity
    }

    /// The limits stored hashes are held to.
    pub fn limits(&self) -> HashLimits {
        self.handle.0.limits
    }

    /// Whether `password` matches the stored PHC string `phc`: the hash is recomputed on a
    /// worker, in its reused memory block, and compared in constant time.
    ///
    /// The check is admitted (or refused with [`VerifyError::Busy`]) when this is called,
    /// not when the future is first polled. Dropping the future before a worker takes the
    /// check withdraws it.
    pub fn verify(&self, phc: SecretString, password: SecretString) -> Verification {
        self.submit(Work::Stored { phc, password })
    }

    /// The check for an unknown user: `password` against the pool's dummy hash, the same
    /// work as [`verify`](Self::verify) on a hash of the same parameters, through the same
    /// queue (so it is refused with [`VerifyError::Busy`] exactly when a real check would
    /// be). Resolves to `Ok(false)`.
    pub fn verify_dummy(&self, password: SecretString) -> Verification {
        self.submit(Work::Dummy { password })
    }

    /// What the pool has done so far.
    pub fn stats(&self) -> PoolStats {
        let shared = &self.handle.0;
        let state = shared.lock();
        PoolStats {
            workers: shared.workers,
            queue_capacity: shared.queue_capacity,
            verifications: shared.verifications.load(Ordering::Relaxed),
            dummy_verifications: shared.dummy_verifications.load(Ordering::Relaxed),
            busy: shared.busy.load(Ordering::Relaxed),
            block_allocations: shared.block_allocations.load(Ordering::Relaxed),
            memory_kib: shared.memory_kib.load(Ordering::Relaxed),
            running: state.running,
            queued: state.jobs.len(),
            max_running: state.max_running,
            max_in_flight: state.max_in_flight,
        }
    }

    fn submit(&self, work: Work) -> Verification {
        let shared = &self.handle.0;
        let (reply, answer) = oneshot::channel();
        let mut state = shared.lock();
        if state.running + state.jobs.len() >= shared.workers + shared.queue_capacity {
            drop(state);
            shared.busy.fetch_add(1, Ordering::Relaxed);
            #[cfg(feature = "metrics")]
            metrics::counter!(HASH_REFUSED_TOTAL).increment(1);
            return Verification(Inner::Done(Some(Err(VerifyError::Busy))));
        }
        state.jobs.push_back(Job { work, reply });
        let in_flight = state.running + state.jobs.len();
        state.max_in_flight = state.max_in_flight.max(in_flight);
        let gauges = (state.running, state.jobs.len());
        drop(state);
        pool_gauges(gauges);
        shared.work.notify_one();
        Verification(Inner::Waiting(answer))
    }
}

/// Gauge: checks waiting for a worker (`tower_authn_core::metrics::HASH_QUEUE_DEPTH`).
#[cfg(feature = "metrics")]
const HASH_QUEUE_DEPTH: &str = "authn_hash_queue_depth";
/// Gauge: checks running on a worker (`tower_authn_core::metrics::HASH_IN_USE`).
#[cfg(feature = "metrics")]
const HASH_IN_USE: &str = "authn_hash_in_use";
/// Counter: checks refused, pool full (`tower_authn_core::metrics::HASH_REFUSED_TOTAL`).
#[cfg(feature = "metrics")]
const HASH_REFUSED_TOTAL: &str = "authn_hash_refused_total";

/// Sets the workers-in-use and queue-depth gauges to `(running, queued)` (feature
/// `metrics`).
#[inline]
fn pool_gauges((running, queued): (usize, usize)) {
    #[cfg(feature = "metrics")]
    {
        metrics::gauge!(HASH_IN_USE).set(running as f64);
        metrics::gauge!(HASH_QUEUE_DEPTH).set(queued as f64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (running, queued);
}

/// The answer of [`HashPool::verify`] or [`HashPool::verify_dummy`]: `Ok(true)` when the
/// password matched.
#[must_use = "the check is withdrawn when its answer is dropped"]
pub struct Verification(Inner);

enum Inner {
    Done(Option<Result<bool, VerifyError>>),
    Waiting(oneshot::Receiver<Result<bool, VerifyError>>),
}

impl fmt::Debug for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.0 {
            Inner::Done(_) => "done",
            Inner::Waiting(_) => "waiting",
        };
        f.debug_tuple("Verification").field(&state).finish()
    }
}

impl Future for Verification {
    type Output = Result<bool, VerifyError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            // Polled again after the answer: keep failing closed rather than panic.
            Inner::Done(answer) => Poll::Ready(answer.take().unwrap_or(Err(VerifyError::Failed))),
            Inner::Waiting(answer) => match Pin::new(answer).poll(cx) {
                Poll::Pending => Poll::Pending,
                // The worker dropped the reply without an answer: it cannot happen short of a
                // bug; fail closed.
                Poll::Ready(answer) => {
                    self.0 = Inner::Done(None);
                    Poll::Ready(answer.unwrap_or(Err(VerifyError::Failed)))
                }
            },
        }
    }
}

/// The last [`HashPool`] clone going away stops the workers.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().shutdown = true;
        self.0.work.notify_all();
    }
}

enum Work {
    Stored {
        phc: SecretString,
        password: SecretString,
    },
    Dummy {
        password: SecretString,
    },
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<bool, VerifyError>>,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    running: usize,
    max_running: usize,
    max_in_flight: usize,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    workers: usize,
    queue_capacity: usize,
    limits: HashLimits,
    /// `None` only in a pool without workers, which runs nothing.
    dummy: Option<Prepared>,
    on_start: Option<StartHook>,
    verifications: AtomicU64,
    dummy_verifications: AtomicU64,
    busy: AtomicU64,
    block_allocations: AtomicU64,
    memory_kib: AtomicU64,
}

impl Shared {
    fn new(
        workers: usize,
        queue_capacity: usize,
        limits: HashLimits,
        dummy: Option<Prepared>,
        on_start: Option<StartHook>,
    ) -> Self {
        Self {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            workers,
            queue_capacity,
            limits,
            dummy,
            on_start,
            verifications: AtomicU64::new(0),
            dummy_verifications: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            block_allocations: AtomicU64::new(0),
            memory_kib: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still holds a valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next job, or `None` once the pool is dropped and the queue is empty.
    fn next_job(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                state.running += 1;
                state.max_running = state.max_running.max(state.running);
                let gauges = (state.running, state.jobs.len());
                drop(state);
                pool_gauges(gauges);
                return Some(job);
            }
            if state.shutdown {
                return None;
            }
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn work_loop(&self) {
        // The one argon2 memory block of this worker, reused by every check it runs.
        let mut memory: Vec<Block> = Vec::new();
        while let Some(job) = self.next_job() {
            let answer = if job.reply.is_canceled() {
                // The caller is gone (its client disconnected): nobody waits for this answer.
                None
            } else {
                let before = memory.len();
                let answer = catch_unwind(AssertUnwindSafe(|| self.run(&job.work, &mut memory)))
                    .unwrap_or(Err(VerifyError::Failed));
                if memory.len() != before {
                    self.block_allocations.fetch_add(1, Ordering::Relaxed);
                    let kib = |blocks: usize| (blocks * Block::SIZE / 1024) as u64;
                    self.memory_kib
                        .fetch_add(kib(memory.len()), Ordering::Relaxed);
                    self.memory_kib.fetch_sub(kib(before), Ordering::Relaxed);
                }
                Some(answer)
            };
            // Counted as finished before the caller hears the answer, so a caller that has
            // its answer sees `running` without it.
            let gauges = {
                let mut state = self.lock();
                state.running -= 1;
                (state.running, state.jobs.len())
            };
            pool_gauges(gauges);
            if let Some(answer) = answer {
                let _ = job.reply.send(answer);
            }
        }
        let kib = (memory.len() * Block::SIZE / 1024) as u64;
        self.memory_kib.fetch_sub(kib, Ordering::Relaxed);
    }

    fn run(&self, work: &Work, memory: &mut Vec<Block>) -> Result<bool, VerifyError> {
        if let Some(hook) = &self.on_start {
            hook();
        }
        match work {
            Work::Stored { phc, password } => {
                let prepared = Prepared::parse(phc.expose_secret(), &self.limits)
                    .map_err(VerifyError::Unusable)?;
                let matched = prepared
                    .check(password.expose_secret().as_bytes(), memory)
                    .map_err(VerifyError::Unusable)?;
                self.verifications.fetch_add(1, Ordering::Relaxed);
                Ok(matched)
            }
            Work::Dummy { password } => {
                // The result is computed like any other and then thrown away: an unknown user
                // never matches, whatever the dummy's password is.
                let dummy = self.dummy.as_ref().ok_or(VerifyError::Failed)?;
                let matched = dummy
                    .check(password.expose_secret().as_bytes(), memory)
                    .map_err(VerifyError::Unusable)?;
                std::hint::black_box(matched);
                self.dummy_verifications.fetch_add(1, Ordering::Relaxed);
                Ok(false)
            }
        }
    }
}
