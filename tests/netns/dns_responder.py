#!/usr/bin/python3
"""A counting DNS server for the lab: just enough DNS to answer A questions.

  dns_responder.py ADDRESS LOG NAME=IPV4...

Listens on ADDRESS, UDP port 53. NAME=IP answers NAME's A question with IP;
*.SUFFIX=IP answers every name under SUFFIX. An AAAA question for a known
name gets no records (NOERROR), any other name NXDOMAIN. Every question is
logged to LOG as "NAME TYPE" (lower case, flushed), for the test to count.
Prints "ready" once it listens.
"""
import socket
import struct
import sys

TYPES = {1: "A", 28: "AAAA"}


def read_name(msg, at):
    labels = []
    while msg[at]:
        n = msg[at]
        labels.append(msg[at + 1:at + 1 + n].decode("ascii", "replace").lower())
        at += 1 + n
    return ".".join(labels), at + 1


def answer_for(table, name):
    if name in table:
        return table[name]
    for key, ip in table.items():
        if key.startswith("*.") and name.endswith(key[1:]):
            return ip
    return None


def main():
    address, log_path = sys.argv[1], sys.argv[2]
    table = dict(arg.lower().split("=", 1) for arg in sys.argv[3:])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 53))
    log = open(log_path, "a")
    print("ready", flush=True)
    while True:
        msg, peer = sock.recvfrom(2048)
        if len(msg) < 12:
            continue
        qid, _flags, qdcount = struct.unpack("!HHH", msg[:6])
        if qdcount != 1:
            continue
        name, end = read_name(msg, 12)
        qtype, _qclass = struct.unpack("!HH", msg[end:end + 4])
        log.write("%s %s\n" % (name, TYPES.get(qtype, str(qtype))))
        log.flush()
        ip = answer_for(table, name)
        question = msg[12:end + 4]
        if ip is None:
            reply = struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
        elif qtype == 1:
            record = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(ip)
            reply = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + record
        else:
            reply = struct.pack("!HHHHHH", qid, 0x8180, 1, 0, 0, 0) + question
        sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
