//! The `kunseal` binary: arguments → [`kunseal::cli::run`] → exit code.

fn main() -> std::process::ExitCode {
    kunseal::cli::main()
}
