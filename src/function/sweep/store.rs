//! Where the sweep keeps its state between runs ([`SweepState`]): one DynamoDB item, read once per
//! run and written only when something changed.

use crate::aws::client::Clients;
use crate::aws::error::{classify, AwsError};
use crate::watch::state::SweepState;
use aws_sdk_dynamodb::types::AttributeValue;
use std::future::Future;

/// The key of the state's item (attribute `id`).
pub const ITEM_ID: &str = "sweep";
/// DynamoDB's item limit is 400 KB; the state stops short of it (about 4,000 watched groups of
/// typical names, with their reports and a pass under way).
pub const MAX_STATE_BYTES: usize = 380 * 1024;

/// Why the state could not be read or kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The DynamoDB call failed.
    #[error("{0}")]
    Aws(#[from] AwsError),
    /// The stored document does not read (nothing is done on a state that cannot be trusted).
    #[error("stored state does not read: {0}")]
    Corrupt(String),
    /// The state outgrew one item.
    #[error("state of {0} bytes is over {MAX_STATE_BYTES}: too many groups for one stack")]
    TooLarge(usize),
}

/// The sweep's memory.
pub trait StateStore {
    /// The state (the default when none was ever kept).
    fn load(&self) -> impl Future<Output = Result<SweepState, StoreError>> + Send;
    /// Keeps `state`.
    fn save(&self, state: &SweepState) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One item of a DynamoDB table (key `id`, the document in `state`); its requests are counted by
/// the clients' counter.
#[derive(Debug, Clone)]
pub struct DynamoState {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoState {
    /// The state in `table`, over a client from `clients`.
    pub fn new(clients: &Clients, table: impl Into<String>) -> Self {
        DynamoState { client: clients.dynamodb(), table: table.into() }
    }
}

fn encode(state: &SweepState) -> Result<String, StoreError> {
    let json = serde_json::to_string(state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if json.len() > MAX_STATE_BYTES {
        return Err(StoreError::TooLarge(json.len()));
    }
    Ok(json)
}

fn decode(json: &str) -> Result<SweepState, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl StateStore for DynamoState {
    async fn load(&self) -> Result<SweepState, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(ITEM_ID.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        match out.item().and_then(|i| i.get("state")) {
            None => Ok(SweepState::default()),
            Some(AttributeValue::S(json)) => decode(json),
            Some(other) => Err(StoreError::Corrupt(format!("state is not a string: {other:?}"))),
        }
    }

    async fn save(&self, state: &SweepState) -> Result<(), StoreError> {
        let json = encode(state)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", AttributeValue::S(ITEM_ID.into()))
            .item("state", AttributeValue::S(json))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
