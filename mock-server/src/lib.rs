//! Mock TikTok v2 server (built in a later issue).
