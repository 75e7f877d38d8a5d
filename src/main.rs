//! The `acsync` binary: everything lives in the library; see `acsync::cli`.

fn main() -> std::process::ExitCode {
    acsync::cli::main()
}
