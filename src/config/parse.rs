//! Parsers of flag values that clap does not have: durations with bounds, route paths, the
//! commits kept per push.

use std::time::Duration;

use crate::activity::MAX_COMMITS_PER_PUSH;

/// Longest accepted duration: a century. Longer ones are typos, and overflow the clock
/// arithmetic they feed (a retention of 300 000 years panicked).
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A duration such as `30s`, `90m` or `90d`, at most a century.
pub fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration: {e}"))?;
    if d > MAX_DURATION {
        return Err(format!("{s:?} is longer than the most accepted, 100 years"));
    }
    Ok(d)
}

/// A [`duration`] that is not zero: a zero timeout or retention would refuse or delete
/// everything.
pub fn positive_duration(s: &str) -> Result<Duration, String> {
    match duration(s)? {
        Duration::ZERO => Err(format!("{s:?} must be longer than zero")),
        d => Ok(d),
    }
}

pub fn route_path(s: &str) -> Result<String, String> {
    if s.starts_with('/') && !s.contains(['?', '#', '{', '}', '*']) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} must start with '/' and contain no '?', '#', '{{', '}}' or '*'"
        ))
    }
}

/// `--limits.commits-per-push`: the parser keeps no more than [`MAX_COMMITS_PER_PUSH`].
pub fn commits_per_push(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if n > MAX_COMMITS_PER_PUSH {
        return Err(format!("at most {MAX_COMMITS_PER_PUSH}"));
    }
    Ok(n)
}

/// The exporter's public webhook URL: absolute, http or https, without credentials.
pub fn public_url(s: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    Ok(url)
}

/// An IP network (`10.0.0.0/8`), or one address (`192.0.2.1`, taken as a /32 or /128).
pub fn network(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or network"))
}
