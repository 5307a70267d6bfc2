//! What every domain operation may need: the store, the clock, the password hashing pool,
//! the data key and the job queue. One value per running server, shared by all requests.
use crate::clock::Clock;
use crate::secrets::HashCost;
use crate::store::Store;
use std::sync::Arc;

pub struct AppState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub hash_cost: HashCost,
    /// Where every Argon2 hash and verification runs (see `crate::hashing`).
    pub hashes: crate::hashing::HashPool,
    pub data_key: crate::keyfile::DataKey,
    /// Verified against when a login names no existing user, so both paths cost the same.
    pub dummy_hash: String,
    /// Woken when a job may have become claimable, so long-poll claims never busy-poll.
    pub work: crate::domain::jobs::WorkSignal,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        hash_cost: HashCost,
        data_key: crate::keyfile::DataKey,
    ) -> Result<Self, crate::secrets::HashError> {
        let dummy = crate::secrets::generate_password(24, &Default::default());
        let dummy_hash = crate::secrets::hash_password(hash_cost, dummy.expose())?;
        Ok(AppState {
            store,
            clock,
            hash_cost,
            hashes: crate::hashing::HashPool::for_this_machine(),
            data_key,
            dummy_hash,
            work: crate::domain::jobs::WorkSignal::default(),
        })
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
