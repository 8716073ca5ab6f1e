//! Grants: what one agent may do with a user's account (scopes, read and/or write access,
//! an optional allow-list of endpoints, budgets), checked locally against the generated
//! endpoint and schema tables before anything is sent. A grant is only rules: its budgets
//! are counted by a [`crate::BudgetLedger`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use tiktok_api::Scope;
use tiktok_api::meta::{Access, Auth, EndpointMeta};

use crate::budget::{Budget, BudgetLimit, DAY, MINUTE};

/// Why a grant refuses a call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    /// An OAuth endpoint (called with the app's secret): never granted to an agent.
    OAuthEndpoint,
    /// The grant has an allow-list of endpoints and this one is not on it.
    EndpointNotAllowed,
    /// The grant does not include this access (`read` or `write`).
    AccessNotGranted(Access),
    /// The grant holds none of the scopes the endpoint accepts (any one would do).
    MissingScope(Vec<Scope>),
    /// A requested `fields` entry needs a scope outside the grant.
    FieldScope {
        /// The field's JSON name.
        field: String,
        /// The scope it needs.
        scope: Scope,
    },
    /// A request field's value chooses a scope outside the grant (content init's `post_mode`).
    ScopeBy {
        /// The request field.
        field: &'static str,
        /// Its value.
        value: String,
        /// The scope that value needs.
        scope: Scope,
    },
    /// The shared budget ledger could not be read or written, so the call is refused.
    BudgetUnavailable(String),
    /// A budget of the grant is used up.
    BudgetExhausted {
        /// Which budget.
        budget: Budget,
        /// Its size.
        limit: u32,
        /// How long until the window lets one more call through.
        retry_after: Duration,
    },
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::OAuthEndpoint => f.write_str("an OAuth endpoint, never granted"),
            DenyReason::EndpointNotAllowed => f.write_str("endpoint not on the grant's allow-list"),
            DenyReason::AccessNotGranted(access) => {
                write!(f, "{} access not granted", access.as_str())
            }
            DenyReason::MissingScope(scopes) => {
                let names: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
                write!(f, "missing scope {}", names.join(" or "))
            }
            DenyReason::FieldScope { field, scope } => {
                write!(f, "field {field} needs scope {scope}, not granted")
            }
            DenyReason::ScopeBy {
                field,
                value,
                scope,
            } => write!(f, "{field} {value} needs scope {scope}, not granted"),
            DenyReason::BudgetUnavailable(problem) => {
                write!(f, "the budget ledger failed ({problem})")
            }
            DenyReason::BudgetExhausted {
                budget,
                limit,
                retry_after,
            } => write!(
                f,
                "budget {budget} of {limit} used up; retry in {} ms",
                retry_after.as_millis()
            ),
        }
    }
}

/// A grant that cannot be built as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// A budget is larger than what TikTok itself allows for the endpoints granted.
    #[error("budget {budget} of {value} is above TikTok's limit of {limit}")]
    AboveTikTokLimit {
        /// Which budget.
        budget: Budget,
        /// The budget asked for.
        value: u32,
        /// TikTok's limit, from the endpoint table.
        limit: u64,
    },
}

/// What one agent may do with a user's account: immutable rules, cheap to clone. Built with
/// [`Grant::builder`], which checks the budgets against the endpoint table; a
/// [`crate::GrantedClient`] checks every call against it.
///
/// ```
/// use tiktok_agent::{DenyReason, Grant};
/// use tiktok_api::{Scope, endpoints};
///
/// let reader = Grant::builder()
///     .scopes([Scope::UserInfoBasic, Scope::VideoList])
///     .read()
///     .calls_per_minute(30)
///     .build()?;
/// assert!(reader.check_endpoint(&endpoints::VIDEO_LIST).is_ok());
/// assert!(matches!(
///     reader.check_endpoint(&endpoints::VIDEO_INIT),
///     Err(DenyReason::AccessNotGranted(_))
/// ));
/// # Ok::<(), tiktok_agent::GrantError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    scopes: BTreeSet<Scope>,
    access: BTreeSet<Access>,
    endpoints: Option<BTreeSet<&'static str>>,
    calls_per_minute: Option<u32>,
    endpoint_calls_per_minute: BTreeMap<&'static str, u32>,
    writes_per_day: Option<u32>,
}

/// Builds a [`Grant`]; [`GrantBuilder::build`] checks the budgets against the endpoint table.
#[derive(Debug, Default, Clone)]
pub struct GrantBuilder {
    /// The grant as asked for, not yet checked.
    asked: Grant,
}

impl GrantBuilder {
    /// Adds scopes to the grant.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.asked.scopes.extend(scopes);
        self
    }

    /// Allows reading endpoints.
    pub fn read(self) -> Self {
        self.access(Access::Read)
    }

    /// Allows writing endpoints.
    pub fn write(self) -> Self {
        self.access(Access::Write)
    }

    /// Allows this access (`read` or `write`).
    pub fn access(mut self, access: Access) -> Self {
        self.asked.access.insert(access);
        self
    }

    /// Allows only these endpoints (on top of scopes and access), e.g.
    /// `[&endpoints::USER_INFO, &endpoints::VIDEO_LIST]`.
    pub fn endpoints(mut self, endpoints: impl IntoIterator<Item = &'static EndpointMeta>) -> Self {
        self.asked.endpoints = Some(endpoints.into_iter().map(|meta| meta.id).collect());
        self
    }

    /// At most `calls` calls in any minute, all endpoints together.
    pub fn calls_per_minute(mut self, calls: u32) -> Self {
        self.asked.calls_per_minute = Some(calls);
        self
    }

    /// At most `calls` calls to `endpoint` in any minute.
    pub fn endpoint_calls_per_minute(
        mut self,
        endpoint: &'static EndpointMeta,
        calls: u32,
    ) -> Self {
        self.asked
            .endpoint_calls_per_minute
            .insert(endpoint.id, calls);
        self
    }

    /// At most `writes` write calls in any 24 hours.
    pub fn writes_per_day(mut self, writes: u32) -> Self {
        self.asked.writes_per_day = Some(writes);
        self
    }

    /// The grant, or why it cannot be: a budget above TikTok's own limit (a per-endpoint
    /// budget above the endpoint's per-minute rate limit; a total per minute above the sum
    /// of the granted endpoints' rate limits; writes per day above the sum of the granted
    /// write endpoints' daily limits).
    pub fn build(self) -> Result<Grant, GrantError> {
        let grant = self.asked;
        for (id, calls) in &grant.endpoint_calls_per_minute {
            let per_minute = tiktok_api::endpoint(id).map_or(0, |meta| meta.rate_limit.per_minute);
            check_limit(
                Budget::EndpointCallsPerMinute(id),
                *calls,
                per_minute.into(),
            )?;
        }
        let granted: Vec<&EndpointMeta> = grant.endpoints().collect();
        if let Some(calls) = grant.calls_per_minute {
            let limit = granted
                .iter()
                .map(|meta| u64::from(meta.rate_limit.per_minute))
                .sum();
            check_limit(Budget::CallsPerMinute, calls, limit)?;
        }
        if let Some(writes) = grant.writes_per_day {
            // Daily limits shared by several endpoints (direct posts) count once.
            let daily: BTreeMap<&str, u64> = granted
                .iter()
                .filter(|meta| meta.access == Access::Write)
                .flat_map(|meta| meta.limits.iter())
                .filter(|limit| limit.name.ends_with("_per_day"))
                .map(|limit| (limit.name, limit.value))
                .collect();
            if !daily.is_empty() {
                check_limit(Budget::WritesPerDay, writes, daily.values().sum())?;
            }
        }
        Ok(grant)
    }
}

fn check_limit(budget: Budget, value: u32, limit: u64) -> Result<(), GrantError> {
    if u64::from(value) > limit {
        return Err(GrantError::AboveTikTokLimit {
            budget,
            value,
            limit,
        });
    }
    Ok(())
}

impl Grant {
    /// A builder: no scopes, no access, every endpoint, no budgets.
    pub fn builder() -> GrantBuilder {
        GrantBuilder::default()
    }

    /// The scopes granted.
    pub fn scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.scopes.iter().copied()
    }

    /// Whether `access` is granted.
    pub fn allows_access(&self, access: Access) -> bool {
        self.access.contains(&access)
    }

    /// The endpoints this grant lets through (before fields, request values and budgets):
    /// what a gateway lists as the agent's tools.
    pub fn endpoints(&self) -> impl Iterator<Item = &'static EndpointMeta> + '_ {
        tiktok_api::ENDPOINTS
            .iter()
            .copied()
            .filter(|meta| self.check_endpoint(meta).is_ok())
    }

    /// Whether the endpoint itself is granted: not an OAuth endpoint, on the allow-list (if
    /// any), with granted access and at least one of its scopes. Endpoints called with the
    /// app's client token (the Research API) are granted like the others, by their scope.
    pub fn check_endpoint(&self, meta: &EndpointMeta) -> Result<(), DenyReason> {
        if meta.auth == Auth::ClientCredentials {
            return Err(DenyReason::OAuthEndpoint);
        }
        if let Some(endpoints) = &self.endpoints
            && !endpoints.contains(meta.id)
        {
            return Err(DenyReason::EndpointNotAllowed);
        }
        if !self.allows_access(meta.access) {
            return Err(DenyReason::AccessNotGranted(meta.access));
        }
        if !meta.scopes.is_empty() && !meta.scopes.iter().any(|s| self.scopes.contains(s)) {
            return Err(DenyReason::MissingScope(meta.scopes.to_vec()));
        }
        Ok(())
    }

    /// Whether a whole call is granted: the endpoint, each requested field's scope (from the
    /// schema table) and the scope a request value chooses (`scope_by`). Budgets aside.
    pub fn check_call(
        &self,
        meta: &EndpointMeta,
        fields: &[&str],
        body: Option<&serde_json::Value>,
    ) -> Result<(), DenyReason> {
        self.check_endpoint(meta)?;
        if let Some(param) = meta.fields {
            for name in fields {
                let scope = param.schema.field(name).and_then(|field| field.scope);
                if let Some(scope) = scope
                    && !self.scopes.contains(&scope)
                {
                    return Err(DenyReason::FieldScope {
                        field: (*name).to_string(),
                        scope,
                    });
                }
            }
        }
        if let Some(scope_by) = meta.scope_by {
            let value = body
                .and_then(|body| body.get(scope_by.field))
                .and_then(|value| value.as_str());
            if let Some((value, scope)) =
                value.and_then(|value| scope_by.scope_for(value).map(|scope| (value, scope)))
                && !self.scopes.contains(&scope)
            {
                return Err(DenyReason::ScopeBy {
                    field: scope_by.field,
                    value: value.to_string(),
                    scope,
                });
            }
        }
        Ok(())
    }

    /// The budgets a call of `meta` counts against, for a [`crate::BudgetLedger`].
    pub fn budget_limits(&self, meta: &'static EndpointMeta) -> Vec<BudgetLimit> {
        let write = meta.access == Access::Write;
        let candidates = [
            (self.calls_per_minute, Budget::CallsPerMinute, MINUTE),
            (
                self.endpoint_calls_per_minute.get(meta.id).copied(),
                Budget::EndpointCallsPerMinute(meta.id),
                MINUTE,
            ),
            (
                self.writes_per_day.filter(|_| write),
                Budget::WritesPerDay,
                DAY,
            ),
        ];
        candidates
            .into_iter()
            .filter_map(|(limit, budget, window)| {
                limit.map(|limit| BudgetLimit {
                    budget,
                    limit,
                    window,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use tiktok_api::endpoints::{CONTENT_INIT, TOKEN, USER_INFO, VIDEO_INIT};

    use super::*;

    fn reader() -> Grant {
        Grant::builder()
            .scopes([Scope::UserInfoBasic, Scope::VideoList])
            .read()
            .build()
            .unwrap()
    }

    #[test]
    fn a_reader_reaches_only_reads_it_has_scopes_for() {
        let ids: Vec<&str> = reader().endpoints().map(|meta| meta.id).collect();
        assert_eq!(ids, ["user_info", "video_list", "video_query"]);
        assert_eq!(
            reader().check_endpoint(&VIDEO_INIT),
            Err(DenyReason::AccessNotGranted(Access::Write))
        );
        assert_eq!(
            reader().check_endpoint(&TOKEN),
            Err(DenyReason::OAuthEndpoint)
        );
    }

    #[test]
    fn research_is_granted_by_its_app_scope() {
        let researcher = Grant::builder()
            .scopes([Scope::ResearchDataBasic])
            .read()
            .build()
            .unwrap();
        let ids: Vec<&str> = researcher.endpoints().map(|meta| meta.id).collect();
        assert_eq!(ids, ["research_comment_list"]);
        assert!(
            !reader()
                .endpoints()
                .any(|meta| meta.id == "research_comment_list")
        );
    }

    #[test]
    fn field_and_value_scopes_come_from_the_tables() {
        let denied = reader().check_call(&USER_INFO, &["open_id", "follower_count"], None);
        assert_eq!(
            denied,
            Err(DenyReason::FieldScope {
                field: "follower_count".into(),
                scope: Scope::UserInfoStats
            })
        );
        let uploader = Grant::builder()
            .scopes([Scope::VideoUpload])
            .write()
            .build()
            .unwrap();
        let direct = serde_json::json!({"post_mode": "DIRECT_POST"});
        assert!(matches!(
            uploader.check_call(&CONTENT_INIT, &[], Some(&direct)),
            Err(DenyReason::ScopeBy {
                scope: Scope::VideoPublish,
                ..
            })
        ));
        let inbox = serde_json::json!({"post_mode": "MEDIA_UPLOAD"});
        assert_eq!(
            uploader.check_call(&CONTENT_INIT, &[], Some(&inbox)),
            Ok(())
        );
    }

    #[test]
    fn budgets_above_tiktoks_limits_are_refused() {
        let error = Grant::builder()
            .scopes([Scope::VideoPublish])
            .write()
            .endpoint_calls_per_minute(&VIDEO_INIT, 7)
            .build()
            .unwrap_err();
        assert!(matches!(
            error,
            GrantError::AboveTikTokLimit { limit: 6, .. }
        ));
        let error = Grant::builder()
            .scopes([Scope::VideoPublish])
            .write()
            .endpoints([&VIDEO_INIT])
            .writes_per_day(16)
            .build()
            .unwrap_err();
        assert!(matches!(
            error,
            GrantError::AboveTikTokLimit { limit: 15, .. }
        ));
        // Direct posts (shared by video and photo posts) count once, inbox shares apart.
        let error = Grant::builder()
            .scopes([Scope::VideoPublish, Scope::VideoUpload])
            .write()
            .writes_per_day(21)
            .build()
            .unwrap_err();
        assert!(matches!(
            error,
            GrantError::AboveTikTokLimit { limit: 20, .. }
        ));
    }
}
