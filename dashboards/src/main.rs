//! `cargo run -p vigie-dashboards`: writes grafana/{en,fr}/*.json from definitions.toml.

use std::process::ExitCode;

fn main() -> ExitCode {
    let files = match vigie_dashboards::generated() {
        Ok(files) => files,
        Err(e) => {
            eprintln!("vigie-dashboards: {e}");
            return ExitCode::from(2);
        }
    };
    let root = vigie_dashboards::output_dir();
    for (path, text) in files {
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("vigie-dashboards: cannot create {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        }
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("vigie-dashboards: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
