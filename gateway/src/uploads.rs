//! No TikTok upload URL or upload token ever reaches an agent: an init that asks for one
//! (`source_info.source = FILE_UPLOAD`, in `video_init`, `inbox_video_init` or any tool that
//! takes a `source_info`) is refused before anything is sent, since the URL it returns
//! would let the agent PUT bytes straight to TikTok, outside the gateway; and, in case
//! TikTok hands one back anyway, every field the response schema marks secret (the
//! `upload_url`, whose query holds the upload token) and any `upload_url` key at all is
//! removed from a result before the agent sees it.

use serde_json::Value;
use tiktok_api::meta::{EndpointMeta, SchemaMeta, TypeMeta};

/// The source that returns an upload URL.
pub const FILE_UPLOAD: &str = "FILE_UPLOAD";

/// Why a call is refused for asking for an upload URL, if it does.
pub fn refusal(tool: &str, arguments: &Value) -> Option<String> {
    let source = arguments.get("source_info")?.get("source")?.as_str()?;
    (source == FILE_UPLOAD).then(|| {
        format!(
            "{tool} with source_info.source {FILE_UPLOAD} is refused: it would hand TikTok's upload URL to the agent, and a file's bytes go through a gateway upload tool, never straight to TikTok. Use source PULL_FROM_URL with a video_url on a domain verified for the app, or a gateway upload tool if this gateway offers one"
        )
    })
}

/// `value` (a result of `meta`) without the fields its response schema marks secret, nor
/// any key named `upload_url` at any depth.
pub fn strip_secrets(meta: &EndpointMeta, value: &mut Value) {
    strip_schema(meta.response, value);
    strip_upload_urls(value);
}

fn strip_schema(schema: &SchemaMeta, value: &mut Value) {
    let Value::Object(object) = value else { return };
    object.retain(|key, _| schema.field(key).is_none_or(|field| !field.secret));
    for (key, item) in object.iter_mut() {
        if let Some(field) = schema.field(key) {
            strip_type(&field.ty, item);
        }
    }
}

fn strip_type(ty: &TypeMeta, value: &mut Value) {
    match (ty, value) {
        (TypeMeta::Schema(schema), value) => strip_schema(schema, value),
        (TypeMeta::List(item), Value::Array(items)) => {
            items.iter_mut().for_each(|value| strip_type(item, value));
        }
        _ => {}
    }
}

fn strip_upload_urls(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.remove("upload_url");
            object.values_mut().for_each(strip_upload_urls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_upload_urls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tiktok_api::endpoints::{CONTENT_INIT, INBOX_VIDEO_INIT, VIDEO_INIT};

    use super::*;

    #[test]
    fn file_uploads_are_refused_and_pulls_are_not() {
        for tool in ["video_init", "inbox_video_init", "content_init"] {
            let upload = json!({"source_info": {"source": "FILE_UPLOAD", "video_size": 1}});
            let refused = refusal(tool, &upload).unwrap();
            assert!(refused.contains("gateway upload tool"), "{refused}");
            let pull =
                json!({"source_info": {"source": "PULL_FROM_URL", "video_url": "https://x"}});
            assert_eq!(refusal(tool, &pull), None);
        }
        assert_eq!(refusal("user_info", &json!({"fields": ["open_id"]})), None);
    }

    #[test]
    fn upload_urls_never_leave_a_result() {
        for meta in [&VIDEO_INIT, &INBOX_VIDEO_INIT, &CONTENT_INIT] {
            let mut value = json!({
                "publish_id": "v_pub_1",
                "upload_url": "https://open-upload.tiktokapis.com/video/?upload_id=1&upload_token=t",
                "nested": [{"upload_url": "https://x/?upload_token=t"}]
            });
            strip_secrets(meta, &mut value);
            assert_eq!(
                value,
                json!({"publish_id": "v_pub_1", "nested": [{}]}),
                "{}",
                meta.id
            );
        }
    }
}
