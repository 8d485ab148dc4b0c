//! Who holds a run: this machine's name and a process's owner name in leases
//! (`cli:HOST:PID` for `sluice run`, `HOST:PID` for a runner).

/// This machine's host name (`localhost` when it has none).
#[must_use]
pub fn hostname() -> String {
    let name = gethostname::gethostname()
        .to_string_lossy()
        .trim()
        .to_string();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

/// This process's name as the holder of runs started from the command line: `cli:HOST:PID`.
#[must_use]
pub fn cli_owner() -> String {
    format!("cli:{}:{}", hostname(), std::process::id())
}

/// This process's name as a runner: `HOST:PID`.
#[must_use]
pub fn runner_owner() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

/// Whether the process that held a run is gone: `cli:HOST:PID` of this host whose process no
/// longer exists.
#[must_use]
pub fn cli_owner_is_gone(owner: &str) -> bool {
    let mut parts = owner.rsplitn(2, ':');
    let (Some(pid), Some(rest)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Some(host) = rest.strip_prefix("cli:") else {
        return false;
    };
    host == hostname()
        && pid.parse::<u32>().is_ok()
        && !std::path::Path::new("/proc").join(pid).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_of_this_host_is_not_gone_and_a_dead_one_is() {
        assert!(!cli_owner_is_gone(&cli_owner()));
        // PIDs are below 2^22 on Linux.
        assert!(cli_owner_is_gone(&format!("cli:{}:99999999", hostname())));
        assert!(!cli_owner_is_gone("cli:another-host:99999999"));
        assert!(!cli_owner_is_gone("runner-1"));
    }
}
