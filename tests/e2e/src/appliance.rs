//! An appliance identity held as the agent holds it, envelopes sealed to it, and jobs run
//! through the agent's own job code as that appliance.

use sealscan_agent::arena::Arena;
use sealscan_agent::config::Timeouts;
use sealscan_agent::identity::IdentityKey;
use sealscan_agent::resolve::JobCredentials;
use sealscan_agent::scan;
use sealscan_protocols::appliance::{Job, ResultPost};
use sealscan_protocols::envelope::{self, Binding};
use std::sync::Arc;

/// An appliance identity held as the agent holds it: in a locked arena.
pub struct Appliance {
    _arena: Arena,
    pub identity: Arc<IdentityKey>,
}

impl Appliance {
    pub fn new() -> Self {
        let arena = Arena::new().expect("locked arena (tests run as root)");
        let identity = Arc::new(IdentityKey::generate(&arena).expect("identity key"));
        Self {
            _arena: arena,
            identity,
        }
    }

    /// Seals `plaintext` to this appliance as the operator's CLI would, bound to `fields`.
    pub fn seal(&self, fields: &Binding, plaintext: &[u8]) -> String {
        seal_to(self.identity.public_key(), fields, plaintext)
    }
}

impl Default for Appliance {
    fn default() -> Self {
        Self::new()
    }
}

/// Seals `plaintext` to `public_key`, bound to `fields`; the envelope's text form.
pub fn seal_to(public_key: &[u8; 32], fields: &Binding, plaintext: &[u8]) -> String {
    envelope::seal(plaintext, fields, &[*public_key])
        .expect("seal")
        .to_text()
}

/// The envelope with one ciphertext byte flipped: still well-formed, no longer authentic.
pub fn tamper(envelope_text: &str) -> String {
    let envelope = envelope::Envelope::from_text(envelope_text).expect("envelope");
    let mut bytes = envelope.to_bytes();
    // The payload is a 12-byte nonce, a u32 length, then the ciphertext (docs/ncsm-envelope.md,
    // section 4): flip the ciphertext's first byte.
    let at = envelope.header_bytes().len() + 12 + 4;
    if let Some(b) = bytes.get_mut(at) {
        *b ^= 0x01;
    }
    envelope::Envelope::from_bytes(&bytes)
        .expect("a flipped ciphertext byte still parses")
        .to_text()
}

/// Runs every target of `job` as the daemon does (one credential source per job, vault
/// sessions finished at the end) with a fresh appliance key.
pub fn run_job(job: &Job, timeouts: Timeouts) -> Vec<ResultPost> {
    run_job_as(&Appliance::new(), job, timeouts)
}

/// [`run_job`] as `appliance`, which envelopes in the job may be sealed to.
pub fn run_job_as(appliance: &Appliance, job: &Job, timeouts: Timeouts) -> Vec<ResultPost> {
    let identity = appliance.identity.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let creds = Arc::new(JobCredentials::new(job, identity));
        let mut tasks = Vec::new();
        for t in &job.targets {
            let (creds, t, job_id) = (creds.clone(), t.clone(), job.job_id.clone());
            tasks.push(tokio::spawn(async move {
                scan::run_target(&job_id, creds, &t, &timeouts).await
            }));
        }
        let mut posts = Vec::new();
        for task in tasks {
            posts.push(task.await.expect("target task"));
        }
        creds.finish().await;
        posts
    })
}
