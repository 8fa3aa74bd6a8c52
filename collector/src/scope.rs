//! What a viewer may see: the one place that decides it.
//!
//! A viewer token has a [`Role`] (stored with the token, migration 0012); the request's
//! [`Scope`] is that role with, for `org`, the one organization it is bound to. Handlers
//! receive a `Scope`, ask it about the [`Resource`] they serve ([`Scope::check`]), pass it
//! to the store's readers (which filter an organization's rows in SQL,
//! [`Scope::org_filter`]), and trim a computed matrix by its rules
//! ([`Scope::names_orgs`], [`Scope::min_group_size`], applied by `Matrix::trim_for`).
//! This module imports nothing of the crate, so that every other may import it.
//!
//! - `sector`: everything, every organization named.
//! - `org`: one organization: its rows, its report card and its matrix column; another
//!   organization is answered as if it did not exist (404), so that its name is not even
//!   confirmed; nothing that mixes organizations (the aggregate, `/metrics`).
//! - `committee`: the aggregate only, no organization named; a region or size band is shown
//!   only when it holds at least [`MIN_GROUP_SIZE`] organizations, so that no one can be
//!   singled out.

/// The fewest organizations a region or size band must hold for the committee to see it.
pub const MIN_GROUP_SIZE: usize = 5;

/// What a viewer token is for, chosen at `viewer add --role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Role {
    /// The sector lead: every organization.
    Sector,
    /// An organization's IT person: that organization only (`--org`).
    Org,
    /// The CISO committee: the aggregate only.
    Committee,
}

impl Role {
    /// Every role, in the order the docs list them.
    pub const ALL: [Role; 3] = [Role::Sector, Role::Org, Role::Committee];

    /// The value stored in the `tokens.role` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sector => "sector",
            Role::Org => "org",
            Role::Committee => "committee",
        }
    }

    /// The role named by a `tokens.role` value.
    pub fn from_stored(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// What one viewer may see: its role, and for `org` the organization.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Sector,
    Org(String),
    Committee,
}

/// Something a route serves, as [`Scope::check`] judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// The list of organizations (filtered to its own for `org`).
    OrgList,
    /// One organization's rows, column or report card.
    Org(&'a str),
    /// Every organization's column at once (`view=org` without `org`).
    AllOrgColumns,
    /// The sector aggregate; `true` when grouped by region or size band.
    Aggregate(bool),
    /// `/metrics`: every organization's series, named.
    Metrics,
}

/// Why a scope may not see a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The role does not see this kind of resource (403).
    Forbidden,
    /// Another organization's: answered as an unknown one (404).
    Hidden,
}

impl Scope {
    /// The scope of a stored role and organization; `None` when they do not go together
    /// (an `org` role without an organization, another role with one).
    pub fn from_stored(role: Role, org: Option<String>) -> Option<Scope> {
        match (role, org) {
            (Role::Sector, None) => Some(Scope::Sector),
            (Role::Committee, None) => Some(Scope::Committee),
            (Role::Org, Some(org)) => Some(Scope::Org(org)),
            _ => None,
        }
    }

    /// The role.
    pub fn role(&self) -> Role {
        match self {
            Scope::Sector => Role::Sector,
            Scope::Org(_) => Role::Org,
            Scope::Committee => Role::Committee,
        }
    }

    /// The one organization a store reader must keep, `None` for all (sector). The committee
    /// reads no organization's rows: [`Scope::check`] refuses before any reader runs.
    pub fn org_filter(&self) -> Option<&str> {
        match self {
            Scope::Org(org) => Some(org),
            Scope::Sector | Scope::Committee => None,
        }
    }

    /// Whether organizations are named to this scope at all.
    pub fn names_orgs(&self) -> bool {
        !matches!(self, Scope::Committee)
    }

    /// Whether this scope may see `resource`.
    pub fn check(&self, resource: Resource<'_>) -> Result<(), Denial> {
        match (self, resource) {
            (Scope::Sector, _) => Ok(()),
            (Scope::Org(_), Resource::OrgList) => Ok(()),
            (Scope::Org(own), Resource::Org(org)) if own == org => Ok(()),
            (Scope::Org(_), Resource::Org(_)) => Err(Denial::Hidden),
            (
                Scope::Org(_),
                Resource::AllOrgColumns | Resource::Aggregate(_) | Resource::Metrics,
            ) => Err(Denial::Forbidden),
            (Scope::Committee, Resource::Aggregate(_)) => Ok(()),
            (
                Scope::Committee,
                Resource::OrgList | Resource::Org(_) | Resource::AllOrgColumns | Resource::Metrics,
            ) => Err(Denial::Forbidden),
        }
    }

    /// The fewest organizations a region or size band must hold to be shown to this scope
    /// (applied by `Matrix::trim_for`).
    pub fn min_group_size(&self) -> usize {
        match self {
            Scope::Committee => MIN_GROUP_SIZE,
            Scope::Sector | Scope::Org(_) => 1,
        }
    }

    /// The first page of the web view for this scope.
    pub fn home(&self) -> String {
        match self {
            Scope::Org(org) => format!("/ui/orgs/{org}"),
            Scope::Sector | Scope::Committee => "/ui/matrix".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_the_store() {
        for role in Role::ALL {
            assert_eq!(Role::from_stored(role.as_str()), Some(role));
        }
        assert_eq!(Role::from_stored("viewer"), None);
        assert_eq!(
            Scope::from_stored(Role::Org, Some("a".into())),
            Some(Scope::Org("a".into()))
        );
        assert_eq!(Scope::from_stored(Role::Org, None), None);
        assert_eq!(Scope::from_stored(Role::Committee, Some("a".into())), None);
    }

    #[test]
    fn each_role_sees_what_it_is_for() {
        let own = Scope::Org("own".into());
        let all = [
            Resource::OrgList,
            Resource::Org("own"),
            Resource::Org("other"),
            Resource::AllOrgColumns,
            Resource::Aggregate(false),
            Resource::Aggregate(true),
            Resource::Metrics,
        ];
        for resource in all {
            assert_eq!(Scope::Sector.check(resource), Ok(()), "{resource:?}");
        }
        let expect_org = [
            Ok(()),
            Ok(()),
            Err(Denial::Hidden),
            Err(Denial::Forbidden),
            Err(Denial::Forbidden),
            Err(Denial::Forbidden),
            Err(Denial::Forbidden),
        ];
        let expect_committee = [
            Err(Denial::Forbidden),
            Err(Denial::Forbidden),
            Err(Denial::Forbidden),
            Err(Denial::Forbidden),
            Ok(()),
            Ok(()),
            Err(Denial::Forbidden),
        ];
        for (i, resource) in all.into_iter().enumerate() {
            assert_eq!(own.check(resource), expect_org[i], "org: {resource:?}");
            assert_eq!(
                Scope::Committee.check(resource),
                expect_committee[i],
                "committee: {resource:?}"
            );
        }
    }
}
