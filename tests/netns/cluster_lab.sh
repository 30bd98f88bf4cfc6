# The hub-cluster lab, sourced by the cluster tests (after lab.sh): the
# standard lab's client and its two hub namespaces as members hub-a (hub ns,
# outer 10.3.0.2) and hub-b (hub2 ns, outer 10.6.0.2) of cluster "lab", and
# a server-side router `rtr` between them and the servers:
#
#   hub  (hub-a) s1 10.9.1.1 ── h1 10.9.1.2 ┐
#                                           rtr: lo 10.9.0.1 (the servers), etcd :2379, BIRD AS 65000
#   hub2 (hub-b) s1 10.9.2.1 ── h2 10.9.2.2 ┘
#
# The client routes 10.9.0.0/16 through the cluster: what rtr sends to a VIP
# leaves from h1's or h2's address.
# Each member runs BIRD with examples/cluster/member-{a,b}.bird.conf (eBGP to
# the router, BFD); the router runs examples/cluster/router.bird.conf and one
# etcd, which both members use. The members share the cluster's key; the
# client's [[hub]] lists both endpoints.
LAB_EXTRA_NS="rtr"
CLUSTER_EXAMPLES="$ROOT/examples/cluster"
member_ns() { case $1 in hub-a) echo hub ;; hub-b) echo hub2 ;; esac; }
member_of_endpoint() { case $1 in 10.3.0.2:*) echo hub-a ;; 10.6.0.2:*) echo hub-b ;; esac; }
other_member() { [ "$1" = hub-a ] && echo hub-b || echo hub-a; }

# cluster_require TEST: root and the cluster's tools, else skipped with the
# reason; lab_down at exit.
cluster_require() {
  require_root "$1"
  local tool
  for tool in etcd bird curl; do
    command -v $tool >/dev/null || { echo "SKIPPED: $1 needs $tool (./scripts/setup installs it)"; exit 77; }
  done
  trap lab_down EXIT
}

cluster_up() {
  lab_up
  ip netns add "$(ns rtr)"
  nsx rtr ip link set lo up
  nsx rtr ip addr add 10.9.0.1/32 dev lo
  lab_veth hub s1 10.9.1.1/24 rtr h1 10.9.1.2/24
  lab_veth hub2 s1 10.9.2.1/24 rtr h2 10.9.2.2/24
  # All of the server side, h1's and h2's addresses too: a connection the
  # router opened through one member goes on through the other.
  nsx hub ip route add 10.9.0.0/16 via 10.9.1.2
  nsx hub2 ip route add 10.9.0.0/16 via 10.9.2.2
  # During a move a VIP's packets may come in on the other link for a moment.
  for k in all default h1 h2; do nsx rtr sysctl -qw net.ipv4.conf.$k.rp_filter=0; done

  lab_start rtr etcd etcd --name lab --data-dir "$LAB_DIR/etcd" --listen-client-urls http://0.0.0.0:2379 \
    --advertise-client-urls http://10.9.1.2:2379 --listen-peer-urls http://127.0.0.1:2380 \
    --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster lab=http://127.0.0.1:2380 --log-level error
  lab_start rtr bird_rtr bird -f -c "$CLUSTER_EXAMPLES/router.bird.conf" -s "$LAB_DIR/bird-rtr.ctl"
  lab_start hub bird_a bird -f -c "$CLUSTER_EXAMPLES/member-a.bird.conf" -s "$LAB_DIR/bird-a.ctl"
  lab_start hub2 bird_b bird -f -c "$CLUSTER_EXAMPLES/member-b.bird.conf" -s "$LAB_DIR/bird-b.ctl"

  lab_keys hub ${CLUSTER_CLIENTS:-phone}
  for m in hub-a hub-b; do cluster_member_toml $m > "$LAB_DIR/$m.toml"; done
  lab_phone_toml > "$LAB_DIR/cli.toml"
  sed -i -e 's|^endpoint = .*|endpoints = ["10.3.0.2:51900", "10.6.0.2:51900"]|' \
    -e 's|^routes = .*|routes = ["10.9.0.0/16"]|' "$LAB_DIR/cli.toml"
  wait_for 10 nsx rtr curl -sf -X POST -d '{"key":"eA=="}' http://127.0.0.1:2379/v3/kv/range
}

# cluster_member_toml MEMBER [ETCD]: its config (clients: CLUSTER_CLIENTS, default "phone").
cluster_member_toml() {
  local etcd=${2:-$( [ "$1" = hub-a ] && echo 10.9.1.2:2379 || echo 10.9.2.2:2379 )}
  cat <<TOML
private_key_file = "hub.key"
listen = "0.0.0.0:51900"
control_socket = "$LAB_DIR/$1.sock"
state_directory = "$LAB_DIR/state-$1"
metrics_listen = "127.0.0.1:9586"
[tun]
address = "10.77.0.1/24"
[cluster]
name = "lab"
member = "$1"
members = ["hub-a", "hub-b"]
etcd = ["$etcd"]
TOML
  local c
  for c in ${CLUSTER_CLIENTS:-phone}; do printf '[[client]]\nname = "%s"\npublic_key = "%s"\n' "$c" "$(pub "$c")"; done
}

member_start() {  # member_start MEMBER [NAME]: runs it; PID_<NAME> (default hub_a / hub_b)
  local name=${2:-${1/-/_}}
  lab_start "$(member_ns "$1")" "$name" "$BIN/tund-hub" run -c "$LAB_DIR/$1.toml"
}
member_status() { nsx "$(member_ns "$1")" "$BIN/tund-hub" status -c "$LAB_DIR/$1.toml" --json; }
member_serving() { member_status "$1" | jq -e '.cluster.serving' >/dev/null; }
member_has_phone() { member_status "$1" | jq -e '.sessions | map(select(.name == "phone")) | length == 1' >/dev/null; }
client_status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json; }
client_member() { member_of_endpoint "$(client_status | jq -r '.hubs[0].endpoint')"; }
# etcd_get KEY: the value, or nothing.
etcd_get() {
  nsx rtr curl -sf -X POST -d "{\"key\":\"$(printf %s "$1" | base64 -w0)\"}" http://127.0.0.1:2379/v3/kv/range |
    jq -r '.kvs[0].value // empty' | base64 -d
}
phone_hex() { "$PY" -c 'import base64,sys; print(base64.b64decode(sys.argv[1]).hex())' "$(pub phone)"; }
# The router's next hop for an address ("" when it has no route).
router_via() { nsx rtr ip -4 route get "$1" 2>/dev/null | sed -n 's/.* via \([0-9.]*\) .*/\1/p'; }
member_address() { [ "$1" = hub-a ] && echo 10.9.1.1 || echo 10.9.2.1; }
