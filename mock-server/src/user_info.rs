//! The `user_info` group: `GET /v2/user/info/` (`user_info`), the token's creator with exactly
//! the fields asked for.

use crate::error::{ApiError, Data};
use crate::projection::Projection;
use crate::state::{AppState, Call};
use crate::store::ApiUser;

/// `GET /v2/user/info/`: the token's creator, exactly the fields asked for (`{"user": …}`,
/// serialized straight from the stored creator, the open_id the token's app's).
pub fn user_info(state: &AppState, call: &Call<'_>) -> Result<Data, ApiError> {
    let open_id = call.open_id()?;
    let client_key = call.token.map_or("", |token| token.client_key.as_str());
    let app_open_id = state.open_ids().of(client_key, open_id);
    let creator = state.store().creator_shared(open_id).ok_or_else(|| {
        ApiError::AccessTokenInvalid("The user of this access token no longer exists.".to_owned())
    })?;
    let mut projection = Projection::new(call.fields);
    let video_count = if projection.wants("video_count") {
        state.store().video_count(open_id)
    } else {
        0
    };
    let mut out = Data::buffer(256, 0);
    let start = out.len();
    out.extend_from_slice(b"{\"user\":");
    projection.write(
        &mut out,
        &ApiUser {
            creator: &creator,
            open_id: &app_open_id,
            video_count,
        },
    );
    out.push(b'}');
    Ok(Data::from_buffer(out, start))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::examples::project;
    use crate::state::AppState;
    use crate::tokens::user_scopes;

    /// The bytes are those of the `Value` the mock used to build, for every field.
    #[test]
    fn the_answer_is_the_projected_user_json() {
        let state = AppState::new();
        let open_id = state.default_open_id().expect("a creator");
        let creator = state.store().creator(&open_id).expect("the creator");
        let schema = tiktok_api::endpoints::USER_INFO
            .fields
            .expect("user info has fields")
            .schema;
        let all: Vec<_> = schema.fields.iter().collect();
        for fields in [&all[..], &all[..1], &all[3..7]] {
            let token = crate::store::TokenRecord {
                access_token: "act.test".to_owned(),
                kind: crate::store::TokenKind::User,
                open_id: Some(open_id.clone()),
                // The demo app, which sees the creator's own open_id.
                client_key: state.fixtures().apps[0].client_key.clone(),
                scopes: user_scopes(),
                expires_at_ms: i64::MAX,
                refresh_token: None,
                refresh_expires_at_ms: None,
                revoked: false,
            };
            let call = crate::state::Call {
                endpoint: &tiktok_api::endpoints::USER_INFO,
                token: Some(&token),
                fields,
                body: &json!({}),
                now_ms: 0,
            };
            let data = super::user_info(&state, &call).expect("answers");
            let user = creator.to_user_json(state.store().video_count(&open_id));
            let expected = json!({ "user": project(&user, fields) });
            assert_eq!(
                String::from_utf8(data.to_json_bytes()).expect("utf-8"),
                serde_json::to_string(&expected).expect("json")
            );
        }
    }
}
