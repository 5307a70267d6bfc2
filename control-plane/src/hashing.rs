//! Argon2 off the request threads. Each hash or verification costs ~19 MiB and tens of
//! milliseconds of one core; run on the async workers, a sign-in flood stalled every other
//! request and grew memory with the number of parallel sign-ins. The pool runs at most
//! `workers` of them at once on tokio's blocking threads (memory bounded by workers x cost)
//! and lets at most `max_waiting` more wait; beyond that the caller is told to come back.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// Why a job did not run.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("too many sign-ins and password changes are waiting; try again in a moment")]
    Busy,
    #[error("the password-hashing task failed")]
    Failed,
}

pub struct HashPool {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Takes a place in the queue; gives it back however the wait ends (a client that hangs up
/// drops the future mid-wait).
struct QueueSlot<'a>(&'a AtomicUsize);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashPool {
    pub fn new(workers: usize, max_waiting: usize) -> Self {
        HashPool {
            permits: Arc::new(Semaphore::new(workers.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
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
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let slot = QueueSlot(&self.waiting);
        if queued >= self.max_waiting {
            return Err(PoolError::Busy);
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PoolError::Failed)?;
        drop(slot);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(|_| PoolError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
