//! The pipeline's cache of `fields` queries: each thread keeps its last query and the
//! fields it resolved to, so the same query again (the usual in a test suite or a load run)
//! skips parsing and checking the names.

use std::cell::RefCell;

use tiktok_api::meta::{FieldMeta, SchemaMeta};

/// A thread's last `fields` query, resolved.
struct LastFields {
    /// The schema the names were resolved against, by address: the tables are `'static`,
    /// so an address names one schema for the life of the process.
    schema: *const SchemaMeta,
    /// Whether unknown names were refused (the `unknown_fields` setting) when resolved.
    reject_unknown: bool,
    /// The whole query string.
    query: String,
    /// The fields it resolved to.
    fields: Vec<&'static FieldMeta>,
}

thread_local! {
    static LAST_FIELDS: RefCell<Option<LastFields>> = const { RefCell::new(None) };
}

/// The fields `query` names in `schema`: the thread's last answer when the schema, the
/// setting and the query are the same as then, otherwise `resolve`'s (kept for next time
/// when it names any field; no fields at all depends on whether the endpoint requires
/// them, which the key does not say).
pub fn resolve_cached<E>(
    schema: &'static SchemaMeta,
    reject_unknown: bool,
    query: &str,
    resolve: impl FnOnce() -> Result<Vec<&'static FieldMeta>, E>,
) -> Result<Vec<&'static FieldMeta>, E> {
    let schema: *const SchemaMeta = schema;
    let remembered = LAST_FIELDS.with(|last| {
        last.borrow()
            .as_ref()
            .filter(|last| {
                std::ptr::eq(last.schema, schema)
                    && last.reject_unknown == reject_unknown
                    && last.query == query
            })
            .map(|last| last.fields.clone())
    });
    if let Some(fields) = remembered {
        return Ok(fields);
    }
    let fields = resolve()?;
    if !fields.is_empty() {
        LAST_FIELDS.with(|last| {
            *last.borrow_mut() = Some(LastFields {
                schema,
                reject_unknown,
                query: query.to_owned(),
                fields: fields.clone(),
            });
        });
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::resolve_cached;

    #[test]
    fn the_same_query_is_resolved_once_and_a_different_one_again() {
        let endpoint = tiktok_api::ENDPOINTS
            .iter()
            .find(|endpoint| endpoint.fields.is_some())
            .expect("an endpoint with fields");
        let schema = endpoint.fields.expect("fields").schema;
        let first = &schema.fields[..1];
        let resolved = |calls: &mut u32| {
            *calls += 1;
            Ok::<_, ()>(first.iter().collect::<Vec<_>>())
        };
        let mut calls = 0;
        let query = format!("fields={}&cache-test", first[0].name);
        for _ in 0..3 {
            let fields = resolve_cached(schema, true, &query, || resolved(&mut calls));
            assert_eq!(fields.map(|fields| fields.len()), Ok(1));
        }
        assert_eq!(calls, 1, "the same query again comes from the cache");
        let _ = resolve_cached(schema, false, &query, || resolved(&mut calls));
        assert_eq!(calls, 2, "another setting resolves again");
        let _ = resolve_cached(schema, false, "fields=other", || resolved(&mut calls));
        assert_eq!(calls, 3, "another query resolves again");
    }
}
