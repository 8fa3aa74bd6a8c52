//! `[host]`: the patch posture of the machine the agent runs on.

use std::path::PathBuf;

use serde::Deserialize;

use super::DEFAULT_HOST_ROOT;

/// `[host]`: patch posture of the machine the agent runs on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Whether to check the patch posture of the machine the agent runs on. Default false.
    #[serde(default)]
    pub enabled: bool,
    /// The root folder to inspect: `/` for the running system, or a mounted image.
    #[serde(default = "default_host_root")]
    pub root: PathBuf,
    /// The vulnerability index made by `vigie-agent vulndb import`. `None`: the default
    /// [`DEFAULT_VULNDB`], used only when it exists.
    #[serde(default)]
    pub vulndb: Option<PathBuf>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            enabled: false,
            root: default_host_root(),
            vulndb: None,
        }
    }
}

fn default_host_root() -> PathBuf {
    PathBuf::from(DEFAULT_HOST_ROOT)
}
