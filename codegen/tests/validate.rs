//! Error messages for bad spec input: each test breaks the real spec with one small
//! textual edit, loads it, and snapshots the rendered error.
//!
//! Update snapshots with `INSTA_UPDATE=always cargo test -p tiktok-codegen --test validate`
//! (or `cargo insta review`), then read them: the message alone must let the author fix the YAML.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

/// One textual edit of one spec file: replace the first `from` after `after` with `to`.
#[derive(Clone, Copy)]
struct Edit {
    file: &'static str,
    after: &'static str,
    from: &'static str,
    to: &'static str,
}

/// Replaces the first `from` in `file` with `to`.
fn edit(file: &'static str, from: &'static str, to: &'static str) -> Edit {
    Edit {
        file,
        after: "",
        from,
        to,
    }
}

impl Edit {
    /// Makes the edit apply to the first `from` after the first occurrence of `anchor`
    /// (e.g. an endpoint id followed by a colon), so the same line in other entries is left alone.
    fn after(self, anchor: &'static str) -> Self {
        Self {
            after: anchor,
            ..self
        }
    }
}

/// The real spec files, as text keyed by file name.
fn real_spec() -> BTreeMap<&'static str, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
    tiktok_codegen::spec::FILES
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(dir.join(file))
                .unwrap_or_else(|error| panic!("reading spec/{file}: {error}"));
            (*file, text)
        })
        .collect()
}

/// The byte offset in `text` (of `file`) of the first `needle` after the first `after`.
fn offset(text: &str, file: &str, after: &str, needle: &str) -> usize {
    let start = text
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} is not in spec/{file}"));
    let found = text[start..]
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is not in spec/{file} after {after:?}"));
    start + found
}

/// The real spec with `edits` applied, in order.
fn mutate(edits: &[Edit]) -> BTreeMap<&'static str, String> {
    let mut texts = real_spec();
    for edit in edits {
        let text = texts.get_mut(edit.file).expect("a spec file name");
        let at = offset(text, edit.file, edit.after, edit.from);
        text.replace_range(at..at + edit.from.len(), edit.to);
    }
    texts
}

/// Loads the real spec with `edits` applied and returns the rendered error.
fn check(edits: &[Edit]) -> String {
    match tiktok_codegen::load_texts(&mutate(edits)) {
        Ok(_) => panic!("the spec loaded despite the edits"),
        Err(error) => error.to_string(),
    }
}

/// `spec/file:line:column` of the first `needle` after the first `after` in `file`
/// of the edited spec: where a message about that node must point.
fn locate(edits: &[Edit], file: &str, after: &str, needle: &str) -> String {
    let texts = mutate(edits);
    let text = &texts[file];
    let found = offset(text, file, after, needle);
    let line = text[..found].matches('\n').count() + 1;
    let column = text[..found]
        .rfind('\n')
        .map_or(found, |newline| found - newline - 1)
        + 1;
    format!("spec/{file}:{line}:{column}")
}

/// The line and column of a `spec/file:line:column` position.
fn line_column(position: &str) -> (usize, usize) {
    let mut parts = position.rsplitn(3, ':');
    let column = parts.next().and_then(|text| text.parse().ok());
    let line = parts.next().and_then(|text| text.parse().ok());
    line.zip(column)
        .unwrap_or_else(|| panic!("{position:?} is not file:line:column"))
}

/// Asserts that `message` reports a problem at `position` (`spec/file:line:column`)
/// about `path`, naming `found`.
fn assert_problem(message: &str, position: &str, path: &str, found: &str) {
    let head = format!("{position}: {path}: ");
    let line = message
        .lines()
        .find(|line| line.starts_with(&head))
        .unwrap_or_else(|| panic!("no problem starting {head:?} in:\n{message}"));
    assert!(line.contains(found), "{line:?} does not name {found:?}");
}

/// Asserts the count line at the end of `message`.
fn assert_count(message: &str, count: usize) {
    let last = message.lines().last().unwrap_or_default();
    let expected = match count {
        1 => "1 problem in the spec".to_string(),
        _ => format!("{count} problems in the spec"),
    };
    assert_eq!(last, expected, "in:\n{message}");
}

#[test]
fn real_spec_loads() {
    let model = tiktok_codegen::load_texts(&real_spec()).expect("the real spec is valid");
    assert!(!model.endpoints.is_empty());
}

#[test]
fn real_spec_loads_from_disk() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
    tiktok_codegen::load(&dir).expect("the real spec is valid");
}

// Scopes.

#[test]
fn unknown_scope_on_endpoint() {
    let edits = [edit("endpoints.yaml", "[video.list]", "[video.lisst]").after("\nvideo_list:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nvideo_list:", "video.lisst"),
        "endpoints.video_list.scopes[0]",
        "expected a scope defined in spec/scopes.yaml, found \"video.lisst\"",
    );
    assert!(message.contains("hint: known scopes: "));
    assert_count(&message, 1);
}

#[test]
fn unknown_scope_in_block_list() {
    let edits = [edit(
        "endpoints.yaml",
        "  scopes: [video.publish, video.upload]\n  real_scopes",
        "  scopes:\n    - video.publish\n    - video.uplod\n  real_scopes",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\ncreator_info:", "video.uplod"),
        "endpoints.creator_info.scopes[1]",
        "\"video.uplod\"",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_field_scope() {
    let edits = [edit(
        "schemas.yaml",
        "scope: user.info.basic, description: The profile name.",
        "scope: user.info.basc, description: The profile name.",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "schemas.yaml", "display_name:", "user.info.basc"),
        "schemas.User.fields.display_name.scope",
        "\"user.info.basc\"",
    );
    assert_count(&message, 1);
}

// Schema references.

#[test]
fn unknown_request_body_schema() {
    let edits = [edit(
        "endpoints.yaml",
        "body: TokenRequest",
        "body: TokenReqest",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\ntoken:", "TokenReqest"),
        "endpoints.token.request.body",
        "expected a schema defined in spec/schemas.yaml, found \"TokenReqest\"",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_response_data_schema() {
    let edits = [edit(
        "endpoints.yaml",
        "data: UserInfoData",
        "data: UserInfo",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nuser_info:", "UserInfo,"),
        "endpoints.user_info.response.data",
        "\"UserInfo\"",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_field_type() {
    let edits = [edit("schemas.yaml", "\"list<Video>\"", "\"list<Vido>\"")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    // One problem: the stand-in type must not also trip the example rule.
    assert_problem(
        &message,
        &locate(
            &edits,
            "schemas.yaml",
            "\n  VideoListData:",
            "\"list<Vido>\"",
        ),
        "schemas.VideoListData.fields.videos.type",
        "found \"list<Vido>\"",
    );
    assert!(message.contains("hint: \"Vido\" is not a type"));
    assert_count(&message, 1);
}

#[test]
fn unknown_webhook_content_schema() {
    let edits = [
        edit("webhooks.yaml", "content: ShareEvent", "content: ShareEvnt")
            .after("\nvideo.upload.failed:"),
    ];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(
            &edits,
            "webhooks.yaml",
            "\nvideo.upload.failed:",
            "ShareEvnt",
        ),
        "webhooks[\"video.upload.failed\"].content",
        "\"ShareEvnt\"",
    );
    assert_count(&message, 1);
}

// Routes and rate limits.

#[test]
fn duplicate_method_and_path() {
    let edits = [edit(
        "endpoints.yaml",
        "path: /v2/oauth/revoke/",
        "path: /v2/oauth/token/",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nrevoke:", "/v2/oauth/token/"),
        "endpoints.revoke.path",
        "endpoints.token already has them), found POST /v2/oauth/token/",
    );
    assert_count(&message, 1);
}

#[test]
fn rate_limit_of_zero() {
    let edits = [edit("endpoints.yaml", "per_minute: 600", "per_minute: 0").after("\nuser_info:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nuser_info:", "0, source"),
        "endpoints.user_info.rate_limit.per_minute",
        "expected a rate limit of at least 1 request per minute, found 0",
    );
    assert_count(&message, 1);
}

#[test]
fn undocumented_rate_limit_with_a_figure() {
    let edits = [edit(
        "endpoints.yaml",
        "per_minute: 20, source",
        "per_minute: 20, documented: false, source",
    )
    .after("\ncreator_info:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\ncreator_info:", "false, source"),
        "endpoints.creator_info.rate_limit.documented",
        "expected documented: false only on a limit without a per_minute figure",
    );
    assert_count(&message, 1);
}

#[test]
fn tier_of_zero_is_reported_once() {
    let edits = [edit("api.yaml", "per_minute: 600", "per_minute: 0")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    // Only the tier; the endpoints that use it are not blamed for its figure.
    assert_problem(
        &message,
        &locate(&edits, "api.yaml", "\nrate_limit_tiers:", "0\n"),
        "rate_limit_tiers.standard.per_minute",
        "found 0",
    );
    assert_count(&message, 1);
}

#[test]
fn webhook_retry_window_of_zero_names_its_key() {
    let edits = [edit(
        "api.yaml",
        "retry_window_seconds: 259200",
        "retry_window_seconds: 0",
    )];
    let message = check(&edits);
    assert_problem(
        &message,
        &locate(&edits, "api.yaml", "\nwebhook_delivery:", "0\n"),
        "webhook_delivery.retry_window_seconds",
        "found 0",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_rate_limit_tier() {
    let edits =
        [edit("endpoints.yaml", "tier: standard", "tier: standrd")
            .after("\nresearch_comment_list:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(
            &edits,
            "endpoints.yaml",
            "\nresearch_comment_list:",
            "standrd",
        ),
        "endpoints.research_comment_list.rate_limit.tier",
        "\"standrd\"",
    );
    assert!(message.contains("hint: known tiers: standard"));
    assert_count(&message, 1);
}

// Paging.

#[test]
fn paging_without_cursor() {
    let edits = [edit(
        "schemas.yaml",
        "      cursor: {type: i64, description: \"Return videos",
        "      since: {type: i64, description: \"Return videos",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nvideo_list:", "paging:"),
        "endpoints.video_list.paging",
        "found VideoListRequest, which has no `cursor`",
    );
    assert!(message.contains("hint: add `cursor` to schemas.VideoListRequest"));
    assert_count(&message, 1);
}

#[test]
fn paging_max_differs_from_the_request_schema() {
    let edits = [edit(
        "endpoints.yaml",
        "max_count: {default: 10, max: 20}",
        "max_count: {default: 10, max: 50}",
    )
    .after("\nvideo_list:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nvideo_list:", "50}"),
        "endpoints.video_list.paging.max_count.max",
        "found 50",
    );
    assert!(
        message.contains("the maximum of VideoListRequest.max_count (20)"),
        "{message}"
    );
    assert!(message.contains(
        "hint: give schemas.VideoListRequest.fields.max_count `minimum: 1, maximum: 50`"
    ));
    assert_count(&message, 1);
}

#[test]
fn schema_named_like_a_type_the_outputs_reserve() {
    let edits = [
        edit("schemas.yaml", "  VideoListData:", "  ErrorResponse:"),
        edit(
            "endpoints.yaml",
            "data: VideoListData,",
            "data: ErrorResponse,",
        ),
    ];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "schemas.yaml", "", "ErrorResponse:"),
        "schemas.ErrorResponse",
        "found \"ErrorResponse\"",
    );
    assert!(message.contains("hint: rename it; reserved: ApiErrorBody, Client"));
    assert_count(&message, 1);
}

#[test]
fn paging_on_endpoint_whose_request_cannot_page() {
    let edits = [edit(
        "endpoints.yaml",
        "  rate_limit:",
        "  paging: {style: index, items: videos, max_count: {default: 10, max: 20}}\n  rate_limit:",
    )
    .after("\nvideo_query:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nvideo_query:", "paging:"),
        "endpoints.video_query.paging",
        "found VideoQueryRequest, which has no `cursor`",
    );
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nvideo_query:", "max_count:"),
        "endpoints.video_query.paging.max_count",
        "found VideoQueryRequest, which has no `max_count`",
    );
    assert_count(&message, 2);
}

#[test]
fn paging_on_endpoint_without_body() {
    let edits = [edit(
        "endpoints.yaml",
        "  rate_limit:",
        "  paging: {style: index, items: users, max_count: {default: 10, max: 20}}\n  rate_limit:",
    )
    .after("\nuser_info:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    let paging = locate(&edits, "endpoints.yaml", "\nuser_info:", "paging:");
    assert_problem(
        &message,
        &paging,
        "endpoints.user_info.paging",
        "found no request body",
    );
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nuser_info:", "users"),
        "endpoints.user_info.paging.items",
        "found \"users\", which UserInfoData has not",
    );
    assert_count(&message, 4);
}

// Unknown and missing keys.

#[test]
fn misspelled_endpoint_key() {
    let edits = [edit("endpoints.yaml", "  summary:", "  sumary:").after("\nuser_info:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    // At the key, not its value.
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nuser_info:", "sumary:"),
        "endpoints.user_info.sumary",
        "found unknown field `sumary`",
    );
    assert!(message.contains("`summary`"));
    assert!(message.contains("hint: check the spelling"));
    assert_count(&message, 1);
}

#[test]
fn misspelled_schema_field_key() {
    let edits = [edit("schemas.yaml", "example: 1200", "exmple: 1200")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "schemas.yaml", "follower_count:", "exmple"),
        "schemas.User.fields.follower_count.exmple",
        "found unknown field `exmple`",
    );
    assert_count(&message, 1);
}

#[test]
fn misspelled_error_catalog_key() {
    let edits = [edit(
        "errors.yaml",
        "  meaning: The request",
        "  meanin: The request",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    // errors.yaml is a list at the top level; its positions must still be known.
    assert_problem(
        &message,
        &locate(&edits, "errors.yaml", "- code: ok", "meanin"),
        "errors[0].meanin",
        "found unknown field `meanin`",
    );
    assert_count(&message, 1);
}

#[test]
fn missing_required_key() {
    let edits = [edit("endpoints.yaml", "  access: read\n", "").after("\nuser_info:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "", "user_info:"),
        "endpoints.user_info",
        "expected field `access`, found nothing",
    );
    assert_count(&message, 1);
}

// Error codes.

#[test]
fn unknown_error_code_in_flow_list() {
    let edits = [edit("endpoints.yaml", "internal_error]", "internal_eror]").after("\nuser_info:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nuser_info:", "internal_eror"),
        "endpoints.user_info.errors[5]",
        "expected an error code of spec/errors.yaml, found \"internal_eror\"",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_error_code_in_block_list() {
    let edits = [edit(
        "endpoints.yaml",
        "- internal_error",
        "- internal_eror",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\ncreator_info:", "internal_eror"),
        "endpoints.creator_info.errors[3]",
        "\"internal_eror\"",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_error_code_with_status() {
    let edits = [edit(
        "endpoints.yaml",
        "{code: reached_active_user_cap,",
        "{code: reached_active_user_cup,",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(
            &edits,
            "endpoints.yaml",
            "\ncreator_info:",
            "reached_active_user_cup",
        ),
        "endpoints.creator_info.errors[6].code",
        "\"reached_active_user_cup\"",
    );
    assert_count(&message, 1);
}

#[test]
fn misspelled_key_in_error_with_status() {
    let edits = [edit(
        "endpoints.yaml",
        "{code: reached_active_user_cap, status: 200}",
        "{code: reached_active_user_cap, stauts: 200}",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(
            &edits,
            "endpoints.yaml",
            "\ncreator_info:",
            "{code: reached",
        ),
        "endpoints.creator_info.errors[6]",
        "found unknown field `stauts`",
    );
    assert!(message.contains("`code` or `status`"));
    assert_count(&message, 1);
}

// Webhooks.

#[test]
fn unknown_webhook_on_endpoint() {
    let edits = [edit(
        "endpoints.yaml",
        "webhooks: [video.publish.completed]",
        "webhooks: [video.publish.complete]",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(
            &edits,
            "endpoints.yaml",
            "\nvideo_init:",
            "video.publish.complete]",
        ),
        "endpoints.video_init.webhooks[0]",
        "expected a webhook event defined in spec/webhooks.yaml, found \"video.publish.complete\"",
    );
    assert!(message.contains("hint: known events: "));
    assert_count(&message, 1);
}

#[test]
fn unknown_real_webhook() {
    let edits = [edit(
        "endpoints.yaml",
        "post.publish.failed], source: O-ST}",
        "post.publish.fail], source: O-ST}",
    )
    .after("\nvideo_init:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(
            &edits,
            "endpoints.yaml",
            "\nvideo_init:",
            "post.publish.fail]",
        ),
        "endpoints.video_init.real_webhooks.events[2]",
        "\"post.publish.fail\"",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_webhook_trigger() {
    let edits = [edit("webhooks.yaml", "[revoke]", "[revok]")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "webhooks.yaml", "", "revok]"),
        "webhooks[\"authorization.removed\"].triggered_by[0]",
        "expected an endpoint id of spec/endpoints.yaml, found \"revok\"",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_webhook_family() {
    let edits = [
        edit("webhooks.yaml", "family: real", "family: actual").after("\npost.publish.complete:")
    ];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(
            &edits,
            "webhooks.yaml",
            "\npost.publish.complete:",
            "actual",
        ),
        "webhooks[\"post.publish.complete\"].family",
        "expected seed or real, found \"actual\"",
    );
    assert_count(&message, 1);
}

#[test]
fn reason_code_that_is_not_a_number() {
    let edits = [edit(
        "webhooks.yaml",
        "    5: The developer",
        "    five: The developer",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    // At the bad key, not at `reason_codes:`.
    assert_problem(
        &message,
        &locate(&edits, "webhooks.yaml", "", "five:"),
        "webhooks[\"authorization.removed\"].reason_codes",
        "\"five\"",
    );
    assert_count(&message, 1);
}

// Sources.

#[test]
fn unknown_source_key() {
    let edits = [edit("endpoints.yaml", "source: O-VLIST", "source: O-VLST")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nvideo_list:", "O-VLST"),
        "endpoints.video_list.source",
        "expected a source key of spec/api.yaml sources, found \"O-VLST\"",
    );
    assert!(message.contains("hint: known sources: "));
    assert_count(&message, 1);
}

#[test]
fn unknown_source_key_of_a_tier() {
    let edits = [edit("api.yaml", "source: design", "source: desgn")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "api.yaml", "\nrate_limit_tiers:", "desgn"),
        "rate_limit_tiers.standard.source",
        "\"desgn\"",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_source_key_in_error_catalog() {
    let edits = [edit("errors.yaml", "  source: seed", "  source: sed")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "errors.yaml", "code: invalid_params", "sed\n"),
        "errors[1].source",
        "\"sed\"",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_source_key_of_real_scopes() {
    let edits = [edit(
        "endpoints.yaml",
        "real_scopes: {scopes: [video.publish], source: O-CI}",
        "real_scopes: {scopes: [video.publish], source: O-CII}",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\ncreator_info:", "O-CII"),
        "endpoints.creator_info.real_scopes.source",
        "\"O-CII\"",
    );
    assert_count(&message, 1);
}

#[test]
fn unknown_source_key_of_oauth_rule() {
    let edits = [edit(
        "api.yaml",
        "code_ttl_seconds: {current: 300, previous: 300, source: design}",
        "code_ttl_seconds: {current: 300, previous: 300, source: ours}",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "api.yaml", "code_ttl_seconds:", "ours"),
        "oauth.code_ttl_seconds.source",
        "\"ours\"",
    );
    assert_count(&message, 1);
}

// YAML syntax and types.

#[test]
fn unclosed_flow_mapping() {
    let edits = [edit(
        "endpoints.yaml",
        "content_type: json}",
        "content_type: json",
    )
    .after("\nvideo_list:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    // libyaml notices on the next line; the message also names where the mapping opened.
    let opened = locate(
        &edits,
        "endpoints.yaml",
        "\nvideo_list:",
        "{body: VideoListRequest",
    );
    let (line, column) = line_column(&opened);
    assert!(message.starts_with("spec/endpoints.yaml:"));
    assert!(
        message.contains(&format!(
            "while parsing a flow mapping at line {line} column {column}"
        )),
        "{message}"
    );
    assert_count(&message, 1);
}

#[test]
fn bad_indentation() {
    let edits = [edit("endpoints.yaml", "  method: GET", " method: GET")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    let (line, _) = line_column(&locate(
        &edits,
        "endpoints.yaml",
        "\nuser_info:",
        "method: GET",
    ));
    assert!(
        message.starts_with(&format!("spec/endpoints.yaml:{line}:")),
        "{message}"
    );
    assert!(message.contains("expected valid YAML, found did not find expected key"));
    assert_count(&message, 1);
}

#[test]
fn duplicate_endpoint_id() {
    let edits = [edit("endpoints.yaml", "\nrevoke:", "\ntoken:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    // At the second `token:`, naming the first.
    let second = locate(
        &edits,
        "endpoints.yaml",
        "path: /v2/oauth/token/",
        "token:\n  group",
    );
    assert!(message.starts_with(&format!("{second}: ")), "{message}");
    assert!(message.contains("duplicate entry with key \"token\" (first at line 2)"));
    assert_count(&message, 1);
}

#[test]
fn anchors_are_rejected() {
    let edits = [
        edit(
            "endpoints.yaml",
            "rate_limit: {tier: standard, documented: false, source: O-TOK}",
            "rate_limit: &standard {tier: standard, documented: false, source: O-TOK}",
        ),
        edit(
            "endpoints.yaml",
            "rate_limit: {tier: standard, documented: false, source: O-TOK}",
            "rate_limit: *standard",
        )
        .after("\nrevoke:"),
    ];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    let (line, _) = line_column(&locate(&edits, "endpoints.yaml", "", "&standard"));
    assert!(
        message.starts_with(&format!("spec/endpoints.yaml:{line}:")),
        "{message}"
    );
    assert!(message.contains("found an anchor"));
    assert_count(&message, 1);
}

#[test]
fn wrong_type_of_number() {
    let edits =
        [edit("endpoints.yaml", "per_minute: 600", "per_minute: fast").after("\nuser_info:")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nuser_info:", "fast"),
        "endpoints.user_info.rate_limit.per_minute",
        "expected i64, found invalid type: string \"fast\"",
    );
    assert_count(&message, 1);
}

#[test]
fn wrong_type_of_boolean() {
    let edits = [edit(
        "scopes.yaml",
        "review_required: false",
        "review_required: maybe",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "scopes.yaml", "", "maybe"),
        "scopes[\"user.info.basic\"].review_required",
        "expected a boolean, found invalid type: string \"maybe\"",
    );
    assert_count(&message, 1);
}

#[test]
fn example_of_wrong_type() {
    let edits = [edit("schemas.yaml", "example: 1200", "example: lots")];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "schemas.yaml", "follower_count:", "lots"),
        "schemas.User.fields.follower_count.example",
        "expected an example of type i64, found \"lots\"",
    );
    assert_count(&message, 1);
}

#[test]
fn example_outside_its_enum() {
    let edits = [edit(
        "schemas.yaml",
        "example: SELF_ONLY}",
        "example: SELF}",
    )];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    assert_problem(
        &message,
        &locate(&edits, "schemas.yaml", "\n  PostInfo:", "SELF}"),
        "schemas.PostInfo.fields.privacy_level.example",
        "\"SELF\", not a value of PrivacyLevel",
    );
    assert_count(&message, 1);
}

// Several problems at once.

#[test]
fn several_problems_in_different_files() {
    // Given out of order; reported by file (spec::FILES order), then line.
    let edits = [
        edit("webhooks.yaml", "content: ShareEvent", "content: ShareEvnt"),
        edit("endpoints.yaml", "source: O-VLIST", "source: O-VLST"),
        edit("endpoints.yaml", "[video.list]", "[video.lisst]").after("\nvideo_list:"),
        edit(
            "schemas.yaml",
            "scope: user.info.basic, description: The profile name.",
            "scope: user.info.basc, description: The profile name.",
        ),
    ];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    let positions: Vec<&str> = message
        .lines()
        .filter(|line| line.starts_with("spec/"))
        .map(|line| line.split(": ").next().expect("a position"))
        .collect();
    assert_eq!(
        positions,
        [
            locate(&edits, "schemas.yaml", "display_name:", "user.info.basc"),
            locate(&edits, "endpoints.yaml", "\nvideo_list:", "video.lisst"),
            locate(&edits, "endpoints.yaml", "\nvideo_list:", "O-VLST"),
            locate(&edits, "webhooks.yaml", "", "ShareEvnt"),
        ]
    );
    assert_count(&message, 4);
}

#[test]
fn several_syntax_and_type_problems_in_different_files() {
    let edits = [
        edit("webhooks.yaml", "  family: seed", "  famly: seed"),
        edit("endpoints.yaml", "per_minute: 600", "per_minute: fast").after("\nuser_info:"),
        edit(
            "api.yaml",
            "  title: TikTok v2 API",
            "  title: [TikTok v2 API",
        ),
    ];
    let message = check(&edits);
    insta::assert_snapshot!(message);
    let files: Vec<&str> = message
        .lines()
        .filter(|line| line.starts_with("spec/"))
        .map(|line| line.split(':').next().expect("a file"))
        .collect();
    assert_eq!(
        files,
        ["spec/api.yaml", "spec/endpoints.yaml", "spec/webhooks.yaml"]
    );
    assert_problem(
        &message,
        &locate(&edits, "webhooks.yaml", "", "famly"),
        "webhooks[\"authorization.removed\"].famly",
        "unknown field `famly`",
    );
    assert_count(&message, 3);
}

#[test]
fn missing_files() {
    let message = tiktok_codegen::load_texts(&BTreeMap::new())
        .expect_err("no spec")
        .to_string();
    insta::assert_snapshot!(message);
    assert!(message.starts_with("spec/api.yaml"));
}

// No input panics.

/// One edit of a text's lines: delete or duplicate a line, or cut the text short.
#[derive(Debug, Clone)]
enum LineEdit {
    Delete(prop::sample::Index),
    Duplicate(prop::sample::Index),
    Truncate(prop::sample::Index),
}

fn line_edit() -> impl Strategy<Value = LineEdit> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(LineEdit::Delete),
        any::<prop::sample::Index>().prop_map(LineEdit::Duplicate),
        any::<prop::sample::Index>().prop_map(LineEdit::Truncate),
    ]
}

fn apply(text: &str, edit: &LineEdit) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    match edit {
        LineEdit::Delete(_) | LineEdit::Duplicate(_) if lines.is_empty() => String::new(),
        LineEdit::Delete(index) => {
            let at = index.index(lines.len());
            lines
                .iter()
                .enumerate()
                .filter(|(position, _)| *position != at)
                .map(|(_, line)| *line)
                .collect()
        }
        LineEdit::Duplicate(index) => {
            let at = index.index(lines.len());
            let mut out: Vec<&str> = lines.clone();
            out.insert(at, lines[at]);
            out.concat()
        }
        LineEdit::Truncate(index) => {
            let mut at = index.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_string()
        }
    }
}

proptest! {
    // Few cases, so the suite stays fast; no regression files are written.
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_edit_of_endpoints_panics(edits in prop::collection::vec(line_edit(), 1..4)) {
        assert_no_panic("endpoints.yaml", &edits)?;
    }

    #[test]
    fn no_edit_of_any_file_panics(
        file in prop::sample::select(&tiktok_codegen::spec::FILES[..]),
        edits in prop::collection::vec(line_edit(), 1..4),
    ) {
        assert_no_panic(file, &edits)?;
    }
}

/// Loads the real spec with `edits` applied to `file`; a panic fails the test, and an
/// error must render with its count line.
fn assert_no_panic(file: &str, edits: &[LineEdit]) -> Result<(), TestCaseError> {
    let mut texts = real_spec();
    let text = texts.get_mut(file).expect("a spec file name");
    for edit in edits {
        *text = apply(text, edit);
    }
    if let Err(error) = tiktok_codegen::load_texts(&texts) {
        let message = error.to_string();
        prop_assert!(message.ends_with("in the spec"), "{}", message);
    }
    Ok(())
}

// Titles and hints for tools.

#[test]
fn title_longer_than_a_few_words() {
    let edits = [edit(
        "endpoints.yaml",
        "title: Get profile",
        "title: Get the connected creator's profile fields, chosen by fields",
    )
    .after("\nuser_info:")];
    let message = check(&edits);
    assert_problem(
        &message,
        &locate(
            &edits,
            "endpoints.yaml",
            "\nuser_info:",
            "Get the connected",
        ),
        "endpoints.user_info.title",
        "at most 40 characters",
    );
    assert_count(&message, 1);
}

#[test]
fn title_with_a_closing_period() {
    let edits = [edit(
        "endpoints.yaml",
        "title: Get profile",
        "title: Get profile.",
    )
    .after("\nuser_info:")];
    let message = check(&edits);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nuser_info:", "Get profile."),
        "endpoints.user_info.title",
        "found \"Get profile.\"",
    );
    assert_count(&message, 1);
}

#[test]
fn write_without_destructive() {
    let edits = [edit("endpoints.yaml", "  destructive: false\n", "").after("\nvideo_init:")];
    let message = check(&edits);
    assert!(
        message.contains(
            "endpoints.video_init.destructive: expected true or false on a write (false: it only adds), found nothing"
        ),
        "{message}"
    );
    assert_count(&message, 1);
}

#[test]
fn read_with_destructive() {
    let edits = [edit(
        "endpoints.yaml",
        "  access: read\n",
        "  access: read\n  destructive: false\n",
    )
    .after("\nuser_info:")];
    let message = check(&edits);
    assert_problem(
        &message,
        &locate(&edits, "endpoints.yaml", "\nuser_info:", "false\n"),
        "endpoints.user_info.destructive",
        "expected no `destructive` on a read",
    );
    assert_count(&message, 1);
}
