//! The jobs' arguments and tool definitions, checked against the spec's tables.

use serde_json::json;

use super::*;

fn video(arguments: Value) -> Result<Job, ArgumentError> {
    Job::parse(JobKind::PostVideo, &arguments)
}

#[test]
fn names_round_trip_and_each_manifest_is_an_object_schema() {
    for kind in JobKind::ALL {
        assert_eq!(JobKind::from_name(kind.name()), Some(kind));
        let manifest = kind.manifest();
        assert_eq!(manifest["name"], kind.name());
        assert_eq!(manifest["inputSchema"]["type"], "object");
        assert_eq!(manifest["inputSchema"]["additionalProperties"], false);
        assert!(manifest["title"].as_str().unwrap().len() <= 40);
    }
    assert_eq!(JobKind::from_name("video_init"), None);
    // Cut from tools.json, not copied: the post settings and their limits are the spec's.
    let video = JobKind::PostVideo.manifest();
    assert_eq!(
        video["inputSchema"]["properties"]["title"]["maxLength"],
        2200
    );
    assert_eq!(
        video["inputSchema"]["properties"]["privacy_level"]["$ref"],
        "#/$defs/PrivacyLevel"
    );
    assert!(video["inputSchema"]["$defs"]["PrivacyLevel"]["enum"].is_array());
    let photos = JobKind::PostPhotos.manifest();
    assert_eq!(
        photos["inputSchema"]["properties"]["photo_images"]["maxItems"],
        35
    );
    let list = JobKind::ListAllVideos.manifest();
    assert!(list["inputSchema"]["properties"]["fields"]["items"]["enum"].is_array());
}

#[test]
fn a_video_needs_one_source_and_its_settings_are_checked_by_the_spec() {
    let job =
        video(json!({"file": "clip.mp4", "privacy_level": "SELF_ONLY", "title": "hi"})).unwrap();
    assert_eq!(job.file(), Some("clip.mp4"));
    assert_eq!(
        job.endpoints()
            .iter()
            .map(|meta| meta.id)
            .collect::<Vec<_>>(),
        ["creator_info", "video_init", "status_fetch"]
    );
    let inbox = video(json!({"file": "clip.mp4", "inbox": true})).unwrap();
    assert_eq!(
        inbox
            .endpoints()
            .iter()
            .map(|meta| meta.id)
            .collect::<Vec<_>>(),
        ["inbox_video_init", "status_fetch"]
    );
    for (arguments, path) in [
        (json!({"privacy_level": "SELF_ONLY"}), ""),
        (
            json!({"file": "a", "url": "https://x/a.mp4", "privacy_level": "SELF_ONLY"}),
            "",
        ),
        (json!({"file": "a"}), ""),
        (
            json!({"file": "a", "privacy_level": "EVERYONE"}),
            "/privacy_level",
        ),
        (
            json!({"file": "a", "privacy_level": "SELF_ONLY", "title": "x".repeat(2201)}),
            "/title",
        ),
        (
            json!({"file": "a", "privacy_level": "SELF_ONLY", "upload_url": "x"}),
            "/upload_url",
        ),
        (json!({"file": "a", "inbox": true, "title": "x"}), "/title"),
        (json!({"file": "a", "inbox": "yes"}), "/inbox"),
        (
            json!({"file": "a", "inbox": true, "sha256": "ABC"}),
            "/sha256",
        ),
        (
            json!({"file": "a", "inbox": true, "size_bytes": 0}),
            "/size_bytes",
        ),
        (
            json!({"url": "https://x/a.mp4", "inbox": true, "size_bytes": 3}),
            "",
        ),
        (json!("clip.mp4"), ""),
    ] {
        let error = video(arguments.clone()).unwrap_err();
        assert_eq!(error.path, path, "{arguments}: {}", error.message);
    }
}

#[test]
fn photos_and_lists_are_checked_the_same_way() {
    let photos = Job::parse(
        JobKind::PostPhotos,
        &json!({"photo_images": ["https://x/1.jpg"], "privacy_level": "SELF_ONLY", "title": "t"}),
    )
    .unwrap();
    assert_eq!(photos.endpoints()[1].id, "content_init");
    let too_many: Vec<String> = (0..36).map(|i| format!("https://x/{i}.jpg")).collect();
    let error = Job::parse(
        JobKind::PostPhotos,
        &json!({"photo_images": too_many, "privacy_level": "SELF_ONLY"}),
    )
    .unwrap_err();
    assert_eq!(error.path, "/photo_images");
    let error = Job::parse(
        JobKind::PostPhotos,
        &json!({"photo_images": ["https://x/1.jpg"]}),
    )
    .unwrap_err();
    assert!(error.message.contains("privacy_level"), "{}", error.message);
    assert!(
        Job::parse(
            JobKind::PostPhotos,
            &json!({"photo_images": ["https://x/1.jpg"], "inbox": true})
        )
        .is_ok()
    );

    let list = Job::parse(
        JobKind::ListAllVideos,
        &json!({"fields": ["id"], "max_videos": 50}),
    )
    .unwrap();
    assert_eq!(
        list.plan,
        Plan::List {
            fields: vec!["id".into()],
            max_videos: 50
        }
    );
    for (arguments, path) in [
        (json!({"fields": ["nope"]}), "/fields/0"),
        (json!({"fields": ["id"], "max_videos": 0}), "/max_videos"),
        (
            json!({"fields": ["id"], "max_videos": MAX_VIDEOS + 1}),
            "/max_videos",
        ),
        (json!({"fields": ["id"], "cursor": 1}), "/cursor"),
        (json!({}), ""),
    ] {
        let error = Job::parse(JobKind::ListAllVideos, &arguments).unwrap_err();
        assert_eq!(error.path, path, "{arguments}: {}", error.message);
    }
}

#[test]
fn a_grant_allows_a_job_when_it_allows_every_call_of_one_way() {
    use tiktok_api::Scope;
    let upload_only = Grant::builder()
        .scopes([Scope::VideoUpload])
        .read()
        .write()
        .build()
        .unwrap();
    // The inbox way (inbox_video_init, status_fetch) is allowed; the direct one is not.
    assert!(JobKind::PostVideo.granted(&upload_only));
    let reader = Grant::builder()
        .scopes([Scope::VideoList])
        .read()
        .build()
        .unwrap();
    assert!(!JobKind::PostVideo.granted(&reader));
    assert!(JobKind::ListAllVideos.granted(&reader));
}
