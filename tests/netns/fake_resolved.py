#!/usr/bin/python3
"""A stand-in for systemd-resolved on a test's own bus: the per-link calls
tund makes, and their effect on applications.

  fake_resolved.py

Owns org.freedesktop.resolve1 on the bus $DBUS_SYSTEM_BUS_ADDRESS names and
serves, on /org/freedesktop/resolve1, org.freedesktop.resolve1.Manager's
SetLinkDNS(ia(iay)), SetLinkDomains(ia(sb)), SetLinkDefaultRoute(ib) and
RevertLink(i), printing each as a line ("SetLinkDNS 7 10.4.0.53",
"SetLinkDomains 7 corp.test ~.", "SetLinkDefaultRoute 7 yes", "RevertLink 7").
Applications in the lab have no resolved to ask, so it does what resolved's
stub would amount to: while a link has servers, /etc/resolv.conf (the
namespace's, written in place) names them and the link's search domains;
RevertLink puts back what the file held at start. Prints "ready" once it
owns the name.
"""
import socket

import dbus
import dbus.service
import dbus.mainloop.glib
from gi.repository import GLib

NAME = "org.freedesktop.resolve1"
MANAGER = NAME + ".Manager"
RESOLV_CONF = "/etc/resolv.conf"


class Manager(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/org/freedesktop/resolve1")
        self.original = open(RESOLV_CONF).read()
        self.links = {}

    def write(self):
        servers, search = [], []
        for link in self.links.values():
            servers += link.get("dns", [])
            search += [d for d, routing in link.get("domains", []) if not routing]
        text = self.original
        if servers:
            text = "".join("nameserver %s\n" % s for s in servers)
            if search:
                text += "search %s\n" % " ".join(search)
        with open(RESOLV_CONF, "r+") as f:
            f.truncate(0)
            f.write(text)

    @dbus.service.method(MANAGER, in_signature="ia(iay)", out_signature="")
    def SetLinkDNS(self, ifindex, addresses):
        dns = [socket.inet_ntop(socket.AF_INET if family == socket.AF_INET else socket.AF_INET6, bytes(bytearray(raw)))
               for family, raw in addresses]
        print("SetLinkDNS", int(ifindex), " ".join(dns), flush=True)
        self.links.setdefault(int(ifindex), {})["dns"] = dns
        self.write()

    @dbus.service.method(MANAGER, in_signature="ia(sb)", out_signature="")
    def SetLinkDomains(self, ifindex, domains):
        pairs = [(str(d), bool(r)) for d, r in domains]
        print("SetLinkDomains", int(ifindex), " ".join(("~" if r else "") + d for d, r in pairs), flush=True)
        self.links.setdefault(int(ifindex), {})["domains"] = pairs
        self.write()

    @dbus.service.method(MANAGER, in_signature="ib", out_signature="")
    def SetLinkDefaultRoute(self, ifindex, enable):
        print("SetLinkDefaultRoute", int(ifindex), "yes" if enable else "no", flush=True)

    @dbus.service.method(MANAGER, in_signature="i", out_signature="")
    def RevertLink(self, ifindex):
        print("RevertLink", int(ifindex), flush=True)
        self.links.pop(int(ifindex), None)
        self.write()


def main():
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    _manager = Manager(bus)
    _name = dbus.service.BusName(NAME, bus)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
