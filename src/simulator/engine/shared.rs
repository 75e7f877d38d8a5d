//! What the server task and the `Simulator` handle (`handle.rs`)
//! handle share: the key, the base URL, the account with its batches, and
//! the gate. Lock order when both are needed: `world` then `gate`.

use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use super::gate::Gate;
use super::world::World;

pub struct Shared {
    /// Replaced by `Simulator::rotate_api_key` (a key rotated in the account).
    api_key: Mutex<String>,
    /// `http://127.0.0.1:PORT`, for `links` in bodies.
    pub base: String,
    world: Mutex<World>,
    gate: Mutex<Gate>,
    /// Drives the deterministic string/number alternation of `meta.total`.
    pub query_count: AtomicU64,
}

impl Shared {
    pub fn new(api_key: String, base: String, world: World, gate: Gate) -> Self {
        Shared {
            api_key: Mutex::new(api_key),
            base,
            world: Mutex::new(world),
            gate: Mutex::new(gate),
            query_count: AtomicU64::new(0),
        }
    }

    /// The key requests must carry now.
    pub fn api_key(&self) -> String {
        self.api_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set_api_key(&self, key: String) {
        *self.api_key.lock().unwrap_or_else(PoisonError::into_inner) = key;
    }

    /// The account, with every due bulk batch applied first. A panic in
    /// another holder must not take the simulator down, hence no poisoning.
    pub fn account(&self) -> MutexGuard<'_, World> {
        let mut a = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        a.run_due_batches(Instant::now());
        a
    }

    pub fn gate(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
