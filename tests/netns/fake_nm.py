#!/usr/bin/python3
"""A stand-in for NetworkManager on a test's own bus: just what tund reads.

  fake_nm.py STATE_FILE

Owns org.freedesktop.NetworkManager on the bus $DBUS_SYSTEM_BUS_ADDRESS
names; serves GetDeviceByIpIface(s) -> o on /org/freedesktop/NetworkManager
and the Metered property (u, NMMetered: 0 unknown, 1 yes, 2 no, 3 guessed
yes, 4 guessed no) of org.freedesktop.NetworkManager.Device on one object per
device. STATE_FILE holds "IFNAME VALUE" lines; it is read again whenever it
changes, and each device whose value changed emits PropertiesChanged, as
NetworkManager does. An interface not in the file is one NetworkManager does
not manage (GetDeviceByIpIface fails with UnknownDevice). Prints "ready" once
it owns the name, and "asked IFNAME" for every lookup.
"""
import os
import sys

import dbus
import dbus.service
import dbus.mainloop.glib
from gi.repository import GLib

NM = "org.freedesktop.NetworkManager"
DEVICE = NM + ".Device"
PROPS = "org.freedesktop.DBus.Properties"


def read_state(path):
    out = {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = int(parts[1])
    return out


class Device(dbus.service.Object):
    def __init__(self, bus, path, metered):
        super().__init__(bus, path)
        self.metered = metered

    @dbus.service.method(PROPS, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        if interface == DEVICE and name == "Metered":
            return dbus.UInt32(self.metered)
        raise dbus.exceptions.DBusException("no such property", name="org.freedesktop.DBus.Error.InvalidArgs")

    @dbus.service.signal(PROPS, signature="sa{sv}as")
    def PropertiesChanged(self, interface, changed, invalidated):
        pass


class Manager(dbus.service.Object):
    def __init__(self, bus, state_path):
        super().__init__(bus, "/org/freedesktop/NetworkManager")
        self.bus = bus
        self.state_path = state_path
        self.devices = {}
        self.mtime = None
        self.reload()

    def reload(self):
        try:
            mtime = os.stat(self.state_path).st_mtime_ns
        except OSError:
            return True
        if mtime == self.mtime:
            return True
        self.mtime = mtime
        for name, value in read_state(self.state_path).items():
            dev = self.devices.get(name)
            if dev is None:
                path = "/org/freedesktop/NetworkManager/Devices/%d" % (len(self.devices) + 1)
                self.devices[name] = Device(self.bus, path, value)
            elif dev.metered != value:
                dev.metered = value
                dev.PropertiesChanged(DEVICE, {"Metered": dbus.UInt32(value)}, [])
        return True

    @dbus.service.method(NM, in_signature="s", out_signature="o")
    def GetDeviceByIpIface(self, iface):
        print("asked", iface, flush=True)
        dev = self.devices.get(iface)
        if dev is None:
            raise dbus.exceptions.DBusException("No device found for the requested iface.",
                                                name=NM + ".UnknownDevice")
        return dev.__dbus_object_path__


def main():
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    manager = Manager(bus, sys.argv[1])
    _name = dbus.service.BusName(NM, bus)
    GLib.timeout_add(50, manager.reload)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
