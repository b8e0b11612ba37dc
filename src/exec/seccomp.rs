//! The dyno's seccomp deny-list. A deny-list (not an allow-list) because dynos run arbitrary
//! language runtimes; it blocks what could undo the jail (mount family, new namespaces, ptrace)
//! or attack the kernel's rarely needed interfaces (bpf, perf, keyrings, kexec, modules,
//! userfaultfd). Capabilities are dropped as well, so most of these would fail anyway; the
//! filter is the second lock (see executor.md 12a: a userns root could remount a read-only bind).

use super::JailError;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// `open_tree_attr` (Linux 6.15), not yet in the libc crate; the number is the same on every
/// architecture because new syscalls share one table.
const SYS_OPEN_TREE_ATTR: i64 = 467;

/// Syscalls that fail with EPERM whatever their arguments.
fn denied() -> Vec<i64> {
    vec![
        // mount family, old and new API
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_open_tree,
        SYS_OPEN_TREE_ATTR,
        libc::SYS_move_mount,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        // namespaces (clone with namespace flags is handled below)
        libc::SYS_unshare,
        libc::SYS_setns,
        // tracing and other processes' memory
        libc::SYS_ptrace,
        libc::SYS_process_vm_writev,
        // kernel attack surface
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_userfaultfd,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        // host administration
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_reboot,
        libc::SYS_acct,
        libc::SYS_quotactl,
        libc::SYS_name_to_handle_at,
        libc::SYS_open_by_handle_at,
    ]
}

const NS_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

fn arch() -> Result<TargetArch, JailError> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
        JailError::new(
            super::ErrorKind::Unsupported,
            "seccomp",
            format!(
                "no seccomp filter for the {} architecture (supported: x86_64, aarch64)",
                std::env::consts::ARCH
            ),
        )
    })
}

fn err(e: impl std::fmt::Display) -> JailError {
    JailError::setup("seccomp", format!("building the filter: {e}"))
}

/// The filters to install, in order. Two filters because seccompiler gives one action per
/// filter: the first returns EPERM for the deny-list; the second returns ENOSYS for `clone3`,
/// whose flags live in memory a filter cannot read, so libc falls back to `clone`, whose flags
/// the first filter checks.
pub fn build() -> Result<Vec<BpfProgram>, JailError> {
    let arch = arch()?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in denied() {
        rules.insert(nr, vec![]);
    }
    // clone(flags, ...) with any namespace flag: one rule per flag, rules are OR-ed.
    let mut clone_rules = Vec::new();
    for f in NS_FLAGS {
        let f = f as u64;
        let cond = SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(f), f)
            .map_err(err)?;
        clone_rules.push(SeccompRule::new(vec![cond]).map_err(err)?);
    }
    rules.insert(libc::SYS_clone, clone_rules);
    // TIOCSTI/TIOCLINUX push input into a terminal (CVE-2017-5226); compare only the low 32
    // bits, as the kernel does (CVE-2019-10063).
    let mut ioctl_rules = Vec::new();
    for req in [libc::TIOCSTI, libc::TIOCLINUX] {
        let cond = SeccompCondition::new(
            1,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            u64::from(req as u32),
        )
        .map_err(err)?;
        ioctl_rules.push(SeccompRule::new(vec![cond]).map_err(err)?);
    }
    rules.insert(libc::SYS_ioctl, ioctl_rules);
    let deny = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(err)?;
    let mut c3 = BTreeMap::new();
    c3.insert(libc::SYS_clone3, vec![]);
    let clone3 = SeccompFilter::new(
        c3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(err)?;
    Ok(vec![
        deny.try_into().map_err(err)?,
        clone3.try_into().map_err(err)?,
    ])
}

/// Install the filters on the calling thread. Needs `no_new_privs` (or CAP_SYS_ADMIN).
pub fn install(filters: &[BpfProgram]) -> Result<(), String> {
    for f in filters {
        seccompiler::apply_filter(f).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds() {
        let f = super::build().unwrap();
        assert_eq!(f.len(), 2);
        assert!(f[0].len() > 40);
    }
}
