#!/usr/bin/env bash
# Runs a Shoal cluster on your own hosts from an inventory file (see deploy/README.md).
#
# Usage: deploy/cluster.sh -i INVENTORY COMMAND [ARGS]
#   push RELEASE.tar.gz     copy the release, install.sh and each node's rendered config to every
#                           host and install (the release becomes `current`; nothing is restarted)
#   start [NODE...]         start the nodes (all by default) and wait until each is ready (/ready)
#   stop [NODE...]          stop the nodes gracefully (SIGTERM: sessions move to live peers)
#   status                  per node: its view of the members (state, routes), connections, /ready
#   rolling-restart         one node at a time: drain, stop, start, wait ready and rejoined, next
#   upgrade RELEASE.tar.gz  stage the release on every host, then a rolling restart that switches
#                           each node to it just before it starts again
#   wait-ready NODE...      wait until the nodes answer /ready 200 and every live peer sees them
#
# Inventory: one host a line, `#` comments; fields separated by blanks:
#   NAME  SSH-TARGET  CLUSTER-ADDRESS  MQTT-ADDRESS
#   node1 root@10.0.0.11 10.0.0.11 mqtt1.example.com:1883
# NAME is the node name; SSH-TARGET what `ssh` connects to; CLUSTER-ADDRESS the address peers use
# for gossip (UDP) and gRPC (TCP); MQTT-ADDRESS the host:port clients use for this node (gossiped,
# it is the Server Reference a draining node hands its clients).
#
# Environment:
#   SHOAL_CLUSTER_SECRET  (push, required) shared secret of the cluster, 16+ characters
#   SHOAL_HTTP_TOKEN      (push, optional) bearer token; with it the HTTP listener (/health, /ready,
#                         /metrics, admin API) binds the cluster address, without it loopback only
#   SHOAL_GOSSIP_PORT (7946)  SHOAL_GRPC_PORT (7947)  SHOAL_HTTP_PORT (18083)
#   SHOAL_ALLOW_ANONYMOUS (push, optional) true: clients may connect without a password (off
#                         loopback Shoal refuses them by default; otherwise add passwordFile to shoal.json)
#   SHOAL_READY_TIMEOUT   seconds to wait for a node to be ready (default 120)
#   SHOAL_SSH, SHOAL_SCP  the commands used to reach hosts (default: ssh / scp with BatchMode)
#
# Test mode (no ssh, no systemd): a SSH-TARGET of the form `netns:NAMESPACE:ROOT` runs every
# command of that host with `ip netns exec NAMESPACE`, copies with cp, installs below ROOT
# (install.sh --root ROOT --no-systemd) and runs the node as a background process with its pid in
# ROOT/run/shoal.pid and its log in ROOT/var/log/shoal.log instead of the systemd unit. The
# multi-host test (test/multihost/) drives it this way.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
GOSSIP_PORT=${SHOAL_GOSSIP_PORT:-7946}
GRPC_PORT=${SHOAL_GRPC_PORT:-7947}
HTTP_PORT=${SHOAL_HTTP_PORT:-18083}
READY_TIMEOUT=${SHOAL_READY_TIMEOUT:-120}
read -r -a SSH <<<"${SHOAL_SSH:-ssh -o BatchMode=yes -o ConnectTimeout=10}"
read -r -a SCP <<<"${SHOAL_SCP:-scp -q -o BatchMode=yes -o ConnectTimeout=10}"

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*" >&2; }

inventory=""
while [ $# -gt 0 ]; do
  case "$1" in
    -i|--inventory) inventory="$2"; shift 2 ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ -n "$inventory" ] || die "no inventory: pass -i FILE (see --help)"
[ -f "$inventory" ] || die "inventory '$inventory' not found"
[ $# -gt 0 ] || die "no command (see --help)"
command=$1; shift

NAMES=() TARGETS=() CADDRS=() MADDRS=()
lineno=0
while read -r name target caddr maddr rest || [ -n "${name:-}" ]; do
  lineno=$((lineno + 1))
  case "${name:-}" in ''|'#'*) continue ;; esac
  [ -n "${maddr:-}" ] && [ -z "${rest:-}" ] || die "$inventory:$lineno: expected 'NAME SSH-TARGET CLUSTER-ADDRESS MQTT-ADDRESS'"
  [[ "$maddr" == *:* ]] || die "$inventory:$lineno: MQTT-ADDRESS '$maddr' needs a port (host:port)"
  NAMES+=("$name") TARGETS+=("$target") CADDRS+=("$caddr") MADDRS+=("$maddr")
done <"$inventory"
[ ${#NAMES[@]} -gt 0 ] || die "$inventory lists no host"

index_of() {
  local i
  for i in "${!NAMES[@]}"; do [ "${NAMES[$i]}" = "$1" ] && { echo "$i"; return; }; done
  die "no node '$1' in $inventory (nodes: ${NAMES[*]})"
}

# ---- transport: ssh, or `ip netns exec` in test mode --------------------------------------------
is_netns() { [[ "${TARGETS[$1]}" == netns:* ]]; }
ns_of() { local t=${TARGETS[$1]#netns:}; echo "${t%%:*}"; }
# The install prefix of host i: "" over ssh, ROOT in test mode.
root_of() { if is_netns "$1"; then local t=${TARGETS[$1]#netns:}; echo "${t#*:}"; else echo ""; fi; }

# remote I SCRIPT: runs SCRIPT with sh on host I (stdin passed through).
remote() {
  if is_netns "$1"; then ip netns exec "$(ns_of "$1")" sh -c "$2"; else "${SSH[@]}" "${TARGETS[$1]}" "$2"; fi
}
# copy I LOCAL REMOTE-PATH (REMOTE-PATH below the host's root).
copy() {
  if is_netns "$1"; then cp "$2" "$(root_of "$1")$3"; else "${SCP[@]}" "$2" "${TARGETS[$1]}:$3"; fi
}

# What runs `shoal` on host I, with its installed config.
shoal_cmd() {
  local r; r=$(root_of "$1")
  echo "node $r/opt/shoal/current/bin/shoal.js"
}
config_of() { echo "$(root_of "$1")/etc/shoal/shoal.json"; }

# ---- commands --------------------------------------------------------------------------------------
render_config() {
  local i=$1 r seeds="" j sep="" http
  r=$(root_of "$i")
  for j in "${!NAMES[@]}"; do
    [ "$j" = "$i" ] && continue
    seeds+="$sep\"${CADDRS[$j]}:$GOSSIP_PORT\""; sep=", "
  done
  if [ -n "${SHOAL_HTTP_TOKEN:-}" ]; then http="\"${CADDRS[$i]}:$HTTP_PORT\", \"httpToken\": \"$SHOAL_HTTP_TOKEN\""; else http="\"127.0.0.1:$HTTP_PORT\""; fi
  cat <<JSON
{
  "nodeName": "${NAMES[$i]}",
  "listen": "0.0.0.0:${MADDRS[$i]##*:}",
  "advertiseMqtt": "${MADDRS[$i]}",
  "dataDir": "$r/var/lib/shoal",
  "gossip": "${CADDRS[$i]}:$GOSSIP_PORT",
  "grpc": "${CADDRS[$i]}:$GRPC_PORT",
  "advertise": "${CADDRS[$i]}",
  "seeds": [$seeds],
  "clusterSecret": "$SHOAL_CLUSTER_SECRET",
  "http": $http${SHOAL_ALLOW_ANONYMOUS:+,
  \"allowAnonymous\": \"$SHOAL_ALLOW_ANONYMOUS\"}
}
JSON
}

# push_release I RELEASE ACTIVATE(1/0): copy release + install.sh (+ config) to host I and install.
push_host() {
  local i=$1 release=$2 activate=$3 r tmp cfg base flags=""
  r=$(root_of "$i")
  base=$(basename "$release")
  tmp=$(remote "$i" "mkdir -p $r/tmp && mktemp -d $r/tmp/shoal-push.XXXXXX")
  tmp=${tmp#"$r"}
  remote "$i" "mkdir -p $r$tmp/deploy/systemd $r$tmp/deploy/sysctl"
  copy "$i" "$release" "$tmp/$base"
  copy "$i" "$here/install.sh" "$tmp/deploy/install.sh"
  copy "$i" "$here/systemd/shoal.service" "$tmp/deploy/systemd/shoal.service"
  copy "$i" "$here/sysctl/60-shoal.conf" "$tmp/deploy/sysctl/60-shoal.conf"
  cfg=$(mktemp)
  render_config "$i" >"$cfg"
  copy "$i" "$cfg" "$tmp/shoal.json"
  rm -f "$cfg"
  is_netns "$i" && flags="--root $r --no-systemd"
  [ "$activate" = 1 ] || flags="$flags --no-activate"
  remote "$i" "bash $r$tmp/deploy/install.sh --release $r$tmp/$base --config $r$tmp/shoal.json $flags && rm -rf $r$tmp"
  say "${NAMES[$i]}: installed $base"
}

cmd_push() {
  [ $# -eq 1 ] || die "push needs the release tarball (deploy/release.sh makes it)"
  [ -f "$1" ] || die "release '$1' not found"
  [ ${#SHOAL_CLUSTER_SECRET} -ge 16 ] 2>/dev/null || die "set SHOAL_CLUSTER_SECRET (16+ characters, the same for every push) before push"
  local i
  for i in "${!NAMES[@]}"; do push_host "$i" "$1" 1; done
}

start_host() {
  local i=$1 r
  r=$(root_of "$i")
  if is_netns "$i"; then
    # No systemd in test mode: a background process, its pid in ROOT/run/shoal.pid.
    remote "$i" "mkdir -p $r/run $r/var/log
      if [ -f $r/run/shoal.pid ] && kill -0 \$(cat $r/run/shoal.pid) 2>/dev/null; then exit 0; fi
      setsid $(shoal_cmd "$i") start --config $(config_of "$i") >>$r/var/log/shoal.log 2>&1 </dev/null &
      echo \$! >$r/run/shoal.pid"
  else
    remote "$i" "systemctl start shoal"
  fi
  say "${NAMES[$i]}: started"
}

# stop_host I: SIGTERM (a graceful leave) and wait until the process is gone.
stop_host() {
  local i=$1 r
  r=$(root_of "$i")
  if is_netns "$i"; then
    remote "$i" "[ ! -f $r/run/shoal.pid ] || kill -TERM \$(cat $r/run/shoal.pid) 2>/dev/null || true"
    wait_exited "$i"
  else
    remote "$i" "systemctl stop shoal"
  fi
  say "${NAMES[$i]}: stopped"
}

# wait_exited I: waits until the node (asked to stop or drain) has exited: up to 120 s.
wait_exited() {
  local i=$1 r
  r=$(root_of "$i")
  if is_netns "$i"; then
    remote "$i" "[ -f $r/run/shoal.pid ] || exit 0
      pid=\$(cat $r/run/shoal.pid); n=0
      while kill -0 \$pid 2>/dev/null; do n=\$((n+1)); [ \$n -gt 1200 ] && { echo '${NAMES[$i]}: shoal did not exit within 120 s' >&2; exit 1; }; sleep 0.1; done
      rm -f $r/run/shoal.pid"
  else
    remote "$i" "n=0; while systemctl is-active -q shoal; do n=\$((n+1)); [ \$n -gt 1200 ] && { echo '${NAMES[$i]}: shoal did not exit within 120 s' >&2; exit 1; }; sleep 0.1; done"
  fi
}

# http_get I PATH: prints the status code of GET PATH on host I's HTTP listener (000: no answer).
# With node's fetch: node is on every host, curl may not be.
http_get() {
  local i=$1 path=$2 host=127.0.0.1 token=""
  if [ -n "${SHOAL_HTTP_TOKEN:-}" ]; then host=${CADDRS[$i]}; token=$SHOAL_HTTP_TOKEN; fi
  remote "$i" "node -e 'const t=process.argv[2];fetch(process.argv[1],{headers:t?{authorization:\"Bearer \"+t}:{},signal:AbortSignal.timeout(3000)}).then(r=>console.log(r.status),()=>console.log(\"000\"))' http://$host:$HTTP_PORT$path '$token'"
}

# status_json I: host I's `shoal cluster status --json` (empty when it does not answer).
status_json() {
  remote "$1" "$(shoal_cmd "$1") cluster status --config $(config_of "$1") --json 2>/dev/null || true"
}

# wait_ready I: /ready answers 200 on host I, and every other node that answers sees I alive at the
# incarnation I reports for itself (it has rejoined, not just started).
wait_ready() {
  local i=$1 deadline code inc j s
  deadline=$(( $(date +%s) + READY_TIMEOUT ))
  while :; do
    code=$(http_get "$i" /ready)
    [ "$code" = 200 ] && break
    [ "$(date +%s)" -lt "$deadline" ] || die "${NAMES[$i]}: /ready did not answer 200 within ${READY_TIMEOUT}s (last: $code); see its log (journalctl -u shoal)"
    sleep 0.5
  done
  inc=$(status_json "$i" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).incarnation)}catch{console.log("")}})')
  [ -n "$inc" ] || die "${NAMES[$i]}: ready but 'shoal cluster status' does not answer"
  for j in "${!NAMES[@]}"; do
    [ "$j" = "$i" ] && continue
    while :; do
      s=$(status_json "$j")
      [ -z "$s" ] && break # not running: nothing to wait for
      if printf '%s' "$s" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const st=JSON.parse(s);const m=st.members.find(m=>m.node===process.argv[1]);process.exit(m&&m.state==="alive"&&String(m.incarnation)===process.argv[2]?0:1)})' "${NAMES[$i]}" "$inc"; then break; fi
      [ "$(date +%s)" -lt "$deadline" ] || die "${NAMES[$j]} does not see ${NAMES[$i]} (incarnation $inc) alive within ${READY_TIMEOUT}s"
      sleep 0.5
    done
  done
  say "${NAMES[$i]}: ready and rejoined (incarnation $inc)"
}

selected() {
  if [ $# -eq 0 ]; then echo "${!NAMES[@]}"; else local n; for n in "$@"; do index_of "$n"; done | tr '\n' ' '; fi
}

cmd_start() {
  local i
  for i in $(selected "$@"); do start_host "$i"; done
  for i in $(selected "$@"); do wait_ready "$i"; done
}

cmd_stop() {
  local i
  for i in $(selected "$@"); do stop_host "$i"; done
}

cmd_status() {
  local i s
  for i in "${!NAMES[@]}"; do
    s=$(status_json "$i")
    if [ -z "$s" ]; then
      printf '%s: not answering (stopped?)\n' "${NAMES[$i]}"
      continue
    fi
    printf '%s' "$s" | node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const st = JSON.parse(s);
        const members = st.members.map((m) => `${m.node}=${m.state}(routes ${m.routeCount})`).join(" ");
        console.log(`${st.node}: ready ${process.argv[1]}, connections ${st.load?.connections ?? "?"}, members ${members}`);
      });' "$(http_get "$i" /ready)"
  done
}

# restart_one I [RELEASE-VERSION]: drain I, wait for its exit, (switch release), start, wait ready.
restart_one() {
  local i=$1 version=${2:-} r
  r=$(root_of "$i")
  say "${NAMES[$i]}: draining"
  remote "$i" "$(shoal_cmd "$i") drain --config $(config_of "$i")" >&2 || die "${NAMES[$i]}: shoal drain failed; the node is unchanged, fix it and run rolling-restart again"
  wait_exited "$i"
  if [ -n "$version" ]; then remote "$i" "ln -sfn releases/$version $r/opt/shoal/current"; say "${NAMES[$i]}: current -> releases/$version"; fi
  start_host "$i"
  wait_ready "$i"
}

cmd_rolling_restart() {
  local i version=${1:-}
  for i in "${!NAMES[@]}"; do
    [ -n "$(status_json "$i")" ] || die "${NAMES[$i]} is not running: start it (or fix it) before a rolling restart"
  done
  for i in "${!NAMES[@]}"; do restart_one "$i" "$version"; done
  say "rolling restart done"
}

cmd_upgrade() {
  [ $# -eq 1 ] && [ -f "$1" ] || die "upgrade needs the new release tarball"
  local i version top
  top=$(tar -tzf "$1" | sed -n 1p | cut -d/ -f1)
  version=$(tar -xzOf "$1" "$top/VERSION")
  for i in "${!NAMES[@]}"; do push_host "$i" "$1" 0; done
  cmd_rolling_restart "$version"
}

case "$command" in
  push) cmd_push "$@" ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status ;;
  rolling-restart) cmd_rolling_restart ;;
  upgrade) cmd_upgrade "$@" ;;
  wait-ready) for n in "$@"; do wait_ready "$(index_of "$n")"; done ;;
  *) die "unknown command '$command' (see --help)" ;;
esac
