//! The control API's request extractors: a JSON body (empty means `{}`) and a query string,
//! each refused with 400 `invalid_params` naming the problem.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A control call's JSON body: an empty or all-whitespace body reads as `{}`.
#[derive(Debug, Clone)]
pub struct ControlJson<T>(pub T);

impl<T: DeserializeOwned> ControlJson<T> {
    /// Parses the bytes of a control body.
    pub fn parse(bytes: &[u8]) -> Result<T, ApiError> {
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            bytes
        };
        serde_json::from_slice(bytes).map_err(|error| {
            ApiError::InvalidParams(format!("The request body is invalid: {error}"))
        })
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ControlJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|error| {
            ApiError::InvalidParams(format!("The request body is invalid: {error}"))
        })?;
        ControlJson::parse(&bytes).map(ControlJson)
    }
}

/// A control call's query string.
#[derive(Debug, Clone)]
pub struct ControlQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ControlQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
            .map(ControlQuery)
            .map_err(|error| {
                ApiError::InvalidParams(format!("The query string is invalid: {error}"))
            })
    }
}
