#!/usr/bin/env python3
"""A ground station played by pymavlink (an implementation that is not ours).

Listens on --connect, sends a GCS HEARTBEAT at 1 Hz, asks every vehicle it hears for its data
streams (REQUEST_DATA_STREAM, as ArduPilot expects, and MAV_CMD_SET_MESSAGE_INTERVAL), and
after --duration seconds prints (with --json) what it decoded: message counts overall and per
system id, frames pymavlink could not parse, the MAVLink versions seen and the last ATTITUDE.
"""

import argparse
import json
import math
import os
import sys
import time

# Decode both versions; send MAVLink 2.
os.environ["MAVLINK20"] = "1"

from pymavlink import mavutil  # noqa: E402

mavutil.set_dialect("ardupilotmega")
mav = mavutil.mavlink

REQUEST_EVERY_S = 2.0
STREAM_RATE_HZ = 10
INTERVAL_US = 100_000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connect", required=True, help="e.g. udpin:127.0.0.1:14550")
    p.add_argument("--sysid", type=int, default=255)
    p.add_argument("--compid", type=int, default=mav.MAV_COMP_ID_MISSIONPLANNER)
    p.add_argument("--duration", type=float, default=8.0, help="seconds to listen")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p.parse_args()


def request_streams(conn, sysid, compid):
    conn.mav.request_data_stream_send(sysid, compid, mav.MAV_DATA_STREAM_ALL, STREAM_RATE_HZ, 1)
    for msg_id in (mav.MAVLINK_MSG_ID_ATTITUDE, mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT):
        conn.mav.command_long_send(
            sysid,
            compid,
            mav.MAV_CMD_SET_MESSAGE_INTERVAL,
            0,
            msg_id,
            INTERVAL_US,
            0,
            0,
            0,
            0,
            0,
        )


def main():
    args = parse_args()
    conn = mavutil.mavlink_connection(
        args.connect,
        source_system=args.sysid,
        source_component=args.compid,
        dialect="ardupilotmega",
    )
    counts = {}
    by_sysid = {}
    versions = {"1": 0, "2": 0}
    bad_data = 0
    last_attitude = None
    last_heartbeat = None
    vehicles = {}  # sysid -> (compid, when streams were last requested)

    start = time.monotonic()
    next_heartbeat = start
    while True:
        now = time.monotonic()
        if now - start >= args.duration:
            break
        if now >= next_heartbeat:
            # pymavlink's udpin can only answer once it has heard a peer; until then this is
            # dropped by pymavlink itself.
            conn.mav.heartbeat_send(
                mav.MAV_TYPE_GCS, mav.MAV_AUTOPILOT_INVALID, 0, 0, mav.MAV_STATE_ACTIVE
            )
            next_heartbeat += 1.0
        for sysid, (compid, asked) in list(vehicles.items()):
            if now - asked >= REQUEST_EVERY_S:
                request_streams(conn, sysid, compid)
                vehicles[sysid] = (compid, now)

        msg = conn.recv_match(blocking=True, timeout=0.05)
        if msg is None:
            continue
        name = msg.get_type()
        if name == "BAD_DATA":
            bad_data += 1
            continue
        sysid = msg.get_srcSystem()
        counts[name] = counts.get(name, 0) + 1
        per = by_sysid.setdefault(str(sysid), {})
        per[name] = per.get(name, 0) + 1
        buf = msg.get_msgbuf()
        if buf:
            versions["2" if buf[0] == mav.PROTOCOL_MARKER_V2 else "1"] += 1
        if name == "HEARTBEAT" and msg.type != mav.MAV_TYPE_GCS:
            last_heartbeat = {
                "sysid": sysid,
                "compid": msg.get_srcComponent(),
                "type": msg.type,
                "autopilot": msg.autopilot,
                "base_mode": msg.base_mode,
                "custom_mode": msg.custom_mode,
            }
            if sysid not in vehicles:
                vehicles[sysid] = (msg.get_srcComponent(), now - REQUEST_EVERY_S)
        elif name == "ATTITUDE":
            last_attitude = {
                "sysid": sysid,
                "roll_deg": math.degrees(msg.roll),
                "pitch_deg": math.degrees(msg.pitch),
                "yaw_deg": math.degrees(msg.yaw),
            }

    summary = {
        "sysids": sorted(int(s) for s in by_sysid),
        "counts": counts,
        "by_sysid": by_sysid,
        "bad_data": bad_data,
        "mavlink_versions": versions,
        "last_heartbeat": last_heartbeat,
        "last_attitude": last_attitude,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
