//! A job's kind, its tool definition (cut from `tools.json`) and its arguments checked:
//! [`JobKind`], [`Job`].

use std::sync::LazyLock;

use serde_json::{Map, Value, json};
use tiktok_api::endpoints::{
    CONTENT_INIT, CREATOR_INFO, INBOX_VIDEO_INIT, STATUS_FETCH, VIDEO_INIT, VIDEO_LIST,
};
use tiktok_api::meta::{Access, EndpointMeta};

use crate::Grant;
use crate::tools::{ArgumentError, TOOLS_JSON, error as problem, parse_arguments};

/// The most videos `list_all_videos` gathers in one call.
pub const MAX_VIDEOS: u64 = 1_000;
/// What `list_all_videos` gathers when `max_videos` is not given.
pub const DEFAULT_MAX_VIDEOS: u64 = 100;

/// The calls of a direct post, then of an inbox draft.
static VIDEO_WAYS: [&[&EndpointMeta]; 2] = [
    &[&CREATOR_INFO, &VIDEO_INIT, &STATUS_FETCH],
    &[&INBOX_VIDEO_INIT, &STATUS_FETCH],
];
static PHOTO_WAYS: [&[&EndpointMeta]; 2] = [
    &[&CREATOR_INFO, &CONTENT_INIT, &STATUS_FETCH],
    &[&CONTENT_INIT, &STATUS_FETCH],
];
static LIST_WAYS: [&[&EndpointMeta]; 1] = [&[&VIDEO_LIST]];

/// A tool made of several calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobKind {
    /// `post_video`.
    PostVideo,
    /// `post_photos`.
    PostPhotos,
    /// `list_all_videos`.
    ListAllVideos,
}

impl JobKind {
    /// Every job.
    pub const ALL: [JobKind; 3] = [
        JobKind::PostVideo,
        JobKind::PostPhotos,
        JobKind::ListAllVideos,
    ];

    /// The job named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Its tool name.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::PostVideo => "post_video",
            JobKind::PostPhotos => "post_photos",
            JobKind::ListAllVideos => "list_all_videos",
        }
    }

    /// Its access: a job that posts is a write (and waits for a human when writes do).
    pub fn access(self) -> Access {
        match self {
            JobKind::PostVideo | JobKind::PostPhotos => Access::Write,
            JobKind::ListAllVideos => Access::Read,
        }
    }

    /// The endpoints each way of running it calls (direct post, inbox draft).
    fn ways(self) -> &'static [&'static [&'static EndpointMeta]] {
        match self {
            JobKind::PostVideo => &VIDEO_WAYS,
            JobKind::PostPhotos => &PHOTO_WAYS,
            JobKind::ListAllVideos => &LIST_WAYS,
        }
    }

    /// Whether `grant` allows at least one way of running it (each call is still checked,
    /// scopes by value included, when it runs).
    pub fn granted(self, grant: &Grant) -> bool {
        self.ways()
            .iter()
            .any(|way| way.iter().all(|meta| grant.check_endpoint(meta).is_ok()))
    }

    /// Its tool definition (`name`, `title`, `description`, `inputSchema`, `annotations`),
    /// the shape of a `tools.json` entry.
    pub fn manifest(self) -> Value {
        match self {
            JobKind::PostVideo => json!({
                "name": self.name(),
                "title": "Post a video",
                "description": "Post a video in one call: a `file` from this agent's uploads folder (a name relative to it) or a `url` on a domain verified for the app (TikTok pulls it). Runs creator info (the privacy level must be one the creator offers), init, the chunked upload and status polls until the post is final, reporting progress when the client sends a progress token. `inbox: true` sends it to the creator's TikTok inbox as a draft instead (no post settings). Answers the publish id and the final status (`PUBLISH_COMPLETE`, `SEND_TO_USER_INBOX` or `FAILED` with its reason).",
                "inputSchema": video_schema(),
                "annotations": {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true},
            }),
            JobKind::PostPhotos => json!({
                "name": self.name(),
                "title": "Post photos",
                "description": "Post photos in one call: `photo_images` are https URLs on a domain verified for the app (TikTok pulls them). A direct post checks creator info (the privacy level must be one the creator offers); `inbox: true` sends them to the creator's inbox as a draft. Runs init and status polls until the post is final; answers the publish id and the final status.",
                "inputSchema": photos_schema(),
                "annotations": {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true},
            }),
            JobKind::ListAllVideos => json!({
                "name": self.name(),
                "title": "List all own videos",
                "description": format!("Every page of the connected creator's own videos, newest first, up to `max_videos` (default {DEFAULT_MAX_VIDEOS}, at most {MAX_VIDEOS}). Each page is one video_list call, checked and audited. Answers `videos`, the pages read, and `has_more` with the `cursor` to go on from when the cap stopped it."),
                "inputSchema": list_schema(),
                "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true},
            }),
        }
    }
}

/// A job's arguments, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub(super) kind: JobKind,
    pub(super) plan: Plan,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Plan {
    Video {
        from: VideoFrom,
        inbox: bool,
        /// The init request's body (source sizes filled in when the file is read).
        body: Value,
        sha256: Option<String>,
        size_bytes: Option<u64>,
    },
    Photos {
        inbox: bool,
        body: Value,
    },
    List {
        fields: Vec<String>,
        max_videos: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum VideoFrom {
    File(String),
    Url(String),
}

impl Job {
    /// Checks `arguments` of the job `kind`.
    pub fn parse(kind: JobKind, arguments: &Value) -> Result<Job, ArgumentError> {
        let empty = Map::new();
        let object = match arguments {
            Value::Object(object) => object,
            Value::Null => &empty,
            _ => return Err(problem("", "expected an object")),
        };
        let plan = match kind {
            JobKind::PostVideo => video_plan(object)?,
            JobKind::PostPhotos => photos_plan(object)?,
            JobKind::ListAllVideos => list_plan(object)?,
        };
        Ok(Job { kind, plan })
    }

    /// Which job it is.
    pub fn kind(&self) -> JobKind {
        self.kind
    }

    /// The endpoints it calls, in order.
    pub fn endpoints(&self) -> &'static [&'static EndpointMeta] {
        let ways = self.kind.ways();
        match &self.plan {
            Plan::Video { inbox, .. } | Plan::Photos { inbox, .. } => ways[usize::from(*inbox)],
            Plan::List { .. } => ways[0],
        }
    }

    /// The file it posts from the uploads folder, if any.
    pub fn file(&self) -> Option<&str> {
        match &self.plan {
            Plan::Video {
                from: VideoFrom::File(name),
                ..
            } => Some(name),
            _ => None,
        }
    }
}

/// A tool's input schema from `tools.json`.
static MANIFEST: LazyLock<Map<String, Value>> = LazyLock::new(|| {
    let manifest: Value = serde_json::from_str(TOOLS_JSON).unwrap_or(Value::Null);
    manifest["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tool| {
            Some((
                tool["name"].as_str()?.to_string(),
                tool["inputSchema"].clone(),
            ))
        })
        .collect()
});

/// The properties of schema `name` in the `$defs` of `tool`'s input schema.
fn defs_properties(tool: &str, name: &str) -> Map<String, Value> {
    MANIFEST
        .get(tool)
        .and_then(|schema| schema["$defs"][name]["properties"].as_object())
        .cloned()
        .unwrap_or_default()
}

fn object_schema(properties: Map<String, Value>, defs: Value, required: &[&str]) -> Value {
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    if defs.as_object().is_some_and(|defs| !defs.is_empty()) {
        schema["$defs"] = defs;
    }
    schema
}

/// `PrivacyLevel` (and what else the post settings refer to) from `tool`'s `$defs`.
fn shared_defs(tool: &str) -> Value {
    let mut defs = Map::new();
    if let Some(level) = MANIFEST
        .get(tool)
        .map(|schema| &schema["$defs"]["PrivacyLevel"])
    {
        defs.insert("PrivacyLevel".into(), level.clone());
    }
    Value::Object(defs)
}

fn video_schema() -> Value {
    let mut properties = Map::new();
    properties.insert("file".into(), json!({"type": "string", "description": "A file in this agent's uploads folder, by its name relative to the folder; give `file` or `url`."}));
    properties.insert("url".into(), json!({"type": "string", "description": "An https URL on a domain verified for the app, pulled by TikTok; give `file` or `url`."}));
    properties.insert("inbox".into(), json!({"type": "boolean", "description": "Send it to the creator's TikTok inbox as a draft (video.upload) instead of posting it (video.publish); a draft takes no post settings."}));
    properties.insert("sha256".into(), json!({"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "If given, the file must have this SHA-256 (hex), or nothing is sent."}));
    properties.insert("size_bytes".into(), json!({"type": "integer", "minimum": 1, "description": "If given, the file must have this size, or nothing is sent."}));
    properties.extend(defs_properties(VIDEO_INIT.id, "PostInfo"));
    object_schema(properties, shared_defs(VIDEO_INIT.id), &[])
}

fn photos_schema() -> Value {
    let mut properties = Map::new();
    let source = defs_properties(CONTENT_INIT.id, "PhotoSourceInfo");
    for key in ["photo_images", "photo_cover_index"] {
        if let Some(value) = source.get(key) {
            properties.insert(key.into(), value.clone());
        }
    }
    properties.insert("inbox".into(), json!({"type": "boolean", "description": "Send them to the creator's TikTok inbox as a draft (MEDIA_UPLOAD, video.upload) instead of posting them (DIRECT_POST, video.publish)."}));
    properties.extend(defs_properties(CONTENT_INIT.id, "PhotoPostInfo"));
    object_schema(properties, shared_defs(CONTENT_INIT.id), &["photo_images"])
}

fn list_schema() -> Value {
    let mut properties = Map::new();
    if let Some(fields) = MANIFEST
        .get(VIDEO_LIST.id)
        .map(|schema| &schema["properties"]["fields"])
    {
        properties.insert("fields".into(), fields.clone());
    }
    properties.insert("max_videos".into(), json!({"type": "integer", "minimum": 1, "maximum": MAX_VIDEOS, "description": format!("Stop after this many videos (default {DEFAULT_MAX_VIDEOS}).")}));
    object_schema(properties, json!({}), &["fields"])
}

/// Checks `body` as `meta`'s tool arguments, a problem's path moved to where the job's own
/// arguments hold it (`/post_info/title` is the job's `/title`).
fn check_body(meta: &EndpointMeta, body: &Value, lift: &[&str]) -> Result<(), ArgumentError> {
    parse_arguments(meta, body).map(drop).map_err(|mut error| {
        for prefix in lift {
            if let Some(rest) = error.path.strip_prefix(prefix) {
                error.path = rest.to_string();
                break;
            }
        }
        error
    })
}

fn boolean(object: &Map<String, Value>, key: &str) -> Result<bool, ArgumentError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(problem(&format!("/{key}"), "expected a boolean")),
    }
}

/// The post settings among a job's arguments: the properties of schema `schema` in
/// `tool`'s input schema; `own` are the job's other arguments; anything else is refused.
fn post_settings(
    object: &Map<String, Value>,
    tool: &str,
    schema: &str,
    own: &[&str],
) -> Result<Map<String, Value>, ArgumentError> {
    let settings = defs_properties(tool, schema);
    let mut post_info = Map::new();
    for (key, value) in object {
        if settings.contains_key(key) {
            post_info.insert(key.clone(), value.clone());
        } else if !own.contains(&key.as_str()) {
            return Err(problem(
                &format!("/{key}"),
                format!("unknown property {key:?}"),
            ));
        }
    }
    Ok(post_info)
}

fn video_plan(object: &Map<String, Value>) -> Result<Plan, ArgumentError> {
    let post_info = post_settings(
        object,
        VIDEO_INIT.id,
        "PostInfo",
        &["file", "url", "inbox", "sha256", "size_bytes"],
    )?;
    let inbox = boolean(object, "inbox")?;
    let text = |key: &str| match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(problem(&format!("/{key}"), "expected a string")),
    };
    let from = match (text("file")?, text("url")?) {
        (Some(file), None) => VideoFrom::File(file),
        (None, Some(url)) => VideoFrom::Url(url),
        (Some(_), Some(_)) => return Err(problem("", "give `file` or `url`, not both")),
        (None, None) => return Err(problem("", "give `file` (in the uploads folder) or `url`")),
    };
    let sha256 = text("sha256")?;
    if let Some(hash) = &sha256
        && (hash.len() != 64
            || !hash
                .bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')))
    {
        return Err(problem("/sha256", "expected 64 lowercase hex digits"));
    }
    let size_bytes = match object.get("size_bytes") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .filter(|size| *size > 0)
                .ok_or_else(|| problem("/size_bytes", "expected a positive integer"))?,
        ),
    };
    if matches!(from, VideoFrom::Url(_)) && (sha256.is_some() || size_bytes.is_some()) {
        return Err(problem(
            "",
            "`sha256` and `size_bytes` check a `file`; a `url` has none",
        ));
    }
    let source_info = match &from {
        // Sizes filled in when the file is read; these stand in for the check.
        VideoFrom::File(_) => {
            json!({"source": "FILE_UPLOAD", "video_size": 1, "chunk_size": 1, "total_chunk_count": 1})
        }
        VideoFrom::Url(url) => json!({"source": "PULL_FROM_URL", "video_url": url}),
    };
    let body = if inbox {
        if let Some(key) = post_info.keys().next() {
            return Err(problem(
                &format!("/{key}"),
                "an inbox draft takes no post settings: the creator finishes the post in TikTok",
            ));
        }
        let body = json!({"source_info": source_info});
        check_body(&INBOX_VIDEO_INIT, &body, &["/source_info"])?;
        body
    } else {
        let body = json!({"post_info": post_info, "source_info": source_info});
        check_body(&VIDEO_INIT, &body, &["/post_info", "/source_info"])?;
        body
    };
    Ok(Plan::Video {
        from,
        inbox,
        body,
        sha256,
        size_bytes,
    })
}

fn photos_plan(object: &Map<String, Value>) -> Result<Plan, ArgumentError> {
    let post_info = post_settings(
        object,
        CONTENT_INIT.id,
        "PhotoPostInfo",
        &["photo_images", "photo_cover_index", "inbox"],
    )?;
    let inbox = boolean(object, "inbox")?;
    if !inbox && !post_info.contains_key("privacy_level") {
        return Err(problem(
            "",
            "a direct post needs `privacy_level` (one of creator info's options)",
        ));
    }
    let images = object
        .get("photo_images")
        .cloned()
        .ok_or_else(|| problem("", "missing required property \"photo_images\""))?;
    let cover = object.get("photo_cover_index").cloned().unwrap_or(json!(0));
    let body = json!({
        "media_type": "PHOTO",
        "post_mode": if inbox { "MEDIA_UPLOAD" } else { "DIRECT_POST" },
        "post_info": post_info,
        "source_info": {"source": "PULL_FROM_URL", "photo_images": images, "photo_cover_index": cover},
    });
    check_body(&CONTENT_INIT, &body, &["/post_info", "/source_info"])?;
    Ok(Plan::Photos { inbox, body })
}

fn list_plan(object: &Map<String, Value>) -> Result<Plan, ArgumentError> {
    let mut fields_only = Map::new();
    let mut max_videos = DEFAULT_MAX_VIDEOS;
    for (key, value) in object {
        match key.as_str() {
            "fields" => {
                fields_only.insert(key.clone(), value.clone());
            }
            "max_videos" => {
                max_videos = value
                    .as_u64()
                    .filter(|max| (1..=MAX_VIDEOS).contains(max))
                    .ok_or_else(|| {
                        problem(
                            "/max_videos",
                            format!("expected an integer from 1 to {MAX_VIDEOS}"),
                        )
                    })?;
            }
            other => {
                return Err(problem(
                    &format!("/{other}"),
                    format!("unknown property {other:?}"),
                ));
            }
        }
    }
    let parsed = parse_arguments(&VIDEO_LIST, &Value::Object(fields_only))?;
    Ok(Plan::List {
        fields: parsed.fields,
        max_videos,
    })
}

#[cfg(test)]
mod tests;
