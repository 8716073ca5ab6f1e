//! Grants: what one agent may do with a user's account (scopes, read and/or write access,
//! an optional allow-list of endpoints, budgets), checked locally against the generated
//! endpoint and schema tables before anything is sent.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use crate::Scope;
use crate::meta::{Access, Auth, EndpointMeta};
#[cfg(feature = "client")]
pub use crate::runtime::budget::BudgetLedger;
use crate::runtime::budget::Budgets;
pub use crate::runtime::budget::{Budget, BudgetLimit, Exhausted};

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
    /// The allow-list or a per-endpoint budget names an endpoint the spec does not have.
    #[error("unknown endpoint {0:?}")]
    UnknownEndpoint(String),
    /// A budget is larger than what TikTok itself allows for the endpoints granted.
    #[error("budget {budget} of {value} is above TikTok's limit of {limit}")]
    AboveTikTokLimit {
        /// Which budget.
        budget: String,
        /// The budget asked for.
        value: u32,
        /// TikTok's limit, from the endpoint table.
        limit: u64,
    },
}

/// What one agent may do with a user's account. Built with [`Grant::builder`]; narrows a
/// [`crate::UserClient`] with `UserClient::with_grant`.
#[derive(Debug)]
pub struct Grant {
    scopes: BTreeSet<Scope>,
    access: BTreeSet<AccessKey>,
    endpoints: Option<BTreeSet<&'static str>>,
    budgets: Budgets,
}

/// `Access` in a sorted set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum AccessKey {
    Read,
    Write,
}

impl From<Access> for AccessKey {
    fn from(access: Access) -> Self {
        match access {
            Access::Read => AccessKey::Read,
            Access::Write => AccessKey::Write,
        }
    }
}

/// Builds a [`Grant`]; [`GrantBuilder::build`] checks the budgets against the endpoint table.
#[derive(Debug, Default, Clone)]
pub struct GrantBuilder {
    scopes: BTreeSet<Scope>,
    access: BTreeSet<AccessKey>,
    endpoints: Option<Vec<String>>,
    calls_per_minute: Option<u32>,
    endpoint_calls_per_minute: Vec<(String, u32)>,
    writes_per_day: Option<u32>,
}

impl GrantBuilder {
    /// Adds scopes to the grant.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.scopes.extend(scopes);
        self
    }

    /// Allows reading endpoints.
    pub fn read(mut self) -> Self {
        self.access.insert(AccessKey::Read);
        self
    }

    /// Allows writing endpoints.
    pub fn write(mut self) -> Self {
        self.access.insert(AccessKey::Write);
        self
    }

    /// Allows this access (`read` or `write`).
    pub fn access(mut self, access: Access) -> Self {
        self.access.insert(access.into());
        self
    }

    /// Allows only these endpoint ids (on top of scopes and access).
    pub fn endpoints<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.endpoints = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// At most `calls` calls in any minute, all endpoints together.
    pub fn calls_per_minute(mut self, calls: u32) -> Self {
        self.calls_per_minute = Some(calls);
        self
    }

    /// At most `calls` calls to endpoint `id` in any minute.
    pub fn endpoint_calls_per_minute(mut self, id: impl Into<String>, calls: u32) -> Self {
        self.endpoint_calls_per_minute.push((id.into(), calls));
        self
    }

    /// At most `writes` write calls in any 24 hours.
    pub fn writes_per_day(mut self, writes: u32) -> Self {
        self.writes_per_day = Some(writes);
        self
    }

    /// The grant, or why it cannot be: an unknown endpoint id, or a budget above TikTok's
    /// own limit (a per-endpoint budget above the endpoint's per-minute rate limit; a total
    /// per minute above the sum of the granted endpoints' rate limits; writes per day above
    /// the sum of the granted write endpoints' daily limits).
    pub fn build(self) -> Result<Grant, GrantError> {
        let endpoints = match self.endpoints {
            None => None,
            Some(ids) => Some(
                ids.iter()
                    .map(|id| known_endpoint(id).map(|meta| meta.id))
                    .collect::<Result<BTreeSet<_>, _>>()?,
            ),
        };
        let mut endpoint_calls_per_minute = BTreeMap::new();
        for (id, calls) in &self.endpoint_calls_per_minute {
            let meta = known_endpoint(id)?;
            check_limit(
                format!("calls_per_minute of {id}"),
                *calls,
                meta.rate_limit.per_minute.into(),
            )?;
            endpoint_calls_per_minute.insert(meta.id, *calls);
        }
        let grant = Grant {
            scopes: self.scopes,
            access: self.access,
            endpoints,
            budgets: Budgets::new(
                self.calls_per_minute,
                endpoint_calls_per_minute,
                self.writes_per_day,
            ),
        };
        let granted: Vec<&EndpointMeta> = grant.endpoints().collect();
        if let Some(calls) = grant.budgets.calls_per_minute {
            let limit = granted
                .iter()
                .map(|meta| u64::from(meta.rate_limit.per_minute))
                .sum();
            check_limit("calls_per_minute".into(), calls, limit)?;
        }
        if let Some(writes) = grant.budgets.writes_per_day {
            // Daily limits shared by several endpoints (direct posts) count once.
            let daily: BTreeMap<&str, u64> = granted
                .iter()
                .filter(|meta| meta.access == Access::Write)
                .flat_map(|meta| meta.limits.iter())
                .filter(|limit| limit.name.ends_with("_per_day"))
                .map(|limit| (limit.name, limit.value))
                .collect();
            if !daily.is_empty() {
                check_limit("writes_per_day".into(), writes, daily.values().sum())?;
            }
        }
        Ok(grant)
    }
}

fn known_endpoint(id: &str) -> Result<&'static EndpointMeta, GrantError> {
    crate::endpoint(id).ok_or_else(|| GrantError::UnknownEndpoint(id.to_string()))
}

fn check_limit(budget: String, value: u32, limit: u64) -> Result<(), GrantError> {
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
        self.access.contains(&access.into())
    }

    /// The endpoints this grant lets through (before fields, request values and budgets):
    /// what a gateway lists as the agent's tools.
    pub fn endpoints(&self) -> impl Iterator<Item = &'static EndpointMeta> + '_ {
        crate::ENDPOINTS
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
            let chosen = value.and_then(|value| {
                scope_by
                    .scopes
                    .iter()
                    .find(|(option, _)| *option == value)
                    .map(|(_, scope)| (value, *scope))
            });
            if let Some((value, scope)) = chosen
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

    /// The budgets a call of `meta` counts against (for a shared [`BudgetLedger`]).
    pub fn budget_limits(&self, meta: &'static EndpointMeta) -> Vec<BudgetLimit> {
        self.budgets.limits_for(meta)
    }

    /// Takes one call of `meta` from the budgets, or says which budget is used up (and
    /// takes nothing).
    pub fn take_budget(&self, meta: &'static EndpointMeta) -> Result<(), DenyReason> {
        self.take_budget_at(meta, Instant::now())
    }

    pub(crate) fn take_budget_at(
        &self,
        meta: &'static EndpointMeta,
        now: Instant,
    ) -> Result<(), DenyReason> {
        self.budgets
            .take_at(meta, now)
            .map_err(|exhausted| DenyReason::BudgetExhausted {
                budget: exhausted.budget,
                limit: exhausted.limit,
                retry_after: exhausted.retry_after,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{CONTENT_INIT, TOKEN, USER_INFO, VIDEO_INIT};

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
            .endpoint_calls_per_minute("video_init", 7)
            .build()
            .unwrap_err();
        assert!(matches!(
            error,
            GrantError::AboveTikTokLimit { limit: 6, .. }
        ));
        let error = Grant::builder()
            .scopes([Scope::VideoPublish])
            .write()
            .endpoints(["video_init"])
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
        let error = Grant::builder().endpoints(["nope"]).build().unwrap_err();
        assert_eq!(error, GrantError::UnknownEndpoint("nope".into()));
    }
}
