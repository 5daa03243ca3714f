//! kunseal turns encrypted Kubernetes secrets back into plain Secrets at render time.
//!
//! - [`sops`]: decrypts files written by sops 3.3–3.11 in every store (YAML, JSON, dotenv,
//!   INI, binary), checks the MAC, opens key groups with Shamir thresholds. Format and traps:
//!   `../shared/docs/SOPS-FORMAT.md`.
//! - [`sealed`]: SealedSecrets unsealed with the controller's keys (`KUNSEAL_SEALED_KEYS`).
//! - [`keys`]: the key backends behind one trait (age X25519 and SSH, PGP through `gpg`).
//! - [`yaml`]: the only module that touches the YAML parser: ordered, typed trees with
//!   comments, and an emitter that writes them back the way go-yaml v3 does.
//! - [`render`], [`io`], [`generator`]: the render modes — KRM ResourceLists, manifest
//!   streams, the ksops-compatible generator and kustomize's legacy exec plugin.
//! - [`app`]: `kunseal render`, for Argo CD's Config Management Plugin.
//! - [`cli`]: the command line of `../shared/docs/CLI.md`.

// RenderError carries the file, resource and field path every message must name; errors are
// the cold path, so their size is not worth a box at each of the many sites that build one.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod cli;
pub mod generator;
pub mod io;
pub mod gofmt;
pub mod keys;
pub mod render;
pub mod sealed;
pub mod sops;
#[doc(hidden)]
pub mod testgen;
pub mod tree;
pub mod yaml;

/// An environment variable that is set and not empty (how sops and kunseal read settings).
pub(crate) fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
