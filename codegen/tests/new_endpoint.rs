//! An endpoint added to the spec reaches the client, the endpoint table, the reference
//! and the OpenAPI document with no hand-written code.

use std::collections::BTreeMap;
use std::path::Path;

fn spec_texts() -> BTreeMap<&'static str, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
    tiktok_codegen::spec::FILES
        .iter()
        .map(|file| {
            (
                *file,
                std::fs::read_to_string(dir.join(file))
                    .unwrap_or_else(|error| panic!("{file}: {error}")),
            )
        })
        .collect()
}

const NEW_ENDPOINT: &str = r#"
video_stats:
  group: videos
  method: POST
  path: /v2/video/stats/
  title: Get video stats
  summary: Read the view history of one of the creator's videos.
  description: A made-up endpoint that exists only in this test.
  access: read
  auth: user_token
  acts_on: video
  scopes: [video.list]
  request: {body: VideoStatsRequest, content_type: json}
  response: {data: VideoStats, envelope: v2}
  rate_limit: {per_minute: 42, source: design}
  errors: [invalid_params, access_token_invalid, scope_not_authorized, rate_limit_exceeded]
  version: Added in this test
  source: design
"#;

const NEW_SCHEMAS: &str = r#"
  VideoStatsRequest:
    description: Which video.
    source: design
    fields:
      video_id: {type: string, required: true, description: The video., example: "7300000000000000001"}
  VideoStats:
    description: Views of a video.
    source: design
    fields:
      video_id: {type: string, required: true, description: The video., example: "7300000000000000001"}
      views_last_hour: {type: i64, required: true, description: Views in the last hour., example: 12}
"#;

#[test]
fn an_added_endpoint_reaches_every_output() {
    let mut texts = spec_texts();
    texts
        .get_mut("endpoints.yaml")
        .expect("endpoints.yaml")
        .push_str(NEW_ENDPOINT);
    texts
        .get_mut("schemas.yaml")
        .expect("schemas.yaml")
        .push_str(NEW_SCHEMAS);
    let model = tiktok_codegen::load_texts(&texts).unwrap_or_else(|error| panic!("{error}"));
    let files: BTreeMap<String, String> = tiktok_codegen::generate_from(&model)
        .unwrap_or_else(|error| panic!("{error}"))
        .into_iter()
        .collect();
    let file = |path: &str| {
        files
            .get(path)
            .unwrap_or_else(|| panic!("{path} not generated"))
    };

    let client = file("generated/src/gen/client.rs");
    assert!(
        client.contains("pub async fn video_stats("),
        "no client method:\n{client}"
    );
    assert!(client.contains("body: &crate::VideoStatsRequest"));
    assert!(client.contains("crate::VideoStats, crate::Error>"));
    let table = file("generated/src/gen/endpoints.rs");
    assert!(table.contains("pub static VIDEO_STATS: crate::meta::EndpointMeta"));
    assert!(table.contains("path: \"/v2/video/stats/\""));
    assert!(table.contains("per_minute: 42"));
    assert!(table.contains("\"video_stats\" => Some(&VIDEO_STATS)"));
    let models = file("generated/src/gen/models.rs");
    assert!(models.contains("pub struct VideoStats {"));
    assert!(models.contains("pub views_last_hour: i64"));
    let reference = file("generated/REFERENCE.md");
    assert!(
        reference.contains("/v2/video/stats/"),
        "not in the reference"
    );
    let openapi = file("generated/openapi.yaml");
    assert!(
        openapi.contains("/v2/video/stats/:"),
        "not in the OpenAPI paths"
    );
    assert!(openapi.contains("VideoStatsRequest"));

    // Without the addition none of it is there, so the assertions above mean something.
    let baseline: BTreeMap<String, String> = tiktok_codegen::generate_from(
        &tiktok_codegen::load_texts(&spec_texts()).unwrap_or_else(|error| panic!("{error}")),
    )
    .unwrap_or_else(|error| panic!("{error}"))
    .into_iter()
    .collect();
    assert!(baseline.values().all(
        |contents| !contents.contains("video_stats") && !contents.contains("/v2/video/stats/")
    ));
}
