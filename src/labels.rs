//! Cardinality caps: each label keeps at most a configured number of distinct values; later
//! values fold into [`OVERFLOW`]. Anyone who knows the webhook URL can post random names, and
//! without a cap every one of them would become a series held in memory forever.

use std::borrow::Cow;
// hashbrown's maps hash with foldhash: SipHash, std's default, was 3 % of a delivery.
use hashbrown::{HashMap, HashSet};

use crate::activity::Activity;

/// The value that replaces a label value past its cap (refused from senders by the parser).
pub use crate::activity::OVERFLOW;

/// Per-label limits on distinct values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub projects: usize,
    /// Distinct (project, environment) pairs.
    pub environments: usize,
    pub types: usize,
    pub environment_types: usize,
    /// Distinct (project, environment, environment type, type) label sets. Each label is
    /// capped on its own, but their combinations multiply: this bounds the series of every
    /// family that carries more than one of them.
    pub series: usize,
    /// Commits remembered for lead time (pending or delivered), all projects together.
    pub commits: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            projects: 500,
            environments: 5000,
            types: 300,
            environment_types: 10,
            series: 2000,
            commits: 100_000,
        }
    }
}

/// The label values of one activity after capping, borrowed from it unless they overflowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels<'a> {
    pub project: Cow<'a, str>,
    pub environment: Cow<'a, str>,
    pub environment_type: Cow<'a, str>,
    pub kind: Cow<'a, str>,
}

impl Labels<'_> {
    /// The labels, owning their text, for a fact that waits.
    pub fn to_static(&self) -> Labels<'static> {
        Labels {
            project: self.project.clone().into_owned().into(),
            environment: self.environment.clone().into_owned().into(),
            environment_type: self.environment_type.clone().into_owned().into(),
            kind: self.kind.clone().into_owned().into(),
        }
    }

    /// Whether the labels name an environment of its own: not a project-level activity (no
    /// environment) and not one folded into `_overflow`, which stands for many.
    pub fn name_one_environment(&self) -> bool {
        !self.environment.is_empty() && self.environment != OVERFLOW && self.project != OVERFLOW
    }
}

/// What overflowed: a capped label whose value was folded into [`OVERFLOW`], the series cap,
/// unfinished activities or commits past their capacity. The `label` of
/// `platformsh_exporter_label_overflow_total`, every value exposed at 0 from the start so that
/// `increase()` sees the first overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Project,
    Environment,
    Type,
    EnvironmentType,
    Series,
    Unfinished,
    Commit,
}

impl Overflow {
    pub const ALL: [Self; 7] = [
        Self::Project,
        Self::Environment,
        Self::Type,
        Self::EnvironmentType,
        Self::Series,
        Self::Unfinished,
        Self::Commit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Environment => "environment",
            Self::Type => "type",
            Self::EnvironmentType => "environment_type",
            Self::Series => "series",
            Self::Unfinished => "unfinished",
            Self::Commit => "commit",
        }
    }
}

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

/// The (project, environment) pairs admitted, nested so that a pair of `&str` can look one up.
#[derive(Debug)]
struct PairCap {
    seen: HashMap<String, HashSet<String>>,
    count: usize,
    max: usize,
}

impl PairCap {
    /// Frees the pair's slot: a deleted environment is no longer one of the admitted.
    fn forget(&mut self, project: &str, environment: &str) {
        let Some(envs) = self.seen.get_mut(project) else {
            return;
        };
        if envs.remove(environment) {
            self.count -= 1;
        }
        if envs.is_empty() {
            self.seen.remove(project);
        }
    }

    fn admit(&mut self, project: &str, environment: &str) -> bool {
        if self
            .seen
            .get(project)
            .is_some_and(|e| e.contains(environment))
        {
            return true;
        }
        if self.count >= self.max {
            return false;
        }
        self.count += 1;
        self.seen
            .entry(project.to_owned())
            .or_default()
            .insert(environment.to_owned());
        true
    }
}

/// Every label's admitted values. First come, first served, so replaying the same activities in
/// the same order admits the same values.
#[derive(Debug)]
pub struct Caps {
    projects: Cap,
    /// Keyed by pair, so that one project's many branches cannot crowd out another's.
    environments: PairCap,
    types: Cap,
    environment_types: Cap,
}

impl Caps {
    pub fn new(limits: Limits) -> Self {
        Self {
            projects: Cap::new(limits.projects),
            environments: PairCap {
                seen: HashMap::new(),
                count: 0,
                max: limits.environments,
            },
            types: Cap::new(limits.types),
            environment_types: Cap::new(limits.environment_types),
        }
    }

    /// `project` if it is or can be admitted (taking its slot), else `None`.
    pub fn admitted_project<'a>(&mut self, project: &'a str) -> Option<&'a str> {
        self.projects.admit(project).then_some(project)
    }

    /// Frees the slot of a (project, environment) pair, for the next new environment.
    pub fn forget_environment(&mut self, project: &str, environment: &str) {
        self.environments.forget(project, environment);
    }

    /// The capped labels of `activity`, and the labels that overflowed.
    pub fn resolve<'a>(&mut self, activity: &'a Activity) -> (Labels<'a>, Vec<Overflow>) {
        let mut overflowed = Vec::new();
        let mut capped = |admitted: bool, value: &'a str, label: Overflow| {
            if admitted {
                Cow::Borrowed(value)
            } else {
                overflowed.push(label);
                Cow::Borrowed(OVERFLOW)
            }
        };
        let project = capped(
            self.projects.admit(&activity.project),
            &activity.project,
            Overflow::Project,
        );
        let environment = capped(
            self.environments.admit(&project, &activity.environment),
            &activity.environment,
            Overflow::Environment,
        );
        let kind = capped(
            self.types.admit(&activity.kind),
            &activity.kind,
            Overflow::Type,
        );
        let environment_type = capped(
            self.environment_types.admit(&activity.environment_type),
            &activity.environment_type,
            Overflow::EnvironmentType,
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
            series: 100,
            commits: 10,
        });
        assert_eq!(caps.resolve(&activity("a", "main", "t")).0.project, "a");
        assert_eq!(caps.resolve(&activity("b", "main", "t")).0.project, "b");
        let c = activity("c", "main", "u");
        let (labels, overflowed) = caps.resolve(&c);
        assert_eq!(labels.project, OVERFLOW);
        assert_eq!(labels.kind, OVERFLOW);
        assert_eq!(overflowed, vec![Overflow::Project, Overflow::Type]);
        // Admitted values stay admitted.
        assert_eq!(caps.resolve(&activity("a", "main", "t")).0.project, "a");
        // Environment pairs: a/main, b/main, _overflow/main are 3; the 4th is folded.
        let dev = activity("a", "dev", "t");
        let (labels, overflowed) = caps.resolve(&dev);
        assert_eq!(labels.environment, OVERFLOW);
        assert_eq!(overflowed, vec![Overflow::Environment]);
    }
}
