//! Reconcile: polls the Platform.sh API for each project's activities and takes in every
//! (id, state) not recorded yet through the same intake as a webhook delivery (parse, store,
//! record). Deliveries missed while the exporter was down, and history from before it ran,
//! are found this way; what a webhook delivered first is a duplicate here, and the other way
//! round, so nothing counts twice.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::activity::{self, Source};
use crate::record::Recorded;
use crate::store::Intake;
use crate::telemetry::ApiTelemetry;

mod client;
pub mod discovery;
pub mod gaps;
pub mod integrations;
mod settings;
pub mod walk;

pub use client::encode;
use gaps::{Gaps, Listed, Step};
use integrations::{Delivery, Integration};
use walk::{Due, Window};

pub use client::{ApiError, Client};
pub use settings::{ApiToken, Settings};

/// Activities asked for per page; the API may answer with fewer (its own cap), and the poller
/// pages by what it gets.
const PAGE_SIZE: usize = 100;
/// How far before the previous poll's start the next one reaches again: activities the API
/// lists a little late, and clocks that disagree, are not missed.
const OVERLAP: Duration = Duration::from_secs(600);
/// Longest the webhook is given to deliver an activity before the API's copy of it is taken
/// in (a recent one is left to the next poll, so a delivery on its way is not counted as
/// missed).
const MAX_GRACE: Duration = Duration::from_secs(60);

/// How far a project's polls have come. Kept in the store's counters, so a restart carries on.
#[derive(Debug, Clone)]
struct Progress {
    /// When reconciliation first polled the project: what the API lists from before is
    /// history (backfill), from after a missed delivery (reconciliation).
    since: DateTime<Utc>,
    /// When the last poll began: the next one reads what was created since (less the overlap).
    top: Option<DateTime<Utc>>,
    /// What is not proven read yet.
    gaps: Gaps,
}

fn micros(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp_micros()).unwrap_or(0)
}

fn from_micros(v: u64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(i64::try_from(v).ok()?)
}

/// What one poll of a project did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Polled {
    pub pages: usize,
    pub listed: usize,
    /// New (id, state) pairs taken in.
    pub taken: usize,
    /// Listed but not activities the parser accepts.
    pub invalid: usize,
}

/// The poller: one per exporter, polling each project in turn.
#[derive(Debug)]
pub struct Poller {
    client: Client,
    intake: Intake,
    settings: Settings,
    telemetry: ApiTelemetry,
    progress: HashMap<String, Progress>,
}

#[derive(Deserialize)]
struct Project {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    organization: Option<String>,
}

#[derive(Deserialize)]
struct Organization {
    #[serde(default)]
    name: Option<String>,
}

impl Poller {
    /// A poller that resumes from `saved` (the store's counters, as the last run left them).
    pub fn new(
        settings: Settings,
        intake: Intake,
        telemetry: ApiTelemetry,
        saved: &[(String, u64)],
    ) -> Result<Self, String> {
        let client = Client::new(&settings, telemetry.clone())?;
        telemetry.expect_requests(&[
            "token",
            "activities",
            "project",
            "organization",
            "integrations",
        ]);
        let mut progress = HashMap::new();
        for (name, value) in saved {
            if let Some(project) = name.strip_prefix("reconcile_since:")
                && let Some(since) = from_micros(*value)
            {
                let find = |prefix: &str| {
                    saved
                        .iter()
                        .find(|(n, _)| n.strip_prefix(prefix) == Some(project))
                        .and_then(|(_, v)| from_micros(*v))
                };
                // A store of an earlier version kept a horizon: the next poll read down to
                // it, as it now reads down to the last start less the overlap.
                let top = find("reconcile_top:")
                    .or_else(|| find("reconcile_horizon:").map(|h| h + chrono_duration(OVERLAP)));
                let gaps = Gaps::from_counters(project, saved).unwrap_or_default();
                progress.insert(project.to_owned(), Progress { since, top, gaps });
            }
        }
        Ok(Self {
            client,
            intake,
            settings,
            telemetry,
            progress,
        })
    }

    /// Polls every project, then again every poll interval, forever. A failing API is logged
    /// and retried at the next interval; it never holds up webhook deliveries, which do not
    /// wait for this task.
    pub async fn run(mut self) {
        let mut interval = tokio::time::interval(self.settings.poll_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.poll_all().await;
        }
    }

    /// One round: every project once.
    pub async fn poll_all(&mut self) {
        let projects = match self.projects().await {
            Ok(projects) => projects,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the projects of the Platform.sh API token");
                return;
            }
        };
        for project in projects {
            match self.poll_project(&project).await {
                Ok(polled) => tracing::debug!(project, ?polled, "polled the Platform.sh API"),
                Err(e) => {
                    tracing::warn!(project, error = %e, "cannot poll the Platform.sh API");
                }
            }
        }
    }

    /// How the project's activities reach this exporter (see [`Delivery`]), said in metrics:
    /// with --platformsh.api-only, by the flag; else by the project's integrations (`GET
    /// /projects/{id}/integrations`). When they cannot be read (a token without the right),
    /// every undelivered activity counts as missed, as before integrations were read.
    async fn delivery(&self, project: &str) -> Delivery {
        let delivery = if self.settings.api_only {
            Delivery::ApiOnly
        } else {
            let path = format!("/projects/{}/integrations", encode(project));
            let read: Result<Vec<Integration>, ApiError> = self.json("integrations", &path).await;
            self.telemetry.integrations_readable(project, read.is_ok());
            if let Err(e) = &read {
                tracing::debug!(project, error = %e, "cannot read the project's integrations: every undelivered activity counts as missed");
            }
            Delivery::of(read.ok(), self.settings.public_url.as_ref())
        };
        self.telemetry.delivery_mode(project, delivery.mode());
        delivery
    }

    /// The configured projects, or every project the token can see.
    async fn projects(&self) -> Result<Vec<String>, ApiError> {
        discovery::projects(&self.client, &self.settings.projects).await
    }

    async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        endpoint: &str,
        path: &str,
    ) -> Result<T, ApiError> {
        self.client.json(endpoint, path).await
    }

    /// The project's progress, starting it (and its backfill) at the first poll.
    fn progress(&mut self, project: &str, start: DateTime<Utc>) -> &mut Progress {
        self.progress
            .entry(project.to_owned())
            .or_insert_with(|| Progress {
                since: start,
                top: None,
                gaps: Gaps::default(),
            })
    }

    /// Reads the project's activities that are not proven read yet (see [`gaps`]), newest
    /// first, and takes in every one not recorded yet.
    pub async fn poll_project(&mut self, project: &str) -> Result<Polled, ApiError> {
        let start = Utc::now();
        let backfill_limit = start - chrono_duration(self.settings.backfill);
        {
            let progress = self.progress(project, start);
            let from = progress
                .top
                .map_or(backfill_limit, |top| top - chrono_duration(OVERLAP));
            progress.gaps.add(from, None);
            progress.gaps.clip(backfill_limit);
            progress.top = Some(start);
        }
        let skew = {
            let mut recorder = self
                .intake
                .recorder
                .lock()
                .expect("the recorder lock is never poisoned: recording does not panic");
            recorder.expect_project(project);
            recorder.max_clock_skew()
        };
        self.update_project_info(project).await;
        let delivery = self.delivery(project).await;
        let api_only = matches!(delivery, Delivery::ApiOnly);

        // No delivery is on its way when no webhook sends the project's activities.
        let grace = if api_only {
            chrono::Duration::zero()
        } else {
            chrono_duration(MAX_GRACE.min(self.settings.poll_interval / 2))
        };
        let since = self.progress[project].since;
        let mut walk = Walk {
            project,
            window: Window {
                since,
                settled_before: start - grace,
                skewed_after: start + chrono_duration(skew),
                api_only,
            },
            polled: Polled::default(),
            seen: HashSet::new(),
            fullest: 0,
            unsettled: Vec::new(),
            delivery,
        };
        let walked = self.walk(project, start, &mut walk).await;
        let progress = self.progress.get_mut(project).expect("inserted above");
        for created in walk.unsettled.drain(..) {
            progress.gaps.add_micros(created, created);
        }
        progress.gaps.clip(backfill_limit);
        let unread = progress.gaps.unread_seconds(Utc::now());
        self.save(project).await;
        self.telemetry.unread(project, unread);
        walked?;
        self.telemetry
            .polled(project, Utc::now().timestamp_micros() as f64 / 1e6);
        Ok(walk.polled)
    }

    /// Walks the project's gaps, newest first, within the page limit; what it read is taken
    /// out of the gaps as it goes, so an error keeps what was done.
    async fn walk(
        &mut self,
        project: &str,
        start: DateTime<Utc>,
        walk: &mut Walk<'_>,
    ) -> Result<(), ApiError> {
        let ceiling = start.timestamp_micros();
        let encoded = encode(project);
        while let Some(gap) = self.progress[project].gaps.first() {
            let mut cursor = gap.hi;
            let mut confirmed_end = false;
            loop {
                if walk.polled.pages >= self.settings.max_pages {
                    tracing::warn!(
                        project,
                        pages = walk.polled.pages,
                        "stopped a poll at the page limit; the next poll goes on from there"
                    );
                    return Ok(());
                }
                let mut path = format!("/projects/{encoded}/activities?count={PAGE_SIZE}");
                if cursor < i64::MAX {
                    let at = DateTime::from_timestamp_micros(cursor).unwrap_or(start);
                    path.push_str("&starts_at=");
                    path.push_str(&encode(
                        &at.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
                    ));
                }
                let body = self.client.get("activities", &path).await?;
                let page: Vec<&RawValue> =
                    serde_json::from_slice(&body).map_err(|e| ApiError::Invalid {
                        url: format!("{}{path}", self.client.api_url()),
                        message: format!("expected a JSON array of activities: {e}"),
                    })?;
                let read = walk.page(&self.intake, &page, gap.lo).await?;
                let listed = Listed {
                    oldest: read.oldest,
                    new: read.new > 0,
                    short: page.len() < walk.fullest,
                };
                walk.fullest = walk.fullest.max(page.len());
                let gaps = &mut self.progress.get_mut(project).expect("present").gaps;
                match gaps::step(gap, cursor, listed, ceiling) {
                    // An empty page is asked for again before it is believed: one answered
                    // empty in error would otherwise end the walk with the rest unread.
                    Step::Done if page.is_empty() && !confirmed_end => confirmed_end = true,
                    Step::Done => {
                        gaps.read_newest_down_to(None);
                        break;
                    }
                    Step::Next(next) => {
                        gaps.read_newest_down_to(Some(next));
                        cursor = next;
                        confirmed_end = false;
                    }
                    Step::Stuck => {
                        tracing::warn!(
                            project,
                            "the Platform.sh API listed a page the poll cannot page past \
                             (no creation time older than the last); the next poll tries again"
                        );
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Shows the project's title, region and organization (its name, the console URL's first
    /// segment, else its id); an API that cannot say leaves what was shown.
    async fn update_project_info(&self, project: &str) {
        let path = format!("/projects/{}", encode(project));
        let value = |v: Option<String>| -> String {
            v.map(|v| v.chars().filter(|c| !c.is_control()).take(200).collect())
                .unwrap_or_default()
        };
        match self.json::<Project>("project", &path).await {
            Ok(info) => {
                let (title, region, id) = (
                    value(info.title),
                    value(info.region),
                    value(info.organization),
                );
                let organization = if id.is_empty() {
                    id
                } else {
                    let path = format!("/organizations/{}", encode(&id));
                    match self.json::<Organization>("organization", &path).await {
                        Ok(org) => Some(value(org.name))
                            .filter(|n| !n.is_empty())
                            .unwrap_or(id),
                        Err(e) => {
                            tracing::debug!(project, error = %e, "cannot read the organization");
                            id
                        }
                    }
                };
                self.telemetry
                    .project_info(project, &title, &region, &organization);
            }
            Err(e) => tracing::debug!(project, error = %e, "cannot read the project"),
        }
    }

    /// Keeps the project's progress in the store, for the next start.
    async fn save(&self, project: &str) {
        let (Some(store), Some(progress)) = (&self.intake.store, self.progress.get(project)) else {
            return;
        };
        let mut counters = vec![(format!("reconcile_since:{project}"), micros(progress.since))];
        if let Some(top) = progress.top {
            counters.push((format!("reconcile_top:{project}"), micros(top)));
        }
        counters.extend(progress.gaps.to_counters(project));
        if let Err(e) = store.save_counters(counters).await {
            tracing::warn!(project, error = %e, "cannot save the reconciliation progress");
        }
    }
}

/// One poll of one project, page after page.
struct Walk<'a> {
    project: &'a str,
    /// What the poll takes in (see [`walk`]).
    window: Window,
    polled: Polled,
    /// Ids listed so far: the boundary activity of a page comes back on the next.
    seen: HashSet<String>,
    /// Most activities a page of this poll held: the API's page size, which it does not tell.
    fullest: usize,
    /// Creation times (µs) of activities this poll could not settle (unfinished, or touched
    /// too recently): the next poll reads each of those places again.
    unsettled: Vec<i64>,
    /// How the project's activities reach this exporter: an activity none of its webhook
    /// integrations sends is not a missed delivery.
    delivery: Delivery,
}

/// What one page held.
struct Page {
    /// Activities not listed before in this poll.
    new: usize,
    /// The oldest creation time on the page (µs).
    oldest: Option<i64>,
}

impl Walk<'_> {
    /// Takes in the page's activities that are due, through `intake`; those created before
    /// `floor` (the gap's bottom) belong to another gap, or were read already.
    async fn page(
        &mut self,
        intake: &Intake,
        page: &[&RawValue],
        floor: i64,
    ) -> Result<Page, ApiError> {
        let project = self.project;
        self.polled.pages += 1;
        let mut result = Page {
            new: 0,
            oldest: None,
        };
        for raw in page {
            self.polled.listed += 1;
            let mut activity = match activity::parse(raw.get().as_bytes()) {
                Ok(activity) if activity.project == project => activity,
                Ok(activity) => {
                    self.polled.invalid += 1;
                    tracing::warn!(
                        project,
                        listed = activity.project,
                        "the Platform.sh API listed an activity of another project"
                    );
                    continue;
                }
                Err(e) => {
                    self.polled.invalid += 1;
                    tracing::warn!(project, error = %e, "the Platform.sh API listed an activity the exporter cannot read");
                    continue;
                }
            };
            if !self.seen.insert(activity.id.clone()) {
                continue;
            }
            result.new += 1;
            // An activity without a creation time does not move the walk.
            if let Some(created) = activity.created_at.map(|c| c.timestamp_micros()) {
                result.oldest = Some(result.oldest.map_or(created, |o| o.min(created)));
            }
            let due = self.window.due(&activity, floor);
            let source = match due {
                Due::Skip => continue,
                Due::Unsettled(created) => {
                    self.unsettled.extend(created);
                    continue;
                }
                Due::TakeUnfinished(source, created) => {
                    self.unsettled.extend(created);
                    source
                }
                Due::Take(source) => source,
            };
            activity.source = match source {
                Source::Reconciliation if !self.delivery.should_have_sent(&activity) => {
                    Source::Unsent
                }
                source => source,
            };
            let received_at = activity::stored_precision(Utc::now());
            let recorded = intake.accept(activity, received_at).await?;
            if recorded == Recorded::Accepted {
                self.polled.taken += 1;
            }
        }
        Ok(result)
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_shows_in_debug_output() {
        let token = ApiToken::parse("secret-token").unwrap();
        assert_eq!(format!("{token:?}"), "ApiToken(<redacted>)");
        assert!(ApiToken::parse("  \n").is_err());
    }

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(
            encode("2026-02-22T02:00:00.000000+00:00"),
            "2026-02-22T02%3A00%3A00.000000%2B00%3A00"
        );
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
