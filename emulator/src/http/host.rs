//! The `Host` check against DNS rebinding.
//!
//! A web page on `evil.example` can make its own name resolve to `127.0.0.1` and then call the
//! emulator from the browser as if same-origin; the browser still sends `Host: evil.example`.
//! So, like development servers do, only loopback names are served (`localhost` and its
//! subdomains, `127.0.0.0/8`, `[::1]`), plus the address the emulator was bound to and the
//! names given with `--allowed-host`. Anything else gets 403 `{code, message}` before routing.
//! A request with no `Host` (HTTP/1.0 tools) is served: browsers always send one.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The `Host` names served besides the loopback ones.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    extra: Vec<String>,
}

impl AllowedHosts {
    /// Loopback names plus `extra` (the bound host and every `--allowed-host`), compared
    /// without case and without a port.
    pub fn new(extra: impl IntoIterator<Item = String>) -> Self {
        Self {
            extra: extra
                .into_iter()
                .map(|h| strip_port(&h).to_ascii_lowercase())
                .collect(),
        }
    }

    /// These names plus `more`.
    pub fn with(mut self, more: impl IntoIterator<Item = String>) -> Self {
        self.extra.extend(
            more.into_iter()
                .map(|h| strip_port(&h).to_ascii_lowercase()),
        );
        self
    }

    /// Whether a `Host` header value names this server.
    pub fn allows(&self, host: &str) -> bool {
        let name = strip_port(host).to_ascii_lowercase();
        is_loopback(&name) || self.extra.contains(&name)
    }
}

/// Middleware: refuses requests whose `Host` is not allowed.
pub async fn check(
    State(hosts): State<Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match host {
        Some(host) if !hosts.allows(&host) => refused(&host),
        _ => next.run(request).await,
    }
}

fn refused(host: &str) -> Response {
    let name = strip_port(host);
    let body = serde_json::json!({
        "code": "HostNotAllowed",
        "message": format!(
            "Host '{name}' is not allowed: this emulator only answers loopback names. \
             If you reach it under this name on purpose, start it with --allowed-host {name}"
        ),
    });
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

/// `name:port`, `[v6]:port`, `[v6]` or `name` → the name (brackets kept for IPv6).
fn strip_port(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((name, port))
            if !name.contains(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        _ => host,
    }
}

fn is_loopback(name: &str) -> bool {
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6 == Ipv6Addr::LOCALHOST,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_pass_and_others_do_not() {
        let hosts = AllowedHosts::default();
        for ok in [
            "localhost",
            "LOCALHOST:3210",
            "app.localhost:80",
            "127.0.0.1",
            "127.9.8.7:3210",
            "[::1]",
            "[::1]:3210",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:3210",
            "localhost.evil.example",
            "10.0.0.1:3210",
            "128.0.0.1",
            "[::2]:3210",
            "",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }

    #[test]
    fn extra_names_are_compared_without_port_or_case() {
        let hosts = AllowedHosts::new(["Emulator".to_string(), "0.0.0.0".to_string()]);
        assert!(hosts.allows("emulator:3210"));
        assert!(hosts.allows("0.0.0.0:3210"));
        assert!(!hosts.allows("other:3210"));
    }
}
