//! Argon2 off the request threads. Each hash or verification costs ~19 MiB and tens of
//! milliseconds of one core; run on the async workers, a sign-in flood stalled every other
//! request and grew memory with the number of parallel sign-ins. Here a fixed set of
//! `workers` threads runs them (memory bounded by workers x cost: fixed threads also keep
//! the allocator from growing one arena per borrowed blocking thread), and at most
//! `max_waiting` more wait in a bounded queue; beyond that the caller is told to come back.
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// Why a job did not run.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("too many sign-ins and password changes are waiting; try again in a moment")]
    Busy,
    #[error("the password-hashing task failed")]
    Failed,
}

type Job = Box<dyn FnOnce() + Send>;

pub struct HashPool {
    queue: SyncSender<Job>,
}

impl HashPool {
    pub fn new(workers: usize, max_waiting: usize) -> Self {
        let (queue, jobs) = sync_channel::<Job>(max_waiting);
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..workers.max(1) {
            let jobs = jobs.clone();
            // A pool that cannot start a thread still has the others; with none, every job
            // waits, fills the queue and is refused as busy, which the log then explains.
            if let Err(e) = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&jobs))
            {
                log::error!("cannot start a password-hashing thread: {e}");
            }
        }
        HashPool { queue }
    }

    /// Half the cores (at least one), so the other half keeps serving requests; 64 waiting.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new((cores / 2).max(1), 64)
    }

    /// Runs `job` (an Argon2 hash or verification) when a worker is free.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let boxed: Job = Box::new(move || {
            // The waiter may have gone (client hung up): the result is dropped.
            let _ = done.send(job());
        });
        match self.queue.try_send(boxed) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(PoolError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(PoolError::Failed),
        }
        result.await.map_err(|_| PoolError::Failed)
    }
}

/// One worker: takes the next job until the pool is dropped.
fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let next = {
            let jobs = jobs.lock().unwrap_or_else(|p| p.into_inner());
            jobs.recv()
        };
        match next {
            // A panicking job ends only its own result (the waiter sees Failed).
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_one_at_a_time_and_refuses_beyond_the_queue() {
        let pool = Arc::new(HashPool::new(1, 2));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut busy = 0;
        for t in tasks {
            if matches!(t.await.expect("task"), Err(PoolError::Busy)) {
                busy += 1;
            }
        }
        assert_eq!(peak.load(Ordering::SeqCst), 1);
        // One running, two waiting, three refused.
        assert_eq!(busy, 3);
        assert!(pool.run(|| 7).await.is_ok_and(|v| v == 7));
    }
}
