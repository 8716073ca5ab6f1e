//! The view structs the template `reference.md` reads, one per row or section.

pub(super) struct TierRow {
    pub(super) name: String,
    pub(super) per_minute: u32,
    pub(super) description: String,
    pub(super) source: String,
}

pub(super) struct GroupView {
    pub(super) title: String,
    pub(super) description: String,
    pub(super) rows: Vec<MethodRow>,
}

pub(super) struct MethodRow {
    pub(super) method: &'static str,
    pub(super) path: String,
    pub(super) summary: String,
    pub(super) access: &'static str,
    pub(super) permission: String,
    pub(super) version: String,
    pub(super) rate_limit: String,
    pub(super) webhooks: String,
}

pub(super) struct EndpointView {
    pub(super) anchor: String,
    pub(super) heading: String,
    pub(super) summary: String,
    pub(super) description: String,
    /// `(label, value)` lines of the fact list.
    pub(super) facts: Vec<(String, String)>,
    pub(super) fields: Option<FieldsView>,
    pub(super) limits: Vec<LimitRow>,
    pub(super) errors: Vec<EndpointErrorRow>,
}

pub(super) struct FieldsView {
    pub(super) intro: String,
    pub(super) rows: Vec<(String, String, String)>,
}

pub(super) struct LimitRow {
    pub(super) name: String,
    pub(super) value: u64,
    pub(super) description: String,
    pub(super) source: String,
}

pub(super) struct EndpointErrorRow {
    pub(super) status: String,
    pub(super) code: String,
    pub(super) meaning: String,
}

pub(super) struct ScopeRow {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) review_required: &'static str,
    pub(super) fields: String,
    pub(super) source: String,
}

pub(super) struct ErrorRow {
    pub(super) status: u16,
    pub(super) code: String,
    pub(super) envelope: &'static str,
    pub(super) meaning: String,
    pub(super) action: String,
    pub(super) source: String,
}

pub(super) struct WebhookRow {
    pub(super) name: String,
    pub(super) family: &'static str,
    pub(super) description: String,
    pub(super) triggered_by: String,
    pub(super) content: String,
    pub(super) reason_codes: String,
    pub(super) source: String,
}

pub(super) struct EnumRow {
    pub(super) anchor: String,
    pub(super) name: String,
    pub(super) values: String,
    pub(super) description: String,
    pub(super) source: String,
}

pub(super) struct SchemaView {
    pub(super) anchor: String,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) source: String,
    pub(super) rows: Vec<SchemaFieldRow>,
}

pub(super) struct SchemaFieldRow {
    pub(super) name: String,
    pub(super) ty: String,
    pub(super) required: &'static str,
    pub(super) constraints: String,
    pub(super) scope: String,
    pub(super) description: String,
    pub(super) example: String,
}

pub(super) struct OauthView {
    pub(super) token_url: String,
    pub(super) rows: Vec<OauthRow>,
    pub(super) rotation_description: String,
    pub(super) scope_separator: String,
    pub(super) pkce_methods: String,
    pub(super) pkce_encodings: String,
    pub(super) verifier_min: u32,
    pub(super) verifier_max: u32,
    pub(super) pkce_description: String,
    pub(super) pkce_source: String,
}

pub(super) struct OauthRow {
    pub(super) rule: &'static str,
    pub(super) current: String,
    pub(super) previous: String,
    pub(super) source: String,
}

pub(super) struct UploadsView {
    pub(super) upload_url_ttl: String,
    pub(super) content_types: String,
    pub(super) min_chunk_mb: u64,
    pub(super) max_chunk_mb: u64,
    pub(super) max_final_chunk_mb: u64,
    pub(super) min_chunks: u64,
    pub(super) max_chunks: u64,
    pub(super) mb_readings: String,
    pub(super) description: String,
    pub(super) source: String,
}

pub(super) struct DivergenceRow {
    pub(super) topic: String,
    pub(super) seed: String,
    pub(super) real: String,
    pub(super) rule: String,
    pub(super) sources: String,
}

pub(super) struct SourceRow {
    pub(super) key: String,
    pub(super) title: String,
    pub(super) url: String,
}
