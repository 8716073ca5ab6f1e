//! Paging streams: every page of a list endpoint as one `futures::Stream` of items, driven
//! by the endpoint's paging table (cursor style, page sizes, how far an index cursor may
//! reach). The generated `…_stream` methods call [`stream`].

use std::collections::VecDeque;
use std::future::Future;

use futures::Stream;

use crate::meta::{EndpointMeta, PagingStyle};
use crate::{Attempts, Error};

/// How a stream walks the pages.
///
/// ```no_run
/// # async fn example(user: tiktok_api::UserClient) -> Result<(), tiktok_api::Error> {
/// use futures::TryStreamExt;
/// use tiktok_api::{PageOptions, VideoField, VideoListRequest};
///
/// let options = PageOptions::new().page_size(20).max_items(100);
/// let mut videos = user.video_list_stream(&[VideoField::Id], VideoListRequest::default(), options);
/// while let Some(video) = videos.try_next().await? {
///     println!("{:?}", video.id);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageOptions {
    page_size: Option<u32>,
    max_items: Option<u64>,
}

impl PageOptions {
    /// Every item, in pages of the request's `max_count` (the endpoint's largest page when
    /// the request leaves it out).
    pub fn new() -> Self {
        Self::default()
    }

    /// Items per page, clamped to what the endpoint allows.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Stops after this many items, asking for no more than needed.
    pub fn max_items(mut self, items: u64) -> Self {
        self.max_items = Some(items);
        self
    }
}

/// A list request with a cursor and a page size (emitted for each paging endpoint).
pub trait PagedRequest: Clone {
    /// The cursor, if set.
    fn cursor(&self) -> Option<i64>;
    /// Sets the cursor.
    fn set_cursor(&mut self, cursor: i64);
    /// The page size, if set.
    fn max_count(&self) -> Option<u32>;
    /// Sets the page size.
    fn set_max_count(&mut self, max_count: u32);
}

/// A page of a list endpoint (emitted for each paging endpoint).
pub trait Page {
    /// What the page lists.
    type Item;
    /// The items, the next cursor and whether more follow.
    fn into_parts(self) -> (Vec<Self::Item>, i64, bool);
}

struct Walk<R, I, F> {
    request: R,
    fetch: F,
    buffer: VecDeque<I>,
    page_size: u32,
    remaining: Option<u64>,
    reach: Option<u64>,
    style: PagingStyle,
    done: bool,
    failure: Option<Error>,
}

/// Walks every page of `endpoint` from `request`, calling `fetch` for each, and yields
/// the items one by one. It stops when the API says no more follow, when `max_items` are
/// out, or (index cursors) at the endpoint's reach (`cursor + max_count` stays within it).
/// A page that does not move the cursor ends the walk with a decode error rather than
/// looping. An error ends the stream after it is yielded.
pub fn stream<R, P, F, Fut>(
    endpoint: &'static EndpointMeta,
    request: R,
    options: PageOptions,
    fetch: F,
) -> impl Stream<Item = Result<P::Item, Error>> + Unpin
where
    R: PagedRequest,
    P: Page,
    F: FnMut(R) -> Fut,
    Fut: Future<Output = Result<P, Error>>,
{
    let (style, default_size, max_size, reach) = match endpoint.paging {
        Some(paging) => (
            paging.style,
            paging.max_max_count,
            paging.max_max_count,
            paging.max_reach,
        ),
        None => (PagingStyle::TimestampMs, 1, u32::MAX, None),
    };
    let page_size = options
        .page_size
        .or(request.max_count())
        .unwrap_or(default_size)
        .clamp(1, max_size);
    let walk = Walk {
        request,
        fetch,
        buffer: VecDeque::new(),
        page_size,
        remaining: options.max_items,
        reach,
        style,
        done: false,
        failure: None,
    };
    // Boxed and pinned, so the stream is `Unpin`: `while let Some(item) = stream.try_next()`
    // works on it as it is.
    Box::pin(futures::stream::unfold(walk, move |mut walk| async move {
        loop {
            if walk.remaining == Some(0) {
                return None;
            }
            if let Some(item) = walk.buffer.pop_front() {
                walk.remaining = walk.remaining.map(|left| left - 1);
                return Some((Ok(item), walk));
            }
            if walk.done {
                return walk.failure.take().map(|error| (Err(error), walk));
            }
            let mut size = u64::from(walk.page_size);
            if let Some(left) = walk.remaining {
                size = size.min(left);
            }
            let cursor = walk.request.cursor();
            if let (PagingStyle::Index, Some(reach)) = (walk.style, walk.reach) {
                let start = cursor.unwrap_or(0).max(0) as u64;
                if start >= reach {
                    return None;
                }
                size = size.min(reach - start);
            }
            walk.request.set_max_count(size as u32);
            let page = match (walk.fetch)(walk.request.clone()).await {
                Ok(page) => page,
                Err(error) => {
                    walk.done = true;
                    return Some((Err(error), walk));
                }
            };
            let (items, next, has_more) = page.into_parts();
            walk.buffer.extend(items);
            if !has_more {
                walk.done = true;
            } else if cursor == Some(next) {
                walk.done = true;
                walk.failure = Some(Error::Decode {
                    status: 200,
                    message: format!(
                        "{}: has_more is true but the cursor stayed at {next}",
                        endpoint.id
                    ),
                    body: String::new(),
                    attempts: Attempts::ONE,
                });
            } else {
                walk.request.set_cursor(next);
            }
        }
    }))
}
