//! The simulator's machinery between the account model and the HTTP
//! routes: the bulk-import batch store and the rules that apply a batch
//! (`batches`, `world`), reading a bulk request (`bulk_request`), the gate
//! of limits, faults and ledger (`gate`), and the shared state the server
//! and the handle lock (`shared`). No axum here.

pub mod batches;
pub mod bulk_request;
pub mod churn;
pub mod gate;
pub mod shared;
pub mod world;
