//! Cardinality caps: each label keeps at most a configured number of distinct values; later
//! values fold into [`OVERFLOW`]. Anyone who knows the webhook URL can post random names, and
//! without a cap every one of them would become a series held in memory forever.

use std::collections::HashSet;

use crate::activity::Activity;

/// The value that replaces a label value past its cap.
pub const OVERFLOW: &str = "_overflow";

/// Per-label limits on distinct values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub projects: usize,
    /// Distinct (project, environment) pairs.
    pub environments: usize,
    pub types: usize,
    pub environment_types: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            projects: 500,
            environments: 5000,
            types: 300,
            environment_types: 10,
        }
    }
}

/// The label values of one activity after capping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub project: String,
    pub environment: String,
    pub environment_type: String,
    pub kind: String,
}

/// A label whose value was folded into [`OVERFLOW`], for the overflow counter.
pub type Overflowed = &'static str;

/// The set of values one label has admitted.
#[derive(Debug)]
struct Cap {
    seen: HashSet<String>,
    max: usize,
}

impl Cap {
    fn new(max: usize) -> Self {
        Self {
            seen: HashSet::new(),
            max,
        }
    }

    /// Whether `value` may be used: already admitted, or admitted now because there is room.
    fn admit(&mut self, value: &str) -> bool {
        if self.seen.contains(value) {
            return true;
        }
        if self.seen.len() >= self.max {
            return false;
        }
        self.seen.insert(value.to_owned());
        true
    }
}

/// Every label's admitted values. First come, first served, so replaying the same activities in
/// the same order admits the same values.
#[derive(Debug)]
pub struct Caps {
    projects: Cap,
    environments: Cap,
    types: Cap,
    environment_types: Cap,
}

impl Caps {
    pub fn new(limits: Limits) -> Self {
        Self {
            projects: Cap::new(limits.projects),
            environments: Cap::new(limits.environments),
            types: Cap::new(limits.types),
            environment_types: Cap::new(limits.environment_types),
        }
    }

    /// The capped labels of `activity`, and the names of the labels that overflowed.
    pub fn resolve(&mut self, activity: &Activity) -> (Labels, Vec<Overflowed>) {
        let mut overflowed = Vec::new();
        let mut capped = |cap: &mut Cap, key: &str, value: &str, label: Overflowed| {
            if cap.admit(key) {
                value.to_owned()
            } else {
                overflowed.push(label);
                OVERFLOW.to_owned()
            }
        };
        let project = capped(
            &mut self.projects,
            &activity.project,
            &activity.project,
            "project",
        );
        // Keyed by pair, so that one project's many branches cannot crowd out another's.
        let pair = format!("{project}\u{0}{}", activity.environment);
        let environment = capped(
            &mut self.environments,
            &pair,
            &activity.environment,
            "environment",
        );
        let kind = capped(&mut self.types, &activity.kind, &activity.kind, "type");
        let environment_type = capped(
            &mut self.environment_types,
            &activity.environment_type,
            &activity.environment_type,
            "environment_type",
        );
        (
            Labels {
                project,
                environment,
                environment_type,
                kind,
            },
            overflowed,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(project: &str, environment: &str, kind: &str) -> Activity {
        let mut a =
            crate::activity::parse(include_bytes!("../tests/fixtures/push-success-seed.json"))
                .unwrap();
        a.project = project.into();
        a.environment = environment.into();
        a.kind = kind.into();
        a
    }

    #[test]
    fn values_past_the_cap_fold_into_overflow_and_known_values_keep_working() {
        let mut caps = Caps::new(Limits {
            projects: 2,
            environments: 3,
            types: 1,
            environment_types: 10,
        });
        assert_eq!(caps.resolve(&activity("a", "main", "t")).0.project, "a");
        assert_eq!(caps.resolve(&activity("b", "main", "t")).0.project, "b");
        let (labels, overflowed) = caps.resolve(&activity("c", "main", "u"));
        assert_eq!(labels.project, OVERFLOW);
        assert_eq!(labels.kind, OVERFLOW);
        assert_eq!(overflowed, vec!["project", "type"]);
        // Admitted values stay admitted.
        assert_eq!(caps.resolve(&activity("a", "main", "t")).0.project, "a");
        // Environment pairs: a/main, b/main, _overflow/main are 3; the 4th is folded.
        let (labels, overflowed) = caps.resolve(&activity("a", "dev", "t"));
        assert_eq!(labels.environment, OVERFLOW);
        assert_eq!(overflowed, vec!["environment"]);
    }
}
