//! `tiktok-mock fixtures from-recording DIR`: the users, videos and comments of a
//! recording as a fixture file (the `--fixtures` format, [`crate::fixtures`]), so a team
//! tests against data shaped like its own account's.
//!
//! - a creator per `open_id` answered by user info (the profile fields the format has);
//! - each video of a video list or query answer, under the creator whose token asked
//!   (known from the token answer that minted it, or a user info call made with it; the
//!   first creator otherwise), the last answer about a video winning;
//! - each comment of a Research comment list answer (texts as recorded: masked);
//! - one app: the recorded `client_key` and redirect URI, a placeholder secret.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::fixtures::Fixtures;
use crate::recording::{Entry, RecordingError, read_dir};

/// The creator fields of the fixture format that user info answers carry.
const CREATOR_FIELDS: &[&str] = &[
    "open_id",
    "union_id",
    "display_name",
    "username",
    "avatar_url",
    "avatar_url_100",
    "avatar_large_url",
    "bio_description",
    "profile_deep_link",
    "profile_web_link",
    "is_verified",
    "follower_count",
    "following_count",
    "likes_count",
];

/// The video fields of the fixture format that video answers carry.
const VIDEO_FIELDS: &[&str] = &[
    "id",
    "create_time",
    "title",
    "video_description",
    "duration",
    "height",
    "width",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
];

/// The comment fields of the fixture format.
const COMMENT_FIELDS: &[&str] = &[
    "id",
    "video_id",
    "text",
    "like_count",
    "reply_count",
    "parent_comment_id",
    "create_time",
];

/// The open_id given to videos no recorded user owns.
const UNKNOWN_CREATOR: &str = "recorded-creator";

/// The fixture file (YAML) of the recording in `dir`, checked to load as fixtures.
pub fn from_recording(dir: &Path) -> Result<String, RecordingError> {
    let entries = read_dir(dir)?;
    let value = fixtures_value(&entries);
    let yaml = serde_yaml::to_string(&value).map_err(|error| RecordingError::File {
        file: dir.to_path_buf(),
        problem: format!("the fixtures cannot be written as YAML: {error}"),
    })?;
    let text = format!(
        "# Fixtures from a recording of {} exchanges (tiktok-mock fixtures from-recording).\n# Load with: tiktok-mock --fixtures FILE.yaml\n{yaml}",
        entries.len()
    );
    Fixtures::from_yaml(&text).map_err(|error| RecordingError::File {
        file: dir.to_path_buf(),
        problem: format!("the fixtures made from it do not load: {error}"),
    })?;
    Ok(text)
}

/// A successful answer's JSON body.
fn answer_json(entry: &Entry) -> Option<Value> {
    let answer = entry.answer.as_ref()?;
    if !(200..300).contains(&answer.status) {
        return None;
    }
    serde_json::from_str(answer.body.as_deref()?).ok()
}

/// The fixture value: apps, creators with their videos, comments.
fn fixtures_value(entries: &[Entry]) -> Value {
    let mut owners: Vec<(String, String)> = Vec::new();
    let mut creators: Vec<Map<String, Value>> = Vec::new();
    let mut videos: Vec<(Option<String>, Map<String, Value>)> = Vec::new();
    let mut comments: Vec<Map<String, Value>> = Vec::new();
    let mut app = json!({
        "client_key": "recorded-app",
        "client_secret": "recorded-client-secret",
        "name": "Recorded App",
        "audited": true,
    });
    for entry in entries {
        if entry.endpoint == "token"
            && let Some(form) = &entry.request.form
        {
            for (name, value) in form {
                if name == "client_key" || name == "redirect_uri" {
                    let field = if name == "redirect_uri" {
                        json!([value])
                    } else {
                        json!(value)
                    };
                    app[if name == "redirect_uri" {
                        "redirect_uris"
                    } else {
                        "client_key"
                    }] = field;
                }
            }
        }
        let Some(body) = answer_json(entry) else {
            continue;
        };
        let token = entry
            .request
            .authorization
            .as_deref()
            .and_then(|value| value.strip_prefix("Bearer "));
        match entry.endpoint.as_str() {
            "token" => {
                if let (Some(token), Some(open_id)) = (
                    body.get("access_token").and_then(Value::as_str),
                    body.get("open_id").and_then(Value::as_str),
                ) {
                    owners.push((token.to_owned(), open_id.to_owned()));
                }
            }
            "user_info" => {
                let Some(user) = body.pointer("/data/user").and_then(Value::as_object) else {
                    continue;
                };
                let Some(open_id) = user.get("open_id").and_then(Value::as_str) else {
                    continue;
                };
                if let Some(token) = token {
                    owners.push((token.to_owned(), open_id.to_owned()));
                }
                let index = match creators.iter().position(|creator| {
                    creator.get("open_id").and_then(Value::as_str) == Some(open_id)
                }) {
                    Some(index) => index,
                    None => {
                        creators.push(Map::new());
                        creators.len() - 1
                    }
                };
                copy_fields(user, &mut creators[index], CREATOR_FIELDS);
            }
            "video_list" | "video_query" => {
                let owner = token.and_then(|token| {
                    owners
                        .iter()
                        .rev()
                        .find(|(known, _)| known == token)
                        .map(|(_, open_id)| open_id.clone())
                });
                let listed = body.pointer("/data/videos").and_then(Value::as_array);
                for video in listed.into_iter().flatten().filter_map(Value::as_object) {
                    let mut fields = Map::new();
                    copy_fields(video, &mut fields, VIDEO_FIELDS);
                    let Some(id) = fields.get("id").map(id_text) else {
                        continue;
                    };
                    fields.insert("id".to_owned(), Value::String(id.clone()));
                    videos.retain(|(_, known)| known.get("id").map(id_text) != Some(id.clone()));
                    videos.push((owner.clone(), fields));
                }
            }
            "research_comment_list" => {
                let listed = body.pointer("/data/comments").and_then(Value::as_array);
                for comment in listed.into_iter().flatten().filter_map(Value::as_object) {
                    let mut fields = Map::new();
                    copy_fields(comment, &mut fields, COMMENT_FIELDS);
                    let numeric = |name: &str| fields.get(name).is_some_and(Value::is_i64);
                    if !(numeric("id") && numeric("video_id")) {
                        continue;
                    }
                    comments.retain(|known| known.get("id") != fields.get("id"));
                    comments.push(fields);
                }
            }
            _ => {}
        }
    }
    let mut creators: Vec<Value> = creators.into_iter().map(Value::Object).collect();
    for (owner, video) in videos {
        let owner = owner
            .or_else(|| {
                creators
                    .first()
                    .and_then(|creator| creator.get("open_id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| UNKNOWN_CREATOR.to_owned());
        let index = match creators
            .iter()
            .position(|creator| creator.get("open_id").and_then(Value::as_str) == Some(&owner))
        {
            Some(index) => index,
            None => {
                creators.push(json!({"open_id": owner}));
                creators.len() - 1
            }
        };
        let creator = &mut creators[index];
        if creator.get("videos").is_none() {
            creator["videos"] = json!([]);
        }
        if let Some(list) = creator["videos"].as_array_mut() {
            list.push(Value::Object(video));
        }
    }
    json!({
        "apps": [app],
        "creators": creators,
        "comments": comments,
    })
}

/// `fields` of `from` copied into `to`, when present and not null.
fn copy_fields(from: &Map<String, Value>, to: &mut Map<String, Value>, fields: &[&str]) {
    for name in fields {
        if let Some(value) = from.get(*name).filter(|value| !value.is_null()) {
            to.insert((*name).to_owned(), value.clone());
        }
    }
}

/// A video id as text, whether it came as a string or a number.
fn id_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
