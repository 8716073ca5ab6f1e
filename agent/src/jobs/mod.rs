//! Tools that finish a job in several calls, beside the one-per-endpoint tools and granted
//! the same way (every endpoint a job calls must be allowed by the grant):
//! - `post_video`: a file from the agent's [`UploadsDir`] (or a URL TikTok pulls), creator
//!   info checked, init, the chunked upload by `tiktok_api`'s upload helper, and status
//!   polls to a final status;
//! - `post_photos`: photos pulled from URLs, the same way;
//! - `list_all_videos`: every page of the video list, up to a cap.
//!
//! Their arguments are checked here against the same generated tables the endpoint tools
//! are (the init request a job will send is built and checked as that endpoint's tool
//! arguments), and their input schemas are cut from `tools.json`, so no limit is copied.
//! [`crate::GrantedClient`] runs them (`check_job`, `hold_job`, `run_job`).

mod file;
mod job;
mod run;

pub use file::{FileError, OpenedFile, UploadsDir};
pub use job::{DEFAULT_MAX_VIDEOS, Job, JobKind, MAX_VIDEOS};
pub use run::{JobProgress, JobRun};
