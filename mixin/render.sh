#!/bin/sh
# Renders the mixin into the bundle under dashboards/: the two Grafana dashboards and
# prometheus/alerts.yml and rules.yml. Run it after editing mixin/*.libsonnet and commit both;
# a test renders it again and compares. Needs jsonnet (Debian's package).
set -eu
cd "$(dirname "$0")/.."
jsonnet -S -m dashboards mixin/render.jsonnet >/dev/null
