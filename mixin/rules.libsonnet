// The recording rules of the bundle: dashboards/prometheus/rules.yml is their rendering.
// Names follow level:metric:operations. Sums run over every instance of a job, so replicas
// behind a load balancer (each seeing part of the deliveries) add up; the job stays, so that
// two exporters in separate jobs (staging and production, say) do not merge.
{
  local c = $._config,
  // The expression a block scalar in the YAML, whatever its length: no escaped quotes.
  local record(name, expr) = { record: name, expr: if std.endsWith(expr, '\n') then expr else expr + '\n' },
  local sumIncrease(level, series, range) =
    'sum by (job, %s) (increase(%s[%s]))' % [level, series, range],

  prometheusRules+:: {
    groups+: [
      {
        name: 'platformsh-dora',
        interval: c.doraRuleInterval,
        rules: [
          // Finished deployments (successful or failed; cancelled ones are neither) over a day.
          record(
            'project_environment_type:platformsh_deployments:increase1d',
            sumIncrease('project, environment_type', 'platformsh_deployments_total{result=~"success|failure"}', '1d'),
          ),
          record(
            'project_environment_type:platformsh_deployments_failed:increase1d',
            sumIncrease('project, environment_type', 'platformsh_deployments_total{result="failure"}', '1d'),
          ),
          // Deployment failure rate: failed over finished deployments in the last day. A proxy
          // for DORA's change failure rate (production changes that caused a failure in service).
          record(
            'project_environment_type:platformsh_deployment_failure:ratio1d',
            |||
              (project_environment_type:platformsh_deployments_failed:increase1d or 0 * project_environment_type:platformsh_deployments:increase1d)
                / project_environment_type:platformsh_deployments:increase1d
            |||,
          ),
          // DORA's change failure rate from incidents (README, Incidents): successful
          // production changes followed by an incident, over successful changes, in the last day.
          record(
            'project_environment_type:platformsh_deployments_succeeded:increase1d',
            sumIncrease('project, environment_type', 'platformsh_deployments_total{result="success"}', '1d'),
          ),
          record(
            'project_environment_type:platformsh_change_failures:increase1d',
            sumIncrease('project, environment_type', 'platformsh_change_failures_total', '1d'),
          ),
          record(
            'project_environment_type:platformsh_change_failure:ratio1d',
            |||
              project_environment_type:platformsh_change_failures:increase1d
                / (project_environment_type:platformsh_deployments_succeeded:increase1d > 0)
            |||,
          ),
          // Time to restore from incidents: the sum and count of restores over a week, for a mean.
          record(
            'project_environment_type:platformsh_incident_restore_seconds_sum:increase7d',
            sumIncrease('project, environment_type', 'platformsh_incident_restore_seconds_sum', '7d'),
          ),
          record(
            'project_environment_type:platformsh_incident_restore_seconds_count:increase7d',
            sumIncrease('project, environment_type', 'platformsh_incident_restore_seconds_count', '7d'),
          ),
          // Time to recover: the sum and count of recoveries over a week, for a mean.
          record(
            'project_environment_type:platformsh_deployment_recovery_seconds_sum:increase7d',
            sumIncrease('project, environment_type', 'platformsh_deployment_recovery_seconds_sum', '7d'),
          ),
          record(
            'project_environment_type:platformsh_deployment_recovery_seconds_count:increase7d',
            sumIncrease('project, environment_type', 'platformsh_deployment_recovery_seconds_count', '7d'),
          ),
          // Lead time for changes: the median and 90th percentile of the commits delivered to
          // production over a day, per project.
          record(
            'project:platformsh_change_lead_time_seconds:p50_1d',
            'histogram_quantile(0.5, %s)' % sumIncrease('project, le', 'platformsh_change_lead_time_seconds_bucket', '1d'),
          ),
          record(
            'project:platformsh_change_lead_time_seconds:p90_1d',
            'histogram_quantile(0.9, %s)' % sumIncrease('project, le', 'platformsh_change_lead_time_seconds_bucket', '1d'),
          ),
          // The success flag of each environment's newest deployment, across replicas: the
          // instance that holds the newest deployment speaks for the environment.
          record(
            'project_environment:platformsh_last_deployment_success:latest',
            |||
              min by (job, project, environment) (
                platformsh_last_deployment_success
                and on (job, project, environment, instance)
                (
                  platformsh_last_deployment_timestamp_seconds
                  == on (job, project, environment) group_left
                  max by (job, project, environment) (platformsh_last_deployment_timestamp_seconds)
                )
              )
            |||,
          ),
        ],
      },
    ],
  },
}
