//! The mock is driven by the endpoint table: an endpoint added to the spec is served with
//! no new code, and every spec endpoint answers schema-valid data built from the examples.

mod support;

use serde_json::{Value, json};
use support::{Harness, all_user_scopes};
use tiktok_api::ErrorCode;
use tiktok_api::Scope;
use tiktok_api::endpoints::USER_INFO;
use tiktok_api::meta::{
    Access, Auth, ContentType, EndpointError, EndpointMeta, Envelope, FieldMeta, FieldsParam,
    HttpMethod, RateLimit, SchemaMeta, TypeMeta,
};
use tiktok_mock::examples::example_object;
use tiktok_mock::validate::validate_body;

const fn field(name: &'static str, ty: TypeMeta, required: bool) -> FieldMeta {
    FieldMeta {
        name,
        ty,
        required,
        scope: None,
        max_length: None,
        min_items: None,
        max_items: None,
        minimum: None,
        maximum: None,
        example: None,
        secret: false,
    }
}

static WIDGET: SchemaMeta = SchemaMeta {
    name: "Widget",
    description: "A widget.",
    fields: &[
        FieldMeta {
            example: Some("\"gizmo\""),
            scope: Some(Scope::VideoList),
            ..field("name", TypeMeta::String, true)
        },
        FieldMeta {
            example: Some("3"),
            scope: Some(Scope::UserInfoStats),
            ..field("size", TypeMeta::I32, false)
        },
    ],
};

static WIDGET_DATA: SchemaMeta = SchemaMeta {
    name: "WidgetData",
    description: "The data of a widget answer.",
    fields: &[field(
        "widgets",
        TypeMeta::List(&TypeMeta::Schema(&WIDGET)),
        true,
    )],
};

static WIDGET_REQUEST: SchemaMeta = SchemaMeta {
    name: "WidgetRequest",
    description: "Which widget.",
    fields: &[FieldMeta {
        minimum: Some(1),
        ..field("widget_id", TypeMeta::I64, true)
    }],
};

/// An endpoint that is in no spec: the mock must serve it from this table alone.
static WIDGET_LIST: EndpointMeta = WIDGET_LIST_META;

/// The same endpoint at another path, whose table sends `access_token_invalid` with HTTP 200
/// (the way creator_info sends its spam codes).
static WIDGET_ODD: EndpointMeta = EndpointMeta {
    id: "widget_odd",
    path: "/v2/widget/odd/",
    errors: &[EndpointError {
        code: ErrorCode::AccessTokenInvalid,
        status: 200,
    }],
    ..WIDGET_LIST_META
};

const WIDGET_LIST_META: EndpointMeta = EndpointMeta {
    id: "widget_list",
    group: "widgets",
    method: HttpMethod::Post,
    path: "/v2/widget/list/",
    summary: "List widgets.",
    description: "A made-up endpoint.",
    access: Access::Read,
    auth: Auth::UserToken,
    scopes: &[Scope::VideoList],
    real_scopes: None,
    scope_by: None,
    fields: Some(FieldsParam {
        schema: &WIDGET,
        required: true,
    }),
    request: Some((&WIDGET_REQUEST, ContentType::Json)),
    response: &WIDGET_DATA,
    envelope: Envelope::V2,
    paging: None,
    limits: &[],
    rate_limit: RateLimit {
        per_minute: 2,
        window_seconds: 60,
        tier: None,
        documented: true,
    },
    webhooks: &[],
    real_webhooks: &[],
    errors: &[],
    version: "test",
    source: "test",
};

static TABLE: &[&EndpointMeta] = &[&USER_INFO, &WIDGET_LIST, &WIDGET_ODD];

#[tokio::test]
async fn errors_go_with_the_status_the_endpoint_table_gives_them() {
    let mock = Harness::with(|builder| builder.endpoints(TABLE));
    let answer = mock
        .post_json("/v2/widget/odd/?fields=name", None, r#"{"widget_id": 1}"#)
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (200, "access_token_invalid"),
        "{}",
        answer.text
    );
    mock.post_json("/v2/widget/list/?fields=name", None, r#"{"widget_id": 1}"#)
        .await
        .assert_error(401, "access_token_invalid");
}

#[tokio::test]
async fn an_endpoint_added_to_the_table_is_served_with_no_new_code() {
    let mock = Harness::with(|builder| builder.endpoints(TABLE));
    let path = "/v2/widget/list/?fields=name";
    let body = r#"{"widget_id": 1}"#;
    mock.post_json(path, None, body)
        .await
        .assert_error(401, "access_token_invalid");
    let no_scope = mock.token(&[Scope::UserInfoBasic]);
    mock.post_json(path, Some(&no_scope), body)
        .await
        .assert_error(401, "scope_not_authorized");
    let token = mock.token(&[Scope::VideoList]);
    let answer = mock.post_json(path, Some(&token), body).await;
    answer.assert_ok();
    assert_eq!(answer.data(), &json!({"widgets": [{"name": "gizmo"}]}));
    // Field scopes, unknown fields and body validation come from the table too.
    let answer = mock
        .post_json("/v2/widget/list/?fields=name,size", Some(&token), body)
        .await;
    answer.assert_error(400, "scope_permission_missed");
    let other = mock.token(&all_user_scopes());
    let answer = mock
        .post_json("/v2/widget/list/?fields=colour", Some(&other), body)
        .await;
    answer.assert_error(400, "invalid_params");
    assert!(answer.message().contains("colour"));
    let answer = mock
        .post_json(path, Some(&other), r#"{"widget_id": 0}"#)
        .await;
    answer.assert_error(400, "invalid_params");
    assert!(answer.message().contains("widget_id"));
    // Rate limit: 2 a minute per token (the first token made its two calls above).
    mock.post_json(path, Some(&token), body)
        .await
        .assert_error(429, "rate_limit_exceeded");
    let fresh = mock.token(&[Scope::VideoList]);
    mock.post_json(path, Some(&fresh), body).await.assert_ok();
    // Endpoints missing from the table are not served.
    let answer = mock
        .post_json("/v2/video/list/?fields=id", Some(&token), "{}")
        .await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (404, "Unsupported path(Janus)")
    );
}

#[tokio::test]
async fn a_hand_written_behaviour_can_be_plugged_in_and_removed() {
    let mock = Harness::with(|builder| {
        builder.endpoints(TABLE).behaviour(
            "widget_list",
            std::sync::Arc::new(|_state, call| {
                let id = call.body["widget_id"].as_i64().unwrap_or_default();
                Ok(json!({"widgets": [{"name": format!("widget {id}")}]}).into())
            }),
        )
    });
    let token = mock.token(&[Scope::VideoList]);
    let answer = mock
        .post_json(
            "/v2/widget/list/?fields=name",
            Some(&token),
            r#"{"widget_id": 9}"#,
        )
        .await;
    assert_eq!(answer.data(), &json!({"widgets": [{"name": "widget 9"}]}));

    // Without its behaviour, user info answers from the spec's examples.
    let mock = Harness::with(|builder| builder.without_behaviour("user_info"));
    let token = mock.token(&all_user_scopes());
    let answer = mock
        .get("/v2/user/info/?fields=open_id,display_name", Some(&token))
        .await;
    assert_eq!(
        answer.data(),
        &json!({"user": {"open_id": "-000demo4d3f7a1c9e2b4f6a8c0d2e4f6a8b", "display_name": "Demo Creator"}})
    );
}

/// Every endpoint of the spec, called with a request built from the spec's examples, answers
/// `ok` with data that validates against its response schema.
#[tokio::test]
async fn every_spec_endpoint_answers_schema_valid_data() {
    let fixtures = format!(
        "{}\n",
        tiktok_mock::fixtures::DEMO_YAML.replacen(
            "apps:\n",
            "apps:\n  - {client_key: demo_client_key, client_secret: demo_client_secret}\n",
            1
        )
    );
    let fixtures = tiktok_mock::Fixtures::from_yaml(&fixtures).expect("fixtures");
    let mock = Harness::with(|builder| builder.fixtures(fixtures));
    let user = mock.token(&all_user_scopes());
    let client = mock.mint(tiktok_mock::MintRequest {
        kind: Some(tiktok_mock::store::TokenKind::Client),
        ..Default::default()
    });
    // The token and revoke examples name a code ("demo_code", with the example verifier's
    // challenge) and a user token ("act.demo"): make them real.
    let open_id = mock.open_id();
    let verifier = "demo-verifier-demo-verifier-demo-verifier-0001";
    mock.state
        .store()
        .put_auth_code(tiktok_mock::store::AuthCode {
            code: "demo_code".to_owned(),
            client_key: "demo_client_key".to_owned(),
            open_id: open_id.clone(),
            scopes: vec![Scope::UserInfoBasic],
            redirect_uri: "https://app.example/callback".to_owned(),
            code_challenge: Some(
                tiktok_api::oauth::Pkce::from_verifier(verifier)
                    .expect("verifier")
                    .challenge_hex(),
            ),
            expires_at_ms: i64::MAX,
            used: false,
            access_token: None,
        });
    mock.state
        .store()
        .put_token(tiktok_mock::store::TokenRecord {
            access_token: "act.demo".to_owned(),
            kind: tiktok_mock::store::TokenKind::User,
            open_id: Some(open_id),
            client_key: "demo_client_key".to_owned(),
            scopes: vec![Scope::UserInfoBasic],
            expires_at_ms: i64::MAX,
            refresh_token: None,
            refresh_expires_at_ms: None,
            revoked: false,
        });
    // Status fetch asks about the post the example video init started.
    let mut publish_id = None;
    for endpoint in tiktok_api::ENDPOINTS {
        let mut uri = endpoint.path.to_owned();
        if let Some(param) = endpoint.fields {
            let names: Vec<&str> = param.schema.fields.iter().map(|field| field.name).collect();
            uri = format!("{uri}?fields={}", names.join(","));
        }
        let mut request = axum::http::Request::builder()
            .method(endpoint.method.as_str())
            .uri(&uri);
        match endpoint.auth {
            Auth::UserToken => request = request.header("authorization", format!("Bearer {user}")),
            Auth::ClientToken => {
                request = request.header("authorization", format!("Bearer {client}"))
            }
            Auth::ClientCredentials => {}
        }
        let body = match endpoint.request {
            Some((schema, ContentType::Json)) => {
                let mut body = example_object(schema, None);
                // The research comment list takes exactly one of video_id and comment_id;
                // the examples give both.
                if endpoint.id == "research_comment_list"
                    && let Some(object) = body.as_object_mut()
                {
                    object.remove("comment_id");
                }
                if let (Some(id), Some(field)) = (&publish_id, body.get_mut("publish_id")) {
                    *field = Value::clone(id);
                }
                validate_body(schema, &body)
                    .unwrap_or_else(|e| panic!("{}: example body: {e}", endpoint.id));
                request = request.header("content-type", "application/json");
                body.to_string()
            }
            Some((schema, ContentType::Form)) => {
                let body = example_object(schema, None);
                request = request.header("content-type", "application/x-www-form-urlencoded");
                let pairs: Vec<(String, String)> = body
                    .as_object()
                    .expect("object")
                    .iter()
                    .map(|(key, value)| {
                        let text = match value {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        };
                        (key.clone(), text)
                    })
                    .collect();
                serde_urlencoded::to_string(pairs).expect("form")
            }
            None => String::new(),
        };
        let answer = mock
            .send(request.body(axum::body::Body::from(body)).expect("request"))
            .await;
        assert_eq!(answer.status, 200, "{}: {}", endpoint.id, answer.text);
        let data = match endpoint.envelope {
            Envelope::V2 => {
                assert_eq!(answer.code(), "ok", "{}", answer.text);
                answer.data().clone()
            }
            Envelope::OAuth => answer.json.clone(),
        };
        if endpoint.id == "video_init" {
            publish_id = data.get("publish_id").cloned();
        }
        validate_body(endpoint.response, &data)
            .unwrap_or_else(|e| panic!("{}: response {data}: {e}", endpoint.id));
    }
}

#[tokio::test]
async fn content_init_picks_its_scope_by_post_mode() {
    let mock = Harness::new();
    let upload_only = mock.token(&[Scope::VideoUpload]);
    let body = |mode: &str| {
        json!({
            "media_type": "PHOTO",
            "post_mode": mode,
            "post_info": {},
            "source_info": {"source": "PULL_FROM_URL", "photo_images": ["https://media.demo.example/1.jpeg"], "photo_cover_index": 0},
        })
        .to_string()
    };
    let path = "/v2/post/publish/content/init/";
    let answer = mock
        .post_json(path, Some(&upload_only), body("DIRECT_POST"))
        .await;
    answer.assert_error(401, "scope_not_authorized");
    assert!(
        answer.message().contains("video.publish"),
        "{}",
        answer.text
    );
    mock.post_json(path, Some(&upload_only), body("MEDIA_UPLOAD"))
        .await
        .assert_ok();
}

/// A handler that panics (a bug, or a state file that can no longer be written) answers
/// TikTok's 500 `internal_error` in the envelope, and the mock goes on serving.
#[tokio::test]
async fn a_panicking_handler_answers_500_internal_error() {
    let mock = Harness::with(|builder| {
        builder.behaviour(
            "user_info",
            std::sync::Arc::new(
                |_: &tiktok_mock::AppState, _: &tiktok_mock::state::Call<'_>| {
                    panic!("deliberately broken")
                },
            ),
        )
    });
    let token = mock.token(&support::all_user_scopes());
    let answer = mock
        .get("/v2/user/info/?fields=open_id", Some(&token))
        .await;
    answer.assert_error(500, "internal_error");
    let list = mock
        .post_json("/v2/video/list/?fields=id", Some(&token), "{}")
        .await;
    list.assert_ok();
}
