// The platformsh-exporter monitoring mixin: prometheusAlerts, prometheusRules and
// grafanaDashboards, configured by _config (config.libsonnet).
(import 'config.libsonnet')
+ (import 'alerts.libsonnet')
+ (import 'rules.libsonnet')
+ (import 'dashboards.libsonnet')
