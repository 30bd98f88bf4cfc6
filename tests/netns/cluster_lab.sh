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
# etcd is secured as in production: TLS only, a client certificate required
# (scripts/etcd-certs makes a throwaway CA and certificates into
# LAB_DIR/etcd-certs; etcd's names the addresses it is reached at), and etcd's
# user authentication on: the members are user "tund", readwrite on
# /tund/lab/ alone; the tests read etcd as root.
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

  bash "$ROOT/scripts/etcd-certs" "$LAB_DIR/etcd-certs" IP:127.0.0.1 IP:10.9.1.2 IP:10.9.2.2 ||
    { echo "FAIL - scripts/etcd-certs: no certificates for etcd"; exit 1; }
  cluster_etcd_start etcd
  lab_start rtr bird_rtr bird -f -c "$CLUSTER_EXAMPLES/router.bird.conf" -s "$LAB_DIR/bird-rtr.ctl"
  lab_start hub bird_a bird -f -c "$CLUSTER_EXAMPLES/member-a.bird.conf" -s "$LAB_DIR/bird-a.ctl"
  lab_start hub2 bird_b bird -f -c "$CLUSTER_EXAMPLES/member-b.bird.conf" -s "$LAB_DIR/bird-b.ctl"

  lab_keys hub ${CLUSTER_CLIENTS:-phone}
  for m in hub-a hub-b; do cluster_member_toml $m > "$LAB_DIR/$m.toml"; done
  lab_phone_toml > "$LAB_DIR/cli.toml"
  sed -i -e 's|^endpoint = .*|endpoints = ["10.3.0.2:51900", "10.6.0.2:51900"]|' \
    -e 's|^routes = .*|routes = ["10.9.0.0/16"]|' "$LAB_DIR/cli.toml"
  wait_for 10 etcd_post kv/range '{"key":"eA=="}'
  cluster_etcd_users || { echo "FAIL - etcd's users and roles could not be set up"; exit 1; }
}

# cluster_etcd_start NAME: the lab's etcd in rtr (PID_<NAME>) on LAB_DIR/etcd,
# TLS with a client certificate required.
cluster_etcd_start() {
  local c="$LAB_DIR/etcd-certs"
  lab_start rtr "$1" etcd --name lab --data-dir "$LAB_DIR/etcd" --listen-client-urls https://0.0.0.0:2379 \
    --advertise-client-urls https://10.9.1.2:2379 --listen-peer-urls http://127.0.0.1:2380 \
    --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster lab=http://127.0.0.1:2380 --log-level error \
    --cert-file "$c/server.pem" --key-file "$c/server.key" --trusted-ca-file "$c/ca.pem" --client-cert-auth
}

# etcd_post PATH JSON [TOKEN]: POST to etcd's JSON gateway from rtr, over TLS
# with the lab's client certificate (and TOKEN as etcd's auth token); the answer.
etcd_post() {
  local c="$LAB_DIR/etcd-certs" auth=()
  [ -z "${3:-}" ] || auth=(-H "Authorization: $3")
  nsx rtr curl -sf --cacert "$c/ca.pem" --cert "$c/client.pem" --key "$c/client.key" "${auth[@]}" \
    -X POST -d "$2" "https://127.0.0.1:2379/v3/$1"
}

# etcd's users, then its authentication on (as etcdctl would, through the
# gateway): root (the tests), and tund with a role of readwrite on /tund/lab/
# (the members, with the password in LAB_DIR/etcd-tund.password, mode 600).
cluster_etcd_users() {
  local prefix end
  prefix=$(printf /tund/lab/ | base64 -w0); end=$(printf /tund/lab0 | base64 -w0)
  (umask 077; head -c 18 /dev/urandom | base64 > "$LAB_DIR/etcd-root.password"
   head -c 18 /dev/urandom | base64 > "$LAB_DIR/etcd-tund.password")
  etcd_post auth/user/add "{\"name\":\"root\",\"password\":\"$(cat "$LAB_DIR/etcd-root.password")\"}" >/dev/null &&
    etcd_post auth/user/grant '{"user":"root","role":"root"}' >/dev/null &&
    etcd_post auth/role/add '{"name":"tund-lab"}' >/dev/null &&
    etcd_post auth/role/grant "{\"name\":\"tund-lab\",\"perm\":{\"permType\":\"READWRITE\",\"key\":\"$prefix\",\"range_end\":\"$end\"}}" >/dev/null &&
    etcd_post auth/user/add "{\"name\":\"tund\",\"password\":\"$(cat "$LAB_DIR/etcd-tund.password")\"}" >/dev/null &&
    etcd_post auth/user/grant '{"user":"tund","role":"tund-lab"}' >/dev/null &&
    etcd_post auth/enable '{}' >/dev/null
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
etcd_ca = "$LAB_DIR/etcd-certs/ca.pem"
etcd_cert = "$LAB_DIR/etcd-certs/client.pem"
etcd_key = "$LAB_DIR/etcd-certs/client.key"
etcd_user = "tund"
etcd_password_file = "$LAB_DIR/etcd-tund.password"
TOML
  local c
  for c in ${CLUSTER_CLIENTS:-phone}; do printf '[[client]]\nname = "%s"\npublic_key = "%s"\n' "$c" "$(pub "$c")"; done
}

# cluster_serving: the lab up, both members started and serving.
cluster_serving() {
  cluster_up
  member_start hub-a
  member_start hub-b
  check "hub-a takes its lease and serves" wait_for 10 member_serving hub-a
  check "hub-b takes its lease and serves" wait_for 10 member_serving hub-b
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
# etcd_get KEY: the value, or nothing. Read as root, with a token asked for
# each time (etcd's tokens expire, and a restarted etcd forgets them).
etcd_root_token() {
  etcd_post auth/authenticate "{\"name\":\"root\",\"password\":\"$(cat "$LAB_DIR/etcd-root.password")\"}" |
    jq -r '.token // empty'
}
etcd_get() {
  etcd_post kv/range "{\"key\":\"$(printf %s "$1" | base64 -w0)\"}" "$(etcd_root_token)" | jq -r '.kvs[0].value // empty' | base64 -d
}
# The store's revision: every write moves it; lease keepalives and
# authentication do not.
etcd_revision() { etcd_post kv/range '{"key":"eA=="}' "$(etcd_root_token)" | jq -r .header.revision; }
phone_hex() { "$PY" -c 'import base64,sys; print(base64.b64decode(sys.argv[1]).hex())' "$(pub phone)"; }
# The router's next hop for an address ("" when it has no route).
router_via() { nsx rtr ip -4 route get "$1" 2>/dev/null | sed -n 's/.* via \([0-9.]*\) .*/\1/p'; }
member_address() { [ "$1" = hub-a ] && echo 10.9.1.1 || echo 10.9.2.1; }
