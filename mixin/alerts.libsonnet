// The alerts of the bundle: dashboards/prometheus/alerts.yml is their rendering.
{
  local c = $._config,
  local runbook(name) = c.runbookURLPattern % std.asciiLower(name),
  local alert(name, expr, severity, summary, description, pending=null) = {
    alert: name,
    // A block scalar in the YAML, whatever its length: no escaped quotes.
    expr: if std.endsWith(expr, '\n') then expr else expr + '\n',
    labels: { severity: severity },
    annotations: {
      runbook_url: runbook(name),
      summary: summary,
      description: description,
    },
  } + (if pending == null then {} else { 'for': pending }),

  // The success flag of the newest deployment of each environment (across replicas, the
  // instance holding the newest one decides), joined with the environment's type. Written out
  // rather than read from a recording rule, so the alert fires at the first evaluation after
  // the scrape that saw the failure, even for an environment's very first deployment.
  local lastDeploymentFailed(types) = |||
    (
      min by (project, environment) (
        platformsh_last_deployment_success
        and on (project, environment, instance)
        (
          platformsh_last_deployment_timestamp_seconds
          == on (project, environment) group_left
          max by (project, environment) (platformsh_last_deployment_timestamp_seconds)
        )
      ) == 0
    )
    * on (project, environment) group_left (environment_type)
    (topk by (project, environment) (1, max by (project, environment, environment_type) (platformsh_deployments_total{%(types)s} or platformsh_restarts_total{%(types)s})) * 0 + 1)
  ||| % { types: types },

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'platformsh-deployments',
        rules: [
          alert(
            'PlatformshProductionDeploymentFailed',
            lastDeploymentFailed(c.productionSelector),
            'critical',
            'Deployment of production environment {{ $labels.project }}/{{ $labels.environment }} failed',
            'The latest deployment of the production environment {{ $labels.environment }} of Platform.sh project {{ $labels.project }} failed. It stays failed until a deployment succeeds.',
          ),
          alert(
            'PlatformshDeploymentFailed',
            lastDeploymentFailed(c.nonProductionSelector),
            'warning',
            'Deployment of {{ $labels.project }}/{{ $labels.environment }} failed',
            'The latest deployment of the {{ $labels.environment_type }} environment {{ $labels.environment }} of Platform.sh project {{ $labels.project }} failed.',
          ),
          alert(
            'PlatformshDeploymentFailureRateHigh',
            |||
              (
                sum by (project, environment_type) (increase(platformsh_deployments_total{result="failure"}[1d]))
                / sum by (project, environment_type) (increase(platformsh_deployments_total{result=~"success|failure"}[1d]))
              ) > 0.5
              and
              sum by (project, environment_type) (increase(platformsh_deployments_total{result=~"success|failure"}[1d])) >= 4
            |||,
            'warning',
            'Most deployments of {{ $labels.project }} ({{ $labels.environment_type }}) fail',
            '{{ $value | humanizePercentage }} of the {{ $labels.environment_type }} deployments of Platform.sh project {{ $labels.project }} failed over the last day.',
            pending='15m',
          ),
          alert(
            'PlatformshProductionNotDeployedSuccessfully',
            |||
              (
                time() - max by (project, environment) (platformsh_last_successful_deployment_timestamp_seconds)
              ) > 30 * 86400
              and on (project, environment)
              max by (project, environment) (platformsh_deployments_total{%(productionSelector)s} or platformsh_restarts_total{%(productionSelector)s})
            ||| % c,
            'info',
            'No successful deployment of {{ $labels.project }}/{{ $labels.environment }} for 30 days',
            'The production environment {{ $labels.environment }} of Platform.sh project {{ $labels.project }} was last deployed successfully {{ $value | humanizeDuration }} ago.',
            pending='1h',
          ),
        ],
      },
      {
        name: 'platformsh-projects',
        rules: [
          // Silent for 6 hours after a week with at least 20 activities: a removed or broken
          // webhook integration looks like this.
          alert(
            'PlatformshProjectSilent',
            |||
              (time() - max by (project) (platformsh_last_activity_timestamp_seconds)) > 6 * 3600
              and on (project)
              sum by (project) (increase(platformsh_activities_total[7d])) >= 20
            |||,
            'warning',
            'Platform.sh project {{ $labels.project }} has gone silent',
            'No activity of project {{ $labels.project }} for {{ $value | humanizeDuration }}, although it was busy over the past week. Check its webhook integration (platform integration:list).',
            pending='30m',
          ),
        ],
      },
      {
        name: 'platformsh-exporter',
        rules: [
          // Reconciliation keeps finding activities no webhook delivered (for an hour, 3 or
          // more in 3 hours), and no webhook delivery of the project reached any instance in
          // those 3 hours: the integration is broken or missing. (Replicas each take in the
          // others' deliveries from the API, so a reconciled count alone is no alarm; no
          // delivery at all is.) A project in API-only mode expects no webhook.
          alert(
            'PlatformshWebhookDeliveriesMissed',
            |||
              sum by (project) (increase(platformsh_exporter_reconciled_activities_total[3h])) >= 3
              unless on (project)
              sum by (project) (increase(platformsh_exporter_delivered_activities_total[3h])) > 0
              unless on (project)
              max by (project) (platformsh_exporter_delivery_mode{mode="api_only"}) == 1
            |||,
            'warning',
            'Webhook deliveries of Platform.sh project {{ $labels.project }} are missing',
            'The Platform.sh API listed activities of project {{ $labels.project }} from the last 3 hours that no webhook delivered, and no delivery of it arrived at all. Check its webhook integration (platform integration:list, then integration:activity:list).',
            pending='1h',
          ),
          alert(
            'PlatformshExporterRejectingDeliveries',
            'sum by (job, instance, outcome) (rate(platformsh_exporter_webhooks_total{outcome=~"invalid|unauthorized|too_large"}[15m])) > 0',
            'warning',
            'The Platform.sh exporter {{ $labels.instance }} rejects deliveries ({{ $labels.outcome }})',
            '{{ $labels.instance }} answered {{ $labels.outcome }} to webhook deliveries for 15 minutes. unauthorized: the shared keys differ (or someone is forging deliveries); too_large: raise --webhook.max-body-bytes; invalid: see the 400 bodies in the integration\'s activity log.',
            pending='15m',
          ),
          // The store refused deliveries (503) or they ran out of time (408): the exporter
          // itself fails, and no public source says Platform.sh sends them again.
          alert(
            'PlatformshExporterLosingDeliveries',
            |||
              sum by (job, instance) (increase(platformsh_exporter_webhooks_total{outcome=~"unavailable|timeout"}[15m])) > 0
              or
              sum by (job, instance) (increase(platformsh_exporter_store_errors_total[15m])) > 0
            |||,
            'critical',
            'The Platform.sh exporter {{ $labels.instance }} fails to take deliveries',
            '{{ $labels.instance }} answered webhook deliveries 503 (its store refused them) or 408 (they ran out of time) in the last 15 minutes: those activities are not counted unless reconciliation finds them. Check its log and the disk under --storage.path.',
          ),
          // Reconciliation has not completed a poll of a project for half an hour (6 default
          // poll intervals): missed deliveries are not found and API-only projects are not seen.
          alert(
            'PlatformshExporterReconciliationStale',
            'time() - max by (job, instance, project) (platformsh_exporter_api_last_success_timestamp_seconds) > 1800',
            'warning',
            'Reconciliation of Platform.sh project {{ $labels.project }} is stale',
            '{{ $labels.instance }} last completed a poll of project {{ $labels.project }} in the Platform.sh API {{ $value | humanizeDuration }} ago. Check the exporter\'s log for the API\'s answers (platformsh_exporter_api_requests_total by code).',
            pending='15m',
          ),
          // Every request to one API endpoint failed for half an hour (errors, 401, 403, 5xx,
          // none answered 2xx): the token was revoked, or the API is down.
          alert(
            'PlatformshExporterApiFailing',
            |||
              sum by (job, instance, endpoint) (increase(platformsh_exporter_api_requests_total{code!~"2.."}[30m])) > 0
              unless on (job, instance, endpoint)
              sum by (job, instance, endpoint) (increase(platformsh_exporter_api_requests_total{code=~"2.."}[30m])) > 0
            |||,
            'warning',
            'The Platform.sh API fails every {{ $labels.endpoint }} request of {{ $labels.instance }}',
            'No request of {{ $labels.instance }} to the Platform.sh API\'s {{ $labels.endpoint }} endpoint succeeded in 30 minutes. Check the token (a 400 from the token endpoint: revoked or expired) and the exporter\'s log.',
            pending='5m',
          ),
          // A cap was reached: series were folded into _overflow, or commits were dropped, and
          // the numbers of some projects or environments are merged or short.
          alert(
            'PlatformshExporterCapsOverflowing',
            |||
              sum by (job, instance, label) (increase(platformsh_exporter_label_overflow_total[1h])) > 0
              or
              label_replace(sum by (job, instance) (increase(platformsh_exporter_observations_skipped_total{reason="commit_limit"}[1h])) > 0, "label", "commits", "", "")
            |||,
            'warning',
            'The Platform.sh exporter {{ $labels.instance }} reached its {{ $labels.label }} cap',
            "{{ $labels.instance }} folded {{ $labels.label }} values into _overflow (or dropped commits past --limits.commits-per-push) in the last hour: some projects' or environments' numbers are merged or short. Raise the --limits.* flag named in the runbook.",
          ),
          // The project's integrations could not be read for a day: missed deliveries cannot be
          // told from activities no integration was meant to send, and setup cannot check the
          // webhook.
          alert(
            'PlatformshExporterIntegrationsUnreadable',
            'max by (job, instance, project) (platformsh_exporter_api_integrations_readable) == 0',
            'info',
            'The integrations of Platform.sh project {{ $labels.project }} cannot be read',
            "For a day, the API token of {{ $labels.instance }} could not read project {{ $labels.project }}'s integrations: every activity polling finds undelivered counts as missed. Give the token's user a role that can read them, or ignore this where the token is deliberately limited.",
            pending='1d',
          ),
          alert(
            'PlatformshExporterStoreSlow',
            'histogram_quantile(0.99, sum by (job, instance, le) (rate(platformsh_exporter_store_commit_duration_seconds_bucket[10m]))) > 0.5',
            'warning',
            'The Platform.sh exporter {{ $labels.instance }} commits slowly to its store',
            "The slowest 1 % of {{ $labels.instance }}'s store commits took more than 0.5 s for 10 minutes. Every webhook answer waits for its commit, so Platform.sh may time out and retry: check the disk under --storage.path.",
            pending='10m',
          ),
          // A changed web config, shared-key or Alertmanager credential file could not be read
          // (on SIGHUP, or when the web config file changed): the old ones stay in force, so a
          // password change or a key rotation has not taken effect.
          alert(
            'PlatformshExporterConfigReloadFailed',
            'max by (job, instance) (platformsh_exporter_config_last_reload_successful) == 0',
            'warning',
            'The Platform.sh exporter {{ $labels.instance }} could not reload its configuration',
            '{{ $labels.instance }} keeps its previous web configuration, shared keys and Alertmanager credential: the changed file could not be read or is invalid. Its log says which file and why.',
            pending='5m',
          ),
          alert(
            'PlatformshExporterDown',
            'up{%(selector)s} == 0 or absent(up{%(selector)s})' % c,
            'critical',
            'The Platform.sh exporter {{ $labels.instance }} is down',
            'Prometheus cannot scrape the Platform.sh exporter {{ $labels.instance }}: deployment failures are not seen, and webhook deliveries may be lost.',
            pending='5m',
          ),
        ],
      },
    ],
  },
}
