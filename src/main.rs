//! The `kunseal` binary: arguments → [`kunseal::cli::run`] → exit code.

/// Many small strings per render: mimalloc (without transparent huge pages, which
/// inflate peak memory) is measurably faster here than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kunseal::cli::main()
}
