//! Jobs below the API: how long a claim holds a job, and the queue of claims waiting in
//! their long-poll for work.
use crate::store::{StoreError, Tx};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use tokio::sync::oneshot;

/// How long a claim or heartbeat keeps a job unless the server is told otherwise
/// (`serve --lease-seconds`); an appliance heartbeats every third of it.
pub const LEASE_SECS: u32 = 120;

/// The lease lengths the server accepts: under 3 s the appliance's heartbeat (a third of the
/// lease, whole seconds) would round to nothing; over an hour a crashed appliance's job would
/// sit unclaimed for longer than any scan window.
pub const LEASE_SECS_RANGE: std::ops::RangeInclusive<u32> = 3..=3600;

/// The error for a lease length outside [`LEASE_SECS_RANGE`].
pub fn lease_secs_error(secs: u32) -> String {
    format!(
        "the job lease must be between {} and {} seconds, not {secs}",
        LEASE_SECS_RANGE.start(),
        LEASE_SECS_RANGE.end()
    )
}
/// Why a waiting claim was woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Something that may make any job claimable for anyone (an approval, a rewrap): every
    /// waiting claim looks.
    Everyone,
    /// One job was queued. The claim woken for it passes the wake on, at most `hops` more
    /// times, when it finds a queued job it cannot take (it cannot open its secrets yet).
    Job { hops: usize },
}

struct Waiter {
    ticket: u64,
    appliance: String,
    wake: oneshot::Sender<Wake>,
}

#[derive(Default)]
struct WaitQueue {
    next_ticket: u64,
    /// Longest-waiting first, so the wake for a job goes to the appliance idle the longest.
    waiting: VecDeque<Waiter>,
}

/// The claims waiting in their long-poll, and who to wake when work arrives.
///
/// Why not one `tokio::sync::Notify` for everyone: a new scan woke every waiting claim, and
/// with a fleet of 1,000 appliances each one job cost some 2,000 serialised transactions
/// (999 claims finding nothing, each with its revocation check). A queued job now wakes one
/// claim: one of its own appliance's if the scan names an appliance, else the longest-waiting.
#[derive(Default)]
pub struct WorkSignal {
    queue: Mutex<WaitQueue>,
    /// The clock second of the last sweep for expired leases (see [`requeue_expired_once`]).
    swept_at: AtomicI64,
    /// The lease claims and heartbeats grant, set once at start; 0 until then, meaning
    /// [`LEASE_SECS`].
    lease_secs: AtomicU32,
}

/// A registered waiting claim; dropping it (the claim returned or its connection closed)
/// takes it off the queue.
pub(crate) struct Ticket<'a> {
    signal: &'a WorkSignal,
    ticket: u64,
    pub(crate) woken: oneshot::Receiver<Wake>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut q = self.signal.lock();
        if let Some(at) = q.waiting.iter().position(|w| w.ticket == self.ticket) {
            q.waiting.remove(at);
            return;
        }
        // Woken for a job while it was busy (it took another job, or its request ended): the
        // wake goes to the next waiting claim, or that job would wait for the next poll.
        if let Ok(Wake::Job { hops }) = self.woken.try_recv() {
            WorkSignal::wake_first(q, hops, None);
        }
    }
}

impl WorkSignal {
    /// How long a claim or heartbeat holds a job.
    pub fn lease_secs(&self) -> u32 {
        match self.lease_secs.load(Ordering::Relaxed) {
            0 => LEASE_SECS,
            secs => secs,
        }
    }

    /// Sets the lease length (the server checked it is within [`LEASE_SECS_RANGE`]).
    pub fn set_lease_secs(&self, secs: u32) {
        self.lease_secs.store(secs, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WaitQueue> {
        // The queue holds no invariant a panic could break half-way.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn register(&self, appliance: &str) -> Ticket<'_> {
        let (tx, rx) = oneshot::channel();
        let mut q = self.lock();
        q.next_ticket += 1;
        let ticket = q.next_ticket;
        q.waiting.push_back(Waiter {
            ticket,
            appliance: appliance.to_string(),
            wake: tx,
        });
        Ticket {
            signal: self,
            ticket,
            woken: rx,
        }
    }

    /// Wakes every waiting claim: for events that can make any queued job claimable.
    /// Requeues expired leases at most once per clock second. Leases are granted for whole
    /// seconds into the future, so once a sweep ran at second `now`, no lease can expire at
    /// `now` that the sweep did not see: sweeping again in the same second finds nothing, and
    /// every claim did so before, over the whole jobs table.
    pub fn requeue_expired_once(&self, tx: &Tx<'_>, now: i64) -> Result<(), StoreError> {
        if self.swept_at.load(Ordering::Relaxed) == now {
            return Ok(());
        }
        tx.requeue_expired_leases(now)?;
        self.swept_at.store(now, Ordering::Relaxed);
        Ok(())
    }

    pub fn notify_waiters(&self) {
        let waiting = std::mem::take(&mut self.lock().waiting);
        for w in waiting {
            let _ = w.wake.send(Wake::Everyone);
        }
    }

    /// A job was queued, for `appliance` only or (None) for any appliance: wakes one claim
    /// that may take it.
    pub fn job_queued(&self, appliance: Option<&str>) {
        let mut q = self.lock();
        let hops = q.waiting.len();
        match appliance {
            // Every waiting claim of that appliance (normally one): a claim of another
            // appliance could not take the job.
            Some(id) => {
                let (mine, others): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut q.waiting)
                    .into_iter()
                    .partition(|w| w.appliance == id);
                q.waiting = others;
                drop(q);
                for w in mine {
                    let _ = w.wake.send(Wake::Job { hops: 0 });
                }
            }
            None => Self::wake_first(q, hops, None),
        }
    }

    /// Wakes the longest-waiting claim that is not `except`'s, with `hops` passes left.
    fn wake_first(mut q: std::sync::MutexGuard<'_, WaitQueue>, hops: usize, except: Option<&str>) {
        while let Some(at) = q
            .waiting
            .iter()
            .position(|w| except.is_none_or(|e| w.appliance != e))
        {
            let Some(w) = q.waiting.remove(at) else {
                return;
            };
            // A claim whose request was just dropped may have closed its end: try the next.
            if w.wake.send(Wake::Job { hops }).is_ok() {
                return;
            }
        }
    }

    /// Passes a job wake that `appliance` could not use on to another waiting claim.
    pub(crate) fn pass_on(&self, hops: usize, appliance: &str) {
        if hops > 0 {
            Self::wake_first(self.lock(), hops - 1, Some(appliance));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Wake, WorkSignal};

    #[test]
    fn a_queued_job_wakes_one_claim_that_can_take_it() {
        let signal = WorkSignal::default();
        let mut a = signal.register("a");
        let mut b = signal.register("b");
        let mut c = signal.register("c");

        // Any appliance: the longest-waiting claim only, with a pass for each other waiter.
        signal.job_queued(None);
        assert_eq!(a.woken.try_recv().ok(), Some(Wake::Job { hops: 3 }));
        assert!(b.woken.try_recv().is_err() && c.woken.try_recv().is_err());

        // Named appliance: that appliance's claim, whatever its place in the queue.
        signal.job_queued(Some("c"));
        assert_eq!(c.woken.try_recv().ok(), Some(Wake::Job { hops: 0 }));
        assert!(b.woken.try_recv().is_err());

        // A claim that could not take its job passes the wake on, never to itself.
        let mut a2 = signal.register("a");
        signal.pass_on(3, "b");
        assert_eq!(a2.woken.try_recv().ok(), Some(Wake::Job { hops: 2 }));
        assert!(b.woken.try_recv().is_err());
        signal.pass_on(0, "a");
        assert!(b.woken.try_recv().is_err(), "no passes left");

        // Approvals and rewraps wake everyone.
        let mut d = signal.register("d");
        signal.notify_waiters();
        assert_eq!(b.woken.try_recv().ok(), Some(Wake::Everyone));
        assert_eq!(d.woken.try_recv().ok(), Some(Wake::Everyone));
    }

    #[test]
    fn a_wake_that_arrives_after_the_claim_found_work_goes_to_the_next_claim() {
        let signal = WorkSignal::default();
        let busy = signal.register("a");
        let mut next = signal.register("b");
        signal.job_queued(None);
        // `busy` took another job before it saw the wake, and returns.
        drop(busy);
        assert_eq!(next.woken.try_recv().ok(), Some(Wake::Job { hops: 2 }));
        // A claim that returns without being woken just leaves the queue.
        let gone = signal.register("c");
        drop(gone);
        assert!(signal.lock().waiting.is_empty());
    }
}
