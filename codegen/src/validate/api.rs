//! Rules of spec/api.yaml's OAuth and upload blocks.

use crate::error::NodePath;
use crate::model::*;
use crate::spec;
use crate::validate::checker::{API, Checker, count};

pub(super) fn build_oauth(checker: &mut Checker) -> Oauth {
    let raw = &checker.raw.api.oauth;
    let base = NodePath::default().key("oauth");
    let ttl = |checker: &mut Checker, key: &str, value: &spec::RawVersioned<i64>| Versioned {
        current: count::<u64>(checker, API, base.key(key).key("current"), value.current, 1),
        previous: count::<u64>(
            checker,
            API,
            base.key(key).key("previous"),
            value.previous,
            1,
        ),
        description: value.description.clone(),
        source: value.source.clone(),
    };
    let access = ttl(
        checker,
        "access_token_ttl_seconds",
        &raw.access_token_ttl_seconds,
    );
    let refresh = ttl(
        checker,
        "refresh_token_ttl_seconds",
        &raw.refresh_token_ttl_seconds,
    );
    let client = ttl(
        checker,
        "client_token_ttl_seconds",
        &raw.client_token_ttl_seconds,
    );
    let code = ttl(checker, "code_ttl_seconds", &raw.code_ttl_seconds);
    for (key, value) in [
        ("current", &raw.refresh_rotation.current),
        ("previous", &raw.refresh_rotation.previous),
    ] {
        if value != "always" && value != "may" {
            checker.fail(
                API,
                base.key("refresh_rotation").key(key),
                "always or may",
                format!("{value:?}"),
            );
        }
    }
    let verifier_min = count::<u32>(
        checker,
        API,
        base.key("code_verifier_length").key("min"),
        raw.code_verifier_length.min,
        1,
    );
    let verifier_max = count::<u32>(
        checker,
        API,
        base.key("code_verifier_length").key("max"),
        raw.code_verifier_length.max,
        1,
    );
    for (index, encoding) in raw.pkce.challenge_encodings.iter().enumerate() {
        if encoding != "hex" && encoding != "base64url" {
            checker.fail(
                API,
                base.key("pkce").key("challenge_encodings").index(index),
                "hex or base64url",
                format!("{encoding:?}"),
            );
        }
    }
    Oauth {
        access_token_ttl_seconds: access,
        refresh_token_ttl_seconds: refresh,
        client_token_ttl_seconds: client,
        refresh_rotation: Versioned {
            current: raw.refresh_rotation.current.clone(),
            previous: raw.refresh_rotation.previous.clone(),
            description: raw.refresh_rotation.description.clone(),
            source: raw.refresh_rotation.source.clone(),
        },
        code_ttl_seconds: code,
        scope_separator: raw.scope_separator.clone(),
        pkce_methods: raw.pkce.methods.clone(),
        pkce_challenge_encodings: raw.pkce.challenge_encodings.clone(),
        pkce_description: raw.pkce.description.clone(),
        pkce_source: raw.pkce.source.clone(),
        code_verifier_min: verifier_min,
        code_verifier_max: verifier_max,
    }
}

pub(super) fn build_webhook_delivery(checker: &mut Checker) -> WebhookDelivery {
    let raw = &checker.raw.api.webhook_delivery;
    WebhookDelivery {
        retry_window_seconds: count(
            checker,
            API,
            NodePath::default()
                .key("webhook_delivery")
                .key("retry_window_seconds"),
            raw.retry_window_seconds,
            1,
        ),
        description: raw.description.clone(),
        source: raw.source.clone(),
    }
}

pub(super) fn build_uploads(checker: &mut Checker) -> Uploads {
    let raw = &checker.raw.api.uploads;
    let base = NodePath::default().key("uploads");
    let chunk = base.key("chunk");
    let uploads = Uploads {
        upload_url_ttl_seconds: count(
            checker,
            API,
            base.key("upload_url_ttl_seconds"),
            raw.upload_url_ttl_seconds,
            1,
        ),
        content_types: raw.content_types.clone(),
        min_chunk_mb: count(
            checker,
            API,
            chunk.key("min_chunk_mb"),
            raw.chunk.min_chunk_mb,
            1,
        ),
        max_chunk_mb: count(
            checker,
            API,
            chunk.key("max_chunk_mb"),
            raw.chunk.max_chunk_mb,
            1,
        ),
        max_final_chunk_mb: count(
            checker,
            API,
            chunk.key("max_final_chunk_mb"),
            raw.chunk.max_final_chunk_mb,
            1,
        ),
        min_chunks: count(
            checker,
            API,
            chunk.key("min_chunks"),
            raw.chunk.min_chunks,
            1,
        ),
        max_chunks: count(
            checker,
            API,
            chunk.key("max_chunks"),
            raw.chunk.max_chunks,
            1,
        ),
        mb_readings: raw
            .chunk
            .mb_readings
            .iter()
            .enumerate()
            .map(|(index, value)| {
                count(
                    checker,
                    API,
                    chunk.key("mb_readings").index(index),
                    *value,
                    1,
                )
            })
            .collect(),
        description: raw.chunk.description.clone(),
        source: raw.chunk.source.clone(),
    };
    if uploads.min_chunk_mb > uploads.max_chunk_mb
        || uploads.max_chunk_mb > uploads.max_final_chunk_mb
    {
        checker.fail(
            API,
            chunk.clone(),
            "min_chunk_mb <= max_chunk_mb <= max_final_chunk_mb",
            format!(
                "{} / {} / {}",
                uploads.min_chunk_mb, uploads.max_chunk_mb, uploads.max_final_chunk_mb
            ),
        );
    }
    if uploads.mb_readings.is_empty() {
        checker.fail(
            API,
            chunk.key("mb_readings"),
            "at least one reading of MB in bytes",
            "none",
        );
    }
    uploads
}
