//! The user as the store knows them now, for the token services that mint a new credential
//! from an old one (a refresh, a XiVO renewal): a user since deleted or disabled gets
//! nothing, and what is minted carries the user's current roles, name, email and attributes.

use std::sync::Arc;

use crate::{AuthError, Principal, PrincipalKind, UserStore};

/// A user store behind a pointer, so the services need no extra type parameter.
pub(crate) type SharedUsers = Arc<dyn UserStore>;

/// `principal` as the user store knows it now. Only users are looked up (apps, devices and
/// servers are not in a user store); their kind, id, scheme, app id and expiry stay.
///
/// # Errors
///
/// `InvalidCredentials` when the user no longer exists or is disabled (the same public
/// answer as an unknown credential), `Unavailable` when the store cannot answer.
pub(crate) async fn current(
    users: &dyn UserStore,
    principal: &Principal,
) -> Result<Principal, AuthError> {
    if principal.kind != PrincipalKind::User {
        return Ok(principal.clone());
    }
    let record = users
        .find_user(&principal.id)
        .await?
        .filter(|u| u.login == principal.id);
    match record {
        Some(user) if !user.disabled => {
            let mut now = principal.clone();
            now.roles.clone_from(&user.roles);
            now.name.clone_from(&user.name);
            now.email.clone_from(&user.email);
            now.attributes = user.attributes.into();
            Ok(now)
        }
        Some(_) => Err(AuthError::invalid(format!(
            "user {} is disabled",
            principal.id
        ))),
        None => Err(AuthError::invalid(format!(
            "user {} no longer exists",
            principal.id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use crate::UserRecord;
    use crate::memory::MemoryUserStore;

    use super::*;

    #[tokio::test]
    async fn roles_follow_the_store_and_gone_users_get_nothing() {
        let users = MemoryUserStore::new();
        users
            .add_user("alice", "pw", |u| u.with_roles(["admin"]))
            .unwrap();
        let old = Principal::user("alice")
            .with_roles(["admin"])
            .with_scheme("claims");
        let now = current(&users, &old).await.unwrap();
        assert_eq!(
            (now.roles.as_slice(), &*now.scheme),
            (&["admin".to_owned()][..], "claims")
        );

        let mut demoted = UserRecord::new("alice", "x").with_roles(["user"]);
        users.insert(demoted.clone());
        assert_eq!(current(&users, &old).await.unwrap().roles, ["user"]);

        demoted.disabled = true;
        users.insert(demoted);
        assert_eq!(
            current(&users, &old).await.unwrap_err().code(),
            "invalid_credentials"
        );
        let nobody = Principal::user("mallory");
        assert_eq!(
            current(&users, &nobody).await.unwrap_err().code(),
            "invalid_credentials"
        );

        // An app named like a user is not that user: it is not looked up at all.
        let app = Principal::app("mallory");
        assert_eq!(current(&users, &app).await.unwrap().id, "mallory");
    }
}
