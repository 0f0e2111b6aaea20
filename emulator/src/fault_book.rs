//! The installed fault rules with their counters, and the random fault generator: which fault, if
//! any, the next request suffers.

use std::time::Duration;

use crate::faults::{FaultAction, FaultRule, RandomFaults, RequestKind};
use crate::random::SeededRng;

/// The installed rules with their counters, plus the random generator.
#[derive(Debug)]
pub(crate) struct FaultBook {
    rules: Vec<(FaultRule, u64)>,
    random: Option<(f64, SeededRng)>,
    granularity: u64,
}

impl FaultBook {
    pub(crate) fn new(
        rules: Vec<FaultRule>,
        random: Option<RandomFaults>,
        granularity: u64,
    ) -> Self {
        Self {
            rules: rules.into_iter().map(|rule| (rule, 0)).collect(),
            random: random.map(|r| (r.probability, SeededRng::new(r.seed))),
            granularity,
        }
    }

    pub(crate) fn add(&mut self, rule: FaultRule) {
        self.rules.push((rule, 0));
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn rules(&self) -> Vec<FaultRule> {
        self.rules.iter().map(|(rule, _)| rule.clone()).collect()
    }

    /// The fault for a request of `kind` with a body of `body_len` bytes, if any. Every matching
    /// rule counts the request; the first rule that hits wins.
    pub(crate) fn pick(&mut self, kind: RequestKind, body_len: u64) -> Option<FaultAction> {
        if kind == RequestKind::Control {
            return None;
        }
        let mut chosen = None;
        for (rule, count) in &mut self.rules {
            if rule.kind.matches(kind) {
                *count += 1;
                if chosen.is_none() && rule.occurrence.hits(*count) {
                    chosen = Some(rule.action.clone());
                }
            }
        }
        if chosen.is_some() {
            return chosen;
        }
        let granularity = self.granularity;
        let (probability, rng) = self.random.as_mut()?;
        if rng.next_unit() >= *probability {
            return None;
        }
        random_transient(rng, kind, body_len, granularity)
    }
}

fn random_transient(
    rng: &mut SeededRng,
    kind: RequestKind,
    body_len: u64,
    granularity: u64,
) -> Option<FaultAction> {
    use RequestKind as K;
    let status = |status: u16, retry_after: Option<&str>| FaultAction::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
        body: None,
    };
    let stall = |rng: &mut SeededRng| FaultAction::Stall {
        duration: Duration::from_millis(20 + rng.below(180)),
    };
    let pick = rng.below(6);
    match kind {
        K::Upload | K::Finalize => Some(match pick {
            0 => status(503, None),
            1 => status(500, None),
            2 => status(429, Some("1")),
            3 => FaultAction::DropAfter {
                bytes: rng.below(body_len.saturating_add(1)),
            },
            4 if kind == K::Upload => FaultAction::LoseTail { bytes: granularity },
            _ => stall(rng),
        }),
        K::Query | K::Cancel => Some(match pick {
            0 | 1 => status(503, None),
            2 => status(500, None),
            3 => FaultAction::DropAfter { bytes: 0 },
            _ => stall(rng),
        }),
        K::Start | K::Raw | K::BatchCreate | K::Get | K::Albums | K::Token => Some(match pick {
            0 | 1 => status(503, None),
            2 => status(500, None),
            3 => status(429, Some("1")),
            _ => stall(rng),
        }),
        K::Consent | K::Control | K::Other | K::Any => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrences_count_per_rule() {
        let mut book = FaultBook::new(
            vec![
                "upload@2:status=503".parse().unwrap(),
                "any@3+:status=500".parse().unwrap(),
            ],
            None,
            4,
        );
        let statuses: Vec<Option<u16>> = (0..4)
            .map(|_| match book.pick(RequestKind::Upload, 0) {
                Some(FaultAction::Status { status, .. }) => Some(status),
                _ => None,
            })
            .collect();
        assert_eq!(statuses, [None, Some(503), Some(500), Some(500)]);
        assert_eq!(book.pick(RequestKind::Control, 0), None);
    }

    #[test]
    fn random_faults_follow_the_seed() {
        let draw = |seed| {
            let mut book = FaultBook::new(
                Vec::new(),
                Some(RandomFaults {
                    seed,
                    probability: 0.5,
                }),
                8,
            );
            (0..50)
                .map(|_| book.pick(RequestKind::Upload, 64))
                .collect::<Vec<_>>()
        };
        let a = draw(1);
        assert_eq!(a, draw(1));
        assert!(a.iter().any(Option::is_some) && a.iter().any(Option::is_none));
        let mut never = FaultBook::new(
            Vec::new(),
            Some(RandomFaults {
                seed: 1,
                probability: 1.0,
            }),
            8,
        );
        assert_eq!(never.pick(RequestKind::Consent, 0), None);
    }
}
