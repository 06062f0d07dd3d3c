// Renders the mixin for the Kubernetes base (deploy/kubernetes/, mixin/render.sh): the
// alerts and rules as a PrometheusRule, the dashboards as a ConfigMap for Grafana's dashboard
// sidecar, both for the job the ServiceMonitor gives, the Service's name.
local manifest = import 'manifest.libsonnet';
local mixin = (import 'mixin.libsonnet') + { _config+:: { selector: 'job="platformsh-exporter"' } };
local header =
  '# Rendered from mixin/ by mixin/render.sh (with the job platformsh-exporter): edit the mixin,\n'
  + '# not this file.\n';
local labels = { 'app.kubernetes.io/name': 'platformsh-exporter' };

{
  'prometheusrule.yaml': header + manifest.yaml({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'platformsh-exporter', labels: labels },
    spec: { groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups },
  }),
  // Grafana's sidecar loads every ConfigMap labelled grafana_dashboard (kube-prometheus-stack
  // and the Grafana chart's default label).
  'dashboards.yaml': header + manifest.yaml({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'platformsh-exporter-dashboards', labels: labels { grafana_dashboard: '1' } },
    data: { [name]: manifest.json(mixin.grafanaDashboards[name]) for name in std.objectFields(mixin.grafanaDashboards) },
  }),
}
