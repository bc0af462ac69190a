#!/usr/bin/env bash
# Installs (or upgrades) Shoal on this host from a release tarball made by deploy/release.sh.
#
# Layout (every path below --root, default /):
#   /opt/shoal/releases/<version>/   the unpacked release (bin/, dist/, node_modules/, ...)
#   /opt/shoal/current               symlink to the active release (flipped by an upgrade)
#   /etc/shoal/shoal.json            node configuration (JSON keys of `shoal start --help`); kept if present
#   /var/lib/shoal                   data directory (SQLite files), owned by the shoal user
#   /etc/systemd/system/shoal.service, /etc/sysctl.d/60-shoal.conf
#   /usr/local/bin/shoal             the command (only when --root is /)
# Logs go to journald (stdout of the service): journalctl -u shoal.
#
# Idempotent: running it again with the same release changes nothing; with a new release it
# unpacks it next to the old one and (unless --no-activate) points `current` at it. It never
# restarts a running node: that is `deploy/cluster.sh rolling-restart` / `upgrade`.
#
# Usage: install.sh --release FILE.tar.gz [--config FILE] [--root DIR] [--no-systemd] [--no-activate]
#   --config FILE   install FILE as /etc/shoal/shoal.json (replacing the one there)
#   --root DIR      install below DIR instead of / (a test or image build): no user is created,
#                   nothing is chowned, systemctl and sysctl are not called
#   --no-systemd    install the unit and sysctl files but do not call systemctl or sysctl
#   --no-activate   unpack the release but leave `current` where it is (cluster.sh upgrade flips
#                   it one node at a time)
set -euo pipefail

release="" config="" root="/" systemd=1 activate=1
while [ $# -gt 0 ]; do
  case "$1" in
    --release) release="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --root) root="$2"; shift 2 ;;
    --no-systemd) systemd=0; shift ;;
    --no-activate) activate=0; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
[ -n "$release" ] || { echo "install.sh: --release FILE.tar.gz is required (build it with deploy/release.sh)" >&2; exit 2; }
[ -f "$release" ] || { echo "install.sh: release '$release' not found" >&2; exit 2; }
[ -z "$config" ] || [ -f "$config" ] || { echo "install.sh: config '$config' not found" >&2; exit 2; }
command -v node >/dev/null || { echo "install.sh: node is not installed; install Node.js 20 (e.g. from your distribution or nodesource) first" >&2; exit 1; }
root=${root%/}
real_root=0; [ -z "$root" ] && real_root=1
[ "$real_root" = 1 ] && [ "$(id -u)" != 0 ] && { echo "install.sh: installing into / needs root (or use --root DIR)" >&2; exit 1; }

log() { echo "install.sh: $*" >&2; }

# The unit and tarball carry the version; the tarball's top directory is shoal-<version>-...
top=$(tar -tzf "$release" | sed -n 1p | cut -d/ -f1)
version=$(tar -xzOf "$release" "$top/VERSION")
[ -n "$version" ] || { echo "install.sh: $release has no VERSION file; build it with deploy/release.sh" >&2; exit 1; }

# 1. The service user (system account, no login, home = data dir).
if [ "$real_root" = 1 ] && ! id shoal >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/shoal --no-create-home --shell /usr/sbin/nologin --user-group shoal
  log "created system user shoal"
fi

# 2. The release, unpacked once per version; `current` points at the active one.
dest="$root/opt/shoal/releases/$version"
if [ ! -f "$dest/VERSION" ]; then
  mkdir -p "$root/opt/shoal/releases"
  tmp=$(mktemp -d "$root/opt/shoal/releases/.unpack.XXXXXX")
  tar -C "$tmp" -xzf "$release"
  rm -rf "$dest"
  mv "$tmp/$top" "$dest"
  rmdir "$tmp"
  log "unpacked release $version into $dest"
else
  log "release $version already in $dest"
fi
node -e "require('$dest/node_modules/sqlite3')" 2>/dev/null || { echo "install.sh: sqlite3 in $dest does not load with $(node --version) on $(uname -m); build the release on a host like this one" >&2; exit 1; }
if [ "$activate" = 1 ]; then
  ln -sfn "releases/$version" "$root/opt/shoal/current"
  log "current -> releases/$version"
fi

# 3. Configuration and data.
mkdir -p "$root/etc/shoal" "$root/var/lib/shoal"
if [ -n "$config" ]; then
  install -m 0640 "$config" "$root/etc/shoal/shoal.json"
  log "installed $config as /etc/shoal/shoal.json"
elif [ ! -f "$root/etc/shoal/shoal.json" ]; then
  # A single node on every interface; cluster.sh push renders a cluster member's file.
  printf '{\n  "listen": "0.0.0.0:1883",\n  "dataDir": "/var/lib/shoal"\n}\n' > "$root/etc/shoal/shoal.json"
  chmod 0640 "$root/etc/shoal/shoal.json"
  log "wrote a default /etc/shoal/shoal.json (single node)"
fi
if [ "$real_root" = 1 ]; then
  chown root:shoal "$root/etc/shoal/shoal.json"   # it may hold the cluster secret
  chown shoal:shoal "$root/var/lib/shoal"
  chmod 0750 "$root/var/lib/shoal"
  ln -sfn /opt/shoal/current/bin/shoal.js /usr/local/bin/shoal
fi

# 4. systemd unit and kernel settings.
mkdir -p "$root/etc/systemd/system" "$root/etc/sysctl.d"
install -m 0644 "$here/systemd/shoal.service" "$root/etc/systemd/system/shoal.service"
install -m 0644 "$here/sysctl/60-shoal.conf" "$root/etc/sysctl.d/60-shoal.conf"
if [ "$real_root" = 1 ] && [ "$systemd" = 1 ]; then
  sysctl -q -p /etc/sysctl.d/60-shoal.conf
  systemctl daemon-reload
  systemctl enable shoal.service >/dev/null
  log "systemd unit enabled; start with: systemctl start shoal (or deploy/cluster.sh start)"
fi
log "installed shoal $version below ${root:-/}"
