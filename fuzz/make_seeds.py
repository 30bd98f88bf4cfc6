#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/: a few well-formed inputs per
target, so fuzzing starts from the shapes the parsers accept (checksummed TCP
segments for GRO, a TSO super-packet for the splitter, real config files).
Run it again after a wire format change; the files are committed."""
import os, struct

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "corpus")

def put(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

def ipv4(src, dst, proto, payload, ident=1, frag=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload

def tcp(src, dst, sport, dport, seq, payload, flags=0x10):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, flags, 65535, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(h) + len(payload))
    c = csum(pseudo + h + payload)
    return h[:16] + struct.pack("!H", c) + h[18:] + payload

def udp(src, dst, payload):
    h = struct.pack("!HHHH", 4000, 53, 8 + len(payload), 0)
    return h + payload

A, B = bytes([10, 77, 0, 2]), bytes([10, 4, 0, 2])
seg = lambda seq, n: ipv4(A, B, 6, tcp(A, B, 40000, 80, seq, bytes((seq + i) & 0xFF for i in range(n))), ident=seq & 0xFFFF)
udp_pkt = ipv4(A, B, 17, udp(A, B, b"hello tund"))
v6 = struct.pack("!IHBB", 0x60000000, 8 + 4, 17, 64) + bytes.fromhex("fd040000000000000000000000000002") + \
     bytes.fromhex("fd040000000000000000000000000001") + struct.pack("!HHHH", 1, 2, 12, 0) + b"abcd"

# wire::classify: one of each type at its size (160, 108, 64, data, control).
for t, n in [(1, 160), (2, 108), (3, 64), (4, 40 + 28), (5, 32 + 4)]:
    put("classify", "type%d" % t, bytes([t, 0, 0, 0]) + bytes(n - 4))
# Control frames: keepalive, probe, ack (switch flag).
put("control_frame", "keepalive", bytes([1, 0, 0, 0]))
put("control_frame", "probe", bytes([2, 0, 0, 0]) + struct.pack("<II", 7, 0) + bytes(range(8)))
put("control_frame", "ack", bytes([4, 0, 0, 0]) + struct.pack("<IIQ", 1, 0, 100) + bytes([0xFF] * 64))
put("parse_inner", "udp4", udp_pkt)
put("parse_inner", "udp6", v6)
put("parse_inner", "tcp4", seg(1000, 100))
# The first two bytes choose the fragmenter's inner MTU (28 + n % 1500): 600.
put("parse_inner", "no_df_1400", struct.pack("!H", 572) + ipv4(A, B, 17, udp(A, B, bytes(1372)), frag=0))
# Session inputs: mode byte, then the message or plaintext.
from_server = ipv4(B, A, 17, udp(B, A, b"x" * 20))
put("hub_receive", "raw", b"\x00" + bytes([4, 0, 0, 0]) + bytes(60))
put("hub_receive", "data", b"\x02" + struct.pack("<Q", 5) + udp_pkt)
put("hub_receive", "switch_ack", b"\x03" + bytes([4, 0, 0, 0]) + struct.pack("<IIQ", 1, 0, 0) + bytes(64))
put("hub_receive", "probe", b"\x03" + bytes([2, 0, 0, 0]) + struct.pack("<II", 7, 0) + bytes(range(8)))
put("client_receive", "raw", b"\x00" + bytes([2, 0, 0, 0]) + bytes(104))
put("client_receive", "data", b"\x01" + struct.pack("<Q", 5) + from_server)
put("client_receive", "ack", b"\x02" + bytes([4, 0, 0, 0]) + struct.pack("<IIQ", 1, 0, 3) + bytes(64))
# The C API (fuzz/capi.cpp): raw datagrams split at 0xff, a sealed data
# plaintext, an inner packet from the TUN, uplink calls (one byte each).
put("capi", "raw", b"\x00" + bytes([2, 0, 0, 0]) + bytes(104) + b"\xff" + bytes([4, 0, 0, 0]) + bytes(40))
put("capi", "data", b"\x01" + struct.pack("<Q", 5) + from_server)
put("capi", "inner", b"\x02" + udp_pkt)
put("capi", "inner_big", b"\x02" + ipv4(A, B, 17, udp(A, B, bytes(1600))))
put("capi", "uplinks", b"\x03" + bytes([0x21, 0x32, 0x08, 0x05, 0x0c, 0x36]))
put("handshake", "zeros", bytes(160))
put("handshake", "pattern", bytes(range(160)))
put("cookie_reply", "shaped", bytes([3, 0, 0, 0]) + struct.pack("<I", 1) + bytes(56))
# GRO: in-order segments of one flow (2-byte length prefix each), and a mix.
def frames(pkts): return b"".join(struct.pack("<H", len(p)) + p for p in pkts)
put("gro", "flow", frames([seg(1000, 1000), seg(2000, 1000), seg(3000, 500)]))
put("gro", "mixed", frames([seg(1000, 1000), udp_pkt, seg(2000, 1000), v6]))
# GSO: vnet header (flags NEEDS_CSUM, TCPV4, gso_size 1000, csum_start 20, csum_offset 16), capacity, super-packet.
sup = ipv4(A, B, 6, tcp(A, B, 40000, 80, 1, bytes(i & 0xFF for i in range(3500))))
vnet = struct.pack("<BBHHHH", 1, 1, 40, 1000, 20, 16)
put("gso_split", "tso4", vnet + struct.pack("<H", 1300) + sup)
put("gso_split", "plain", struct.pack("<BBHHHH", 0, 0, 0, 0, 0, 0) + struct.pack("<H", 1300) + udp_pkt)
put("resend_buffer", "ops", bytes([0, 10, 0, 20, 0, 30, 1, 2, 0xFF] + [0] * 63 + [2, 0, 3, 3, 3, 5, 30, 4, 0, 200]))
put("resend_buffer", "many", bytes((i * 37) & 0xFF for i in range(400)))
client_toml = b'''private_key_file = "k.key"
control_socket = "/tmp/tund-fuzz.sock"
[tun]
name = "tun9"
[[hub]]
name = "main"
endpoint = "10.3.0.2:51900"
public_key = "YAcrgGfH0jFbdqVwN7sjcAgbpNnyTk5ARNAxcQm/cEI="
routes = ["10.4.0.0/24", "0.0.0.0/0", "::/0"]
persistent_keepalive = 25
max_vip_subnet = 20
[uplinks]
prefer = ["eth*"]
metered = ["wwan*"]
'''
hub_toml = b'''private_key_file = "k.key"
listen = "0.0.0.0:51900"
control_socket = "/tmp/tund-fuzz-hub.sock"
[tun]
name = "hub9"
address = "10.77.0.1/24"
[[client]]
name = "phone"
public_key = "YAcrgGfH0jFbdqVwN7sjcAgbpNnyTk5ARNAxcQm/cEI="
vip = "10.77.0.2"
[nat]
masquerade = ["10.4.0.0/24"]
[[expose]]
listen = "10.4.0.1:8080"
to = "phone:80"
'''
put("config", "client", b"\x00" + client_toml)
put("config", "hub", b"\x01" + hub_toml)
put("control_request", "status", b"status")
put("control_request", "switch", b"switch wlan0")
put("control_request", "bad_utf8", b"switch \xff\xfe\xc3(")
# etcd answers: mode byte, a piece size / status byte, then what etcd sends.
import base64, json
b64 = lambda s: base64.b64encode(s.encode()).decode()
created = json.dumps({"result": {"header": {"revision": "9"}, "created": True}})
event = json.dumps({"result": {"header": {"revision": "10"}, "events": [{"type": "PUT", "kv": {
    "key": b64("/tund/t/owner/" + "ab" * 32), "value": b64("m2"), "mod_revision": "10"}}]}})
progress = json.dumps({"result": {"header": {"revision": "12"}}})
put("etcd_answer", "watch", b"\x00\x07" + (created + "\n" + event + "\n" + progress + "\n").encode())
put("etcd_answer", "watch_error", b"\x00\x01" + b'{"error":{"grpc_code":14,"message":"unavailable"}}\n')
put("etcd_answer", "watch_deep", b"\x00\x40" + b'{"error":' + b"[" * 40 + b"]" * 40 + b"}\n")
def kv(k, v): return {"key": b64(k), "value": b64(v), "mod_revision": "3"}
ranges = {"responses": [
    {"response_range": {"kvs": [kv("/tund/t/client/" + "01" * 32, "10.77.0.5"), kv("/tund/t/client/" + "02" * 32, "10.77.0.5"),
                                kv("/x", "10.77.0.8")]}},
    {"response_range": {"kvs": [kv("/tund/t/vip/10.77.0.5", "01" * 32)]}}], "succeeded": True}
put("etcd_answer", "lease", b"\x01\x01" + b'{"result":{"ID":"7","TTL":"2"}}')
put("etcd_answer", "ranges", b"\x01\x01" + json.dumps(ranges).encode())
put("etcd_answer", "mappings", b"\x02\x01" + json.dumps(ranges).encode())
# DNS answers to the daemon's own lookups: type/name byte, mode byte, then the
# message (its first two bytes are the id the fuzzer expects).
def dname(n): return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"
def dq(i, name, qtype, flags=0x8180, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", i, flags, 1, an, ns, ar) + dname(name) + struct.pack("!HH", qtype, 1)
def drr(owner, rtype, rdata, ttl=300): return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata
opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)
put("dns_answer", "a_two", b"\x00\x00" + dq(0x4a1f, "hub.example.org", 1, an=2, ar=1) +
    drr(b"\xc0\x0c", 1, bytes([192, 0, 2, 7])) + drr(b"\xc0\x0c", 1, bytes([192, 0, 2, 8])) + opt)
put("dns_answer", "aaaa", b"\x01\x00" + dq(0x0102, "hub.example.org", 28, an=1) +
    drr(b"\xc0\x0c", 28, bytes.fromhex("20010db8000000000000000000000005")))
put("dns_answer", "cname_chain", b"\x02\x00" + dq(0x0707, "www.example.org", 1, an=2) +
    drr(b"\xc0\x0c", 5, b"\x03hub\xc0\x10") + drr(b"\xc0\x2d", 1, bytes([10, 3, 0, 2])))
put("dns_answer", "nxdomain_soa", b"\x00\x00" + dq(0x1111, "hub.example.org", 1, flags=0x8183, ns=1) +
    drr(b"\xc0\x10", 6, b"\xc0\x10\xc0\x10" + bytes(20)))
put("dns_answer", "resolv_conf", b"\x00\x04" + b"# by NetworkManager\nsearch lan\nnameserver 192.168.1.1\n"
    b"nameserver 2001:db8::53\nnameserver fe80::1%wlan0\noptions edns0\n")
put("dns_answer", "hosts", b"\x00\x05" + b"127.0.0.1 localhost\n10.3.0.2 hub.example.org hub\nfd03::2 HUB.example.org\n")
put("dns_answer", "domains", b"\x00\x06" + b"corp.example\n~lab.example\n~.\nbad..name\n")
