//! Reconciliation against a test double of the Platform.sh API: what the webhook missed is
//! found and counted once, history is backfilled, tokens expire and 500s happen, restarts and
//! replicas end with the same metrics.

use std::time::{Duration, Instant};

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::helpers::{Samples, TestApp, activity_samples, fixture, spawn_app, value};
use crate::platformsh_double::{API_TOKEN, ApiDouble, Behaviour};

const PROJECT: &str = "abc123xyz";

/// A finished redeploy of `abc123xyz`/`main` created at `created` (started and completed
/// 10 ms later each).
fn redeploy(id: &str, created: chrono::DateTime<chrono::Utc>) -> Value {
    let mut body: Value =
        serde_json::from_slice(&fixture("redeploy-success-production.json")).unwrap();
    let at = |t: chrono::DateTime<chrono::Utc>| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
    };
    body["id"] = json!(id);
    body["created_at"] = at(created);
    body["started_at"] = at(created + chrono::Duration::milliseconds(10));
    body["completed_at"] = at(created + chrono::Duration::milliseconds(20));
    body["updated_at"] = at(created + chrono::Duration::milliseconds(20));
    body
}

/// `n` redeploys `apart` from each other, the newest created `ago` before now, ids
/// `prefix-0…`.
fn history(prefix: &str, n: usize, ago: chrono::Duration, apart: chrono::Duration) -> Vec<Value> {
    let newest = chrono::Utc::now() - ago;
    (0..n)
        .map(|i| {
            redeploy(
                &format!("{prefix}-{i}"),
                newest - apart * i32::try_from(i).unwrap(),
            )
        })
        .collect()
}

/// History from before the exporter ran: days ago, an hour apart.
fn old(prefix: &str, n: usize) -> Vec<Value> {
    history(
        prefix,
        n,
        chrono::Duration::days(1),
        chrono::Duration::hours(1),
    )
}

/// Activities created from now on (after the exporter's first poll), 2 ms apart, each
/// finished 20 ms after its creation: the API lists an activity from its creation on.
fn recent(prefix: &str, n: usize) -> Vec<Value> {
    let apart = chrono::Duration::milliseconds(2);
    history(prefix, n, -apart * i32::try_from(n).unwrap(), apart)
}

async fn spawn(double: &ApiDouble, extra: &[&str]) -> TestApp {
    let mut flags = double.flags(PROJECT);
    flags.extend(extra.iter().map(|s| (*s).to_owned()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    spawn_app(&flags).await
}

/// Scrapes `app` until `check` holds (at most 20 s), and returns the samples that passed.
async fn until(app: &TestApp, what: &str, check: impl Fn(&Samples) -> bool) -> Samples {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let samples = app.scrape().await;
        if check(&samples) {
            return samples;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {samples:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn counter(samples: &Samples, name: &str) -> f64 {
    value(samples, name, &[("project", PROJECT)])
}

const RECONCILED: &str = "platformsh_exporter_reconciled_activities_total";
const BACKFILLED: &str = "platformsh_exporter_backfilled_activities_total";

fn redeploys(samples: &Samples) -> f64 {
    value(
        samples,
        "platformsh_restarts_total",
        &[
            ("project", PROJECT),
            ("environment", "main"),
            ("environment_type", "production"),
            ("result", "success"),
        ],
    )
}

#[tokio::test]
async fn deliveries_withheld_from_the_webhook_are_found_by_the_next_poll_and_counted_once() {
    let double = ApiDouble::start(Behaviour::default()).await;
    double.add(PROJECT, old("old", 2));
    let app = spawn(&double, &[]).await;

    // History first: the two older redeploys are backfilled, not missed deliveries.
    let samples = until(&app, "the backfill", |s| counter(s, BACKFILLED) == 2.0).await;
    assert_eq!(counter(&samples, RECONCILED), 0.0);
    assert_eq!(redeploys(&samples), 2.0);
    assert_eq!(
        value(
            &samples,
            "platformsh_project_info",
            &[
                ("project", PROJECT),
                ("title", "Shop <abc123xyz>"),
                ("region", "eu-3.platform.sh"),
                // The organization's name (the console URL's first segment), not its id.
                ("organization", "acme"),
            ]
        ),
        1.0
    );

    // Three new redeploys; the webhook delivers only the first.
    let new = recent("new", 3);
    assert_eq!(app.post(new[0].to_string()).await.status, 202);
    double.add(PROJECT, new.clone());
    let samples = until(&app, "the missed deliveries", |s| {
        counter(s, RECONCILED) == 2.0
    })
    .await;
    assert_eq!(redeploys(&samples), 5.0);
    // The webhook's late delivery of a reconciled one is a duplicate, and further polls find
    // nothing new.
    assert_eq!(app.post(new[2].to_string()).await.status, 200);
    let listings = double.seen(|s| s.listings);
    until(&app, "two more polls", |_| {
        double.seen(|s| s.listings) >= listings + 2
    })
    .await;
    let samples = app.scrape().await;
    assert_eq!(
        (
            redeploys(&samples),
            counter(&samples, RECONCILED),
            counter(&samples, BACKFILLED)
        ),
        (5.0, 2.0, 2.0)
    );
    let requests = value(
        &samples,
        "platformsh_exporter_api_requests_total",
        &[("endpoint", "activities"), ("code", "200")],
    );
    assert!(requests >= 3.0, "{requests}");
    assert!(
        value(
            &samples,
            "platformsh_exporter_api_last_success_timestamp_seconds",
            &[("project", PROJECT)]
        ) > 0.0
    );
    // The token travels in the exchange's body only, never in a URL.
    let requests = double.seen(|s| s.requests.clone());
    assert!(
        requests.iter().all(|r| !r.contains(API_TOKEN)),
        "{requests:?}"
    );
}

#[tokio::test]
async fn expired_access_tokens_are_exchanged_again_and_server_errors_retried() {
    let double = ApiDouble::start(Behaviour {
        page_cap: 4,
        token_uses: 3,
        fail_every: 3,
        ..Behaviour::default()
    })
    .await;
    double.add(PROJECT, old("h", 25));
    let app = spawn(&double, &[]).await;
    let samples = until(&app, "the backfill", |s| counter(s, BACKFILLED) == 25.0).await;
    assert_eq!(redeploys(&samples), 25.0);
    let code = |code: &str| {
        value(
            &samples,
            "platformsh_exporter_api_requests_total",
            &[("endpoint", "activities"), ("code", code)],
        )
    };
    assert!(code("401") >= 1.0, "{samples:#?}");
    assert!(code("500") >= 1.0, "{samples:#?}");
    assert!(double.seen(|s| s.exchanges) >= 2);
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_backfill_resumes_without_counting_twice() {
    let double = ApiDouble::start(Behaviour {
        page_cap: 5,
        // 12 pages of 5, 0.2 s each: time to stop it in the middle, even on a slow machine.
        delay: Duration::from_millis(200),
        ..Behaviour::default()
    })
    .await;
    double.add(PROJECT, old("h", 60));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db").to_str().unwrap().to_owned();
    let app = spawn(&double, &["--storage.path", &path]).await;
    let partial = until(&app, "part of the backfill", |s| {
        counter(s, BACKFILLED) >= 10.0
    })
    .await;
    assert!(
        counter(&partial, BACKFILLED) < 60.0,
        "too late to stop in the middle"
    );
    app.stop().await.unwrap();

    let app = spawn(&double, &["--storage.path", &path]).await;
    let samples = until(&app, "the whole backfill", |s| {
        counter(s, BACKFILLED) == 60.0
    })
    .await;
    assert_eq!(redeploys(&samples), 60.0);
    let listings = double.seen(|s| s.listings);
    until(&app, "another poll", |_| {
        double.seen(|s| s.listings) > listings + 1
    })
    .await;
    let samples = app.scrape().await;
    assert_eq!(
        (redeploys(&samples), counter(&samples, BACKFILLED)),
        (60.0, 60.0)
    );
}

#[tokio::test]
async fn replicas_that_each_got_part_of_the_deliveries_end_with_the_same_metrics() {
    let double = ApiDouble::start(Behaviour::default()).await;
    let (a, b) = (spawn(&double, &[]).await, spawn(&double, &[]).await);
    // After both replicas' first poll: these are deliveries, not history.
    let polled = |s: &Samples| {
        s.keys()
            .any(|k| k.starts_with("platformsh_exporter_api_last_success_timestamp_seconds"))
    };
    until(&a, "a's first poll", polled).await;
    until(&b, "b's first poll", polled).await;
    let mut activities = recent("r", 6);
    activities[6 - 1]["result"] = json!("failure");
    let mut cron: Value = serde_json::from_slice(&fixture("cron-success.json")).unwrap();
    cron["project"] = json!(PROJECT);
    cron["id"] = json!("r-cron");
    for field in ["created_at", "started_at", "completed_at", "updated_at"] {
        cron[field] = activities[0]["created_at"].clone();
    }
    activities.push(cron);
    activities.push(redeploy("r-last", chrono::Utc::now()));
    // A load balancer sends each delivery to one replica.
    for (n, activity) in activities.iter().enumerate() {
        let replica = if n % 2 == 0 { &a } else { &b };
        assert_eq!(replica.post(activity.to_string()).await.status, 202);
    }
    double.add(PROJECT, activities.clone());
    let total = |s: &Samples| {
        s.iter()
            .filter(|(k, _)| k.starts_with("platformsh_activities_total{"))
            .map(|(_, v)| v)
            .sum::<f64>()
    };
    let on_a = until(&a, "every activity on a", |s| total(s) == 8.0).await;
    let on_b = until(&b, "every activity on b", |s| total(s) == 8.0).await;
    assert_eq!(activity_samples(&on_a), activity_samples(&on_b));
    // Each replica took in what the other received.
    assert_eq!(counter(&on_a, RECONCILED) + counter(&on_b, RECONCILED), 8.0);
}

#[tokio::test]
async fn without_a_project_list_every_project_the_token_sees_is_polled() {
    let double = ApiDouble::start(Behaviour::default()).await;
    double.add(PROJECT, old("h", 2));
    let mut other = old("o", 1);
    other[0]["project"] = json!("other-project");
    double.add("other-project", other);
    // Ids no project has: never polled, never a label value.
    for hostile in ["", " ", "../../etc"] {
        double.add(hostile, Vec::new());
    }
    let flags = double.flags("");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let app = spawn_app(&flags).await;
    let samples = until(&app, "both projects", |s| {
        counter(s, BACKFILLED) == 2.0
            && value(s, BACKFILLED, &[("project", "other-project")]) == 1.0
    })
    .await;
    assert_eq!(redeploys(&samples), 2.0);
    for hostile in ["project=\"\"", "project=\" \"", "project=\"../../etc\""] {
        assert!(
            !samples.keys().any(|k| k.contains(hostile)),
            "{hostile}: {samples:#?}"
        );
    }
    double.seen(|seen| {
        assert!(
            !seen
                .requests
                .iter()
                .any(|r| r.contains("/projects/%20") || r.contains("etc")),
            "{:?}",
            seen.requests
        );
    });
}

/// `extended-access` is paged: every page is read (the vendor's CLI follows `_links.next`),
/// so an account with more projects than a page holds loses none.
#[tokio::test]
async fn discovery_follows_every_page_of_projects() {
    let double = ApiDouble::start(Behaviour {
        access_page: 5,
        ..Behaviour::default()
    })
    .await;
    let projects: Vec<String> = (0..12).map(|i| format!("proj-{i:02}")).collect();
    for (i, project) in projects.iter().enumerate() {
        let mut activities = old(&format!("p{i}-"), 1);
        activities[0]["project"] = json!(project);
        double.add(project, activities);
    }
    let flags = double.flags("");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let app = spawn_app(&flags).await;
    let samples = until(&app, "every project of every page", |s| {
        projects
            .iter()
            .all(|p| value(s, BACKFILLED, &[("project", p)]) == 1.0)
    })
    .await;
    for project in &projects {
        assert_eq!(
            value(&samples, BACKFILLED, &[("project", project)]),
            1.0,
            "{project}"
        );
    }
    double.seen(|seen| {
        let pages: Vec<&String> = seen
            .requests
            .iter()
            .filter(|r| r.contains("extended-access"))
            .collect();
        for page in ["page=1", "page=2", "page=3"] {
            assert!(pages.iter().any(|r| r.ends_with(page)), "{page}: {pages:?}");
        }
        assert!(!pages.iter().any(|r| r.ends_with("page=4")), "{pages:?}");
    });
}

/// Missed means missed: with the project's webhook integration readable and sending only
/// `complete` activities (the default), a cancelled activity polling finds was never meant to
/// be delivered: it is counted apart, and only the complete one is a missed delivery. A
/// project whose integrations cannot be read counts both, as before, and says so.
#[tokio::test]
async fn only_what_an_integration_should_have_sent_counts_as_missed() {
    const OTHER: &str = "other-project";
    const UNSENT: &str = "platformsh_exporter_unsent_activities_total";
    let mut integrations = HashMap::new();
    integrations.insert(
        PROJECT.to_owned(),
        json!([
            {"id": "w1", "type": "webhook", "url": "https://exporter.example.com/webhook",
             "events": ["*"], "states": ["complete"], "environments": ["*"],
             "excluded_environments": [], "result": "*"},
            {"id": "h1", "type": "health.email", "recipients": ["ops@example.com"]},
        ]),
    );
    let double = ApiDouble::start(Behaviour {
        integrations,
        ..Behaviour::default()
    })
    .await;
    let app = spawn(
        &double,
        &["--platformsh.projects", &format!("{PROJECT},{OTHER}")],
    )
    .await;
    // Integrations are read before the activities: wait for the whole first poll of both
    // projects, or the activities added next could be read by it, as history.
    until(&app, "a first poll", |s| {
        let polled = |project| {
            value(
                s,
                "platformsh_exporter_api_last_success_timestamp_seconds",
                &[("project", project)],
            ) > 0.0
        };
        value(
            s,
            "platformsh_exporter_api_integrations_readable",
            &[("project", PROJECT)],
        ) == 1.0
            && polled(PROJECT)
            && polled(OTHER)
    })
    .await;

    for project in [PROJECT, OTHER] {
        let mut new = recent(&format!("{project}-"), 2);
        new[1]["state"] = json!("cancelled");
        new[1]["result"] = json!("failure");
        for activity in &mut new {
            activity["project"] = json!(project);
        }
        double.add(project, new);
    }
    let samples = until(&app, "both projects polled", |s| {
        value(s, RECONCILED, &[("project", PROJECT)]) == 1.0
            && value(s, UNSENT, &[("project", PROJECT)]) == 1.0
            && value(s, RECONCILED, &[("project", OTHER)]) == 2.0
    })
    .await;
    assert_eq!(value(&samples, UNSENT, &[("project", OTHER)]), 0.0);
    let readable = |project| {
        value(
            &samples,
            "platformsh_exporter_api_integrations_readable",
            &[("project", project)],
        )
    };
    assert_eq!((readable(PROJECT), readable(OTHER)), (1.0, 0.0));
    // Both were recorded all the same: the cancelled one is a cancelled activity.
    assert_eq!(
        value(
            &samples,
            "platformsh_activities_total",
            &[
                ("project", PROJECT),
                ("environment", "main"),
                ("environment_type", "production"),
                ("type", "environment.redeploy"),
                ("result", "cancelled"),
            ]
        ),
        1.0
    );
}

#[tokio::test]
async fn a_refused_api_token_is_reported_and_webhooks_keep_working() {
    let double = ApiDouble::start(Behaviour::default()).await;
    let mut flags = double.flags(PROJECT);
    let at = flags.iter().position(|f| f == API_TOKEN).unwrap();
    flags[at] = "not-the-token".into();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let app = spawn_app(&flags).await;
    let samples = until(&app, "a refused exchange", |s| {
        value(
            s,
            "platformsh_exporter_api_requests_total",
            &[("endpoint", "token"), ("code", "400")],
        ) >= 1.0
    })
    .await;
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_api_last_success_timestamp_seconds",
            &[("project", PROJECT)]
        ),
        0.0
    );
    assert_eq!(
        app.post(fixture("push-success-seed.json")).await.status,
        202
    );
}

#[tokio::test]
async fn a_hanging_api_does_not_hold_up_webhook_deliveries() {
    let double = ApiDouble::start(Behaviour {
        delay: Duration::from_secs(3600),
        ..Behaviour::default()
    })
    .await;
    double.add(PROJECT, old("h", 1));
    let app = spawn(&double, &[]).await;
    // The poller is waiting on its first listing.
    until(&app, "a poll in flight", |_| {
        double.seen(|s| s.exchanges) >= 1
    })
    .await;
    for n in 0..5 {
        let mut body: Value = serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
        body["id"] = json!(format!("during-{n}"));
        let answer = tokio::time::timeout(Duration::from_secs(5), app.post(body.to_string()))
            .await
            .expect("a delivery answered while the API hangs");
        assert_eq!(answer.status, 202);
    }
}

#[test]
fn the_api_token_never_shows_in_help_or_in_the_configuration_s_debug_output() {
    use clap::CommandFactory;
    use platformsh_exporter::Config;
    let command = Config::command();
    let token = command
        .get_arguments()
        .find(|a| a.get_long() == Some("platformsh.api-token"))
        .unwrap();
    assert!(token.is_hide_env_values_set());
    let config = <Config as clap::Parser>::parse_from([
        "platformsh-exporter",
        "--platformsh.api-token",
        "very-secret-token",
    ]);
    assert!(!format!("{config:?}").contains("very-secret-token"));
}

/// A server on its own loopback port that counts the requests it gets and answers `answer`.
async fn counting_server(
    answer: impl Fn() -> axum::response::Response + Clone + Send + Sync + 'static,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&hits);
    let router = axum::Router::new().fallback(move || {
        let answer = answer.clone();
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move { answer() }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, hits)
}

#[tokio::test]
async fn the_api_token_does_not_follow_a_redirect_to_another_origin() {
    use axum::response::IntoResponse;
    let double = ApiDouble::start(Behaviour::default()).await;
    let (thief, stolen) = counting_server(|| axum::http::StatusCode::OK.into_response()).await;
    for status in [307_u16, 308, 302] {
        let to = format!("{thief}/oauth2/token");
        let (auth, redirected) = counting_server(move || {
            let status = axum::http::StatusCode::from_u16(status).unwrap();
            (status, [(axum::http::header::LOCATION, to.clone())]).into_response()
        })
        .await;
        let mut flags = double.flags(PROJECT);
        let at = flags
            .iter()
            .position(|f| f == "--platformsh.auth-url")
            .unwrap();
        flags[at + 1] = auth;
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let app = spawn_app(&flags).await;
        let code = status.to_string();
        until(&app, "a refused redirect", |s| {
            value(
                s,
                "platformsh_exporter_api_requests_total",
                &[("endpoint", "token"), ("code", &code)],
            ) >= 1.0
        })
        .await;
        assert!(redirected.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        assert_eq!(
            stolen.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{status}"
        );
    }
}

const UNREAD: &str = "platformsh_exporter_api_unread_seconds";

/// Whether every one of `n` redeploys was taken in, and none twice (`backfilled` of them as
/// history), with nothing left unread.
fn exactly_once(samples: &Samples, n: f64, backfilled: f64) -> bool {
    redeploys(samples) == n
        && counter(samples, BACKFILLED) == backfilled
        && counter(samples, RECONCILED) == n - backfilled
        && counter(samples, UNREAD) == 0.0
}

/// Waits for two more polls, then checks that they changed nothing.
async fn settled(app: &TestApp, double: &ApiDouble, n: f64, backfilled: f64) {
    let listings = double.seen(|s| s.listings);
    until(app, "two more polls", |_| {
        double.seen(|s| s.listings) >= listings + 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let samples = app.scrape().await;
    assert!(exactly_once(&samples, n, backfilled), "{samples:#?}");
}

#[tokio::test]
async fn a_backfill_past_the_page_limit_goes_on_at_the_next_polls_and_after_a_restart() {
    let double = ApiDouble::start(Behaviour {
        page_cap: 5,
        ..Behaviour::default()
    })
    .await;
    double.add(PROJECT, old("h", 60));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db").to_str().unwrap().to_owned();
    let flags = [
        "--storage.path",
        &path,
        "--platformsh.max-pages-per-poll",
        "3",
    ];
    let app = spawn(&double, &flags).await;
    // Each poll reads three pages: the first is cut at the limit, and says so once it ends.
    let partial = until(&app, "part of the backfill", |s| {
        counter(s, BACKFILLED) >= 5.0 && counter(s, UNREAD) > 86_400.0
    })
    .await;
    assert!(counter(&partial, BACKFILLED) < 60.0, "{partial:#?}");
    let page = app.get("/").await.body;
    assert!(
        page.contains("days of activity history not read yet"),
        "{page}"
    );
    app.stop().await.unwrap();

    let app = spawn(&double, &flags).await;
    until(&app, "the whole backfill", |s| exactly_once(s, 60.0, 60.0)).await;
    settled(&app, &double, 60.0, 60.0).await;
}

#[tokio::test]
async fn an_empty_page_from_the_api_does_not_end_a_walk() {
    let double = ApiDouble::start(Behaviour {
        page_cap: 10,
        empty_listings: vec![2],
        ..Behaviour::default()
    })
    .await;
    double.add(PROJECT, old("h", 100));
    let app = spawn(&double, &[]).await;
    until(&app, "the whole backfill", |s| {
        exactly_once(s, 100.0, 100.0)
    })
    .await;
    settled(&app, &double, 100.0, 100.0).await;
}

#[tokio::test]
async fn far_future_and_missing_creation_times_do_not_end_a_walk() {
    let double = ApiDouble::start(Behaviour {
        page_cap: 10,
        ..Behaviour::default()
    })
    .await;
    // Newest first, the first page holds an activity without a creation time and nine from
    // the year 9999, and only then comes the history.
    let mut undated = redeploy("undated", chrono::Utc::now() - chrono::Duration::days(2));
    undated["created_at"] = Value::Null;
    let far: chrono::DateTime<chrono::Utc> = "9999-01-01T00:00:00Z".parse().unwrap();
    let future =
        (0..9).map(|i| redeploy(&format!("future-{i}"), far - chrono::Duration::minutes(i)));
    double.add(PROJECT, [undated]);
    double.add(PROJECT, future);
    double.add(PROJECT, old("h", 50));
    let app = spawn(&double, &[]).await;
    // The ten without a believable creation time are not history: counted as reconciled.
    until(&app, "every activity", |s| exactly_once(s, 60.0, 50.0)).await;
    settled(&app, &double, 60.0, 50.0).await;
}

#[tokio::test]
async fn an_activity_unfinished_for_days_is_read_again_alone_not_with_the_window_since() {
    let double = ApiDouble::start(Behaviour {
        page_cap: 10,
        ..Behaviour::default()
    })
    .await;
    let mut stuck = redeploy("stuck", chrono::Utc::now() - chrono::Duration::days(4));
    stuck["state"] = json!("in_progress");
    stuck["result"] = Value::Null;
    stuck["completed_at"] = Value::Null;
    double.add(PROJECT, [stuck.clone()]);
    // 50 finished ones created since: five pages.
    double.add(PROJECT, old("h", 50));
    let app = spawn(&double, &[]).await;
    until(&app, "the backfill", |s| counter(s, BACKFILLED) == 50.0).await;

    // Each later poll reads its own top (one page) and the stuck activity's place (one page),
    // not the five pages since it was created.
    let before = double.seen(|s| s.requests.len());
    until(&app, "three more polls", |_| {
        double.seen(|s| {
            s.requests[before..]
                .iter()
                .filter(|r| r.contains("/activities") && !r.contains("starts_at"))
                .count()
                >= 3
        })
    })
    .await;
    let (polls, listings) = double.seen(|s| {
        let listings: Vec<&String> = s.requests[before..]
            .iter()
            .filter(|r| r.contains("/activities"))
            .collect();
        let polls = listings.iter().filter(|r| !r.contains("starts_at")).count();
        (polls, listings.len())
    });
    assert!(
        listings <= 2 * polls + 2,
        "{listings} listings in {polls} polls"
    );

    // Once it finishes, the next poll takes it in.
    stuck["state"] = json!("complete");
    stuck["result"] = json!("success");
    stuck["completed_at"] = stuck["updated_at"].clone();
    double.replace(PROJECT, stuck);
    until(&app, "the finished one", |s| exactly_once(s, 51.0, 51.0)).await;
    settled(&app, &double, 51.0, 51.0).await;
}

/// The last complete poll of `project` (seconds), 0 before the first.
fn last_poll(samples: &Samples, project: &str) -> f64 {
    value(
        samples,
        "platformsh_exporter_api_last_success_timestamp_seconds",
        &[("project", project)],
    )
}

/// Waits for the poll after the one `samples` show to complete, and returns its samples.
async fn next_poll(app: &TestApp, samples: &Samples) -> Samples {
    let before = last_poll(samples, PROJECT);
    until(app, "the next poll", |s| last_poll(s, PROJECT) > before).await
}

/// API-only mode: no webhook at all. Each activity shows at the first poll that starts after
/// it changed, an unfinished one too (and then finished), and none counts as missed.
#[tokio::test]
async fn api_only_shows_each_activity_at_the_next_poll_and_counts_none_missed() {
    let double = ApiDouble::start(Behaviour::default()).await;
    let app = spawn(&double, &["--platformsh.api-only"]).await;
    let first = until(&app, "a first poll", |s| last_poll(s, PROJECT) > 0.0).await;
    let mode = |s: &Samples, mode: &str| {
        value(
            s,
            "platformsh_exporter_delivery_mode",
            &[("project", PROJECT), ("mode", mode)],
        )
    };
    assert_eq!(
        (mode(&first, "api_only"), mode(&first, "webhook")),
        (1.0, 0.0)
    );

    let mut running = recent("running", 1).remove(0);
    running["state"] = json!("in_progress");
    running["result"] = json!(null);
    running["completed_at"] = json!(null);
    let mut failed = recent("failed", 1).remove(0);
    failed["result"] = json!("failure");
    double.add(PROJECT, [running.clone(), failed]);
    // The poll under way may have listed before they were added; the one after it has not.
    let samples = next_poll(&app, &next_poll(&app, &first).await).await;
    let main = [("project", PROJECT), ("environment", "main")];
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &main),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_activities_unfinished",
            &[main[0], main[1], ("state", "in_progress")]
        ),
        1.0
    );

    // It finishes: the next poll but one sees it finished, and no longer unfinished.
    let mut finished = running;
    finished["state"] = json!("complete");
    finished["result"] = json!("success");
    // Later than the failure, so that it is the environment's last deployment.
    let now = json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false));
    finished["completed_at"] = now.clone();
    finished["updated_at"] = now;
    double.replace(PROJECT, finished);
    let samples = next_poll(&app, &next_poll(&app, &samples).await).await;
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &main),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_activities_unfinished",
            &[main[0], main[1], ("state", "in_progress")]
        ),
        0.0
    );
    // Three states taken in, none of them missed.
    let counted = |name: &str| value(&samples, name, &[("project", PROJECT)]);
    assert_eq!(counted("platformsh_exporter_unsent_activities_total"), 3.0);
    assert_eq!(counted(RECONCILED), 0.0);
    // The integrations were not asked for: the flag says there is no webhook.
    let asked = double.seen(|s| s.requests.iter().any(|r| r.contains("/integrations")));
    assert!(!asked);
    let page = app.get("/").await;
    assert!(page.body.contains("API-only"), "{}", page.body);
}

/// With --webhook.public-url, an integration pointing elsewhere is not this exporter's: the
/// project is in API-only mode, found from its integrations, and nothing is missed.
#[tokio::test]
async fn an_integration_pointing_elsewhere_is_not_ours() {
    let mut integrations = HashMap::new();
    integrations.insert(
        PROJECT.to_owned(),
        json!([{"id": "chat", "type": "webhook", "url": "https://chat.example.com/hook",
                "states": ["*"]}]),
    );
    let double = ApiDouble::start(Behaviour {
        integrations,
        ..Behaviour::default()
    })
    .await;
    let app = spawn(
        &double,
        &[
            "--webhook.public-url",
            "https://exporter.example.com/webhook",
        ],
    )
    .await;
    let first = until(&app, "a first poll", |s| last_poll(s, PROJECT) > 0.0).await;
    double.add(PROJECT, recent("elsewhere", 2));
    let samples = next_poll(&app, &next_poll(&app, &first).await).await;
    let samples = next_poll(&app, &samples).await;
    let counted = |name: &str| value(&samples, name, &[("project", PROJECT)]);
    assert_eq!(counted("platformsh_exporter_unsent_activities_total"), 2.0);
    assert_eq!(counted(RECONCILED), 0.0);
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_delivery_mode",
            &[("project", PROJECT), ("mode", "api_only")]
        ),
        1.0
    );
}
