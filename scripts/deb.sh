#!/usr/bin/env bash
# The Debian package, as a new user gets it: build it with cargo-deb (the dist profile),
# install it with dpkg, run the installed binary, verify the installed unit, and start the
# service as this machine can: with systemctl where systemd runs, else as the unit's
# ExecStart would (its EnvironmentFile, its storage path under a state directory), then ask it
# whether it is ready and what it is. Prints the package's size. Run as root (CI is).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deb >/dev/null; then
  # cargo-deb from crates.io (a cargo subcommand that writes .deb files from Cargo.toml's
  # [package.metadata.deb]); pinned so that CI builds the same package twice.
  cargo install cargo-deb --locked --version 3.8.0
fi
cargo deb --profile dist --locked
deb=$(ls -t target/debian/platformsh-exporter_*.deb | head -n 1)
echo "package: $deb, $(stat -c %s "$deb") bytes"

dpkg -i "$deb"
trap 'dpkg --purge platformsh-exporter >/dev/null' EXIT
/usr/bin/platformsh-exporter --version
version=$(/usr/bin/platformsh-exporter --version)
case "$version" in
  *"revision: unknown"*) echo "the packaged binary does not know its revision"; exit 1 ;;
esac

unit=$(dpkg -L platformsh-exporter | grep '/systemd/system/platformsh-exporter.service$')
said=$(systemd-analyze verify "$unit" 2>&1) || { echo "$said"; exit 1; }
if [ -n "$said" ]; then echo "systemd-analyze verify $unit: $said"; exit 1; fi
for file in /etc/default/platformsh-exporter \
  /usr/share/platformsh-exporter/dashboards/overview.json \
  /usr/share/platformsh-exporter/dashboards/deployments.json \
  /usr/share/platformsh-exporter/prometheus/alerts.yml \
  /usr/share/platformsh-exporter/prometheus/rules.yml \
  /usr/share/doc/platformsh-exporter/README.md; do
  test -s "$file" || { echo "missing from the package: $file"; exit 1; }
done
promtool check rules /usr/share/platformsh-exporter/prometheus/alerts.yml \
  /usr/share/platformsh-exporter/prometheus/rules.yml >/dev/null
# The packaged mixin renders, with a setting of one's own, into rules promtool takes.
rendered=$(mktemp -d)
cat > "$rendered/bundle.jsonnet" <<'JSONNET'
local mixin = (import 'mixin/mixin.libsonnet') + { _config+:: {
  selector: 'job="packaged"',
  runbookURLPattern: 'file:///usr/share/doc/platformsh-exporter/runbooks.md#%s',
} };
{ 'alerts.yml': (import 'mixin/manifest.libsonnet').yaml(mixin.prometheusAlerts) }
JSONNET
jsonnet -J /usr/share/platformsh-exporter -S -m "$rendered" "$rendered/bundle.jsonnet" >/dev/null
grep -q 'up{job="packaged"}' "$rendered/alerts.yml" \
  || { echo "the packaged mixin did not take its setting"; exit 1; }
promtool check rules "$rendered/alerts.yml" >/dev/null
rm -rf "$rendered"

address=127.0.0.1:19887
if [ -d /run/systemd/system ]; then
  mkdir -p /etc/systemd/system/platformsh-exporter.service.d
  printf '[Service]\nEnvironment=PLATFORMSH_EXPORTER_WEB_LISTEN_ADDRESS=%s\n' "$address" \
    > /etc/systemd/system/platformsh-exporter.service.d/ci.conf
  systemctl daemon-reload
  systemctl start platformsh-exporter
  stop() { systemctl stop platformsh-exporter; }
else
  # No systemd here: what the unit's ExecStart would run, with its environment.
  state=$(mktemp -d)
  (
    set -a
    # shellcheck disable=SC1091
    . /etc/default/platformsh-exporter
    set +a
    export PLATFORMSH_EXPORTER_STORAGE_PATH="$state/store.db"
    export PLATFORMSH_EXPORTER_WEB_LISTEN_ADDRESS="$address"
    exec /usr/bin/platformsh-exporter
  ) &
  pid=$!
  stop() { kill "$pid"; wait "$pid"; }
fi
for _ in $(seq 100); do
  if platformsh-exporter healthcheck --url "http://$address/-/ready" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
[ "${ready:-}" = 1 ] || { echo "the installed exporter did not become ready"; stop; exit 1; }
python3 - "$address" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics").read().decode()
line = next(l for l in body.splitlines() if l.startswith("platformsh_exporter_build_info{"))
assert 'revision="unknown"' not in line, line
print("serving:", line)
PY
stop
echo "the package installs, verifies and serves"
