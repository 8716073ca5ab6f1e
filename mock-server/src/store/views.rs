//! Borrowed views of what the store keeps, for the hot paths: [`VideoView`] (a stored video
//! without copying it, serialized as the API's `Video` by [`ApiVideo`]), the media URLs
//! derived from a video's id, and [`CallEntry`] (a call as the pipeline records it).

use std::borrow::Cow;

use crate::logid::LogId;
use crate::media;
use crate::projection::shown::Shown;
use crate::projection::{
    Fields, write_escaped, write_int, write_pieces, write_serialized_field, write_str,
};
use crate::redact;
use crate::store::records::{CallRecord, Creator, Video};

/// The media URLs of a video: as given, or derived from its creator's handle and its id
/// the way [`cover_image_url`], [`share_url`], [`embed_html`] and [`embed_link`] make them
/// (the store keeps only the handle then; a million videos would otherwise hold a
/// gigabyte of URLs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoUrls<'a> {
    /// Each URL as stored.
    Given {
        /// Cover image URL.
        cover_image_url: &'a str,
        /// Shareable link.
        share_url: &'a str,
        /// An HTML embed snippet.
        embed_html: &'a str,
        /// The embed URL.
        embed_link: &'a str,
    },
    /// Derived from the creator's handle (username, or open_id without one) and the id.
    Derived {
        /// The handle in the share URL.
        handle: &'a str,
    },
}

impl Video {
    /// The video borrowed, as the store's reads give it.
    pub fn as_view(&self) -> VideoView<'_> {
        VideoView {
            id: &self.id,
            open_id: &self.open_id,
            create_time_ms: self.create_time_ms,
            title: &self.title,
            video_description: &self.video_description,
            duration: self.duration,
            height: self.height,
            width: self.width,
            like_count: self.like_count,
            comment_count: self.comment_count,
            share_count: self.share_count,
            view_count: self.view_count,
            urls: VideoUrls::Given {
                cover_image_url: &self.cover_image_url,
                share_url: &self.share_url,
                embed_html: &self.embed_html,
                embed_link: &self.embed_link,
            },
            privacy_level: &self.privacy_level,
            shown: None,
        }
    }
}

/// A video borrowed from the store: what a read serializes without copying the video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoView<'a> {
    /// The video id.
    pub id: &'a str,
    /// The creator's open_id.
    pub open_id: &'a str,
    /// When it was posted, Unix milliseconds.
    pub create_time_ms: i64,
    /// The title.
    pub title: &'a str,
    /// The description.
    pub video_description: &'a str,
    /// Length in seconds.
    pub duration: i32,
    /// Height in pixels.
    pub height: i32,
    /// Width in pixels.
    pub width: i32,
    /// Likes.
    pub like_count: i32,
    /// Comments.
    pub comment_count: i32,
    /// Shares.
    pub share_count: i32,
    /// Views.
    pub view_count: i64,
    /// The media URLs.
    pub urls: VideoUrls<'a>,
    /// Who can see it (`PUBLIC_TO_EVERYONE` for a public video).
    pub privacy_level: &'a str,
    /// Where the store keeps its last answer's bytes, when it keeps them.
    pub shown: Option<&'a Shown>,
}

impl VideoView<'_> {
    /// The video, owned.
    pub fn to_video(&self) -> Video {
        let (cover_image_url, share, html, link) = match self.urls {
            VideoUrls::Given {
                cover_image_url,
                share_url,
                embed_html,
                embed_link,
            } => (
                cover_image_url.to_owned(),
                share_url.to_owned(),
                embed_html.to_owned(),
                embed_link.to_owned(),
            ),
            VideoUrls::Derived { handle } => (
                cover_image_url(self.id).text(),
                share_url(handle, self.id).text(),
                embed_html(handle, self.id).text(),
                embed_link(self.id).text(),
            ),
        };
        Video {
            id: self.id.to_owned(),
            open_id: self.open_id.to_owned(),
            create_time_ms: self.create_time_ms,
            title: self.title.to_owned(),
            video_description: self.video_description.to_owned(),
            duration: self.duration,
            height: self.height,
            width: self.width,
            cover_image_url,
            share_url: share,
            embed_html: html,
            embed_link: link,
            like_count: self.like_count,
            comment_count: self.comment_count,
            share_count: self.share_count,
            view_count: self.view_count,
            privacy_level: self.privacy_level.to_owned(),
        }
    }

    /// The API's `Video` object as `call` shows it ([`Video::to_api_json`]'s fields; the
    /// cover signed, the share link with the app's `utm_source`), to write out.
    pub fn api<'v>(&'v self, call: &'v VideoCall) -> ApiVideo<'v> {
        ApiVideo { video: self, call }
    }
}

/// What a video's answer depends on beyond the video: the time, how long a signed cover
/// lives (the endpoint's `cover_image_url_ttl_seconds`) and the app (`utm_source`).
#[derive(Debug, Clone)]
pub struct VideoCall {
    /// The call's time on the mock's clock, Unix milliseconds.
    now_ms: i64,
    /// Seconds a signed cover URL lives; unsigned without.
    cover_ttl_seconds: Option<i64>,
    /// What every share link of the call ends with, escaped once per call:
    /// `utm_campaign=…&utm_source=CLIENT_KEY"` (the closing quote included).
    share_tail: Vec<u8>,
}

impl VideoCall {
    /// The call at `now_ms`, covers signed for `cover_ttl_seconds` (unsigned without), for
    /// the app `client_key` (the share links' `utm_source`).
    pub fn new(now_ms: i64, cover_ttl_seconds: Option<i64>, client_key: &str) -> VideoCall {
        let mut share_tail = Vec::with_capacity(64);
        for piece in [
            "utm_campaign=",
            media::UTM_CAMPAIGN,
            "&utm_source=",
            client_key,
        ] {
            write_escaped(&mut share_tail, piece);
        }
        share_tail.push(b'"');
        VideoCall {
            now_ms,
            cover_ttl_seconds,
            share_tail,
        }
    }
}

/// A stored video as the API's `Video` object: [`Video::to_api_json`]'s fields (no
/// `open_id`, `create_time` in seconds), as one call shows them (the cover signed to expire,
/// the share link carrying the app), written field by field straight from the store's data
/// by a [`Projection`](crate::projection::Projection).
#[derive(Debug, Clone, Copy)]
pub struct ApiVideo<'a> {
    video: &'a VideoView<'a>,
    call: &'a VideoCall,
}

impl Fields for ApiVideo<'_> {
    const NAMES: &'static [&'static str] = &[
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
        "cover_image_url",
        "share_url",
        "embed_html",
        "embed_link",
    ];

    fn write_field(&self, index: usize, out: &mut Vec<u8>) -> bool {
        let video = self.video;
        match index {
            0 => write_str(out, video.id),
            1 => write_int(out, video.create_time_ms.div_euclid(1000)),
            2 => write_str(out, video.title),
            3 => write_str(out, video.video_description),
            4 => write_int(out, video.duration.into()),
            5 => write_int(out, video.height.into()),
            6 => write_int(out, video.width.into()),
            7 => write_int(out, video.like_count.into()),
            8 => write_int(out, video.comment_count.into()),
            9 => write_int(out, video.share_count.into()),
            10 => write_int(out, video.view_count),
            11 | 12 => {
                self.write_own(index, out);
                self.write_call_part(index, out);
            }
            13 => video.write_url(UrlKind::EmbedHtml, out),
            14 => video.write_url(UrlKind::EmbedLink, out),
            _ => return false,
        }
        true
    }

    /// The cover (signed on the call's clock) and the share link (its utm parameters name
    /// the call's app).
    fn depends_on_call(index: usize) -> bool {
        matches!(index, 11 | 12)
    }

    fn write_own(&self, index: usize, out: &mut Vec<u8>) -> bool {
        match index {
            // All of the cover is the call's.
            11 => true,
            12 => {
                self.video.write_share_head(out);
                true
            }
            _ => self.write_field(index, out),
        }
    }

    fn write_call_part(&self, index: usize, out: &mut Vec<u8>) {
        let (video, call) = (self.video, self.call);
        match index {
            11 => match call.cover_ttl_seconds {
                // Signed (an HMAC of the URL), so made as text.
                Some(ttl) => write_str(
                    out,
                    &media::signed_url(&video.url(UrlKind::Cover), call.now_ms, ttl),
                ),
                None => video.write_url(UrlKind::Cover, out),
            },
            12 if !video.share_url_is_empty() => out.extend_from_slice(&call.share_tail),
            _ => {}
        }
    }
}

/// Which media URL of a video (the share link is written by `write_share_url`).
#[derive(Debug, Clone, Copy)]
enum UrlKind {
    Cover,
    EmbedHtml,
    EmbedLink,
}

impl VideoView<'_> {
    /// The pieces a URL of this video is made of: the stored text, or the derived pieces.
    fn url_pieces(&self, kind: UrlKind) -> Derived<'_> {
        match self.urls {
            VideoUrls::Given {
                cover_image_url,
                embed_html,
                embed_link,
                ..
            } => Derived::new(&[match kind {
                UrlKind::Cover => cover_image_url,
                UrlKind::EmbedHtml => embed_html,
                UrlKind::EmbedLink => embed_link,
            }]),
            VideoUrls::Derived { handle } => match kind {
                UrlKind::Cover => cover_image_url(self.id),
                UrlKind::EmbedHtml => embed_html(handle, self.id),
                UrlKind::EmbedLink => embed_link(self.id),
            },
        }
    }

    fn url(&self, kind: UrlKind) -> String {
        self.url_pieces(kind).text()
    }

    /// Writes a URL as a JSON string.
    fn write_url(&self, kind: UrlKind, out: &mut Vec<u8>) {
        write_pieces(out, self.url_pieces(kind).pieces());
    }

    /// Writes the share link's own part: the URL escaped piece by piece (the derived one's
    /// fixed parts need no escaping and have no `?`, so only its handle and id are looked
    /// at), then `?` (or `&` after a query); the call's utm parameters and the closing quote
    /// follow. An empty URL stays empty (`""`, and nothing follows).
    fn write_share_head(&self, out: &mut Vec<u8>) {
        let has_query = match self.urls {
            VideoUrls::Given { share_url, .. } => {
                if share_url.is_empty() {
                    write_str(out, "");
                    return;
                }
                out.push(b'"');
                write_escaped(out, share_url);
                share_url.contains('?')
            }
            VideoUrls::Derived { handle } => {
                out.push(b'"');
                out.extend_from_slice(SHARE_URL_HEAD.as_bytes());
                write_escaped(out, handle);
                out.extend_from_slice(SHARE_URL_VIDEO.as_bytes());
                write_escaped(out, self.id);
                handle.contains('?') || self.id.contains('?')
            }
        };
        out.push(if has_query { b'&' } else { b'?' });
    }

    /// Whether the share link is empty (and so carries no utm parameters).
    fn share_url_is_empty(&self) -> bool {
        matches!(self.urls, VideoUrls::Given { share_url, .. } if share_url.is_empty())
    }
}

/// The fixed parts of a derived share URL (before the handle, between handle and id).
const SHARE_URL_HEAD: &str = "https://www.tiktok.example/@";
const SHARE_URL_VIDEO: &str = "/video/";

/// A creator as the API's `User` object ([`Creator::to_user_json`]'s fields, with the
/// store's `video_count`), written field by field.
#[derive(Debug, Clone, Copy)]
pub struct ApiUser<'a> {
    /// The creator.
    pub creator: &'a Creator,
    /// Their open_id in the app that asks (`crate::open_ids`).
    pub open_id: &'a str,
    /// Their videos.
    pub video_count: u64,
}

impl Fields for ApiUser<'_> {
    const NAMES: &'static [&'static str] = &[
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
        "video_count",
    ];

    fn write_field(&self, index: usize, out: &mut Vec<u8>) -> bool {
        let creator = self.creator;
        match index {
            0 => write_str(out, self.open_id),
            1 => write_str(out, &creator.union_id),
            2 => write_str(out, &creator.display_name),
            3 => write_str(out, &creator.username),
            4 => write_str(out, &creator.avatar_url),
            5 => write_str(out, &creator.avatar_url_100),
            6 => write_str(out, &creator.avatar_large_url),
            7 => write_str(out, &creator.bio_description),
            8 => write_str(out, &creator.profile_deep_link),
            9 => write_str(out, &creator.profile_web_link),
            10 => out.extend_from_slice(if creator.is_verified {
                b"true"
            } else {
                b"false"
            }),
            11 => write_int(out, creator.follower_count),
            12 => write_int(out, creator.following_count),
            13 => write_int(out, creator.likes_count),
            14 => write_int(out, i64::try_from(self.video_count).unwrap_or(i64::MAX)),
            _ => return false,
        }
        true
    }

    /// A field added to `Creator` since: found by its serde name.
    fn write_other(&self, name: &str, out: &mut Vec<u8>) -> bool {
        write_serialized_field(out, self.creator, name)
    }
}

/// A derived text as the pieces it is made of: shown, compared and written out without
/// formatting machinery or allocation.
#[derive(Debug, Clone, Copy)]
pub struct Derived<'a> {
    pieces: [&'a str; 7],
    len: usize,
}

impl<'a> Derived<'a> {
    fn new(pieces: &[&'a str]) -> Derived<'a> {
        let mut all = [""; 7];
        all[..pieces.len()].copy_from_slice(pieces);
        Derived {
            pieces: all,
            len: pieces.len(),
        }
    }

    /// The pieces.
    pub fn pieces(&self) -> &[&'a str] {
        &self.pieces[..self.len]
    }

    /// The text, owned.
    pub fn text(&self) -> String {
        self.pieces().concat()
    }

    /// Whether the text is exactly `text`.
    pub fn is(&self, text: &str) -> bool {
        let mut rest = text;
        for piece in self.pieces() {
            match rest.strip_prefix(piece) {
                Some(after) => rest = after,
                None => return false,
            }
        }
        rest.is_empty()
    }
}

impl std::fmt::Display for Derived<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.pieces()
            .iter()
            .try_for_each(|piece| f.write_str(piece))
    }
}

/// A video's cover image URL, from its id.
pub fn cover_image_url(id: &str) -> Derived<'_> {
    Derived::new(&["https://p16-sign.tiktokcdn.example/obj/cover/", id, ".jpeg"])
}

/// A video's share URL, from its creator's handle and its id.
pub fn share_url<'a>(handle: &'a str, id: &'a str) -> Derived<'a> {
    Derived::new(&[SHARE_URL_HEAD, handle, SHARE_URL_VIDEO, id])
}

/// A video's embed snippet, from its creator's handle and its id.
pub fn embed_html<'a>(handle: &'a str, id: &'a str) -> Derived<'a> {
    Derived::new(&[
        "<blockquote class=\"tiktok-embed\" cite=\"https://www.tiktok.example/@",
        handle,
        "/video/",
        id,
        "\" data-video-id=\"",
        id,
        "\"><section></section></blockquote> <script async src=\"https://www.tiktok.example/embed.js\"></script>",
    ])
}

/// A video's embed URL, from its id.
pub fn embed_link(id: &str) -> Derived<'_> {
    Derived::new(&[
        "https://www.tiktok.example/static/profile-video?id=",
        id,
        "&hide_author=1",
    ])
}

/// A call as the pipeline hands it to the store: a [`CallRecord`] without its `seq`,
/// borrowing what is static (an endpoint's method, path and id, the decision `ok`), so
/// recording a call costs next to no allocation. Query and body are kept as they came
/// (the body only up to [`redact::MAX_KEPT_BODY`]) and masked when read:
/// [`crate::store::Store::calls`] gives `CallRecord`s. `Debug` shows it as its masked record.
#[derive(Clone, PartialEq)]
pub struct CallEntry {
    /// When the call arrived, Unix milliseconds on the mock's clock.
    pub at_ms: i64,
    /// HTTP method.
    pub method: Cow<'static, str>,
    /// Path, without the query string.
    pub path: Cow<'static, str>,
    /// The query string, as sent.
    pub query: Option<Box<str>>,
    /// The request body as sent, when the route reads one and it is short enough.
    pub body: Option<Box<[u8]>>,
    /// The endpoint id, when the path is an API endpoint.
    pub endpoint: Option<&'static str>,
    /// The creator of the token, once authenticated.
    pub open_id: Option<String>,
    /// `ok` or the error code the call got.
    pub decision: Cow<'static, str>,
    /// The error's message, when the call failed.
    pub message: Option<String>,
    /// The HTTP status sent.
    pub status: u16,
    /// Time spent in the mock, whole microseconds.
    pub latency_us: u64,
    /// The response's log id.
    pub log_id: Option<LogId>,
}

impl std::fmt::Debug for CallEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.to_record(0), f)
    }
}

impl CallEntry {
    /// A body to keep: a copy of `body` (not a view that would pin the connection's read
    /// buffer), or `None` when it is empty or longer than [`redact::MAX_KEPT_BODY`].
    pub fn kept_body(body: &[u8]) -> Option<Box<[u8]>> {
        (!body.is_empty() && body.len() <= redact::MAX_KEPT_BODY).then(|| Box::from(body))
    }

    /// The call log's line, numbered `seq`, with its secrets masked.
    pub fn to_record(&self, seq: u64) -> CallRecord {
        CallRecord {
            seq,
            at_ms: self.at_ms,
            method: self.method.clone().into_owned(),
            path: self.path.clone().into_owned(),
            query: self.query.as_deref().map(redact::mask_query),
            body: self.body.as_deref().map(redact::body_json),
            endpoint: self.endpoint.map(str::to_owned),
            open_id: self.open_id.clone(),
            decision: self.decision.clone().into_owned(),
            message: self.message.clone(),
            status: self.status,
            latency_us: self.latency_us,
            log_id: self.log_id.map(|log_id| log_id.as_str().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests;
