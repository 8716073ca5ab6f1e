//! The `user_info` group: `GET /v2/user/info/` (`user_info`), the token's creator with exactly
//! the fields asked for.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::examples::project;
use crate::state::{AppState, Call};

/// `GET /v2/user/info/`: the token's creator, exactly the fields asked for.
pub fn user_info(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let open_id = call.open_id()?;
    let creator = state.store().creator(open_id).ok_or_else(|| {
        ApiError::AccessTokenInvalid("The user of this access token no longer exists.".to_owned())
    })?;
    let user = creator.to_user_json(state.store().video_count(open_id));
    Ok(json!({ "user": project(&user, call.fields) }))
}
