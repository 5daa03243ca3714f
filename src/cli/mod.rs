//! The command line (`../shared/docs/CLI.md`): clap definitions and dispatch. anyhow is
//! used only here, at the edge; messages name the file, the resource and the field.

mod decrypt;
mod render_modes;
mod seal;
mod unseal;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "kunseal",
    version,
    about = "Decrypt SOPS files and unseal SealedSecrets at render time",
    args_conflicts_with_subcommands = true,
    after_help = "Without a command: a KRM ResourceList on stdin (kustomize, kpt) is processed as a KRM function;\nany other stdin is a manifest stream (Helm post-renderer, pipes); `kunseal CONFIG` runs a ksops\ngenerator config as kustomize's legacy exec plugin."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A ksops generator config (kustomize legacy exec plugin mode).
    pub config: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decrypt a SOPS file, like `sops decrypt`.
    Decrypt(decrypt::DecryptArgs),
    /// Seal Secrets to a controller certificate, like `kubeseal --cert`.
    Seal(seal::SealArgs),
    /// Re-encrypt SealedSecrets to a new certificate with local keys (offline `kubeseal --re-encrypt`).
    Reseal(seal::ResealArgs),
    /// Unseal SealedSecrets with local keys, like `kubeseal --recovery-unseal`.
    Unseal(unseal::UnsealArgs),
    /// Render an application directory (kustomization, Helm chart or plain manifests) with
    /// every secret decrypted: what Argo CD's Config Management Plugin `generate` runs.
    Render {
        /// The application directory (default: the current directory).
        dir: Option<String>,
    },
}

/// Runs kunseal with the process arguments and returns the exit code:
/// 0 success, 1 failure, 2 usage error.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "kunseal: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Runs a parsed command line; `Ok(false)` when the mode already reported its failure.
pub fn run(cli: Cli) -> anyhow::Result<bool> {
    match (cli.command, cli.config) {
        (Some(Command::Decrypt(args)), _) => decrypt::run(args).map(|_| true),
        (Some(Command::Unseal(args)), _) => unseal::run(args).map(|_| true),
        (Some(Command::Seal(args)), _) => seal::run(args).map(|_| true),
        (Some(Command::Reseal(args)), _) => seal::reseal(args).map(|_| true),
        (Some(Command::Render { dir }), _) => {
            let dir = std::path::PathBuf::from(dir.unwrap_or_else(|| ".".into()));
            let out = crate::app::render(&dir, &crate::keys::Keyring::from_env(), crate::render::RenderOptions::from_env(), &crate::app::AppEnv::from_env())?;
            write_stdout(out.as_bytes()).map(|_| true)
        }
        (None, Some(config)) => render_modes::legacy(&config).map(|_| true),
        (None, None) => Ok(matches!(render_modes::stdin_mode()?, render_modes::Outcome::Ok)),
    }
}

/// The SealedSecret keys of `--key`, else `KUNSEAL_SEALED_KEYS`; an error if there are none.
pub(crate) fn sealed_keyring(keys: Option<&str>) -> anyhow::Result<crate::keys::Keyring> {
    let mut keyring = crate::keys::Keyring::from_env();
    if let Some(k) = keys {
        keyring = keyring.with_sealed_keys(k);
    }
    match keyring.sealed_keys() {
        None => anyhow::bail!("no SealedSecret keys: pass --key or set KUNSEAL_SEALED_KEYS"),
        Some(Err(e)) => anyhow::bail!("{e}"),
        Some(Ok(_)) => Ok(keyring),
    }
}

/// Writes `bytes` to stdout in one go (nothing is written before everything succeeded).
pub(crate) fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}
