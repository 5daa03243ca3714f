//! One integration-test binary (as ripgrep does): interop with the real sops, the upstream
//! fixtures, failure modes and the golden end-to-end cases.

mod argocd;
mod fixtures;
mod golden;
mod kms;
mod properties;
mod runners;
mod sealed_interop;
mod sops_interop;
mod util;
