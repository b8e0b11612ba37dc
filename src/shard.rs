//! Sharded runs: one slice of a run's jobs per cluster task, merged afterwards by `dynosim merge`.
//!
//! Large sweeps outgrow one machine. A batch system starts N copies of the same command; each
//! runs the jobs whose global index (job order across every scenario of the command) is K mod N,
//! and writes its partial CSVs to a folder of its own. Because every job's seed derives only from
//! (scenario seed, sweep point, replication), a job gives the same rows whichever task runs it,
//! so the merged folder is byte-identical to a single run's.

use std::fmt;

/// Which slice of the jobs a process runs: those whose global index is `index` mod `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard number, below `count`.
    pub index: u32,
    /// Number of shards the run is split into (at least 2; one shard is an ordinary run).
    pub count: u32,
}

/// Every environment variable [`Shard::resolve`] reads (a test pins it), so a caller can give a
/// child process a clean slate: the test suite removes these, as it may itself run inside a
/// Slurm array task or a Kubernetes Indexed Job.
pub const ENVIRONMENT: [&str; 6] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
    "JOB_COMPLETION_INDEX",
    "DYNOSIM_SHARD_COUNT",
];

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Parse a non-negative integer, naming where it came from in the error.
fn number(text: &str, what: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .map_err(|_| format!("{what} must be a whole number, found `{text}`"))
}

impl Shard {
    /// Parse `K/N` as given to `--shard` (K in 0..N). `K/1` (only `0/1`) means "not sharded",
    /// which is how a task inside a Slurm array can opt out of the environment's shard.
    pub fn parse(text: &str) -> Result<Option<Shard>, String> {
        let Some((k, n)) = text.split_once('/') else {
            return Err(format!(
                "expected K/N (shard K of N, K from 0 to N-1), e.g. 0/4, found `{text}`"
            ));
        };
        let index = number(k, "the shard index K in K/N")?;
        let count = number(n, "the shard count N in K/N")?;
        Shard::new(index, count)
    }

    /// Check `index < count`; a count of 1 is an ordinary run (`None`).
    pub fn new(index: u32, count: u32) -> Result<Option<Shard>, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range for {count} shard(s): it must be from 0 to {}",
                count - 1
            ));
        }
        Ok((count > 1).then_some(Shard { index, count }))
    }

    /// Whether this shard runs the job with this global index.
    pub fn runs(&self, global_index: usize) -> bool {
        global_index % self.count as usize == self.index as usize
    }

    /// Suffix of the shard's output folder, `shard-K-of-N`, with K zero-padded to N's width so
    /// that a listing sorts in shard order.
    pub fn suffix(&self) -> String {
        let width = self.count.to_string().len();
        format!("shard-{:0width$}-of-{}", self.index, self.count)
    }

    /// The shard to run, from `--shard`, or else from the environment of a batch system:
    ///
    /// - Slurm job arrays: `SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT`. The index is
    ///   counted from `SLURM_ARRAY_TASK_MIN` in steps of `SLURM_ARRAY_TASK_STEP` when they are
    ///   set, so `--array=1-8` and `--array=0-14:2` work as well as `--array=0-7`.
    /// - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX`, with the count from `--shard-count`
    ///   or `DYNOSIM_SHARD_COUNT` (Kubernetes does not pass the completion count to the pod).
    ///
    /// `env` looks a variable up (the CLI passes `std::env::var`; tests pass a map). `Ok(None)`
    /// means an ordinary, unsharded run.
    pub fn resolve(
        flag: Option<Option<Shard>>,
        count_flag: Option<u32>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Shard>, String> {
        if let Some(shard) = flag {
            if count_flag.is_some() {
                return Err("give either --shard K/N or --shard-count N, not both".into());
            }
            return Ok(shard);
        }
        if let Some(id) = env("SLURM_ARRAY_TASK_ID") {
            let id = number(&id, "SLURM_ARRAY_TASK_ID")?;
            let count = match (count_flag, env("SLURM_ARRAY_TASK_COUNT")) {
                (Some(n), _) => n,
                (None, Some(n)) => number(&n, "SLURM_ARRAY_TASK_COUNT")?,
                (None, None) => {
                    return Err(
                        "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; \
                         give the number of array tasks with --shard-count N"
                            .into(),
                    );
                }
            };
            let min = env("SLURM_ARRAY_TASK_MIN")
                .map(|m| number(&m, "SLURM_ARRAY_TASK_MIN"))
                .transpose()?
                .unwrap_or(0);
            let step = env("SLURM_ARRAY_TASK_STEP")
                .map(|s| number(&s, "SLURM_ARRAY_TASK_STEP"))
                .transpose()?
                .unwrap_or(1)
                .max(1);
            let offset = id.checked_sub(min).ok_or_else(|| {
                format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")
            })?;
            if offset % step != 0 {
                return Err(format!(
                    "SLURM_ARRAY_TASK_ID={id} is not on the array's grid (min {min}, step {step}); \
                     use --shard K/N"
                ));
            }
            return Shard::new(offset / step, count).map_err(|e| format!("Slurm array: {e}"));
        }
        if let Some(index) = env("JOB_COMPLETION_INDEX") {
            let index = number(&index, "JOB_COMPLETION_INDEX")?;
            let count = match (count_flag, env("DYNOSIM_SHARD_COUNT")) {
                (Some(n), _) => n,
                (None, Some(n)) => number(&n, "DYNOSIM_SHARD_COUNT")?,
                (None, None) => {
                    return Err(
                        "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but the \
                         number of shards is not: give --shard-count N or set \
                         DYNOSIM_SHARD_COUNT to the Job's `completions`"
                            .into(),
                    );
                }
            };
            return Shard::new(index, count).map_err(|e| format!("Kubernetes Indexed Job: {e}"));
        }
        if count_flag.is_some() {
            return Err(
                "--shard-count needs a shard index: run inside a Kubernetes Indexed Job \
                 (JOB_COMPLETION_INDEX) or a Slurm array, or give --shard K/N"
                    .into(),
            );
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    /// `ENVIRONMENT` is complete: with every variable set, resolve asks for nothing else.
    #[test]
    fn environment_lists_every_variable_read() {
        let asked = std::cell::RefCell::new(Vec::new());
        for first in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] {
            let _ = Shard::resolve(None, None, |k| {
                asked.borrow_mut().push(k.to_string());
                (k == first || !k.ends_with("_ID") && !k.ends_with("_INDEX")).then(|| "1".into())
            });
        }
        let asked = asked.into_inner();
        for k in &asked {
            assert!(ENVIRONMENT.contains(&k.as_str()), "{k} read but not listed");
        }
        for k in ENVIRONMENT {
            assert!(asked.iter().any(|a| a == k), "{k} listed but never read");
        }
    }

    #[test]
    fn parses_k_of_n() {
        assert_eq!(Shard::parse("2/3"), Ok(Some(Shard { index: 2, count: 3 })));
        assert_eq!(Shard::parse("0/1"), Ok(None));
        for bad in ["3/3", "1", "a/2", "1/0", "-1/2", "1/2/3", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn runs_jobs_k_mod_n_and_names_folders_in_order() {
        let s = Shard { index: 1, count: 3 };
        let mine: Vec<usize> = (0..10).filter(|&j| s.runs(j)).collect();
        assert_eq!(mine, [1, 4, 7]);
        assert_eq!(
            Shard {
                index: 3,
                count: 12
            }
            .suffix(),
            "shard-03-of-12"
        );
    }

    #[test]
    fn reads_slurm_and_kubernetes_variables() {
        let none = env(&[]);
        assert_eq!(Shard::resolve(None, None, &none), Ok(None));
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "2"),
        ]);
        assert_eq!(
            Shard::resolve(None, None, &slurm),
            Ok(Some(Shard { index: 3, count: 4 }))
        );
        let stepped = env(&[
            ("SLURM_ARRAY_TASK_ID", "6"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ]);
        assert_eq!(
            Shard::resolve(None, None, &stepped),
            Ok(Some(Shard { index: 3, count: 4 }))
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2"), ("DYNOSIM_SHARD_COUNT", "3")]);
        assert_eq!(
            Shard::resolve(None, None, &k8s),
            Ok(Some(Shard { index: 2, count: 3 }))
        );
        assert_eq!(
            Shard::resolve(None, Some(5), &k8s),
            Ok(Some(Shard { index: 2, count: 5 }))
        );
        // The flag wins over the environment; 0/1 opts out.
        assert_eq!(Shard::resolve(Some(None), None, &k8s), Ok(None));
        assert!(Shard::resolve(None, None, env(&[("JOB_COMPLETION_INDEX", "2")])).is_err());
        assert!(Shard::resolve(None, None, env(&[("SLURM_ARRAY_TASK_ID", "2")])).is_err());
        assert!(Shard::resolve(None, Some(3), &none).is_err());
        assert!(
            Shard::resolve(
                None,
                None,
                env(&[("JOB_COMPLETION_INDEX", "3"), ("DYNOSIM_SHARD_COUNT", "3")])
            )
            .is_err()
        );
    }
}
