#!/usr/bin/python3
"""Traffic endpoints for the netns lab (stdlib only).

  netpeer.py sink PORT [TIMELINE] [--cut-on-term]  accept one TCP connection, print "<sha256> <bytes>
                                   <peer-ip> <longest-gap-ms>" (TIMELINE: file of "ms bytes" per 10 ms
                                   bin from the first byte; TIMELINE.start: that byte's wall-clock time,
                                   Unix ms); with --cut-on-term a SIGTERM once connected ends the
                                   transfer there and reports what arrived (an unpaced transfer cut at
                                   a deadline: the sender's buffers would otherwise drain for seconds)
  netpeer.py prefix BYTES          the sha256 of the first BYTES bytes an unpaced send streams (what a
                                   sink cut off after BYTES must report)
  netpeer.py send HOST PORT BYTES [RATE] [--cc NAME]  stream deterministic pseudo-random bytes (RATE
                                   bytes/s, paced in 8 KiB writes), print "<sha256> <bytes>"; --cc: the
                                   connection's TCP congestion control (root may name one that a
                                   namespace cannot make its default, such as cubic)
  netpeer.py udpsend HOST PORT BITS_PER_S SECONDS [SIZE]  a constant-rate UDP stream of SIZE-byte
                                   (default 1200) datagrams, each numbered; prints how many it sent
  netpeer.py udpsink PORT          count the numbered datagrams of one udpsend stream until it has
                                   been quiet for 2 s; prints "<distinct> <duplicates> <longest-gap-ms>"
  netpeer.py answer PORT TEXT     answer every TCP connection with TEXT (until killed)
  netpeer.py ask HOST PORT        connect, print what the server says
  netpeer.py udpecho PORT         echo UDP datagrams (until killed)
  netpeer.py udpcheck HOST PORT N send N datagrams, print how many came back intact
  netpeer.py garbage HOST PORT    send random UDP datagrams, print how many replies arrived
  netpeer.py flood HOST PORT SECONDS RATE SRC... [--initiations HUB_PUB_B64]
                                  random datagrams of every length 0..1500 (random type bytes
                                  too) from every SRC address, a new source port every 64,
                                  at RATE per second; with --initiations: initiation-sized
                                  datagrams with a valid mac1 instead (a handshake flood).
                                  Prints "<sent> <replies> <cookie-replies> <achieved-rate>"
  netpeer.py call PORT PEER PEERPORT SECONDS LOG [SIZE]  one side of a voice call: a SIZE-byte
                                  (default 200) datagram every 20 ms to PEER, each carrying its number
                                  and send time; every datagram received is logged to LOG as
                                  "seq sent_ns received_ns" (wall clock: one host, one clock), after a
                                  header "start START_NS interval_ns 20000000 sent N"; with
                                  --start-at UNIX_NS the first frame leaves then (both ends of a call
                                  started with one time have their sockets bound before either sends)
  netpeer.py record PORT TYPE FILE  capture (AF_PACKET, every interface of this namespace) the
                                  first UDP datagram to PORT whose first byte is TYPE, write its
                                  payload to FILE (what an attacker on the path records)
  netpeer.py replay FILE HOST PORT  send FILE's bytes as one UDP datagram to HOST:PORT
  netpeer.py notify PATH [--times]  act as systemd's notification socket at PATH: print each
                                   datagram on one line (newlines as " | ") until killed; with
                                   --times each line starts with its arrival (Unix s, 3 decimals:
                                   the clock of `date +%s.%N`)
"""
import hashlib, os, signal, socket, sys, time


def chunks(total, size=65536, seed=b"tund"):
    block = hashlib.sha256(seed).digest()
    sent = 0
    while sent < total:
        buf = bytearray()
        while len(buf) < size:
            block = hashlib.sha256(block).digest()
            buf += block * 32
        piece = bytes(buf[: min(size, total - sent)])
        sent += len(piece)
        yield piece


def flood(host, port, seconds, rate, rest):
    import base64, random, select
    hub_pub = None
    if "--initiations" in rest:
        i = rest.index("--initiations")
        hub_pub = base64.b64decode(rest[i + 1])
        rest = rest[:i] + rest[i + 2:]
    # mac1 as crypto/cookie.cpp computes it: keyed BLAKE2b-128 under SHA-256("mac1----" || hub key).
    mac1_key = hashlib.sha256(b"mac1----" + hub_pub).digest() if hub_pub else None
    rnd = random.Random(1)
    socks = []
    def fresh(src):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setblocking(False)
        return s
    socks = [fresh(a) for a in rest]
    sent = replies = cookies = 0
    t0 = time.monotonic()
    end = t0 + seconds
    size = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - t0) * rate)
        while sent < due:
            k = sent % len(socks)
            if sent % 64 == k:  # a new source port now and then
                socks[k].close()
                socks[k] = fresh(rest[k])
            if mac1_key:
                msg = bytearray(os.urandom(160))
                msg[0:4] = b"\x01\x00\x00\x00"
                msg[128:144] = hashlib.blake2b(bytes(msg[:128]), key=mac1_key, digest_size=16).digest()
                msg[144:160] = bytes(16)
            else:
                msg = bytearray(os.urandom(size))
                if size >= 4 and rnd.random() < 0.5:
                    msg[0] = rnd.randrange(1, 6)  # a known type byte, so deeper checks run too
                    msg[1:4] = b"\x00\x00\x00"
                size = (size + 1) % 1501
            try:
                socks[k].sendto(bytes(msg), (host, port))
            except BlockingIOError:
                pass
            sent += 1
        r, _, _ = select.select(socks, [], [], 0.0005)
        for s in r:
            try:
                while True:
                    data = s.recv(65536)
                    replies += 1
                    cookies += 1 if len(data) == 64 and data[0] == 3 else 0
            except (BlockingIOError, OSError):
                pass
    print(sent, replies, cookies, int(sent / seconds), flush=True)


def call(port, peer, peer_port, seconds, log, size, start_at=None):
    """Sends on an absolute 20 ms schedule (a late wake-up does not shift the
    frames after it) and receives in between; frames still in flight are
    awaited for 2 s after the last one is sent. The schedule starts at
    start_at (wall clock, ns) when given, else at once."""
    import select, struct
    interval = 20_000_000
    family = socket.AF_INET6 if ":" in peer else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
    s.setblocking(False)
    pad = bytes(max(0, size - 12))
    print("ready", flush=True)
    if start_at is not None and start_at > time.time_ns():
        time.sleep((start_at - time.time_ns()) / 1e9)
    start = time.time_ns()
    count = int(seconds * 1e9 // interval)
    got, seq = [], 0
    end = start + count * interval + 2_000_000_000
    while True:
        now = time.time_ns()
        while seq < count and start + seq * interval <= now:
            try:
                s.sendto(struct.pack("!IQ", seq, now) + pad, (peer, peer_port))
            except OSError:
                pass  # no route for a moment (a handover): the frame is lost, as in a call
            seq += 1
        if now >= end:
            break
        wake = start + seq * interval if seq < count else end
        r, _, _ = select.select([s], [], [], max(0, wake - now) / 1e9)
        if r:
            while True:
                try:
                    data = s.recv(2048)
                except BlockingIOError:
                    break
                if len(data) >= 12:
                    n, sent = struct.unpack("!IQ", data[:12])
                    got.append("%d %d %d" % (n, sent, time.time_ns()))
    with open(log, "w") as f:
        f.write("start %d interval_ns %d sent %d\n" % (start, interval, seq))
        f.write("\n".join(got) + ("\n" if got else ""))
    print("sent", seq, flush=True)


def record(port, kind, path):
    # Every protocol (only those taps see outgoing packets), link header stripped.
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
    print("ready", flush=True)
    while True:
        pkt, addr = raw.recvfrom(65536)
        if addr[1] != 0x0800 or len(pkt) < 20:
            continue
        ihl = (pkt[0] & 15) * 4
        if pkt[9] != 17 or len(pkt) < ihl + 9:
            continue
        payload = pkt[ihl + 8:]
        if int.from_bytes(pkt[ihl + 2:ihl + 4], "big") == port and payload[0] == kind:
            with open(path, "wb") as f:
                f.write(payload)
            print("recorded", len(payload), flush=True)
            return


def take_option(argv, name):
    """(VALUE, argv without NAME VALUE) for an option NAME VALUE; (None, argv) without it."""
    if name not in argv:
        return None, argv
    i = argv.index(name)
    return argv[i + 1], argv[:i] + argv[i + 2:]


def main(argv):
    cmd = argv[1]
    if cmd == "notify":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(argv[2])
        print("ready", flush=True)
        times = "--times" in argv[3:]
        while True:
            text = s.recv(4096).decode(errors="replace").replace("\n", " | ")
            print(f"{time.time():.3f} {text}" if times else text, flush=True)
    if cmd == "record":
        record(int(argv[2]), int(argv[3]), argv[4])
        return
    if cmd == "replay":
        with open(argv[2], "rb") as f:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(f.read(), (argv[3], int(argv[4])))
        return
    if cmd == "prefix":
        h = hashlib.sha256()
        for piece in chunks(int(argv[2])):
            h.update(piece)
        print(h.hexdigest(), flush=True)
        return
    if cmd == "sink":
        cut_on_term = "--cut-on-term" in argv
        argv = [a for a in argv if a != "--cut-on-term"]
        # One dual-stack socket: IPv4 and IPv6 senders alike.
        srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("::", int(argv[2])))
        srv.listen(1)
        print("ready", flush=True)
        conn, peer = srv.accept()
        cut = []
        if cut_on_term:
            # The handler only notes the signal; the loop looks at least every
            # 0.1 s, so a cut never falls between counting and hashing a piece.
            signal.signal(signal.SIGTERM, lambda *_: cut.append(True))
            conn.settimeout(0.1)
        h, n = hashlib.sha256(), 0
        bins = {}
        start = last = None
        gap = 0.0
        while True:
            if cut:
                break
            try:
                data = conn.recv(1 << 16)
            except socket.timeout:
                continue
            if not data:
                break
            now = time.monotonic()
            if last is not None:
                gap = max(gap, now - last)
            else:
                start = now
                wall_start = time.time()
            last = now
            b = int((now - start) * 100)
            bins[b] = bins.get(b, 0) + len(data)
            h.update(data)
            n += len(data)
        if len(argv) > 3:
            with open(argv[3], "w") as f:
                for b in range(max(bins) + 1 if bins else 0):
                    f.write("%d %d\n" % (b * 10, bins.get(b, 0)))
            if start is not None:
                with open(argv[3] + ".start", "w") as f:
                    f.write("%d\n" % int(wall_start * 1000))
        ip = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]  # an IPv4 peer of the dual-stack socket
        print(h.hexdigest(), n, ip, int(gap * 1000), flush=True)
    elif cmd == "call":
        start_at, argv = take_option(argv, "--start-at")
        if start_at is not None:
            start_at = int(start_at)
        call(int(argv[2]), argv[3], int(argv[4]), float(argv[5]), argv[6], int(argv[7]) if len(argv) > 7 else 200,
             start_at)
    elif cmd == "send":
        cc, argv = take_option(argv, "--cc")
        s = socket.create_connection((argv[2], int(argv[3])), timeout=60)
        if cc:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
        rate = float(argv[5]) if len(argv) > 5 else 0
        h, n = hashlib.sha256(), 0
        t0 = time.monotonic()
        # Paced writes of 20 ms of the rate (1-8 KiB): at a radio link's
        # 0.25 Mbit/s an 8 KiB write would hide every stall under 260 ms.
        size = int(min(8192, max(1024, rate * 0.02))) if rate else 65536
        for piece in chunks(int(argv[4]), size):
            s.sendall(piece)
            h.update(piece)
            n += len(piece)
            if rate:
                ahead = n / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)
        print(h.hexdigest(), n, flush=True)
    elif cmd == "udpsend":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        size = int(argv[6]) if len(argv) > 6 else 1200
        per_s = float(argv[4]) / 8 / size
        end_n = int(per_s * float(argv[5]))
        pad = bytes(size - 8)
        t0 = time.monotonic()
        n = 0
        while n < end_n:
            due = int((time.monotonic() - t0) * per_s) + 1
            while n < min(due, end_n):
                try:
                    s.sendto(n.to_bytes(8, "big") + pad, (argv[2], int(argv[3])))
                except OSError:
                    pass  # no route for a moment (a link going down): counted as lost
                n += 1
            time.sleep(0.001)
        print(n, flush=True)
    elif cmd == "udpsink":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("0.0.0.0", int(argv[2])))
        print("ready", flush=True)
        seen, dups, gap, last = set(), 0, 0.0, None
        s.settimeout(None)
        while True:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            now = time.monotonic()
            if last is not None:
                gap = max(gap, now - last)
            last = now
            s.settimeout(2.0)
            k = int.from_bytes(data[:8], "big")
            if k in seen:
                dups += 1
            seen.add(k)
        print(len(seen), dups, int(gap * 1000), flush=True)
    elif cmd == "answer":
        srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)  # dual-stack, as sink
        srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("::", int(argv[2])))
        srv.listen(8)
        while True:
            conn, _ = srv.accept()
            conn.sendall(argv[3].encode())
            conn.close()
    elif cmd == "ask":
        s = socket.create_connection((argv[2], int(argv[3])), timeout=5)
        print(s.recv(1024).decode(), flush=True)
    elif cmd == "udpecho":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", int(argv[2])))
        while True:
            data, peer = s.recvfrom(65536)
            s.sendto(data, peer)
    elif cmd == "udpcheck":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        good = 0
        for i in range(int(argv[4])):
            payload = hashlib.sha256(str(i).encode()).digest() * 40
            s.sendto(payload, (argv[2], int(argv[3])))
            try:
                if s.recv(65536) == payload:
                    good += 1
            except socket.timeout:
                pass
        print(good, flush=True)
    elif cmd == "garbage":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        replies = 0
        for size in (1, 4, 16, 32, 64, 100, 148, 500, 1400):
            for _ in range(5):
                s.sendto(os.urandom(size), (argv[2], int(argv[3])))
                try:
                    s.recv(65536)
                    replies += 1
                except socket.timeout:
                    pass
        print(replies, flush=True)
    elif cmd == "flood":
        flood(argv[2], int(argv[3]), float(argv[4]), float(argv[5]), argv[6:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
