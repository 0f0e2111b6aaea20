//! What one benchmark run measures: each workload with each client, at which concurrency.

use crate::args::Workload;

/// A client being measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contender {
    /// The zero-copy client: the most the server can take.
    Ceiling,
    /// `curl -T` (after a `curl` start request).
    Curl,
    /// The `gphotos-upload` command-line tool.
    Cli,
    /// `gphotos_upload_ureq::Client` used as a library.
    Ureq,
    /// `gphotos_upload_async::Driver` (hyper, tokio) used as a library.
    Async,
}

impl Contender {
    /// Its name in the table.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Ceiling => "ceiling (sendfile, 1 request)",
            Self::Curl => "curl -T",
            Self::Cli => "gphotos-upload CLI",
            Self::Ureq => "ureq adapter (library)",
            Self::Async => "async adapter (library, hyper)",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Case {
    pub(crate) workload: Workload,
    pub(crate) contender: Contender,
    /// Uploads at once.
    pub(crate) concurrency: usize,
}

/// Which contenders can run on this machine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Available {
    pub(crate) curl: bool,
    pub(crate) cli: bool,
}

/// The rows, in the order they run within each round. The ceiling comes first in each workload: it
/// is the baseline of the ratios.
pub(crate) fn cases(workloads: &[Workload], available: Available) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |workload, contender, concurrency| {
        cases.push(Case {
            workload,
            contender,
            concurrency,
        });
    };
    for &workload in workloads {
        add(workload, Contender::Ceiling, 1);
        match workload {
            Workload::Big => {
                if available.curl {
                    add(workload, Contender::Curl, 1);
                }
                if available.cli {
                    add(workload, Contender::Cli, 1);
                }
                add(workload, Contender::Ureq, 1);
                add(workload, Contender::Async, 1);
            }
            Workload::Small | Workload::Distant => {
                for concurrency in [1, 8] {
                    if available.cli {
                        add(workload, Contender::Cli, concurrency);
                    }
                    add(workload, Contender::Ureq, concurrency);
                    add(workload, Contender::Async, concurrency);
                }
            }
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_workload_starts_with_its_ceiling() {
        let all = cases(
            &[Workload::Big, Workload::Small],
            Available {
                curl: true,
                cli: false,
            },
        );
        assert_eq!(all[0].contender, Contender::Ceiling);
        let small = all
            .iter()
            .position(|c| c.workload == Workload::Small)
            .unwrap();
        assert_eq!(all[small].contender, Contender::Ceiling);
        assert!(all.iter().all(|c| c.contender != Contender::Cli));
        assert!(
            all.iter()
                .any(|c| c.workload == Workload::Small && c.concurrency == 8)
        );
    }
}
