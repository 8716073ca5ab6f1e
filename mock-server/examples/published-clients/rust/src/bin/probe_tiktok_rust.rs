//! tiktok_rust (a published crate): OAuth (PKCE, base64url challenge), user info, video list,
//! a direct post by FILE_UPLOAD and by PULL_FROM_URL, status fetch.
//! Its services take with_base_url, except AuthService (private field set to TikTok's
//! host, no setter): run.sh patches that one line in a scratch copy.
//! The authorize page URL is a literal too, so the URL it builds is rewritten here.
use published_rust_clients::*;
use tiktok_rust::auth::{AuthService, OAuthConfig, TikTokScope};
use tiktok_rust::direct_post::{PostInfoBuilder, PrivacyLevel, Service as PostService, Source, SourceInfoBuilder, VideoInitRequestBuilder};
use tiktok_rust::user::Service as UserService;
use tiktok_rust::videos::{Service as VideoService, VideoField};

#[tokio::main]
async fn main() {
    let mock = mock();
    let app = demo_app(&mock).await;
    let config = OAuthConfig::new(
        &app.client_key, &app.client_secret, &app.redirect_uri,
        &[TikTokScope::UserInfoBasic, TikTokScope::VideoList, TikTokScope::VideoPublish],
    );
    let verifier = config.code_verifier.clone();
    let auth = AuthService::new(config);

    step("authorize");
    let url = auth.get_authorization_url();
    println!("authorize URL: {url}");
    let code = approve(&to_mock(&url, &mock)).await.expect("authorize");
    println!("code: {code}");

    step("exchange code");
    let token = auth.fetch_access_token(&code, &app.redirect_uri, Some(&verifier)).await.expect("token");
    println!("scope {} open_id {}", token.scope, token.open_id);
    let at = token.access_token.as_str();

    step("user info");
    let me = UserService::new().with_base_url(&mock).get_user_info(at, vec!["open_id", "display_name"]).await.expect("user info");
    println!("{:?} {:?}", me.open_id, me.display_name);

    step("list videos");
    let page = VideoService::new().with_base_url(&mock)
        .list_videos(at, None, Some(5), vec![VideoField::Id, VideoField::Title, VideoField::CreateTime]).await.expect("video list");
    println!("{} videos, cursor {}, has_more {}", page.videos.len(), page.cursor, page.has_more);
    assert_eq!(page.videos.len(), 5);

    let posts = PostService::new().with_base_url(&mock);
    let post_info = || PostInfoBuilder::default().title("from tiktok_rust").privacy_level(PrivacyLevel::SelfOnly)
        .disable_duet(false).disable_comment(false).disable_stitch(false).video_cover_timestamp_ms(1000u64).build().unwrap();

    step("post a video (direct, FILE_UPLOAD): post_video (init) + upload_video (PUT)");
    let path = write_video(200_000);
    let source = SourceInfoBuilder::default().source(Source::FileUpload)
        .video_size(Some(200_000u64)).chunk_size(Some(200_000u64)).total_chunk_count(Some(1u32)).build().unwrap();
    let init = posts.post_video(at, VideoInitRequestBuilder::default().post_info(post_info()).source_info(source).build().unwrap())
        .await.expect("video init");
    println!("publish_id {} upload_url {}", init.publish_id, init.upload_url);
    posts.upload_video(&init.upload_url, path.to_str().unwrap()).await.expect("upload");
    println!("uploaded");

    step("post a video (direct, PULL_FROM_URL): upload_video_from_url (init + one status fetch)");
    match posts.upload_video_from_url(at, post_info(), "https://media.demo.example/clip.mp4").await {
        Ok(st) => println!("{} {}", st.publish_id, st.status),
        Err(e) => println!("init went through; its status fetch failed: {e:?}"),
    }

    step("status fetch");
    match posts.get_post_status(at, &init.publish_id).await {
        Ok(st) => { println!("{} {}", st.publish_id, st.status); }
        Err(e) => {
            // Known client bug: PostStatusData requires `publish_id`, which TikTok's
            // status answer does not carry (reference 4.8; the mock follows it).
            println!("KNOWN CLIENT BUG: {e:?}");
            assert!(format!("{e:?}").contains("missing field `publish_id`"));
        }
    }
    let _ = std::fs::remove_file(path);
    println!("OK tiktok_rust");
}

