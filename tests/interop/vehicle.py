#!/usr/bin/env python3
"""A MAVLink vehicle played by pymavlink (an implementation that is not ours).

Sends an ArduCopter-like telemetry stream at fixed, known values so a test can check that
Airgap decodes what a foreign encoder wrote: HEARTBEAT (GUIDED, armed) at 1 Hz, ATTITUDE,
GLOBAL_POSITION_INT and VFR_HUD at 10 Hz, SYS_STATUS, GPS_RAW_INT and a STATUSTEXT at 1 Hz.
With --json, prints on exit what it received back (so a test can see our GCS's frames
decoded by pymavlink too).

The known values are in KNOWN, printed with --print-known, so the Rust test and this script
cannot drift apart silently.
"""

import argparse
import json
import math
import os
import sys
import time

# pymavlink picks the wire version from the environment at import time.
if "--mavlink1" in sys.argv:
    os.environ.pop("MAVLINK20", None)
else:
    os.environ["MAVLINK20"] = "1"

from pymavlink import mavutil  # noqa: E402

mavutil.set_dialect("ardupilotmega")
mav = mavutil.mavlink

KNOWN = {
    "custom_mode": 4,  # ArduCopter GUIDED
    "mode": "GUIDED",
    "roll_deg": 10.0,
    "pitch_deg": -5.0,
    "yaw_deg": 90.0,
    "lat_deg": -35.3632621,
    "lon_deg": 149.1652374,
    "alt_msl_m": 584.1,
    "alt_rel_m": 12.5,
    "groundspeed_m_s": 5.0,  # vx 3 m/s north, vy 4 m/s east
    "heading_deg": 90.0,
    "battery_v": 12.6,
    "battery_pct": 87,
    "gps_fix": 3,
    "satellites": 10,
    "statustext": "interop: hello from pymavlink",
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="where to send, e.g. udpout:127.0.0.1:14550")
    p.add_argument("--sysid", type=int, default=7)
    p.add_argument("--compid", type=int, default=1)
    p.add_argument("--duration", type=float, default=8.0, help="seconds to run")
    p.add_argument("--json", action="store_true", help="print a summary of what was received")
    p.add_argument("--mavlink1", action="store_true", help="send MAVLink 1 frames")
    p.add_argument("--print-known", action="store_true", help="print the sent values as JSON")
    args = p.parse_args()
    if not args.print_known and not args.out:
        p.error("--out is required")
    return args


def send_fast(conn, boot_ms):
    k = KNOWN
    conn.mav.attitude_send(
        boot_ms,
        math.radians(k["roll_deg"]),
        math.radians(k["pitch_deg"]),
        math.radians(k["yaw_deg"]),
        0.0,
        0.0,
        0.0,
    )
    conn.mav.global_position_int_send(
        boot_ms,
        round(k["lat_deg"] * 1e7),
        round(k["lon_deg"] * 1e7),
        round(k["alt_msl_m"] * 1000),
        round(k["alt_rel_m"] * 1000),
        300,  # vx cm/s
        400,  # vy cm/s
        0,
        round(k["heading_deg"] * 100),
    )
    conn.mav.vfr_hud_send(
        0.0, k["groundspeed_m_s"], round(k["heading_deg"]), 50, k["alt_msl_m"], 0.0
    )


def send_slow(conn, boot_ms):
    k = KNOWN
    conn.mav.heartbeat_send(
        mav.MAV_TYPE_QUADROTOR,
        mav.MAV_AUTOPILOT_ARDUPILOTMEGA,
        mav.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
        | mav.MAV_MODE_FLAG_SAFETY_ARMED
        | mav.MAV_MODE_FLAG_GUIDED_ENABLED
        | mav.MAV_MODE_FLAG_STABILIZE_ENABLED,
        k["custom_mode"],
        mav.MAV_STATE_ACTIVE,
    )
    conn.mav.sys_status_send(
        0, 0, 0, 250, round(k["battery_v"] * 1000), 1500, k["battery_pct"], 0, 0, 0, 0, 0, 0
    )
    conn.mav.gps_raw_int_send(
        boot_ms * 1000,
        k["gps_fix"],
        round(k["lat_deg"] * 1e7),
        round(k["lon_deg"] * 1e7),
        round(k["alt_msl_m"] * 1000),
        80,
        120,
        500,
        9000,
        k["satellites"],
    )
    conn.mav.statustext_send(mav.MAV_SEVERITY_INFO, k["statustext"].encode())


def main():
    args = parse_args()
    if args.print_known:
        print(json.dumps(KNOWN))
        return 0

    conn = mavutil.mavlink_connection(
        args.out,
        source_system=args.sysid,
        source_component=args.compid,
        dialect="ardupilotmega",
    )
    if args.mavlink1:
        # pymavlink switches itself to MAVLink 2 on hearing a v2 frame; stay on v1 as an old
        # radio-linked autopilot would.
        conn.first_byte = False
    received = {}
    senders = set()
    start = time.monotonic()
    next_fast = start
    next_slow = start
    while True:
        now = time.monotonic()
        if now - start >= args.duration:
            break
        boot_ms = int((now - start) * 1000)
        if now >= next_slow:
            send_slow(conn, boot_ms)
            next_slow += 1.0
        if now >= next_fast:
            send_fast(conn, boot_ms)
            next_fast += 0.1
        # Drain what the ground station sends back, without blocking the schedule.
        while True:
            msg = conn.recv_match(blocking=False)
            if msg is None:
                break
            name = msg.get_type()
            received[name] = received.get(name, 0) + 1
            if name != "BAD_DATA":
                senders.add(msg.get_srcSystem())
        time.sleep(max(0.0, min(next_fast, next_slow) - time.monotonic()))

    if args.json:
        print(json.dumps({"received": received, "senders": sorted(senders)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
