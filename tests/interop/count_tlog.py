#!/usr/bin/env python3
"""Reads a .tlog with pymavlink (an implementation that is not ours) and counts its messages.

Prints one JSON object: the total of messages pymavlink decoded, how many frames it could not
parse (BAD_DATA), the counts by message type, the counts by type per system id, and the
timestamps of the first and last message (UNIX seconds, from the tlog's own timestamps).
"""

import argparse
import json
import os
import sys

# Decode both versions.
os.environ["MAVLINK20"] = "1"

from pymavlink import mavutil  # noqa: E402

mavutil.set_dialect("ardupilotmega")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tlog")
    args = p.parse_args()

    # notimestamps=False (the default for a .tlog): each frame is read with its 8-byte
    # timestamp, as MAVExplorer does.
    log = mavutil.mavlink_connection(args.tlog, dialect="ardupilotmega")
    total = 0
    bad = 0
    by_type = {}
    by_sysid = {}
    first_s = None
    last_s = None
    while True:
        msg = log.recv_msg()
        if msg is None:
            break
        kind = msg.get_type()
        if kind == "BAD_DATA":
            bad += 1
            continue
        total += 1
        by_type[kind] = by_type.get(kind, 0) + 1
        per = by_sysid.setdefault(str(msg.get_srcSystem()), {})
        per[kind] = per.get(kind, 0) + 1
        stamp = getattr(msg, "_timestamp", None)
        if stamp is not None:
            first_s = stamp if first_s is None else first_s
            last_s = stamp
    json.dump(
        {
            "total": total,
            "bad": bad,
            "by_type": by_type,
            "by_sysid": by_sysid,
            "first_s": first_s,
            "last_s": last_s,
        },
        sys.stdout,
        sort_keys=True,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
