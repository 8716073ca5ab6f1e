//! Hand-written runtime helpers that sit beside the generated client.

#[cfg(feature = "webhook-receiver")]
pub mod webhook_receiver;
