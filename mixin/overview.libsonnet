// The panels of Platform.sh / Overview; `s` holds the label filters (dashboards.libsonnet).
local lib = import 'lib.libsonnet';
local target = lib.target;
local timeseries = lib.timeseries;
local stat = lib.stat;
local table = lib.table;
local row = lib.row;
local panel = lib.panel;

function(s) lib.layout([
  row('Activities'),
  panel(timeseries(
    'Activities per hour by type and result',
    'Finished activities (complete or cancelled) per hour, by activity type and result.',
    'short',
    [target('sum by (type, result) (rate(platformsh_activities_total{%(sel)s}[$__rate_interval])) * 3600' % s, '{{type}} {{result}}')],
    stack=true,
  ), 16, 8),
  panel(stat(
    'Failure ratio',
    "Failed finished activities over all finished activities, over the dashboard's time range.",
    'percentunit',
    [target(
      ('(sum(increase(platformsh_activities_total{result="failure", %(sel)s}[$__range])) or vector(0))'
       + ' / sum(increase(platformsh_activities_total{%(sel)s}[$__range]))') % s,
      'failure ratio',
      instant=true,
    )],
    [{ color: 'green', value: null }, { color: 'orange', value: 0.1 }, { color: 'red', value: 0.25 }],
  ), 8, 8),
  panel(timeseries(
    'Duration by type (p50, p95)',
    'Time from started_at to completed_at of finished activities.',
    's',
    [
      target('histogram_quantile(0.5, sum by (type, le) (rate(platformsh_activity_duration_seconds_bucket{%(selNoEnv)s}[$__rate_interval])))' % s, 'p50 {{type}}', 'A'),
      target('histogram_quantile(0.95, sum by (type, le) (rate(platformsh_activity_duration_seconds_bucket{%(selNoEnv)s}[$__rate_interval])))' % s, 'p95 {{type}}', 'B'),
    ],
  ), 12, 8),
  panel(timeseries(
    'Queue time by type (p50, p95)',
    'Time from created_at to started_at: how long activities waited before running.',
    's',
    [
      target('histogram_quantile(0.5, sum by (type, le) (rate(platformsh_activity_wait_seconds_bucket{%(selNoEnv)s}[$__rate_interval])))' % s, 'p50 {{type}}', 'A'),
      target('histogram_quantile(0.95, sum by (type, le) (rate(platformsh_activity_wait_seconds_bucket{%(selNoEnv)s}[$__rate_interval])))' % s, 'p95 {{type}}', 'B'),
    ],
  ), 12, 8),
  panel(timeseries(
    'Phase times (mean)',
    "Mean time spent in each phase reported in the activities' timings: wait, build, deploy. Platform.sh's execute time spans the whole run (it overlaps build and deploy), so it is not shown beside them (the metric keeps it, as phase=\"execute\").",
    's',
    [target(
      ('sum by (phase) (rate(platformsh_activity_phase_seconds_sum{phase!="execute", %(selNoEnv)s}[$__rate_interval]))'
       + ' / sum by (phase) (rate(platformsh_activity_phase_seconds_count{phase!="execute", %(selNoEnv)s}[$__rate_interval]))') % s,
      '{{phase}}',
    )],
  ), 12, 8),
  panel(timeseries(
    'Commits per push (mean)',
    'Mean number of commits per finished environment.push.',
    'short',
    [target(
      ('sum by (environment_type) (rate(platformsh_push_commits_sum{%(selNoEnv)s}[$__rate_interval]))'
       + ' / sum by (environment_type) (rate(platformsh_push_commits_count{%(selNoEnv)s}[$__rate_interval]))') % s,
      '{{environment_type}}',
    )],
  ), 12, 8),
  panel(timeseries(
    'Activities unfinished',
    'Activities last seen pending, scheduled, staged or in progress (needs an integration that sends those states).',
    'short',
    [target('sum by (project, environment, state) (platformsh_activities_unfinished{%(env)s})' % s, '{{project}} {{environment}} {{state}}')],
    stack=true,
  ), 12, 8),

  row('Environments and projects'),
  panel(table(
    'Last deployment of every environment',
    'Result and age of the latest deployment of each environment. With several exporter replicas, the newest deployment wins.',
    [
      // With replicas, each saw different deliveries: take the success flag of the instance
      // holding the newest deployment (a tie counts as failed).
      target(
        ('min by (project, environment) (platformsh_last_deployment_success{%(env)s}'
         + ' and on (project, environment, instance) (platformsh_last_deployment_timestamp_seconds{%(env)s}'
         + ' == on (project, environment) group_left'
         + ' max by (project, environment) (platformsh_last_deployment_timestamp_seconds{%(env)s})))') % s
        + s.withTitle,
        ref='A',
        instant=true,
        format='table',
      ),
      target(
        '(time() - max by (project, environment) (platformsh_last_deployment_timestamp_seconds{%(env)s}))' % s + s.withTitle,
        ref='B',
        instant=true,
        format='table',
      ),
    ],
    [
      lib.unitOverride('Last result', 'none', [
        {
          id: 'mappings',
          value: [{ type: 'value', options: { '0': { text: 'failed', color: 'red' }, '1': { text: 'succeeded', color: 'green' } } }],
        },
        { id: 'custom.cellOptions', value: { type: 'color-background' } },
      ]),
      lib.unitOverride('Age', 's'),
      { matcher: { id: 'byName', options: 'Environment' }, properties: [lib.consoleLink] },
    ],
    {
      excludeByName: { Time: true },
      renameByName: { 'Value #A': 'Last result', 'Value #B': 'Age', project: 'Project', environment: 'Environment', title: 'Title', organization: 'Organization' },
    },
  ), 14, 10),
  panel(table(
    'Projects by silence',
    'Time since the latest activity of each project, longest first: a project that used to be busy and went silent may have lost its webhook integration.',
    [target(
      'sort_desc((time() - max by (project) (platformsh_last_activity_timestamp_seconds{%(j)s, project=~"$project"}))' % s + s.withTitle + ')',
      ref='A',
      instant=true,
      format='table',
    )],
    [lib.unitOverride('Silent for', 's')],
    { excludeByName: { Time: true }, renameByName: { Value: 'Silent for', project: 'Project', title: 'Title' } },
  ), 10, 10),

  row('Exporter'),
  panel(timeseries(
    'Webhook deliveries by outcome',
    'Deliveries received per second by the exporters, by outcome: accepted, duplicate, invalid, too_large, unauthorized.',
    'reqps',
    [target('sum by (outcome) (rate(platformsh_exporter_webhooks_total{%(j)s}[$__rate_interval]))' % s, '{{outcome}}')],
    stack=true,
  ), 12, 7),
  panel(timeseries(
    'Missed webhook deliveries',
    'Activities the Platform.sh API listed that a webhook should have delivered and had not (reconciliation), per hour and project, beside those the webhook delivered and those polling found that no webhook integration sends (API-only projects: all of them). Missed rising while deliveries stay at zero: the webhook integration is broken or missing. API-only projects have no missed line. Needs --platformsh.api-token-file.',
    'short',
    [
      target(
        ('sum by (project) (increase(platformsh_exporter_reconciled_activities_total{%(j)s, project=~"$project"}[1h]))'
         + ' unless on (project) max by (project) (platformsh_exporter_delivery_mode{mode="api_only", %(j)s, project=~"$project"}) == 1') % s,
        '{{project}} missed',
      ),
      target('sum by (project) (increase(platformsh_exporter_delivered_activities_total{%(j)s, project=~"$project"}[1h]))' % s, '{{project}} delivered', ref='B'),
      target('sum by (project) (increase(platformsh_exporter_unsent_activities_total{%(j)s, project=~"$project"}[1h]))' % s, '{{project}} polled, not sent', ref='C'),
    ],
  ), 12, 7),
  panel(timeseries(
    'Store commit time',
    'Time to write and fsync one commit of the activity store (durable mode), which every answered delivery waits for: a slow or stalling disk shows here first.',
    's',
    [
      target('histogram_quantile(0.99, sum by (le) (rate(platformsh_exporter_store_commit_duration_seconds_bucket{%(j)s}[$__rate_interval])))' % s, 'p99'),
      target('histogram_quantile(0.5, sum by (le) (rate(platformsh_exporter_store_commit_duration_seconds_bucket{%(j)s}[$__rate_interval])))' % s, 'median', ref='B'),
    ],
  ), 6, 7),
  panel(timeseries(
    'Deliveries per store commit',
    'Average number of deliveries (and other writes) grouped into one commit of the activity store: how much group commit is saving.',
    'none',
    [target(
      ('sum(rate(platformsh_exporter_store_commit_batch_size_sum{%(j)s}[$__rate_interval]))'
       + ' / sum(rate(platformsh_exporter_store_commit_batch_size_count{%(j)s}[$__rate_interval]))') % s,
      'deliveries per commit',
    )],
  ), 6, 7),
])
