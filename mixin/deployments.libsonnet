// The panels of Platform.sh / Deployments (DORA); `s` holds the label filters
// (dashboards.libsonnet).
local lib = import 'lib.libsonnet';
local target = lib.target;
local timeseries = lib.timeseries;
local stat = lib.stat;
local level = lib.level;
local table = lib.table;
local row = lib.row;
local panel = lib.panel;

function(s) lib.layout([
  row('DORA'),
  panel(stat(
    'Production deployments per day',
    'Finished (successful or failed) deployments of production environments over the last day.',
    'short',
    [target('sum(project_environment_type:platformsh_deployments:increase1d{%(prodRec)s}) or vector(0)' % s, 'per day', instant=true)],
  ), 6, 5),
  panel(stat(
    'Production deployments per week',
    'Finished deployments of production environments over the last 7 days.',
    'short',
    [target('sum(increase(platformsh_deployments_total{%(prod)s, result=~"success|failure"}[7d])) or vector(0)' % s, 'per week', instant=true)],
  ), 6, 5),
  panel(stat(
    'Change failure rate',
    "DORA's change failure rate over the last day. From incidents where any exist for the selection: successful production changes followed by an incident (Alertmanager, see README, Incidents) over successful production changes (recording rule project_environment_type:platformsh_change_failure:ratio1d's parts). Otherwise the proxy: failed deployments over finished deployments of the selected environment types (a failed deployment is one signal of a change failure, not all of them).",
    'percentunit',
    [target(
      ('(sum(project_environment_type:platformsh_change_failures:increase1d{%(rec)s, %(production)s})'
       + ' / (sum(project_environment_type:platformsh_deployments_succeeded:increase1d{%(rec)s, %(production)s}) > 0))'
       + ' or ((sum(project_environment_type:platformsh_deployments_failed:increase1d{%(rec)s}) or vector(0))'
       + ' / sum(project_environment_type:platformsh_deployments:increase1d{%(rec)s}))') % s,
      'change failure rate',
      instant=true,
    )],
    [{ color: 'green', value: null }, { color: 'orange', value: 0.15 }, { color: 'red', value: 0.3 }],
  ), 6, 5),
  panel(stat(
    'Time to restore (mean, 7 days)',
    "DORA's time to restore over the last 7 days. From incidents where any resolved for the selection: the mean time from an incident's start to its resolution (platformsh_incident_restore_seconds). Otherwise the proxy: the mean time from the first failed deployment of an environment to its next successful one.",
    's',
    [target(
      ('(sum(project_environment_type:platformsh_incident_restore_seconds_sum:increase7d{%(rec)s})'
       + ' / (sum(project_environment_type:platformsh_incident_restore_seconds_count:increase7d{%(rec)s}) > 0))'
       + ' or (sum(project_environment_type:platformsh_deployment_recovery_seconds_sum:increase7d{%(rec)s})'
       + ' / sum(project_environment_type:platformsh_deployment_recovery_seconds_count:increase7d{%(rec)s}))') % s,
      'mean',
      instant=true,
    )],
  ), 6, 5),
  panel(stat(
    'Lead time for changes (median, 30 days)',
    'For the commits delivered to production over the last 30 days: the median time from the push that first listed a commit to the completion of the production deployment that delivered it (platformsh_change_lead_time_seconds; see README, Lead time).',
    's',
    [target('histogram_quantile(0.5, sum by (le) (increase(platformsh_change_lead_time_seconds_bucket{%(j)s, project=~"$project"}[30d])))' % s, 'median', instant=true)],
  ), 6, 5),

  row('DORA performance levels (last 30 days, production)'),
  panel(level(
    'Deployment frequency',
    'Finished deployments of a change to production per day over the last 30 days, for the selected projects (production only, whatever the environment type variable says: previews would inflate the level; restarts are not deployments). DORA 2021 (State of DevOps report): elite on demand (several a day), high between once a week and once a month, medium between once a month and once every six months, low less than once every six months. Shown: elite at 1 a day or more, high at 1 a month or more, medium at 1 every six months or more, low below.',
    'sum(increase(platformsh_deployments_total{result=~"success|failure", %(prod)s}[30d])) / 30' % s,
    [[1, null, 'elite'], [1 / 30, 1, 'high'], [1 / 180, 1 / 30, 'medium'], [0, 1 / 180, 'low']],
  ), 6, 4),
  panel(level(
    'Lead time for changes',
    'Median lead time of the commits delivered to production in the last 30 days. DORA 2021: elite less than an hour, high between a day and a week, medium between a month and six months, low more than six months. Shown: elite under an hour, high under a week, medium under six months, low beyond.',
    'histogram_quantile(0.5, sum by (le) (increase(platformsh_change_lead_time_seconds_bucket{%(j)s, project=~"$project"}[30d])))' % s,
    [[0, 3600, 'elite'], [3600, 604800, 'high'], [604800, 15552000, 'medium'], [15552000, null, 'low']],
  ), 6, 4),
  panel(level(
    'Time to restore',
    'Mean time to restore service on production over the last 30 days: from incidents where any resolved (start to resolution, platformsh_incident_restore_seconds; see README, Incidents), else the proxy, from a first failed deployment to the next successful one of the same production environment. DORA 2021: elite less than an hour, high less than a day, medium between a day and a week, low more than six months. Shown: elite under an hour, high under a day, medium under a week, low beyond.',
    ('(sum(increase(platformsh_incident_restore_seconds_sum{%(prodNoEnv)s}[30d]))'
     + ' / (sum(increase(platformsh_incident_restore_seconds_count{%(prodNoEnv)s}[30d])) > 0))'
     + ' or (sum(increase(platformsh_deployment_recovery_seconds_sum{%(prodNoEnv)s}[30d]))'
     + ' / sum(increase(platformsh_deployment_recovery_seconds_count{%(prodNoEnv)s}[30d])))') % s,
    [[0, 3600, 'elite'], [3600, 86400, 'high'], [86400, 604800, 'medium'], [604800, null, 'low']],
  ), 6, 4),
  panel(level(
    'Change failure rate',
    'Change failure rate on production over the last 30 days: from incidents where any exist (successful changes followed by an incident, over successful changes; see README, Incidents), else the proxy, failed over finished deployments of a change. DORA 2021: elite 0-15 %, high, medium and low 16-30 %. Shown: elite up to 15 %, high up to 30 %, medium up to 45 %, low above (the last two extend the published ranges).',
    ('(sum(increase(platformsh_change_failures_total{%(prod)s}[30d]))'
     + ' / (sum(increase(platformsh_deployments_total{result="success", %(prod)s}[30d])) > 0))'
     + ' or ((sum(increase(platformsh_deployments_total{result="failure", %(prod)s}[30d])) or vector(0))'
     + ' / sum(increase(platformsh_deployments_total{result=~"success|failure", %(prod)s}[30d])))') % s,
    [[0, 0.15, 'elite'], [0.15, 0.30, 'high'], [0.30, 0.45, 'medium'], [0.45, null, 'low']],
  ), 6, 4),

  row('Trends'),
  panel(timeseries(
    'Lead time for changes (p50, p90)',
    'Lead time of the commits delivered to production over the preceding day: from the push that first listed a commit to the production deployment that delivered it (recording rules project:platformsh_change_lead_time_seconds:p50_1d and p90_1d).',
    's',
    [
      target('max by (project) (project:platformsh_change_lead_time_seconds:p50_1d{%(jr)s, project=~"$project"})' % s, '{{project}} p50'),
      target('max by (project) (project:platformsh_change_lead_time_seconds:p90_1d{%(jr)s, project=~"$project"})' % s, '{{project}} p90', ref='B'),
    ],
  ), 12, 8),
  panel(timeseries(
    'Commit to production (p50)',
    "From each delivered commit's author date to the production deployment that delivered it, over the preceding day (commits without an author date are left out).",
    's',
    [target('histogram_quantile(0.5, sum by (project, le) (increase(platformsh_commit_lead_time_seconds_bucket{%(j)s, project=~"$project"}[1d])))' % s, '{{project}}')],
  ), 12, 8),
  panel(timeseries(
    'Deployments per day by environment type',
    'Finished deployments over the preceding day, by environment type and result.',
    'short',
    [target('sum by (environment_type, result) (increase(platformsh_deployments_total{%(sel)s}[1d]))' % s, '{{environment_type}} {{result}}')],
  ), 12, 8),
  panel(timeseries(
    'Deployment failure rate by environment type',
    "Failed over finished deployments in the preceding day, a proxy for DORA's change failure rate (recording rule project_environment_type:platformsh_deployment_failure:ratio1d).",
    'percentunit',
    [target('max by (environment_type) (project_environment_type:platformsh_deployment_failure:ratio1d{%(rec)s})' % s, '{{environment_type}}')],
  ), 12, 8),
  panel(timeseries(
    'Why deployments fail',
    "Failed and cancelled deployments over the preceding day, by reason: error or shell (Platform.sh's failure_reason), command (a deploy or post-deploy hook exited non-zero while the activity reported success), cancelled, unknown. Deployment types are the exporter's defaults.",
    'short',
    [target('sum by (reason) (increase(platformsh_activity_failures_total{type=~"%(types)s", %(sel)s}[1d]))' % s, '{{reason}}')],
    stack=true,
  ), 12, 8),
  panel(timeseries(
    'Deployment duration (p50, p95)',
    'Duration of finished deployment activities (the default deployment types).',
    's',
    [
      target('histogram_quantile(0.5, sum by (le) (rate(platformsh_activity_duration_seconds_bucket{type=~"%(types)s", %(selNoEnv)s}[$__rate_interval])))' % s, 'p50', 'A'),
      target('histogram_quantile(0.95, sum by (le) (rate(platformsh_activity_duration_seconds_bucket{type=~"%(types)s", %(selNoEnv)s}[$__rate_interval])))' % s, 'p95', 'B'),
    ],
  ), 12, 8),
  panel(timeseries(
    'Time to recover (p50)',
    'Median time from a first failed deployment to the next successful one, by environment type.',
    's',
    [target('histogram_quantile(0.5, sum by (environment_type, le) (rate(platformsh_deployment_recovery_seconds_bucket{%(selNoEnv)s}[$__rate_interval])))' % s, '{{environment_type}}')],
  ), 12, 8),
  panel(timeseries(
    'Open incidents',
    'Incidents firing now, by environment: Alertmanager alerts of --alertmanager.severities that name a Platform.sh project and environment (see README, Incidents).',
    'short',
    [target('sum by (project, environment) (platformsh_incidents_open{%(sel)s})' % s, '{{project}}/{{environment}}')],
    stack=true,
  ), 12, 8),
  panel(timeseries(
    'Change failure rate from incidents (production)',
    'Successful production changes followed by an incident within --incidents.window, over successful production changes, in the preceding day (recording rule project_environment_type:platformsh_change_failure:ratio1d). Empty until the exporter receives incidents from Alertmanager.',
    'percentunit',
    [target('max by (project) (project_environment_type:platformsh_change_failure:ratio1d{%(prodRec)s})' % s, '{{project}}')],
  ), 12, 8),
  panel(timeseries(
    'Restarts per day by environment type',
    "Finished restarts over the preceding day, by environment type and result: redeploys, resumes, resource updates (autoscaling among them), certificate renewals (--deployment.restart-types). They deliver no change, so DORA's panels leave them out, but a failed one fails its environment like a failed deployment.",
    'short',
    [target('sum by (environment_type, result) (increase(platformsh_restarts_total{%(sel)s}[1d]))' % s, '{{environment_type}} {{result}}')],
  ), 12, 8),

  row('Per environment'),
  panel(table(
    'Deployments per environment',
    "Finished deployments of a change of each environment over the dashboard's time range, how many failed, and its finished restarts.",
    [
      target('sum by (project, environment) (increase(platformsh_deployments_total{result=~"success|failure", %(sel)s}[$__range]))' % s, ref='A', instant=true, format='table'),
      target(
        ('sum by (project, environment) (increase(platformsh_deployments_total{result="failure", %(sel)s}[$__range]))'
         + ' or (0 * sum by (project, environment) (increase(platformsh_deployments_total{%(sel)s}[$__range])))') % s,
        ref='B',
        instant=true,
        format='table',
      ),
      target(
        ('sum by (project, environment) (increase(platformsh_restarts_total{result=~"success|failure", %(sel)s}[$__range]))'
         + ' or (0 * sum by (project, environment) (increase(platformsh_deployments_total{%(sel)s}[$__range])))') % s,
        ref='C',
        instant=true,
        format='table',
      ),
    ],
    [],
    {
      excludeByName: { Time: true },
      renameByName: { 'Value #A': 'Deployments', 'Value #B': 'Failed', 'Value #C': 'Restarts', project: 'Project', environment: 'Environment' },
    },
  ), 24, 10),
])
