# wireguard-go on the netns lab (cli <-> hub, the same uplinks and router as
# tund), for the benchmarks and the demo: sourced after lab.sh.
#   WG_GO   the binary (default: Debian's wireguard-go; a benchmark may name a
#           newer build it was given)
# setup_wg brings up wgcli (10.99.0.2) and wghub (10.99.0.1) with
# 10.4.0.0/24 routed through them and sets CLI_IP; ready_wg says whether srv
# answers through the tunnel; WG_PIDS holds its two processes, stop_wg
# ends them (wireguard-go removes its interfaces as it exits).
WG_GO=${WG_GO:-wireguard-go}
WG_PIDS=()

setup_wg() {
  # Distinct interface names: wireguard-go's control sockets live in the shared
  # /var/run/wireguard/, not per namespace.
  for k in hubwg cliwg; do (umask 077; wg genkey > "$LAB_DIR/$k.key"); wg pubkey < "$LAB_DIR/$k.key" > "$LAB_DIR/$k.pub"; done
  for n in hub cli; do
    rm -f "/var/run/wireguard/wg$n.sock"
    ip netns exec "$(ns $n)" env WG_PROCESS_FOREGROUND=1 WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
      "$WG_GO" -f "wg$n" >"$LAB_DIR/wg-$n.log" 2>&1 &
    LAB_PIDS+=($!); WG_PIDS+=($!)
  done
  wait_for 5 nsx hub ip link show wghub; wait_for 5 nsx cli ip link show wgcli
  nsx hub wg set wghub private-key "$LAB_DIR/hubwg.key" listen-port 51820 peer "$(cat "$LAB_DIR/cliwg.pub")" allowed-ips 10.99.0.2/32
  nsx hub ip addr add 10.99.0.1/24 dev wghub; nsx hub ip link set wghub up
  nsx cli wg set wgcli private-key "$LAB_DIR/cliwg.key" peer "$(cat "$LAB_DIR/hubwg.pub")" endpoint 10.3.0.2:51820 \
    allowed-ips 10.99.0.0/24,10.4.0.0/24 persistent-keepalive 25
  nsx cli ip addr add 10.99.0.2/24 dev wgcli; nsx cli ip link set wgcli up
  nsx cli ip route add 10.4.0.0/24 dev wgcli
  wait_for 10 nsx cli ping -c 1 -W 1 10.4.0.2 || echo "   wireguard-go did not come up: $(cat "$LAB_DIR"/wg-*.log)"
  CLI_IP=10.99.0.2
}
stop_wg() {
  local p
  for p in "${WG_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  WG_PIDS=()
}
ready_wg() { nsx cli ping -c 1 -W 1 10.4.0.2 >/dev/null; }
# wireguard-go cannot be told to switch: a planned switch is a route change.
event_planned_wg() { nsx cli ip route replace default via 10.2.0.1 dev lte0 metric 50; }
restore_planned_wg() { nsx cli ip route del default via 10.2.0.1 dev lte0 metric 50; }
