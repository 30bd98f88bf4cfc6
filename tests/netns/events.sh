# Uplink events on the lab's cli (wlan0 active, lte0 standby), shared by the
# handover test and bench/handover. Each event_X breaks something; restore_X
# puts it back.

event_down() { nsx cli ip link set wlan0 down; }
restore_down() {
  nsx cli ip link set wlan0 up
  wait_for 3 nsx cli ip route replace default via 10.1.0.1 dev wlan0 metric 100
}

# The uplink stays up; the router silently drops everything through it.
event_blackhole() {
  nsx inet nft -f - <<'NFT'
table inet blackhole {
  chain drop_all {
    type filter hook forward priority -10;
    iifname "w1" drop
    oifname "w1" drop
  }
}
NFT
}
restore_blackhole() { nsx inet nft delete table inet blackhole; }

# A DHCP renew to a new lease: new address first, then the old one goes.
event_addr() {
  nsx cli sysctl -qw net.ipv4.conf.wlan0.promote_secondaries=1
  nsx cli ip addr add 10.1.0.3/24 dev wlan0
  nsx cli ip addr del 10.1.0.2/24 dev wlan0
  nsx cli ip route replace default via 10.1.0.1 dev wlan0 metric 100
}
restore_addr() {
  nsx cli ip addr add 10.1.0.2/24 dev wlan0
  nsx cli ip addr del 10.1.0.3/24 dev wlan0
  nsx cli ip route replace default via 10.1.0.1 dev wlan0 metric 100
}

event_planned() { nsx cli "$BIN/tund" switch lte0 -c "$LAB_DIR/cli.toml" >/dev/null; }
restore_planned() { nsx cli "$BIN/tund" switch auto -c "$LAB_DIR/cli.toml" >/dev/null; }

# Down and up three times within five seconds.
event_flap() {
  for i in 1 2 3; do
    nsx cli ip link set wlan0 down; sleep 0.4
    restore_down; sleep 1
  done
}
restore_flap() { :; }
