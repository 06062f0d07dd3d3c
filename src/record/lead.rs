//! Lead time for changes, from activities alone: when each commit was first seen, which
//! commits wait for production in each environment, and which were delivered.
//!
//! The rules (README, Lead time): a finished push adds the commits it lists to its
//! environment's pending set; a successful merge moves the child's pending commits into the
//! environment merged into; a successful deployment of a production environment delivers every
//! commit pending there. A commit delivered once is never pending again. A commit's first-seen
//! time is the earliest creation time of any finished activity that listed it.

use std::collections::VecDeque;
use std::sync::Arc;

use hashbrown::{HashMap, HashSet};

use super::clock::Clock;
use super::skipped::{Metric, Reason, skip};
use crate::activity::{Activity, Commit, ResultLabel};
use crate::labels::Overflow;
use crate::series::{Histogram, Series};

/// Shared text: a commit's sha, project and environments are each allocated once, however many
/// maps name them (a third of the memory of a remembered commit, measured in
/// `tests/memory.rs`).
type Text = Arc<str>;

/// What is remembered of one commit.
#[derive(Debug)]
struct Remembered {
    /// Microseconds since the epoch, as the store keeps times: differences are exact.
    first_seen: i64,
    author_date: Option<i64>,
    delivered: bool,
    /// Environments whose pending set holds it, so that forgetting it empties them too.
    pending_in: Vec<Text>,
}

/// One commit delivered to production: its first-seen time and its author date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery {
    /// Microseconds since the epoch.
    pub first_seen: i64,
    pub author_date: Option<i64>,
}

/// A project's pending commits, by environment.
type Pending = HashMap<Text, HashSet<Text>>;

/// The commits of every project, pending or delivered, at most `capacity` of them.
#[derive(Debug)]
pub struct LeadTimes {
    capacity: usize,
    /// By project, then sha.
    commits: HashMap<Text, HashMap<Text, Remembered>>,
    /// Pending commits by project, then environment.
    pending: HashMap<Text, Pending>,
    /// Commits in the order they were first remembered: the oldest are forgotten first.
    order: VecDeque<(Text, Text)>,
    /// The project names in use, so that each is allocated once.
    projects: HashSet<Text>,
}

fn micros(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

impl LeadTimes {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            commits: HashMap::new(),
            pending: HashMap::new(),
            order: VecDeque::new(),
            projects: HashSet::new(),
        }
    }

    /// How many commits are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Notes that a finished activity created at `created` listed `commits`. Returns how many
    /// older commits were forgotten to make room.
    pub fn seen(&mut self, project: &str, commits: &[Commit], created: i64) -> usize {
        let mut forgotten = 0;
        for commit in commits {
            let known = self
                .commits
                .get_mut(project)
                .and_then(|c| c.get_mut(commit.sha.as_str()));
            if let Some(known) = known {
                known.first_seen = known.first_seen.min(created);
                if known.author_date.is_none() {
                    known.author_date = commit.author_date.map(micros);
                }
                continue;
            }
            if self.capacity == 0 {
                forgotten += 1;
                continue;
            }
            while self.order.len() >= self.capacity {
                self.forget_oldest();
                forgotten += 1;
            }
            let remembered = Remembered {
                first_seen: created,
                author_date: commit.author_date.map(micros),
                delivered: false,
                pending_in: Vec::new(),
            };
            let project = self.project(project);
            let sha: Text = commit.sha.as_str().into();
            self.commits
                .entry(Arc::clone(&project))
                .or_default()
                .insert(Arc::clone(&sha), remembered);
            self.order.push_back((project, sha));
        }
        forgotten
    }

    /// The shared name of `project`.
    fn project(&mut self, project: &str) -> Text {
        if let Some(known) = self.projects.get(project) {
            return Arc::clone(known);
        }
        let name: Text = project.into();
        self.projects.insert(Arc::clone(&name));
        name
    }

    fn forget_oldest(&mut self) {
        let Some((project, sha)) = self.order.pop_front() else {
            return;
        };
        let Some(commits) = self.commits.get_mut(&project) else {
            return;
        };
        if let Some(gone) = commits.remove(&sha)
            && let Some(pending) = self.pending.get_mut(&project)
        {
            for environment in gone.pending_in {
                if let Some(set) = pending.get_mut(&environment) {
                    set.remove(&sha);
                }
            }
        }
        if commits.is_empty() {
            self.commits.remove(&project);
            self.pending.remove(&project);
            self.projects.remove(&project);
        }
    }

    /// Adds `shas` (remembered, not delivered) to the environment's pending set.
    fn add_pending<'a>(
        &mut self,
        project: &str,
        environment: &str,
        shas: impl IntoIterator<Item = &'a str>,
    ) {
        let Some((project, commits)) = self.commits.get_key_value_mut(project) else {
            return;
        };
        let pending = self.pending.entry(Arc::clone(project)).or_default();
        let environment: Text = match pending.get_key_value(environment) {
            Some((name, _)) => Arc::clone(name),
            None => environment.into(),
        };
        let set = pending.entry(Arc::clone(&environment)).or_default();
        for sha in shas {
            if let Some((sha, commit)) = commits.get_key_value_mut(sha)
                && !commit.delivered
                && set.insert(Arc::clone(sha))
            {
                // Most commits wait in one environment: no room kept for more.
                commit.pending_in.reserve_exact(1);
                commit.pending_in.push(Arc::clone(&environment));
            }
        }
    }

    /// Empties the environment's pending set, and returns it.
    fn take_pending(&mut self, project: &str, environment: &str) -> Vec<Text> {
        let Some(set) = self
            .pending
            .get_mut(project)
            .and_then(|p| p.remove(environment))
        else {
            return Vec::new();
        };
        if let Some(commits) = self.commits.get_mut(project) {
            for sha in &set {
                if let Some(commit) = commits.get_mut(sha) {
                    commit.pending_in.retain(|e| &**e != environment);
                }
            }
        }
        let mut shas: Vec<Text> = set.into_iter().collect();
        shas.sort_unstable();
        shas
    }

    /// A finished push of `commits` to the environment (success or failure: git took them).
    pub fn pushed(&mut self, project: &str, environment: &str, commits: &[Commit]) {
        self.add_pending(project, environment, commits.iter().map(|c| c.sha.as_str()));
    }

    /// A successful merge of `child` into `environment`: the child's pending commits move.
    pub fn merged(&mut self, project: &str, child: &str, environment: &str) {
        if child == environment {
            return;
        }
        let moved = self.take_pending(project, child);
        self.add_pending(project, environment, moved.iter().map(|s| &**s));
    }

    /// A successful deployment of a production environment: every commit pending there is
    /// delivered, once.
    pub fn deliver(&mut self, project: &str, environment: &str) -> Vec<Delivery> {
        let shas = self.take_pending(project, environment);
        let Some(commits) = self.commits.get_mut(project) else {
            return Vec::new();
        };
        let mut delivered = Vec::new();
        for sha in shas {
            let Some(commit) = commits.get_mut(&sha).filter(|c| !c.delivered) else {
                continue;
            };
            commit.delivered = true;
            delivered.push(Delivery {
                first_seen: commit.first_seen,
                author_date: commit.author_date,
            });
            // Pending elsewhere too (pushed to two branches): delivered now, pending nowhere.
            let elsewhere = std::mem::take(&mut commit.pending_in);
            if let Some(pending) = self.pending.get_mut(project) {
                for other in elsewhere {
                    if let Some(set) = pending.get_mut(&other) {
                        set.remove(&sha);
                    }
                }
            }
        }
        delivered
    }

    /// A deleted or forgotten environment: its pending commits wait nowhere any more.
    pub fn forget_environment(&mut self, project: &str, environment: &str) {
        self.take_pending(project, environment);
    }
}

/// The series lead time writes.
pub(super) struct LeadSeries<'a> {
    pub change: &'a mut Series<Histogram>,
    pub commit: &'a mut Series<Histogram>,
    pub overflow: &'a mut Series<f64>,
    pub skipped: &'a mut Series<f64>,
}

impl LeadTimes {
    /// A finished activity's part in lead time: the commits it lists are seen, a push makes
    /// them pending in its environment, a merge moves its child's, and a successful deployment
    /// of production (`delivers`) delivers what is pending there, its own push or merge
    /// applied first, observing each delivered commit's change and commit lead times under
    /// `project_label` (the project's label, folded past the cap as the activity's are).
    pub(super) fn record(
        &mut self,
        activity: &Activity,
        project_label: &str,
        finished: ResultLabel,
        clock: Clock,
        delivers: bool,
        series: LeadSeries<'_>,
    ) {
        let (project, environment) = (activity.project.as_str(), activity.environment.as_str());
        if activity.commits_dropped > 0 {
            let dropped = activity.commits_dropped as f64;
            skip(
                series.skipped,
                Metric::ChangeLeadTime,
                Reason::CommitLimit,
                dropped,
            );
        }
        if !activity.commit_list.is_empty() {
            let created = clock.at(activity.created_at).timestamp_micros();
            let forgotten = self.seen(project, &activity.commit_list, created);
            if forgotten > 0 {
                let commit = Overflow::Commit.as_str();
                series.overflow.add(&[commit], forgotten as f64);
            }
            if activity.kind == "environment.push" {
                self.pushed(project, environment, &activity.commit_list);
            }
        }
        if finished != ResultLabel::Success {
            return;
        }
        if let Some(child) = &activity.merged_child {
            self.merged(project, child, environment);
        }
        if !delivers {
            return;
        }
        let delivered = self.deliver(project, environment);
        let at = clock.at(activity.finished_at()).timestamp_micros();
        let values = [project_label];
        // Differences of microseconds, exact, as the activity durations are.
        let since = |t: i64| at.saturating_sub(t) as f64 / 1e6;
        let skipped = series.skipped;
        for delivery in delivered {
            let change = since(delivery.first_seen);
            if change >= 0.0 {
                series.change.observe(&values, change);
            } else {
                skip(skipped, Metric::ChangeLeadTime, Reason::Negative, 1.0);
            }
            match delivery.author_date.map(since) {
                // Authored before the Unix epoch: a wrong clock or a forgery, not a commit
                // that waited decades (a year-1 date added 2 000 years to the sum).
                Some(_) if delivery.author_date.is_some_and(|t| t < 0) => {
                    skip(skipped, Metric::CommitLeadTime, Reason::ClockSkew, 1.0);
                }
                Some(lead) if lead >= 0.0 => series.commit.observe(&values, lead),
                Some(_) => skip(skipped, Metric::CommitLeadTime, Reason::Negative, 1.0),
                None => skip(
                    skipped,
                    Metric::CommitLeadTime,
                    Reason::MissingTimestamp,
                    1.0,
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(sha: &str) -> Commit {
        Commit {
            sha: sha.into(),
            author_date: None,
        }
    }

    #[test]
    fn the_oldest_commits_are_forgotten_past_the_capacity_and_leave_no_pending_trace() {
        let mut lead = LeadTimes::new(2);
        assert_eq!(lead.seen("p", &[commit("a"), commit("b")], 1), 0);
        lead.pushed("p", "feature", &[commit("a"), commit("b")]);
        assert_eq!(lead.seen("p", &[commit("c")], 2), 1);
        assert_eq!(lead.len(), 2);
        lead.pushed("p", "feature", &[commit("c")]);
        lead.merged("p", "feature", "main");
        let delivered = lead.deliver("p", "main");
        // `a` was forgotten: `b` and `c` are delivered.
        assert_eq!(delivered.len(), 2);
        assert!(lead.pending["p"].values().all(HashSet::is_empty));
    }

    #[test]
    fn a_commit_pending_in_two_environments_is_delivered_once() {
        let mut lead = LeadTimes::new(10);
        lead.seen("p", &[commit("a")], 5);
        lead.pushed("p", "x", &[commit("a")]);
        lead.pushed("p", "y", &[commit("a")]);
        lead.merged("p", "x", "main");
        assert_eq!(lead.deliver("p", "main").len(), 1);
        lead.merged("p", "y", "main");
        assert_eq!(lead.deliver("p", "main"), Vec::new());
        // Pushed again after delivery: never pending again.
        lead.pushed("p", "main", &[commit("a")]);
        assert_eq!(lead.deliver("p", "main"), Vec::new());
    }
}
