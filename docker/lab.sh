#!/usr/bin/env bash
# The docker-compose lab: keys and configs into docker/config, the containers
# up, a 30 s iperf3 transfer from the client to the server through the tunnel,
# and the client's Wi-Fi network disconnected 10 s in: the transfer goes on
# over LTE. Needs a Docker engine (the netns lab in tests/netns/ does not).
#   docker/lab.sh [down]
set -eu
cd "$(dirname "$0")"
compose() { docker-compose -p tund-lab "$@"; }
if [ "${1:-}" = down ]; then compose down -v; exit 0; fi
compose build
mkdir -p config
key() { docker run --rm tund-lab tund genkey; }
pub() { echo "$1" | docker run --rm -i tund-lab tund pubkey; }
HUB_KEY=$(key); CLI_KEY=$(key)
echo "$HUB_KEY" > config/hub.key; echo "$CLI_KEY" > config/client.key; chmod 600 config/*.key
cat > config/hub.toml <<TOML
private_key_file = "hub.key"
listen = "0.0.0.0:51900"
control_socket = "/run/tund/hub.sock"
state_directory = "/var/lib/tund"
[tun]
address = "10.77.0.1/24"
[[client]]
name = "client"
public_key = "$(pub "$CLI_KEY")"
vip = "10.77.0.2"
TOML
cat > config/client.toml <<TOML
private_key_file = "client.key"
control_socket = "/run/tund/client.sock"
[[hub]]
name = "hub"
endpoint = "10.100.0.10:51900"
public_key = "$(pub "$HUB_KEY")"
routes = ["10.104.0.0/24"]
[uplinks]
hold_down_ms = 2000
TOML
compose up -d
for _ in $(seq 50); do compose exec -T client tund status -c /etc/tund/client.toml >/dev/null 2>&1 && break; sleep 0.2; done
compose exec -T client tund status -c /etc/tund/client.toml
compose exec -T client iperf3 -c 10.104.0.20 -t 30 -i 1 &
IPERF=$!
sleep 10
echo "== disconnecting the client from wifi"
docker network disconnect tund-lab_wifi "$(compose ps -q client)"
wait $IPERF
compose exec -T client tund status -c /etc/tund/client.toml
