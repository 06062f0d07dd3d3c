// The bundle's Grafana dashboards: dashboards/overview.json and dashboards/deployments.json are
// their rendering.
local lib = import 'lib.libsonnet';

{
  local c = $._config,

  // Label filters of the template variables, spliced into the queries with %(name)s. Raw
  // series take the job and instance; recorded ones sum a job's instances and keep the job.
  // `environment` only where the family has that label.
  local s = {
    j: 'job=~"$job", instance=~"$instance"',
    jr: 'job=~"$job"',
    sel: self.j + ', project=~"$project", environment=~"$environment", environment_type=~"$environment_type"',
    selNoEnv: self.j + ', project=~"$project", environment_type=~"$environment_type"',
    // The last-deployment gauges carry project and environment only.
    env: self.j + ', project=~"$project", environment=~"$environment"',
    // Recorded series.
    rec: self.jr + ', project=~"$project", environment_type=~"$environment_type"',
    // DORA rates production: preview and staging deployments would inflate the levels, so
    // these panels ignore the environment type variable.
    production: c.productionSelector,
    prod: self.j + ', project=~"$project", environment=~"$environment", ' + c.productionSelector,
    prodNoEnv: self.j + ', project=~"$project", ' + c.productionSelector,
    prodRec: self.jr + ', project=~"$project", ' + c.productionSelector,
    types: std.join('|', c.deploymentTypes),
    // Adds the project's `title` label where reconciliation exports platformsh_project_info; a
    // project without one keeps its id alone (the right side falls back to 1 per project).
    withTitle:
      ' * on (project) group_left (title, organization)'
      + ' (max by (project, title, organization) (platformsh_project_info{%(jr)s})' % self
      + ' or on (project) (max by (project) (platformsh_last_activity_timestamp_seconds{%(jr)s}) * 0 + 1))' % self,
  },

  local queryVar(name, label, query, regex='', allValue='.*', description=null) = {
    name: name,
    label: label,
    type: 'query',
    datasource: lib.ds,
    definition: query,
    query: { query: query, refId: name + '-query' },
    includeAll: true,
    multi: true,
    current: { selected: true, text: ['All'], value: ['$__all'] },
    refresh: 2,
    sort: 1,
    hide: 0,
    regex: regex,
  } + (if allValue == null then {} else { allValue: allValue })
    + (if description == null then {} else { description: description }),

  local variables(withEnvironment) = [
    {
      name: 'datasource',
      label: 'Data source',
      type: 'datasource',
      query: 'prometheus',
      current: {},
      hide: 0,
      refresh: 1,
      regex: '',
    },
    queryVar(
      'job',
      'Job',
      'label_values(platformsh_exporter_build_info{%s}, job)' % c.selector,
      description='The scrape jobs of exporters: one per exporter (staging, production) keeps their figures apart.',
    ),
    queryVar(
      'instance',
      'Instance',
      'label_values(platformsh_exporter_build_info{%s, job=~"$job"}, instance)' % c.selector,
      description="Replicas of one job. The recorded DORA figures sum a job's instances.",
    ),
    queryVar(
      'organization',
      'Organization',
      'label_values(platformsh_project_info{job=~"$job"}, organization)',
      description='Narrows the projects to an organization (needs the API token; projects the API does not describe stay listed).',
    ),
    // Project ids, shown by title where reconciliation exports platformsh_project_info, in
    // the selected organizations. No "all" regex: All is the projects listed, so that the
    // organization narrows every panel.
    queryVar(
      'project',
      'Project',
      'query_result(max by (project, title) (platformsh_project_info{job=~"$job", organization=~"$organization"})'
      + ' or on (project) (max by (project) (platformsh_last_activity_timestamp_seconds{job=~"$job"})'
      + ' unless on (project) platformsh_project_info{job=~"$job"}))',
      '/project="(?<value>[^"]*)"(?:.*title="(?<text>[^"]*)")?/',
      allValue=null,
    ),
    queryVar(
      'environment_type',
      'Environment type',
      'label_values(platformsh_activities_total{job=~"$job", project=~"$project"}, environment_type)',
    ),
    // Where the console links point: Upsun's console, or https://console.platform.sh.
    {
      name: 'console',
      label: 'Console',
      type: 'textbox',
      query: c.consoleURL,
      current: { selected: false, text: c.consoleURL, value: c.consoleURL },
      hide: 2,
    },
  ] + (
    if withEnvironment then [
      queryVar(
        'environment',
        'Environment',
        'label_values(platformsh_activities_total{job=~"$job", project=~"$project", environment_type=~"$environment_type"}, environment)',
      ),
    ] else []
  ),

  // A marker per finished deployment of the selected environments, failed ones in red.
  local annotations = [
    {
      name: a.name,
      datasource: lib.ds,
      enable: true,
      hide: false,
      iconColor: a.color,
      expr: 'sum by (project, environment) (increase(platformsh_deployments_total{result="%s", %s}[2m])) > 0' % [a.result, s.env],
      step: '1m',
      titleFormat: 'Deployment ' + a.result,
      textFormat: '{{project}}/{{environment}}',
      tagKeys: 'project,environment',
      useValueForTime: false,
    }
    for a in [
      { name: 'Successful deployments', result: 'success', color: 'green' },
      { name: 'Failed deployments', result: 'failure', color: 'red' },
    ]
  ],

  local dashboard(uid, title, description, panels, withEnvironment=true) = {
    uid: c.dashboardUIDPrefix + uid,
    title: c.dashboardNamePrefix + title,
    description: description,
    tags: c.dashboardTags,
    timezone: '',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    time: { from: c.dashboardPeriod, to: 'now' },
    refresh: c.dashboardRefresh,
    links: [
      {
        type: 'dashboards',
        tags: [c.dashboardTags[0]],
        asDropdown: false,
        includeVars: true,
        keepTime: true,
        title: 'Platform.sh',
      },
    ],
    annotations: { list: annotations },
    templating: { list: variables(withEnvironment) },
    panels: panels,
  },

  grafanaDashboards+:: {
    'overview.json': dashboard(
      'overview',
      'Overview',
      'Activities received from Platform.sh webhooks: rates, results, durations, queues and the state of every environment.',
      (import 'overview.libsonnet')(s),
    ),
    'deployments.json': dashboard(
      'deployments',
      'Deployments (DORA)',
      "Deployment frequency, change failure rate and time to restore (from Alertmanager's incidents when the exporter receives them, else from failed deployments), lead time and deployment duration, per project and environment.",
      (import 'deployments.libsonnet')(s),
    ),
  },
}
