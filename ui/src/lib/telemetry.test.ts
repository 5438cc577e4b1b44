import { describe, expect, it } from "vitest";
import type { LinkView } from "./bindings/LinkView";
import type { TelemetryTick } from "./bindings/TelemetryTick";
import type { VehicleView } from "./bindings/VehicleView";
import { isLinkLost, TelemetryStore, vehicleId } from "./telemetry.svelte";

function link(id: number, over: Partial<LinkView> = {}): LinkView {
  return {
    id,
    address: "tcp:127.0.0.1:5760",
    state: "up",
    detail: null,
    rx_frames: 0,
    tx_frames: 0,
    rx_bytes: 0,
    tx_bytes: 0,
    crc_errors: 0,
    seq_gaps: 0,
    quality_pct: 100,
    recording: false,
    ...over,
  };
}

function vehicle(sysid: number, linkId: number, over: Partial<VehicleView> = {}): VehicleView {
  return {
    key: { sysid, compid: 1 },
    link_id: linkId,
    autopilot: "ArduPilot",
    vehicle_type: "Quadrotor",
    armed: null,
    mode: null,
    lost: false,
    last_heartbeat_ms: null,
    roll_deg: null,
    pitch_deg: null,
    yaw_deg: null,
    heading_deg: null,
    lat_deg: null,
    lon_deg: null,
    alt_msl_m: null,
    alt_rel_m: null,
    groundspeed_m_s: null,
    airspeed_m_s: null,
    climb_m_s: null,
    throttle_pct: null,
    battery_v: null,
    battery_a: null,
    battery_pct: null,
    gps_fix: null,
    satellites: null,
    hdop: null,
    statustext: [],
    series: [],
    ...over,
  };
}

const tick = (time_ms: number, links: LinkView[], vehicles: VehicleView[]): TelemetryTick => ({ time_ms, links, vehicles });

describe("isLinkLost", () => {
  it("needs a vehicle", () => {
    expect(isLinkLost(null, link(1, { state: "lost" }))).toBe(false);
  });
  it("is true when the vehicle or its link is lost", () => {
    expect(isLinkLost(vehicle(1, 1, { lost: true }), link(1))).toBe(true);
    expect(isLinkLost(vehicle(1, 1), link(1, { state: "lost" }))).toBe(true);
    expect(isLinkLost(vehicle(1, 1), link(1))).toBe(false);
    expect(isLinkLost(vehicle(1, 1), null)).toBe(false);
  });
});

describe("TelemetryStore", () => {
  it("selects the first vehicle until the pilot chooses another", () => {
    const s = new TelemetryStore();
    expect(s.selected).toBeNull();
    s.ingest(tick(0, [link(1)], [vehicle(1, 1), vehicle(2, 1)]));
    expect(s.selectedId).toBe("1:1");
    s.choose("2:1");
    expect(s.selected?.key.sysid).toBe(2);
    // The chosen vehicle vanished: fall back to the first one rather than show nothing.
    s.ingest(tick(50, [link(1)], [vehicle(1, 1)]));
    expect(s.selectedId).toBe("1:1");
  });

  it("finds the selected vehicle's link and reports it lost", () => {
    const s = new TelemetryStore();
    s.ingest(tick(0, [link(1), link(2, { state: "lost" })], [vehicle(7, 2)]));
    expect(s.selectedLink?.id).toBe(2);
    expect(s.linkLost).toBe(true);
  });

  it("accumulates series deltas per vehicle and forgets vehicles that left", () => {
    const s = new TelemetryStore();
    const alt = (t: number, v: number) => ({
      group: "altitude",
      columns: ["alt_rel_m", "alt_msl_m"],
      t_s: [t],
      values: [[v], [v + 500]],
    });
    s.ingest(tick(0, [link(1)], [vehicle(1, 1, { series: [alt(10, 1)] }), vehicle(2, 1, { series: [alt(10, 9)] })]));
    s.ingest(tick(50, [link(1)], [vehicle(1, 1, { series: [alt(10.05, 2)] }), vehicle(2, 1)]));
    expect(s.series.get(vehicleId({ sysid: 1, compid: 1 }))?.get("altitude")?.window(0)).toEqual([
      [10, 10.05],
      [1, 2],
      [501, 502],
    ]);
    s.ingest(tick(100, [link(1)], [vehicle(1, 1)]));
    expect(s.series.has("2:1")).toBe(false);
    expect(s.series.get("1:1")?.get("altitude")?.length).toBe(2);
  });

  it("computes the message rate of the selected vehicle's link", () => {
    const s = new TelemetryStore();
    for (let i = 0; i <= 20; i++) s.ingest(tick(i * 50, [link(3, { rx_frames: i * 10 })], [vehicle(1, 3)]));
    expect(s.messageRate).toBeCloseTo(200, 6);
  });
});

describe("TelemetryStore loss timer", () => {
  it("counts from the vehicle's last heartbeat while lost and clears on recovery", () => {
    const s = new TelemetryStore();
    s.ingest(tick(1000, [link(1)], [vehicle(1, 1, { last_heartbeat_ms: 900 })]));
    expect(s.lostForS).toBeNull();
    const lost = vehicle(1, 1, { lost: true, last_heartbeat_ms: 900 });
    s.ingest(tick(4000, [link(1, { state: "lost" })], [lost]));
    expect(s.lostForS).toBe(3.1);
    s.ingest(tick(6500, [link(1, { state: "lost" })], [lost]));
    expect(s.lostForS).toBe(5.6);
    s.ingest(tick(7000, [link(1)], [vehicle(1, 1, { last_heartbeat_ms: 6900 })]));
    expect(s.lostForS).toBeNull();
    expect(s.linkLost).toBe(false);
  });
});
