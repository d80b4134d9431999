//! The cheap endpoints that tools probe (PROTOCOL.md §1.8).

/// The name this deployment reports at `/instance_name`.
const INSTANCE_NAME: &str = "convex-storage-emulator";

pub async fn root() -> &'static str {
    "This Convex deployment is running. See https://docs.convex.dev/."
}

pub async fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

pub async fn instance_name() -> &'static str {
    INSTANCE_NAME
}
