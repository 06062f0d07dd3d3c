#!/bin/sh
# Renders the mixin into the bundle under dashboards/ (the two Grafana dashboards and
# prometheus/alerts.yml and rules.yml) and into the Kubernetes base (deploy/kubernetes/
# prometheusrule.yaml and dashboards.yaml). Run it after editing mixin/*.libsonnet and commit
# both; a test renders them again and compares. Needs jsonnet (Debian's package).
set -eu
cd "$(dirname "$0")/.."
jsonnet -S -m dashboards mixin/render.jsonnet >/dev/null
jsonnet -S -m deploy/kubernetes mixin/kubernetes.jsonnet >/dev/null
