// The knobs of the platformsh-exporter mixin. Override them where you import it:
//
//   (import 'platformsh-exporter/mixin/mixin.libsonnet') + {
//     _config+:: { selector: 'job="psh"', runbookURLPattern: 'https://git.example.com/psh/blob/main/docs/runbooks.md#%s' },
//   }
{
  _config+:: {
    // Selects the exporter's scrape job(s): the down alert watches `up` with it, and the
    // dashboards' job and instance variables list what it matches.
    selector: 'job="platformsh"',

    // Where each alert's runbook_url points; %s is the alert's name in lower case (the heading
    // anchors of docs/runbooks.md). The default is the path in this repository: point it at
    // where you host the repository (or the runbooks.md the package installs) for links that
    // Alertmanager and Grafana can open.
    runbookURLPattern: 'docs/runbooks.md#%s',

    // The environments DORA rates (the Deployments dashboard's DORA rows and the incident
    // figures) and the production deployment alerts treat as production. For several types:
    // 'environment_type=~"production|staging"' and 'environment_type!~"production|staging"'.
    productionSelector: 'environment_type="production"',
    nonProductionSelector: 'environment_type!="production"',

    // Dashboards: their tags (the first links them to each other), title prefix, uid prefix,
    // time range and refresh.
    dashboardTags: ['platformsh', 'deployments'],
    dashboardNamePrefix: 'Platform.sh / ',
    dashboardUIDPrefix: 'platformsh-',
    dashboardPeriod: 'now-7d',
    dashboardRefresh: '1m',
    // Where the tables' console links point (https://console.platform.sh for older projects).
    consoleURL: 'https://console.upsun.com',

    // The exporter's default --deployment.types and --deployment.restart-types: the panels of
    // (re)deployments' durations and failure reasons show both (a test checks that they agree).
    deploymentTypes: [
      'environment.push',
      'environment.merge',
      'environment.merge-pr',
      'environment.activate',
      'environment.branch',
      'environment.synchronize',
      'environment.restore',
      'environment.deploy',
      'environment.initialize',
      'environment.source-operation',
      'environment.variable.create',
      'environment.variable.update',
      'environment.variable.delete',
      'environment.redeploy',
      'environment.resume',
      'environment.resources.update',
      'environment.certificate.renewal',
      'environment.subscription.update',
    ],

    // How often the DORA recording rules run (they look back a day or a week).
    doraRuleInterval: '1m',
  },
}
