//! Discovery of every project the token can see: `extended-access`'s pages and the links
//! between them (pure; the poller reads them).

use std::collections::HashSet;

use serde::Deserialize;

use super::client::{ApiError, Client, encode};
use crate::activity;

#[derive(Deserialize)]
struct Me {
    id: String,
}

/// The `configured` projects, or every project the token can see: `/users/me`, then every
/// page of its `extended-access` to projects.
pub async fn projects(client: &Client, configured: &[String]) -> Result<Vec<String>, ApiError> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    let me: Me = client.json("projects", "/users/me").await?;
    let path = format!(
        "/users/{}/extended-access?filter%5Bresource_type%5D=project",
        encode(&me.id)
    );
    // Paged: every page is read (each counted as a request), until a page has no next
    // link, repeats one already read, or is empty.
    let mut access = Vec::new();
    let mut read = HashSet::new();
    let mut path = path;
    for _ in 0..MAX_ACCESS_PAGES {
        read.insert(path.clone());
        let (items, next) = match client.json("projects", &path).await? {
            AccessList::Items { items, links } => (items, links.next),
            AccessList::Bare(items) => (items, None),
        };
        if items.is_empty() {
            break;
        }
        access.extend(items);
        let Some(next) = next else { break };
        match next_page(client.api_url(), &path, &next.href) {
            Some(next) if !read.contains(&next) => path = next,
            Some(_) => break,
            None => {
                tracing::warn!(
                    link = next.href,
                    "the Platform.sh API's next page of projects is outside \
                         --platformsh.api-url: not followed (the token goes nowhere else)"
                );
                break;
            }
        }
    }
    let mut projects: Vec<String> = access
            .into_iter()
            .map(|a| a.resource_id)
            .filter(|id| match activity::check_project_id("resource_id", id) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "the Platform.sh API listed a project id the exporter does not poll");
                    false
                }
            })
            .collect();
    projects.sort();
    projects.dedup();
    Ok(projects)
}

#[derive(Deserialize)]
struct Access {
    pub resource_id: String,
}

/// A page of `extended-access`: its items, and the next page's link (HAL `_links.next`); a
/// bare list is taken as the only page.
#[derive(Deserialize)]
#[serde(untagged)]
enum AccessList {
    Items {
        items: Vec<Access>,
        #[serde(default, rename = "_links")]
        links: Links,
    },
    Bare(Vec<Access>),
}

#[derive(Deserialize, Default)]
struct Links {
    pub next: Option<Link>,
}

#[derive(Deserialize)]
struct Link {
    pub href: String,
}

/// Most pages of `extended-access` read per discovery (the vendor's CLI follows every page; a
/// bound keeps a looping API from holding the poller).
pub const MAX_ACCESS_PAGES: usize = 1000;

/// The path under `api_url` of the page a `next` link names, resolved against the page it was
/// read from (`current`, a path under `api_url`) as a browser would; `None` for a link outside
/// `api_url`, which is not followed: the token goes nowhere else.
pub fn next_page(api_url: &str, current: &str, href: &str) -> Option<String> {
    let base = reqwest::Url::parse(&format!("{api_url}{current}")).ok()?;
    let next = base.join(href).ok()?;
    let api = reqwest::Url::parse(api_url).ok()?;
    let same_origin = next.origin() == api.origin();
    let path = next
        .as_str()
        .strip_prefix(api.as_str().trim_end_matches('/'))?;
    (same_origin && path.starts_with('/')).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_next_link_is_followed_under_the_api_url_only() {
        let api = "https://api.example.com/api";
        let current = "/users/u/extended-access?filter%5Bresource_type%5D=project";
        let page2 = "/users/u/extended-access?page=2";
        for href in [
            "https://api.example.com/api/users/u/extended-access?page=2",
            "/api/users/u/extended-access?page=2",
            "extended-access?page=2",
        ] {
            assert_eq!(
                next_page(api, current, href).as_deref(),
                Some(page2),
                "{href}"
            );
        }
        for elsewhere in [
            "https://evil.example.com/api/users/u/extended-access?page=2",
            "http://api.example.com/api/users/u/extended-access?page=2",
            "https://api.example.com:8443/api/users/u/extended-access?page=2",
            "/other/users/u/extended-access?page=2",
            "/apix/users",
        ] {
            assert_eq!(next_page(api, current, elsewhere), None, "{elsewhere}");
        }
        // An API at the root of its host.
        let root = "http://127.0.0.1:9000";
        assert_eq!(
            next_page(
                root,
                "/users/u/extended-access",
                "/users/u/extended-access?page=3"
            )
            .as_deref(),
            Some("/users/u/extended-access?page=3")
        );
    }
}
