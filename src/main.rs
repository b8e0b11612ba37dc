//! `dynosim`: the command-line front end. Everything, parsing included, is in the library
//! ([`dynosim::cli`]), so the binary is this one call.

fn main() -> std::process::ExitCode {
    dynosim::cli::main()
}
