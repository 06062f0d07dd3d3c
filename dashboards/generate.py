#!/usr/bin/env python3
"""Writes the Grafana dashboards of the monitoring bundle: overview.json and deployments.json.

The dashboards are generated so that every panel gets the same datasource, units, descriptions
and cross-instance aggregation; run `python3 dashboards/generate.py` after editing, and commit
both this file and its output. The tests read the JSON, not this script.
"""

import json
import pathlib

DS = {"type": "prometheus", "uid": "${datasource}"}
# Label filters of the template variables. `environment` only where the family has that label.
SEL = 'project=~"$project", environment=~"$environment", environment_type=~"$environment_type"'
SEL_NO_ENV = 'project=~"$project", environment_type=~"$environment_type"'
# The last-deployment gauges carry project and environment only.
ENV = 'project=~"$project", environment=~"$environment"'
# Adds the project's `title` label where reconciliation exports platformsh_project_info; a
# project without one keeps its id alone (the right side falls back to 1 per project).
WITH_TITLE = (
    " * on (project) group_left (title, organization)"
    " (max by (project, title, organization) (platformsh_project_info)"
    " or on (project) (max by (project) (platformsh_last_activity_timestamp_seconds) * 0 + 1))"
)
# The console page of an environment, from the organization name platformsh_project_info gives.
CONSOLE_LINK = {
    "id": "links",
    "value": [
        {
            "title": "Open in the Platform.sh console",
            "url": "${console}/${__data.fields.organization}/${__data.fields.project}/${__data.fields.environment}",
            "targetBlank": True,
        }
    ],
}
# The exporter's default --deployment.types (changes) and --deployment.restart-types
# (restarts): the panels of (re)deployments' durations and failure reasons show both (a test
# checks that they agree).
DEPLOY_TYPES = (
    "environment.push|environment.merge|environment.merge-pr|environment.activate|"
    "environment.branch|environment.synchronize|environment.restore|environment.deploy|"
    "environment.initialize|environment.source-operation|environment.variable.create|"
    "environment.variable.update|environment.variable.delete|"
    "environment.redeploy|environment.resume|environment.resources.update|"
    "environment.certificate.renewal|environment.subscription.update"
)


class Layout:
    """Places panels left to right, 24 columns wide, in rows."""

    def __init__(self):
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1
        self.panels = []

    def add(self, panel, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel["id"] = self.next_id
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)
        self.panels.append(panel)

    def row(self, title):
        self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        self.add({"type": "row", "title": title, "collapsed": False, "panels": []}, 24, 1)
        self.x, self.y, self.row_h = 0, self.y + 1, 0


def target(expr, legend="", ref="A", instant=False, fmt=None):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        t["instant"] = True
        t["range"] = False
    if fmt:
        t["format"] = fmt
    return t


def timeseries(title, description, unit, targets, stack=False):
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": {
                    "drawStyle": "line",
                    "lineWidth": 1,
                    "fillOpacity": 10,
                    "spanNulls": True,
                    "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                },
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets,
    }


def stat(title, description, unit, targets, thresholds=None):
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": {
                    "mode": "absolute",
                    "steps": thresholds or [{"color": "green", "value": None}],
                },
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        },
        "targets": targets,
    }


def level(title, description, expr, ranges):
    """A stat that shows which DORA performance level a value falls in: `ranges` are
    (from, to, level) with None for an open end."""
    colors = {"elite": "green", "high": "blue", "medium": "orange", "low": "red"}
    panel = stat(title, description, "none", [target(expr, "level", instant=True)])
    panel["fieldConfig"]["defaults"]["mappings"] = [
        {
            "type": "range",
            "options": {
                "from": low,
                "to": high,
                "result": {"text": name, "color": colors[name], "index": i},
            },
        }
        for i, (low, high, name) in enumerate(ranges)
    ]
    panel["options"]["colorMode"] = "background"
    panel["options"]["graphMode"] = "none"
    return panel


def table(title, description, targets, overrides, organize):
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": "short"}, "overrides": overrides},
        "options": {"showHeader": True, "cellHeight": "sm"},
        "targets": targets,
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": organize},
        ],
    }


def unit_override(column, unit, extra=None):
    props = [{"id": "unit", "value": unit}]
    props.extend(extra or [])
    return {"matcher": {"id": "byName", "options": column}, "properties": props}


def variables(with_environment=True):
    def query_var(name, label, query, regex=""):
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DS,
            "definition": query,
            "query": {"query": query, "refId": f"{name}-query"},
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "refresh": 2,
            "sort": 1,
            "hide": 0,
            "regex": regex,
        }

    out = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
            "regex": "",
        },
        # Project ids, shown by title where reconciliation exports platformsh_project_info.
        query_var(
            "project",
            "Project",
            "query_result(max by (project, title) (platformsh_project_info)"
            " or on (project) max by (project) (platformsh_last_activity_timestamp_seconds))",
            '/project="(?<value>[^"]*)"(?:.*title="(?<text>[^"]*)")?/',
        ),
        query_var(
            "environment_type",
            "Environment type",
            'label_values(platformsh_activities_total{project=~"$project"}, environment_type)',
        ),
    ]
    # Where the console links point: Upsun's console, or https://console.platform.sh.
    out.append(
        {
            "name": "console",
            "label": "Console",
            "type": "textbox",
            "query": "https://console.upsun.com",
            "current": {"selected": False, "text": "https://console.upsun.com", "value": "https://console.upsun.com"},
            "hide": 2,
        }
    )
    if with_environment:
        out.append(
            query_var(
                "environment",
                "Environment",
                'label_values(platformsh_activities_total{project=~"$project", '
                'environment_type=~"$environment_type"}, environment)',
            )
        )
    return out


def annotations():
    """A marker per finished deployment of the selected environments, failed ones in red."""

    def deployments(name, result, color):
        return {
            "name": name,
            "datasource": DS,
            "enable": True,
            "hide": False,
            "iconColor": color,
            "expr": (
                "sum by (project, environment) (increase(platformsh_deployments_total"
                f'{{result="{result}", project=~"$project", environment=~"$environment"}}[2m])) > 0'
            ),
            "step": "1m",
            "titleFormat": f"Deployment {result}",
            "textFormat": "{{project}}/{{environment}}",
            "tagKeys": "project,environment",
            "useValueForTime": False,
        }

    return [
        deployments("Successful deployments", "success", "green"),
        deployments("Failed deployments", "failure", "red"),
    ]


def dashboard(uid, title, description, panels, with_environment=True):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["platformsh", "deployments"],
        "timezone": "",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-7d", "to": "now"},
        "refresh": "1m",
        "links": [
            {
                "type": "dashboards",
                "tags": ["platformsh"],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "title": "Platform.sh",
            }
        ],
        "annotations": {"list": annotations()},
        "templating": {"list": variables(with_environment)},
        "panels": panels,
    }


def overview():
    L = Layout()
    L.row("Activities")
    L.add(
        timeseries(
            "Activities per hour by type and result",
            "Finished activities (complete or cancelled) per hour, by activity type and result.",
            "short",
            [
                target(
                    f"sum by (type, result) (rate(platformsh_activities_total{{{SEL}}}[$__rate_interval])) * 3600",
                    "{{type}} {{result}}",
                )
            ],
            stack=True,
        ),
        16,
        8,
    )
    L.add(
        stat(
            "Failure ratio",
            "Failed finished activities over all finished activities, over the dashboard's time range.",
            "percentunit",
            [
                target(
                    f'(sum(increase(platformsh_activities_total{{result="failure", {SEL}}}[$__range])) or vector(0))'
                    f" / sum(increase(platformsh_activities_total{{{SEL}}}[$__range]))",
                    "failure ratio",
                    instant=True,
                )
            ],
            [
                {"color": "green", "value": None},
                {"color": "orange", "value": 0.1},
                {"color": "red", "value": 0.25},
            ],
        ),
        8,
        8,
    )
    L.add(
        timeseries(
            "Duration by type (p50, p95)",
            "Time from started_at to completed_at of finished activities.",
            "s",
            [
                target(
                    "histogram_quantile(0.5, sum by (type, le) (rate(platformsh_activity_duration_seconds_bucket"
                    f"{{{SEL_NO_ENV}}}[$__rate_interval])))",
                    "p50 {{type}}",
                    "A",
                ),
                target(
                    "histogram_quantile(0.95, sum by (type, le) (rate(platformsh_activity_duration_seconds_bucket"
                    f"{{{SEL_NO_ENV}}}[$__rate_interval])))",
                    "p95 {{type}}",
                    "B",
                ),
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Queue time by type (p50, p95)",
            "Time from created_at to started_at: how long activities waited before running.",
            "s",
            [
                target(
                    "histogram_quantile(0.5, sum by (type, le) (rate(platformsh_activity_wait_seconds_bucket"
                    f"{{{SEL_NO_ENV}}}[$__rate_interval])))",
                    "p50 {{type}}",
                    "A",
                ),
                target(
                    "histogram_quantile(0.95, sum by (type, le) (rate(platformsh_activity_wait_seconds_bucket"
                    f"{{{SEL_NO_ENV}}}[$__rate_interval])))",
                    "p95 {{type}}",
                    "B",
                ),
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Phase times (mean)",
            "Mean time spent in each phase reported in the activities' timings: wait, build, deploy. Platform.sh's execute time spans the whole run (it overlaps build and deploy), so it is not shown beside them (the metric keeps it, as phase=\"execute\").",
            "s",
            [
                target(
                    f'sum by (phase) (rate(platformsh_activity_phase_seconds_sum{{phase!="execute", {SEL_NO_ENV}}}[$__rate_interval]))'
                    f' / sum by (phase) (rate(platformsh_activity_phase_seconds_count{{phase!="execute", {SEL_NO_ENV}}}[$__rate_interval]))',
                    "{{phase}}",
                )
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Commits per push (mean)",
            "Mean number of commits per finished environment.push.",
            "short",
            [
                target(
                    f"sum by (environment_type) (rate(platformsh_push_commits_sum{{{SEL_NO_ENV}}}[$__rate_interval]))"
                    f" / sum by (environment_type) (rate(platformsh_push_commits_count{{{SEL_NO_ENV}}}[$__rate_interval]))",
                    "{{environment_type}}",
                )
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Activities unfinished",
            "Activities last seen pending, scheduled, staged or in progress (needs an integration that sends those states).",
            "short",
            [
                target(
                    'sum by (project, environment, state) (platformsh_activities_unfinished{project=~"$project", environment=~"$environment"})',
                    "{{project}} {{environment}} {{state}}",
                )
            ],
            stack=True,
        ),
        12,
        8,
    )
    L.row("Environments and projects")
    L.add(
        table(
            "Last deployment of every environment",
            "Result and age of the latest deployment of each environment. With several exporter replicas, the newest deployment wins.",
            [
                target(
                    # With replicas, each saw different deliveries: take the success flag of the
                    # instance holding the newest deployment (a tie counts as failed).
                    f"min by (project, environment) (platformsh_last_deployment_success{{{ENV}}}"
                    f" and on (project, environment, instance) (platformsh_last_deployment_timestamp_seconds{{{ENV}}}"
                    " == on (project, environment) group_left"
                    f" max by (project, environment) (platformsh_last_deployment_timestamp_seconds{{{ENV}}})))"
                    + WITH_TITLE,
                    ref="A",
                    instant=True,
                    fmt="table",
                ),
                target(
                    f"(time() - max by (project, environment) (platformsh_last_deployment_timestamp_seconds{{{ENV}}}))"
                    + WITH_TITLE,
                    ref="B",
                    instant=True,
                    fmt="table",
                ),
            ],
            [
                unit_override(
                    "Last result",
                    "none",
                    [
                        {
                            "id": "mappings",
                            "value": [
                                {"type": "value", "options": {"0": {"text": "failed", "color": "red"}, "1": {"text": "succeeded", "color": "green"}}}
                            ],
                        },
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                    ],
                ),
                unit_override("Age", "s"),
                {"matcher": {"id": "byName", "options": "Environment"}, "properties": [CONSOLE_LINK]},
            ],
            {
                "excludeByName": {"Time": True},
                "renameByName": {"Value #A": "Last result", "Value #B": "Age", "project": "Project", "environment": "Environment", "title": "Title", "organization": "Organization"},
            },
        ),
        14,
        10,
    )
    L.add(
        table(
            "Projects by silence",
            "Time since the latest activity of each project, longest first: a project that used to be busy and went silent may have lost its webhook integration.",
            [
                target(
                    'sort_desc((time() - max by (project) (platformsh_last_activity_timestamp_seconds{project=~"$project"}))'
                    + WITH_TITLE
                    + ")",
                    ref="A",
                    instant=True,
                    fmt="table",
                )
            ],
            [unit_override("Silent for", "s")],
            {"excludeByName": {"Time": True}, "renameByName": {"Value": "Silent for", "project": "Project", "title": "Title"}},
        ),
        10,
        10,
    )
    L.row("Exporter")
    L.add(
        timeseries(
            "Webhook deliveries by outcome",
            "Deliveries received per second by the exporters, by outcome: accepted, duplicate, invalid, too_large, unauthorized.",
            "reqps",
            [
                target(
                    "sum by (outcome) (rate(platformsh_exporter_webhooks_total[$__rate_interval]))",
                    "{{outcome}}",
                )
            ],
            stack=True,
        ),
        12,
        7,
    )
    L.add(
        timeseries(
            "Missed webhook deliveries",
            "Activities the Platform.sh API listed that a webhook should have delivered and had not (reconciliation), per hour and project, beside those the webhook delivered and those polling found that no webhook integration sends (API-only projects: all of them). Missed rising while deliveries stay at zero: the webhook integration is broken or missing. API-only projects have no missed line. Needs --platformsh.api-token-file.",
            "short",
            [
                target(
                    'sum by (project) (increase(platformsh_exporter_reconciled_activities_total{project=~"$project"}[1h]))'
                    ' unless on (project) max by (project) (platformsh_exporter_delivery_mode{mode="api_only", project=~"$project"}) == 1',
                    "{{project}} missed",
                ),
                target(
                    'sum by (project) (increase(platformsh_exporter_delivered_activities_total{project=~"$project"}[1h]))',
                    "{{project}} delivered",
                    ref="B",
                ),
                target(
                    'sum by (project) (increase(platformsh_exporter_unsent_activities_total{project=~"$project"}[1h]))',
                    "{{project}} polled, not sent",
                    ref="C",
                ),
            ],
        ),
        12,
        7,
    )
    L.add(
        timeseries(
            "Store commit time",
            "Time to write and fsync one commit of the activity store (durable mode), which every answered delivery waits for: a slow or stalling disk shows here first.",
            "s",
            [
                target(
                    "histogram_quantile(0.99, sum by (le) (rate(platformsh_exporter_store_commit_duration_seconds_bucket[$__rate_interval])))",
                    "p99",
                ),
                target(
                    "histogram_quantile(0.5, sum by (le) (rate(platformsh_exporter_store_commit_duration_seconds_bucket[$__rate_interval])))",
                    "median",
                    ref="B",
                ),
            ],
        ),
        6,
        7,
    )
    L.add(
        timeseries(
            "Deliveries per store commit",
            "Average number of deliveries (and other writes) grouped into one commit of the activity store: how much group commit is saving.",
            "none",
            [
                target(
                    "sum(rate(platformsh_exporter_store_commit_batch_size_sum[$__rate_interval])) / sum(rate(platformsh_exporter_store_commit_batch_size_count[$__rate_interval]))",
                    "deliveries per commit",
                )
            ],
        ),
        6,
        7,
    )
    return dashboard(
        "platformsh-overview",
        "Platform.sh / Overview",
        "Activities received from Platform.sh webhooks: rates, results, durations, queues and the state of every environment.",
        L.panels,
    )


def deployments():
    L = Layout()
    rec = 'project=~"$project", environment_type=~"$environment_type"'
    L.row("DORA")
    L.add(
        stat(
            "Production deployments per day",
            "Finished (successful or failed) deployments of production environments over the last day.",
            "short",
            [
                target(
                    f'sum(project_environment_type:platformsh_deployments:increase1d{{project=~"$project", environment_type="production"}}) or vector(0)',
                    "per day",
                    instant=True,
                )
            ],
        ),
        6,
        5,
    )
    L.add(
        stat(
            "Production deployments per week",
            "Finished deployments of production environments over the last 7 days.",
            "short",
            [
                target(
                    'sum(increase(platformsh_deployments_total{project=~"$project", environment=~"$environment", environment_type="production", result=~"success|failure"}[7d])) or vector(0)',
                    "per week",
                    instant=True,
                )
            ],
        ),
        6,
        5,
    )
    L.add(
        stat(
            "Change failure rate",
            "DORA's change failure rate over the last day. From incidents where any exist for the selection: successful production changes followed by an incident (Alertmanager, see README, Incidents) over successful production changes (recording rule project_environment_type:platformsh_change_failure:ratio1d's parts). Otherwise the proxy: failed deployments over finished deployments of the selected environment types (a failed deployment is one signal of a change failure, not all of them).",
            "percentunit",
            [
                target(
                    f'(sum(project_environment_type:platformsh_change_failures:increase1d{{{rec}, environment_type="production"}})'
                    f' / (sum(project_environment_type:platformsh_deployments_succeeded:increase1d{{{rec}, environment_type="production"}}) > 0))'
                    f" or ((sum(project_environment_type:platformsh_deployments_failed:increase1d{{{rec}}}) or vector(0))"
                    f" / sum(project_environment_type:platformsh_deployments:increase1d{{{rec}}}))",
                    "change failure rate",
                    instant=True,
                )
            ],
            [
                {"color": "green", "value": None},
                {"color": "orange", "value": 0.15},
                {"color": "red", "value": 0.3},
            ],
        ),
        6,
        5,
    )
    L.add(
        stat(
            "Time to restore (mean, 7 days)",
            "DORA's time to restore over the last 7 days. From incidents where any resolved for the selection: the mean time from an incident's start to its resolution (platformsh_incident_restore_seconds). Otherwise the proxy: the mean time from the first failed deployment of an environment to its next successful one.",
            "s",
            [
                target(
                    f"(sum(project_environment_type:platformsh_incident_restore_seconds_sum:increase7d{{{rec}}})"
                    f" / (sum(project_environment_type:platformsh_incident_restore_seconds_count:increase7d{{{rec}}}) > 0))"
                    f" or (sum(project_environment_type:platformsh_deployment_recovery_seconds_sum:increase7d{{{rec}}})"
                    f" / sum(project_environment_type:platformsh_deployment_recovery_seconds_count:increase7d{{{rec}}}))",
                    "mean",
                    instant=True,
                )
            ],
        ),
        6,
        5,
    )
    L.add(
        stat(
            "Lead time for changes (median, 30 days)",
            "For the commits delivered to production over the last 30 days: the median time from the push that first listed a commit to the completion of the production deployment that delivered it (platformsh_change_lead_time_seconds; see README, Lead time).",
            "s",
            [
                target(
                    "histogram_quantile(0.5, sum by (le) (increase(platformsh_change_lead_time_seconds_bucket"
                    '{project=~"$project"}[30d])))',
                    "median",
                    instant=True,
                )
            ],
        ),
        6,
        5,
    )
    # DORA rates production: preview and staging deployments would inflate the levels, so these
    # panels ignore the environment type variable.
    PROD = 'project=~"$project", environment=~"$environment", environment_type="production"'
    PROD_NO_ENV = 'project=~"$project", environment_type="production"'
    L.row("DORA performance levels (last 30 days, production)")
    L.add(
        level(
            "Deployment frequency",
            "Finished deployments of a change to production per day over the last 30 days, for the selected projects (production only, whatever the environment type variable says: previews would inflate the level; restarts are not deployments). DORA 2021 (State of DevOps report): elite on demand (several a day), high between once a week and once a month, medium between once a month and once every six months, low less than once every six months. Shown: elite at 1 a day or more, high at 1 a month or more, medium at 1 every six months or more, low below.",
            f'sum(increase(platformsh_deployments_total{{result=~"success|failure", {PROD}}}[30d])) / 30',
            [(1, None, "elite"), (1 / 30, 1, "high"), (1 / 180, 1 / 30, "medium"), (0, 1 / 180, "low")],
        ),
        6,
        4,
    )
    L.add(
        level(
            "Lead time for changes",
            "Median lead time of the commits delivered to production in the last 30 days. DORA 2021: elite less than an hour, high between a day and a week, medium between a month and six months, low more than six months. Shown: elite under an hour, high under a week, medium under six months, low beyond.",
            "histogram_quantile(0.5, sum by (le) (increase(platformsh_change_lead_time_seconds_bucket"
            '{project=~"$project"}[30d])))',
            [(0, 3600, "elite"), (3600, 604800, "high"), (604800, 15552000, "medium"), (15552000, None, "low")],
        ),
        6,
        4,
    )
    L.add(
        level(
            "Time to restore",
            "Mean time to restore service on production over the last 30 days: from incidents where any resolved (start to resolution, platformsh_incident_restore_seconds; see README, Incidents), else the proxy, from a first failed deployment to the next successful one of the same production environment. DORA 2021: elite less than an hour, high less than a day, medium between a day and a week, low more than six months. Shown: elite under an hour, high under a day, medium under a week, low beyond.",
            f"(sum(increase(platformsh_incident_restore_seconds_sum{{{PROD_NO_ENV}}}[30d]))"
            f" / (sum(increase(platformsh_incident_restore_seconds_count{{{PROD_NO_ENV}}}[30d])) > 0))"
            f" or (sum(increase(platformsh_deployment_recovery_seconds_sum{{{PROD_NO_ENV}}}[30d]))"
            f" / sum(increase(platformsh_deployment_recovery_seconds_count{{{PROD_NO_ENV}}}[30d])))",
            [(0, 3600, "elite"), (3600, 86400, "high"), (86400, 604800, "medium"), (604800, None, "low")],
        ),
        6,
        4,
    )
    L.add(
        level(
            "Change failure rate",
            "Change failure rate on production over the last 30 days: from incidents where any exist (successful changes followed by an incident, over successful changes; see README, Incidents), else the proxy, failed over finished deployments of a change. DORA 2021: elite 0-15 %, high, medium and low 16-30 %. Shown: elite up to 15 %, high up to 30 %, medium up to 45 %, low above (the last two extend the published ranges).",
            f"(sum(increase(platformsh_change_failures_total{{{PROD}}}[30d]))"
            f' / (sum(increase(platformsh_deployments_total{{result="success", {PROD}}}[30d])) > 0))'
            f' or ((sum(increase(platformsh_deployments_total{{result="failure", {PROD}}}[30d])) or vector(0))'
            f' / sum(increase(platformsh_deployments_total{{result=~"success|failure", {PROD}}}[30d])))',
            [(0, 0.15, "elite"), (0.15, 0.30, "high"), (0.30, 0.45, "medium"), (0.45, None, "low")],
        ),
        6,
        4,
    )
    L.row("Trends")
    L.add(
        timeseries(
            "Lead time for changes (p50, p90)",
            "Lead time of the commits delivered to production over the preceding day: from the push that first listed a commit to the production deployment that delivered it (recording rules project:platformsh_change_lead_time_seconds:p50_1d and p90_1d).",
            "s",
            [
                target(
                    'max by (project) (project:platformsh_change_lead_time_seconds:p50_1d{project=~"$project"})',
                    "{{project}} p50",
                ),
                target(
                    'max by (project) (project:platformsh_change_lead_time_seconds:p90_1d{project=~"$project"})',
                    "{{project}} p90",
                    ref="B",
                ),
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Commit to production (p50)",
            "From each delivered commit's author date to the production deployment that delivered it, over the preceding day (commits without an author date are left out).",
            "s",
            [
                target(
                    "histogram_quantile(0.5, sum by (project, le) (increase(platformsh_commit_lead_time_seconds_bucket"
                    '{project=~"$project"}[1d])))',
                    "{{project}}",
                )
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Deployments per day by environment type",
            "Finished deployments over the preceding day, by environment type and result.",
            "short",
            [
                target(
                    f"sum by (environment_type, result) (increase(platformsh_deployments_total{{{SEL}}}[1d]))",
                    "{{environment_type}} {{result}}",
                )
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Deployment failure rate by environment type",
            "Failed over finished deployments in the preceding day, a proxy for DORA's change failure rate (recording rule project_environment_type:platformsh_deployment_failure:ratio1d).",
            "percentunit",
            [
                target(
                    f"max by (environment_type) (project_environment_type:platformsh_deployment_failure:ratio1d{{{rec}}})",
                    "{{environment_type}}",
                )
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Why deployments fail",
            "Failed and cancelled deployments over the preceding day, by reason: error or shell (Platform.sh's failure_reason), command (a deploy or post-deploy hook exited non-zero while the activity reported success), cancelled, unknown. Deployment types are the exporter's defaults.",
            "short",
            [
                target(
                    "sum by (reason) (increase(platformsh_activity_failures_total"
                    f'{{type=~"{DEPLOY_TYPES}", {SEL}}}[1d]))',
                    "{{reason}}",
                )
            ],
            stack=True,
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Deployment duration (p50, p95)",
            "Duration of finished deployment activities (the default deployment types).",
            "s",
            [
                target(
                    "histogram_quantile(0.5, sum by (le) (rate(platformsh_activity_duration_seconds_bucket"
                    f'{{type=~"{DEPLOY_TYPES}", {SEL_NO_ENV}}}[$__rate_interval])))',
                    "p50",
                    "A",
                ),
                target(
                    "histogram_quantile(0.95, sum by (le) (rate(platformsh_activity_duration_seconds_bucket"
                    f'{{type=~"{DEPLOY_TYPES}", {SEL_NO_ENV}}}[$__rate_interval])))',
                    "p95",
                    "B",
                ),
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Time to recover (p50)",
            "Median time from a first failed deployment to the next successful one, by environment type.",
            "s",
            [
                target(
                    "histogram_quantile(0.5, sum by (environment_type, le) (rate(platformsh_deployment_recovery_seconds_bucket"
                    f"{{{SEL_NO_ENV}}}[$__rate_interval])))",
                    "{{environment_type}}",
                )
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Open incidents",
            "Incidents firing now, by environment: Alertmanager alerts of --alertmanager.severities that name a Platform.sh project and environment (see README, Incidents).",
            "short",
            [
                target(
                    f"sum by (project, environment) (platformsh_incidents_open{{{SEL}}})",
                    "{{project}}/{{environment}}",
                )
            ],
            stack=True,
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Change failure rate from incidents (production)",
            "Successful production changes followed by an incident within --incidents.window, over successful production changes, in the preceding day (recording rule project_environment_type:platformsh_change_failure:ratio1d). Empty until the exporter receives incidents from Alertmanager.",
            "percentunit",
            [
                target(
                    'max by (project) (project_environment_type:platformsh_change_failure:ratio1d{project=~"$project", environment_type="production"})',
                    "{{project}}",
                )
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Restarts per day by environment type",
            "Finished restarts over the preceding day, by environment type and result: redeploys, resumes, resource updates (autoscaling among them), certificate renewals (--deployment.restart-types). They deliver no change, so DORA's panels leave them out, but a failed one fails its environment like a failed deployment.",
            "short",
            [
                target(
                    f"sum by (environment_type, result) (increase(platformsh_restarts_total{{{SEL}}}[1d]))",
                    "{{environment_type}} {{result}}",
                )
            ],
        ),
        12,
        8,
    )
    L.row("Per environment")
    L.add(
        table(
            "Deployments per environment",
            "Finished deployments of a change of each environment over the dashboard's time range, how many failed, and its finished restarts.",
            [
                target(
                    f'sum by (project, environment) (increase(platformsh_deployments_total{{result=~"success|failure", {SEL}}}[$__range]))',
                    ref="A",
                    instant=True,
                    fmt="table",
                ),
                target(
                    f'sum by (project, environment) (increase(platformsh_deployments_total{{result="failure", {SEL}}}[$__range]))'
                    f' or (0 * sum by (project, environment) (increase(platformsh_deployments_total{{{SEL}}}[$__range])))',
                    ref="B",
                    instant=True,
                    fmt="table",
                ),
                target(
                    f'sum by (project, environment) (increase(platformsh_restarts_total{{result=~"success|failure", {SEL}}}[$__range]))'
                    f' or (0 * sum by (project, environment) (increase(platformsh_deployments_total{{{SEL}}}[$__range])))',
                    ref="C",
                    instant=True,
                    fmt="table",
                ),
            ],
            [],
            {
                "excludeByName": {"Time": True},
                "renameByName": {"Value #A": "Deployments", "Value #B": "Failed", "Value #C": "Restarts", "project": "Project", "environment": "Environment"},
            },
        ),
        24,
        10,
    )
    return dashboard(
        "platformsh-deployments",
        "Platform.sh / Deployments (DORA)",
        "Deployment frequency, change failure rate and time to restore (from Alertmanager's incidents when the exporter receives them, else from failed deployments), lead time and deployment duration, per project and environment.",
        L.panels,
    )


if __name__ == "__main__":
    here = pathlib.Path(__file__).resolve().parent
    for name, board in (("overview.json", overview()), ("deployments.json", deployments())):
        (here / name).write_text(json.dumps(board, indent=2) + "\n")
