// Renders the mixin into the bundle's files, as `jsonnet -S -m dashboards mixin/render.jsonnet`
// does (mixin/render.sh): the files under dashboards/ are this output, not edited by hand.
local manifest = import 'manifest.libsonnet';
local mixin = import 'mixin.libsonnet';
local header(what) =
  '# %s of the platformsh-exporter monitoring bundle, rendered from mixin/ by mixin/render.sh:\n' % what
  + '# edit mixin/*.libsonnet (or override its _config where you import it), not this file.\n';
local yaml = manifest.yaml;

{
  'prometheus/alerts.yml': header('Alerts') + yaml(mixin.prometheusAlerts),
  'prometheus/rules.yml': header('Recording rules') + yaml(mixin.prometheusRules),
} + {
  [name]: manifest.json(mixin.grafanaDashboards[name])
  for name in std.objectFields(mixin.grafanaDashboards)
}
