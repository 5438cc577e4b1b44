#!/usr/bin/env python3
"""The vehicle side of the MAVLink mission and parameter protocols, played by pymavlink.

An implementation that is not ours, behaving as ArduPilot does where it matters to a ground
station, so a test can check that Airgap's uploads are accepted and its downloads served:

- HEARTBEAT (ArduCopter, MAVLink 2) at 1 Hz; AUTOPILOT_VERSION on MAV_CMD_REQUEST_MESSAGE,
  declaring MISSION_INT, fence, rally and the C-cast parameter encoding but no MAVFTP.
- Missions, geofence and rally points: MISSION_COUNT starts an upload, items are requested
  one by one (MISSION_REQUEST_INT, or the legacy MISSION_REQUEST with --legacy-request, as
  ArduPilot still does), re-requested after 1 s of silence and cancelled after 8 s, then
  MISSION_ACK accepted. MISSION_REQUEST_LIST answers MISSION_COUNT; MISSION_REQUEST_INT and
  MISSION_REQUEST answer MISSION_ITEM_INT. MISSION_CLEAR_ALL empties a list.
- Parameters (ArduPilot's C-cast encoding: the float holds the number): PARAM_REQUEST_LIST
  streams every one with its index and the count, PARAM_REQUEST_READ answers by index or by
  name, PARAM_SET stores the value as the parameter's type and answers PARAM_VALUE.

With --drop-every N, every Nth incoming mission or parameter message is ignored so the
ground station's retries run against a foreign peer. On exit (--duration, --idle-exit,
SIGTERM or SIGINT) with --json, prints what it holds and what it received as one JSON object.
"""

import argparse
import json
import math
import os
import signal
import struct
import sys
import time

os.environ["MAVLINK20"] = "1"

from pymavlink import mavutil  # noqa: E402

mavutil.set_dialect("ardupilotmega")
mav = mavutil.mavlink

MISSION = mav.MAV_MISSION_TYPE_MISSION
FENCE = mav.MAV_MISSION_TYPE_FENCE
RALLY = mav.MAV_MISSION_TYPE_RALLY
TYPE_NAMES = {MISSION: "mission", FENCE: "fence", RALLY: "rally"}

# ArduPilot's timings (MissionItemProtocol): re-request a missing item after 1 s, give the
# upload up after 8 s without one.
REREQUEST_S = 1.0
UPLOAD_TIMEOUT_S = 8.0

INT_RANGES = {
    mav.MAV_PARAM_TYPE_INT8: (-(2**7), 2**7 - 1),
    mav.MAV_PARAM_TYPE_INT16: (-(2**15), 2**15 - 1),
    mav.MAV_PARAM_TYPE_INT32: (-(2**31), 2**31 - 1),
}
TYPE_TEXT = {
    mav.MAV_PARAM_TYPE_INT8: "INT8",
    mav.MAV_PARAM_TYPE_INT16: "INT16",
    mav.MAV_PARAM_TYPE_INT32: "INT32",
    mav.MAV_PARAM_TYPE_REAL32: "REAL32",
}

GLOBAL_FRAMES = {
    mav.MAV_FRAME_GLOBAL,
    mav.MAV_FRAME_GLOBAL_RELATIVE_ALT,
    mav.MAV_FRAME_GLOBAL_INT,
    mav.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
    mav.MAV_FRAME_GLOBAL_TERRAIN_ALT,
    mav.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT,
}

HOME_LAT_E7 = -353632621
HOME_LON_E7 = 1491652374
HOME_ALT_M = 584.0


def f32(x):
    """The nearest 32-bit float, as Python's float (exact)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def parameter_table(sysid):
    """About 60 ArduCopter-like parameters of mixed types, in index order."""
    i8, i16, i32, r32 = (
        mav.MAV_PARAM_TYPE_INT8,
        mav.MAV_PARAM_TYPE_INT16,
        mav.MAV_PARAM_TYPE_INT32,
        mav.MAV_PARAM_TYPE_REAL32,
    )
    table = [
        ("FORMAT_VERSION", 120, i16),
        ("SYSID_THISMAV", sysid, i16),
        ("SYSID_MYGCS", 255, i16),
        ("FRAME_CLASS", 1, i8),
        ("FRAME_TYPE", 1, i8),
        ("ARMING_CHECK", 1, i32),
        ("ARMING_RUDDER", 2, i8),
        ("ANGLE_MAX", 3000, i16),
        ("PILOT_SPEED_UP", 250, i16),
        ("PILOT_THR_BHV", 0, i16),
        ("FS_THR_ENABLE", 1, i8),
        ("FS_THR_VALUE", 975, i16),
        ("FS_GCS_ENABLE", 0, i8),
        ("FENCE_ENABLE", 0, i8),
        ("FENCE_ALT_MAX", 100.0, r32),
        ("FENCE_RADIUS", 300.0, r32),
        ("FENCE_MARGIN", 2.0, r32),
        ("RTL_ALT", 1500, i32),
        ("RTL_SPEED", 0, i16),
        ("RTL_LOIT_TIME", 5000, i32),
        ("LAND_SPEED", 50, i16),
        ("WPNAV_SPEED", 1000.0, r32),
        ("WPNAV_RADIUS", 200.0, r32),
        ("WPNAV_ACCEL", 250.0, r32),
        ("ATC_RAT_RLL_P", 0.135, r32),
        ("ATC_RAT_RLL_I", 0.135, r32),
        ("ATC_RAT_RLL_D", 0.0036, r32),
        ("ATC_RAT_PIT_P", 0.135, r32),
        ("ATC_RAT_PIT_I", 0.135, r32),
        ("ATC_RAT_PIT_D", 0.0036, r32),
        ("ATC_RAT_YAW_P", 0.18, r32),
        ("ATC_RAT_YAW_I", 0.018, r32),
        ("ATC_ANG_RLL_P", 4.5, r32),
        ("ATC_ANG_PIT_P", 4.5, r32),
        ("ATC_ANG_YAW_P", 4.5, r32),
        ("BATT_MONITOR", 4, i8),
        ("BATT_CAPACITY", 5200, i32),
        ("BATT_LOW_VOLT", 10.5, r32),
        ("BATT_CRT_VOLT", 0.0, r32),
        ("BATT_FS_LOW_ACT", 2, i8),
        ("COMPASS_USE", 1, i8),
        ("COMPASS_OFS_X", -27, i16),
        ("COMPASS_OFS_Y", 113, i16),
        ("COMPASS_OFS_Z", -412, i16),
        ("COMPASS_DEC", -0.2083, r32),
        ("INS_GYRO_FILTER", 20, i16),
        ("INS_ACCOFFS_X", -0.0012345, r32),
        ("INS_ACCOFFS_Y", 0.0067891, r32),
        ("INS_ACCOFFS_Z", -0.1234567, r32),
        ("SERIAL0_BAUD", 115, i32),
        ("SERIAL1_PROTOCOL", 2, i8),
        ("SERVO1_FUNCTION", 33, i16),
        ("SERVO10_FUNCTION", 0, i16),  # 16 characters: no NUL terminator on the wire
        ("LOG_BITMASK", 176126, i32),
        ("GPS_TYPE", 1, i8),
        ("EK3_ENABLE", 1, i8),
        ("AHRS_EKF_TYPE", 3, i8),
        ("MOT_SPIN_ARM", 0.1, r32),
        ("MOT_THST_HOVER", 0.35, r32),
        ("SCHED_LOOP_RATE", 400, i16),
        ("TERRAIN_SPACING", 100, i16),
        ("STAT_RUNTIME", 1234567, i32),
        ("NEG_INT8_PARAM", -128, i8),
    ]
    params = []
    for name, value, kind in table:
        value = f32(value) if kind == r32 else int(value)
        params.append({"name": name, "value": value, "type": kind})
    return params


def preloaded_mission(n):
    """Home at seq 0 and then `n` items of assorted commands and frames, all exact in a .plan."""
    items = [
        item(MISSION, 0, mav.MAV_CMD_NAV_WAYPOINT, mav.MAV_FRAME_GLOBAL,
             HOME_LAT_E7, HOME_LON_E7, HOME_ALT_M, current=1)
    ]
    for k in range(n):
        seq = k + 1
        lat = HOME_LAT_E7 + 1234 * seq + 7
        lon = HOME_LON_E7 - 987 * seq + 3
        alt = f32(20.0 + 2.5 * seq)
        if seq == 1:
            items.append(item(MISSION, seq, mav.MAV_CMD_NAV_TAKEOFF,
                              mav.MAV_FRAME_GLOBAL_RELATIVE_ALT, 0, 0, alt))
        elif seq == n:
            items.append(item(MISSION, seq, mav.MAV_CMD_NAV_LAND,
                              mav.MAV_FRAME_GLOBAL_RELATIVE_ALT, lat, lon, 0.0))
        elif seq % 5 == 0:
            items.append(item(MISSION, seq, mav.MAV_CMD_DO_CHANGE_SPEED, mav.MAV_FRAME_MISSION,
                              0, 0, 0.0, params=(1.0, f32(7.5), -1.0, 0.0)))
        elif seq % 7 == 0:
            items.append(item(MISSION, seq, mav.MAV_CMD_NAV_LOITER_TIME,
                              mav.MAV_FRAME_GLOBAL_RELATIVE_ALT, lat, lon, alt,
                              params=(f32(12.0), 0.0, f32(30.0), 1.0)))
        else:
            items.append(item(MISSION, seq, mav.MAV_CMD_NAV_WAYPOINT,
                              mav.MAV_FRAME_GLOBAL_RELATIVE_ALT, lat, lon, alt,
                              params=(0.0, f32(2.0), 0.0, f32(float("nan")) if seq == 2 else 0.0)))
    return items


def preloaded_fence(n):
    """One inclusion polygon of `n` vertices, as QGroundControl uploads it."""
    out = []
    for k in range(n):
        angle = 2 * math.pi * k / n
        out.append(item(FENCE, k, mav.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
                        mav.MAV_FRAME_GLOBAL,
                        HOME_LAT_E7 + round(20000 * math.cos(angle)),
                        HOME_LON_E7 + round(25000 * math.sin(angle)),
                        0.0, params=(float(n), 0.0, 0.0, 0.0), autocontinue=0))
    return out


def preloaded_rally(n):
    return [
        item(RALLY, k, mav.MAV_CMD_NAV_RALLY_POINT, mav.MAV_FRAME_GLOBAL_RELATIVE_ALT,
             HOME_LAT_E7 + 5003 * (k + 1), HOME_LON_E7 + 4001 * (k + 1), f32(30.0 + k),
             autocontinue=0)
        for k in range(n)
    ]


def item(mission_type, seq, command, frame, x, y, z, params=(0.0, 0.0, 0.0, 0.0),
         current=0, autocontinue=1):
    return {
        "mission_type": mission_type,
        "seq": seq,
        "command": command,
        "frame": frame,
        "current": current,
        "autocontinue": autocontinue,
        "params": [f32(p) for p in params],
        "x": int(x),
        "y": int(y),
        "z": f32(z),
    }


def json_number(v):
    # JSON has no NaN; the tests compare a NaN param as null.
    return None if isinstance(v, float) and math.isnan(v) else v


class Vehicle:
    def __init__(self, conn, args):
        self.conn = conn
        self.args = args
        self.missions = {MISSION: [], FENCE: [], RALLY: []}
        if args.preload_mission:
            self.missions[MISSION] = preloaded_mission(args.preload_mission)
        if args.preload_fence:
            self.missions[FENCE] = preloaded_fence(args.preload_fence)
        if args.preload_rally:
            self.missions[RALLY] = preloaded_rally(args.preload_rally)
        self.params = parameter_table(args.sysid)
        self.by_name = {p["name"]: i for i, p in enumerate(self.params)}
        # The upload in progress: {"type", "count", "next", "items", "last_rx", "last_req"}.
        self.upload = None
        self.last_completed = None  # (mission_type, count) of the last finished upload
        self.param_stream = []  # indices still to send for PARAM_REQUEST_LIST
        self.received = {}
        self.protocol_seen = 0
        self.dropped = {}
        self.item_messages = {}  # which item message types the uploads carried
        self.gcs = None  # (sysid, compid) of the ground station

    # --- I/O

    def log(self, text):
        if self.args.verbose:
            print(text, file=sys.stderr, flush=True)

    def target(self):
        return self.gcs if self.gcs else (0, 0)

    def send_heartbeat(self):
        self.conn.mav.heartbeat_send(
            mav.MAV_TYPE_QUADROTOR,
            mav.MAV_AUTOPILOT_ARDUPILOTMEGA,
            mav.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | mav.MAV_MODE_FLAG_STABILIZE_ENABLED,
            0,  # STABILIZE
            mav.MAV_STATE_STANDBY,
        )

    def handle(self, msg):
        name = msg.get_type()
        self.received[name] = self.received.get(name, 0) + 1
        if self.args.verbose and name not in ("HEARTBEAT", "REQUEST_DATA_STREAM"):
            self.log(f"{time.monotonic():.3f} rx {msg}")
        if name == "BAD_DATA":
            return
        if name == "HEARTBEAT" and self.gcs is None:
            self.gcs = (msg.get_srcSystem(), msg.get_srcComponent())
        if name.startswith("MISSION_") or name.startswith("PARAM_"):
            if getattr(msg, "target_system", self.args.sysid) not in (0, self.args.sysid):
                return
            self.gcs = (msg.get_srcSystem(), msg.get_srcComponent())
            self.protocol_seen += 1
            n = self.args.drop_every
            if n and self.protocol_seen % n == 0:
                self.dropped[name] = self.dropped.get(name, 0) + 1
                self.log(f"dropped {name}")
                return
        handler = getattr(self, "on_" + name, None)
        if handler:
            handler(msg)

    # --- Commands: only what a ground station asks of every vehicle it connects to

    def on_COMMAND_LONG(self, msg):
        if msg.target_system not in (0, self.args.sysid):
            return
        result = mav.MAV_RESULT_UNSUPPORTED
        if msg.command == mav.MAV_CMD_REQUEST_MESSAGE and int(msg.param1) == 148:
            result = mav.MAV_RESULT_ACCEPTED
        elif msg.command == mav.MAV_CMD_SET_MESSAGE_INTERVAL:
            result = mav.MAV_RESULT_ACCEPTED
        self.conn.mav.command_ack_send(msg.command, result, 0, 0,
                                       msg.get_srcSystem(), msg.get_srcComponent())
        if result == mav.MAV_RESULT_ACCEPTED and msg.command == mav.MAV_CMD_REQUEST_MESSAGE:
            self.send_autopilot_version()

    def send_autopilot_version(self):
        caps = (
            mav.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT
            | mav.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
            | mav.MAV_PROTOCOL_CAPABILITY_MISSION_INT
            | mav.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
            | mav.MAV_PROTOCOL_CAPABILITY_MAVLINK2
            | mav.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
            | mav.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
        )
        self.conn.mav.autopilot_version_send(
            caps, 0x04050600, 0, 0, 0, b"\0" * 8, b"\0" * 8, b"\0" * 8, 0, 0, 0
        )

    # --- Mission protocol

    def mission_type_of(self, msg):
        return getattr(msg, "mission_type", MISSION)

    def ack(self, mission_type, result):
        sysid, compid = self.target()
        self.conn.mav.mission_ack_send(sysid, compid, result, mission_type)

    def on_MISSION_COUNT(self, msg):
        t = self.mission_type_of(msg)
        if t not in self.missions:
            self.ack(t, mav.MAV_MISSION_UNSUPPORTED)
            return
        # A new count restarts any upload in progress, as ArduPilot does.
        self.log(f"MISSION_COUNT {msg.count} type {t}")
        if msg.count == 0:
            self.missions[t] = []
            self.upload = None
            self.last_completed = (t, 0)
            self.ack(t, mav.MAV_MISSION_ACCEPTED)
            return
        now = time.monotonic()
        self.upload = {"type": t, "count": msg.count, "next": 0, "items": [],
                       "last_rx": now, "last_req": now}
        self.request_next()

    def request_next(self):
        u = self.upload
        sysid, compid = self.target()
        if self.args.legacy_request:
            self.conn.mav.mission_request_send(sysid, compid, u["next"], u["type"])
        else:
            self.conn.mav.mission_request_int_send(sysid, compid, u["next"], u["type"])
        u["last_req"] = time.monotonic()

    def store_item(self, msg, is_int):
        t = self.mission_type_of(msg)
        u = self.upload
        if u is None or u["type"] != t:
            # A repeat of the last item of a finished upload: its ACK was lost, say it again.
            if self.last_completed == (t, msg.seq + 1):
                self.ack(t, mav.MAV_MISSION_ACCEPTED)
            return
        if msg.seq != u["next"]:
            # Duplicates and items out of order are ignored; the re-request fetches the
            # one that is missing.
            self.log(f"item {msg.seq} while waiting for {u['next']}")
            return
        kind = msg.get_type()
        self.item_messages[kind] = self.item_messages.get(kind, 0) + 1
        if is_int:
            x, y = msg.x, msg.y
        elif msg.frame in GLOBAL_FRAMES:
            x, y = round(msg.x * 1e7), round(msg.y * 1e7)
        else:
            x, y = int(msg.x), int(msg.y)
        u["items"].append(item(t, msg.seq, msg.command, msg.frame, x, y, msg.z,
                               params=(msg.param1, msg.param2, msg.param3, msg.param4),
                               current=msg.current, autocontinue=msg.autocontinue))
        u["next"] += 1
        u["last_rx"] = time.monotonic()
        if u["next"] == u["count"]:
            self.missions[t] = u["items"]
            self.last_completed = (t, u["count"])
            self.upload = None
            self.log(f"upload of type {t} complete: {u['count']} items")
            self.ack(t, mav.MAV_MISSION_ACCEPTED)
        else:
            self.request_next()

    def on_MISSION_ITEM_INT(self, msg):
        self.store_item(msg, True)

    def on_MISSION_ITEM(self, msg):
        self.store_item(msg, False)

    def on_MISSION_REQUEST_LIST(self, msg):
        t = self.mission_type_of(msg)
        if t not in self.missions:
            self.ack(t, mav.MAV_MISSION_UNSUPPORTED)
            return
        sysid, compid = self.target()
        self.conn.mav.mission_count_send(sysid, compid, len(self.missions[t]), t)

    def serve_item(self, msg):
        t = self.mission_type_of(msg)
        items = self.missions.get(t)
        if items is None:
            self.ack(t, mav.MAV_MISSION_UNSUPPORTED)
            return
        if msg.seq >= len(items):
            self.ack(t, mav.MAV_MISSION_INVALID_SEQUENCE)
            return
        it = items[msg.seq]
        p = it["params"]
        sysid, compid = self.target()
        self.conn.mav.mission_item_int_send(
            sysid, compid, it["seq"], it["frame"], it["command"], it["current"],
            it["autocontinue"], p[0], p[1], p[2], p[3], it["x"], it["y"], it["z"], t)

    def on_MISSION_REQUEST_INT(self, msg):
        self.serve_item(msg)

    def on_MISSION_REQUEST(self, msg):
        self.serve_item(msg)

    def on_MISSION_CLEAR_ALL(self, msg):
        t = self.mission_type_of(msg)
        if t == mav.MAV_MISSION_TYPE_ALL:
            for k in self.missions:
                self.missions[k] = []
        elif t in self.missions:
            self.missions[t] = []
        else:
            self.ack(t, mav.MAV_MISSION_UNSUPPORTED)
            return
        self.upload = None
        self.ack(t, mav.MAV_MISSION_ACCEPTED)

    def on_MISSION_ACK(self, msg):
        pass  # the end of a download: nothing to do

    def tick_upload(self, now):
        u = self.upload
        if u is None:
            return
        if now - u["last_rx"] > UPLOAD_TIMEOUT_S:
            self.log("upload timed out")
            self.ack(u["type"], mav.MAV_MISSION_OPERATION_CANCELLED)
            self.upload = None
        elif now - u["last_req"] > REREQUEST_S:
            self.request_next()

    # --- Parameter protocol

    def send_param(self, index):
        p = self.params[index]
        # C cast: the float carries the number itself, for every type.
        self.conn.mav.param_value_send(
            p["name"].encode(), float(p["value"]), p["type"], len(self.params), index
        )

    def on_PARAM_REQUEST_LIST(self, msg):
        self.param_stream = list(range(len(self.params)))

    def on_PARAM_REQUEST_READ(self, msg):
        if msg.param_index >= 0:
            if msg.param_index < len(self.params):
                self.send_param(msg.param_index)
            return
        index = self.by_name.get(param_name(msg.param_id))
        if index is not None:
            self.send_param(index)

    def on_PARAM_SET(self, msg):
        name = param_name(msg.param_id)
        index = self.by_name.get(name)
        if index is None:
            self.log(f"PARAM_SET of unknown {name!r}")
            return
        p = self.params[index]
        value = msg.param_value
        if math.isnan(value) or math.isinf(value):
            return
        if p["type"] in INT_RANGES:
            lo, hi = INT_RANGES[p["type"]]
            # ArduPilot rounds to the nearest integer and keeps it within the type.
            p["value"] = max(lo, min(hi, int(round(value))))
        else:
            p["value"] = f32(value)
        self.log(f"PARAM_SET {name} = {p['value']}")
        self.send_param(index)

    def tick_params(self):
        # A burst per loop, as ArduPilot streams parameters at a rate the link can take.
        for _ in range(10):
            if not self.param_stream:
                return
            self.send_param(self.param_stream.pop(0))

    # --- Summary

    def summary(self):
        def out_item(it):
            return {
                "seq": it["seq"],
                "command": it["command"],
                "frame": it["frame"],
                "current": it["current"],
                "autocontinue": it["autocontinue"],
                "x": it["x"],
                "y": it["y"],
                "z": json_number(it["z"]),
                "params": [json_number(p) for p in it["params"]],
            }

        return {
            "sysid": self.args.sysid,
            "missions": {TYPE_NAMES[t]: [out_item(i) for i in items]
                         for t, items in self.missions.items()},
            "params": [
                {"name": p["name"], "value": p["value"], "type": TYPE_TEXT[p["type"]],
                 "index": i}
                for i, p in enumerate(self.params)
            ],
            "received": self.received,
            "dropped": self.dropped,
            "item_messages": self.item_messages,
            "upload_in_progress": self.upload is not None,
        }


def param_name(raw):
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    return raw.split("\0", 1)[0]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connect", required=True,
                   help="pymavlink address, e.g. udpout:127.0.0.1:14550 or udpin:127.0.0.1:14550")
    p.add_argument("--sysid", type=int, default=1)
    p.add_argument("--compid", type=int, default=1)
    p.add_argument("--duration", type=float, default=60.0, help="longest run, in seconds")
    p.add_argument("--idle-exit", type=float, default=0.0, metavar="S",
                   help="exit S seconds after the last message from the ground station")
    p.add_argument("--drop-every", type=int, default=0, metavar="N",
                   help="ignore every Nth incoming mission or parameter message")
    p.add_argument("--legacy-request", action="store_true",
                   help="request upload items with MISSION_REQUEST, not MISSION_REQUEST_INT")
    p.add_argument("--preload-mission", type=int, default=0, metavar="N",
                   help="start with home and N mission items")
    p.add_argument("--preload-fence", type=int, default=0, metavar="N",
                   help="start with an N-vertex inclusion polygon")
    p.add_argument("--preload-rally", type=int, default=0, metavar="N",
                   help="start with N rally points")
    p.add_argument("--json", action="store_true", help="print what is held on exit")
    p.add_argument("--verbose", action="store_true", help="log protocol events to stderr")
    args = p.parse_args()
    if not 1 <= args.sysid <= 255:
        p.error("--sysid must be 1 to 255")
    if args.drop_every < 0:
        p.error("--drop-every must be 0 (off) or more")
    return args


class Stop(Exception):
    pass


def main():
    args = parse_args()

    def on_signal(signum, frame):
        raise Stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    conn = mavutil.mavlink_connection(
        args.connect,
        source_system=args.sysid,
        source_component=args.compid,
        dialect="ardupilotmega",
    )
    vehicle = Vehicle(conn, args)
    start = time.monotonic()
    last_rx = None
    next_heartbeat = start
    try:
        while True:
            now = time.monotonic()
            if now - start >= args.duration:
                break
            if args.idle_exit and last_rx is not None and now - last_rx >= args.idle_exit:
                break
            if now >= next_heartbeat:
                vehicle.send_heartbeat()
                next_heartbeat += 1.0
            while True:
                msg = conn.recv_match(blocking=False)
                if msg is None:
                    break
                last_rx = time.monotonic()
                vehicle.handle(msg)
            vehicle.tick_upload(time.monotonic())
            vehicle.tick_params()
            if not vehicle.param_stream:
                time.sleep(0.002)
    except Stop:
        pass
    if args.json:
        print(json.dumps(vehicle.summary()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
