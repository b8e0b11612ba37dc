//! Writes the synthetic storefront router log shipped as scenarios/router-logs/storefront.log:
//!
//! ```text
//! cargo run --release --example router_log -- scenarios/router-logs/storefront.log
//! ```
//!
//! The generator is `dynosim::import::synthetic` (an independent model of 3 web dynos, see its
//! docs); tests/import_router.rs checks that the shipped file is byte for byte its output.

use dynosim::import::synthetic::SyntheticLog;
use std::process::ExitCode;

fn main() -> ExitCode {
    let text = SyntheticLog::storefront().generate();
    match std::env::args_os().nth(1) {
        Some(path) => match std::fs::write(&path, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write `{}`: {e}", path.to_string_lossy());
                ExitCode::FAILURE
            }
        },
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}
