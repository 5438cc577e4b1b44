// DEMO ONLY: a made-up backend for looking at the UI in a plain browser (`npm run dev`,
// `vite preview`, screenshots). `ipc.ts` loads it only when the Tauri runtime is absent,
// and the UI then shows "DEMO DATA (no backend)". It never touches the network.
//
// URL switches: `?demo=empty` starts with no link, `?demo=lost` loses the vehicle after
// 4 s, `?demo=multi` adds a second vehicle. The vault starts locked (passphrase
// `demo passphrase`); `?vault=absent` starts without one, `?vault=open` unlocked.
import type { AppInfo } from "../bindings/AppInfo";
import type { IpcError } from "../bindings/IpcError";
import type { LinkView } from "../bindings/LinkView";
import type { SerialPortView } from "../bindings/SerialPortView";
import type { SeriesDelta } from "../bindings/SeriesDelta";
import type { StatusLine } from "../bindings/StatusLine";
import type { VehicleView } from "../bindings/VehicleView";
import type { ParamView } from "../bindings/ParamView";
import type { PlanView } from "../bindings/PlanView";
import type { ProgressView } from "../bindings/ProgressView";
import type { VehicleKey } from "../bindings/VehicleKey";
import type { Backend } from "../ipc";
import { KNOWN_PARAMS } from "../params";
import type { FlightView } from "../bindings/FlightView";
import type { StoredMissionView } from "../bindings/StoredMissionView";
import type { VaultView } from "../bindings/VaultView";
import type { ForwardView } from "../bindings/ForwardView";
import type { SealView } from "../bindings/SealView";
import type { TilesView } from "../bindings/TilesView";

const TICK_MS = 50;
const SAMPLES_PER_TICK = 2;
/** ArduPilot SITL's default home (Canberra model airfield). */
const HOME = { lat: -35.363261, lon: 149.16523, altMsl: 584 };

const ACCEPTED =
  /^(udpin|udpout|udp|tcp|tcpout|tcpin):[^:\s]+:\d{1,5}$|^serial:[^\s]+:\d+$|^(\/dev\/\S+|COM\d+):\d+$|^replay:\S+$/;

interface DemoLink extends LinkView {
  sim: DemoVehicle[];
}

class DemoVehicle {
  readonly sysid: number;
  private readonly t0S: number;
  private readonly phase: number;
  statustext: StatusLine[] = [];
  lostAfterS: number | null;

  constructor(sysid: number, t0S: number, lostAfterS: number | null) {
    this.sysid = sysid;
    this.t0S = t0S;
    this.phase = sysid * 1.3;
    this.lostAfterS = lostAfterS;
    const ms = t0S * 1000;
    this.say(6, `ArduCopter V4.5.7 (demo ${sysid})`, ms);
    this.say(6, "EKF3 IMU0 is using GPS", ms + 200);
    this.say(5, "Arming motors", ms + 400);
    this.say(6, "Mode GUIDED", ms + 500);
    this.say(4, "PreArm: Compass not calibrated (demo)", ms + 600);
  }

  say(severity: number, text: string, timeMs: number): void {
    this.statustext.push({ severity, text, time_ms: timeMs });
    if (this.statustext.length > 20) this.statustext.shift();
  }

  isLost(tS: number): boolean {
    return this.lostAfterS !== null && tS - this.t0S > this.lostAfterS;
  }

  /** Attitude and position at time `tS`: a 60 m orbit at 6 m/s after a climb to 30 m. */
  state(tS: number) {
    const e = tS - this.t0S;
    const w = 6 / 60;
    const ang = e * w + this.phase;
    const climb = Math.min(1, e / 20);
    const altRel = 30 * climb + 0.6 * Math.sin(e * 0.7) + (this.sysid - 1) * 12;
    const north = 60 * Math.cos(ang);
    const east = 60 * Math.sin(ang);
    const courseDeg = ((((ang * 180) / Math.PI + 90) % 360) + 360) % 360;
    return {
      roll: 18 + 3 * Math.sin(e * 1.9) + 1.2 * Math.sin(e * 7.3),
      pitch: -4 + 2.5 * Math.sin(e * 0.9 + 1) + 0.6 * Math.sin(e * 5.1),
      yaw: courseDeg > 180 ? courseDeg - 360 : courseDeg,
      heading: courseDeg,
      lat: HOME.lat + north / 111_320,
      lon: HOME.lon + east / (111_320 * Math.cos((HOME.lat * Math.PI) / 180)),
      altRel,
      altMsl: HOME.altMsl + altRel,
      groundspeed: 6 + 0.3 * Math.sin(e * 0.5),
      airspeed: 6.8 + 0.8 * Math.sin(e * 0.31),
      climb: (30 / 20) * (e < 20 ? 1 : 0) + 0.42 * Math.cos(e * 0.7),
      throttle: 48 + 6 * Math.sin(e * 1.1),
      batteryV: 16.4 - Math.min(2.6, e * 0.004),
      batteryA: 14 + 2 * Math.sin(e * 0.8),
      batteryPct: Math.max(0, 96 - e * 0.05),
    };
  }

  view(tS: number, prevTS: number, linkId: number): VehicleView {
    const lost = this.isLost(tS);
    // A lost vehicle's values freeze at the last ones heard, as the real backend's do.
    const s = this.state(lost && this.lostAfterS !== null ? this.t0S + this.lostAfterS : tS);
    const series: SeriesDelta[] = [];
    if (!lost) {
      const ts: number[] = [];
      for (let i = SAMPLES_PER_TICK; i >= 1; i--) ts.push(tS - ((i - 1) * (tS - prevTS)) / SAMPLES_PER_TICK);
      const at = ts.map((t) => this.state(t));
      series.push({
        group: "attitude",
        columns: ["roll_deg", "pitch_deg", "yaw_deg"],
        t_s: ts,
        values: [at.map((a) => a.roll), at.map((a) => a.pitch), at.map((a) => a.yaw)],
      });
      series.push({
        group: "altitude",
        columns: ["alt_rel_m", "alt_msl_m"],
        t_s: [tS],
        values: [[s.altRel], [s.altMsl]],
      });
    }
    return {
      key: { sysid: this.sysid, compid: 1 },
      link_id: linkId,
      autopilot: "ArduPilot",
      vehicle_type: "Quadrotor",
      armed: true,
      mode: "GUIDED",
      lost,
      // Heartbeats stop when the demo vehicle is lost.
      last_heartbeat_ms: 1000 * (lost && this.lostAfterS !== null ? this.t0S + this.lostAfterS : tS),
      roll_deg: s.roll,
      pitch_deg: s.pitch,
      yaw_deg: s.yaw,
      heading_deg: s.heading,
      lat_deg: s.lat,
      lon_deg: s.lon,
      alt_msl_m: s.altMsl,
      alt_rel_m: s.altRel,
      groundspeed_m_s: s.groundspeed,
      airspeed_m_s: s.airspeed,
      climb_m_s: s.climb,
      throttle_pct: s.throttle,
      battery_v: s.batteryV,
      battery_a: s.batteryA,
      battery_pct: s.batteryPct,
      gps_fix: "3D",
      satellites: 14,
      hdop: 0.7,
      statustext: this.statustext.slice(),
      series,
    };
  }
}

function reject(code: string, message: string): Promise<never> {
  const e: IpcError = { code, message };
  return Promise.reject(e);
}

const COPTER_MODES = ["STABILIZE", "ACRO", "ALT_HOLD", "AUTO", "GUIDED", "LOITER", "RTL", "CIRCLE", "LAND", "POSHOLD", "BRAKE", "SMART_RTL"];

/** A made-up parameter set: the documented ones plus filler, like a real vehicle's ~1,000. */
function demoParams(): ParamView[] {
  const out: ParamView[] = Object.entries(KNOWN_PARAMS).map(([name, info]) => ({
    name,
    value: info.min ?? 0,
    param_type: name.startsWith("BATT_LOW") || name.endsWith("_VOLT") ? "REAL32" : "INT16",
  }));
  const rtl = out.find((p) => p.name === "RTL_ALT");
  if (rtl) rtl.value = 1500;
  for (let i = 1; i <= 16; i++) out.push({ name: `SERVO${i}_FUNCTION`, value: i <= 4 ? 32 + i : 0, param_type: "INT16" });
  for (const axis of ["RLL", "PIT", "YAW"]) {
    out.push({ name: `ATC_RAT_${axis}_P`, value: 0.135, param_type: "REAL32" });
    out.push({ name: `ATC_RAT_${axis}_I`, value: 0.135, param_type: "REAL32" });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function createDemoBackend(params: URLSearchParams): Backend {
  const scenario = params.get("demo") ?? "";
  const links: DemoLink[] = [];
  let nextId = 1;
  let prevTS = Date.now() / 1000;

  const addSim = (): DemoLink => {
    const t0S = Date.now() / 1000;
    const sim = [new DemoVehicle(1, t0S - 30, scenario === "lost" ? 34 : null)];
    if (scenario === "multi") sim.push(new DemoVehicle(2, t0S - 20, null));
    const link: DemoLink = {
      id: nextId++,
      address: "tcp:127.0.0.1:5760",
      state: "up",
      detail: null,
      rx_frames: 3_600,
      tx_frames: 60,
      rx_bytes: 144_000,
      tx_bytes: 1_200,
      crc_errors: 0,
      seq_gaps: 0,
      quality_pct: 100,
      recording: true,
      sim,
    };
    links.push(link);
    return link;
  };

  const publicView = (l: DemoLink): LinkView => {
    const { sim: _sim, ...view } = l;
    return view;
  };

  if (scenario !== "empty") addSim();

  let onProgress: ((p: ProgressView) => void) | null = null;
  const vehicleParams = demoParams();
  let vehiclePlan: PlanView = { home: { lat_deg: HOME.lat, lon_deg: HOME.lon, alt_msl_m: HOME.altMsl }, mission: [], fence: [], rally: [] };
  const cancelled = new Set<number>();
  const storedPlans = new Map<string, PlanView>();
  const noFiles = () => reject("file_failed", "Opening and saving files needs the desktop app (demo).");

  /** Pretends to move `total` items, reporting progress like the engine (every 100 ms). */
  const transfer = async (key: VehicleKey, kind: string, missionType: string | null, total: number, opId: number | null) => {
    for (let done = 0; done <= total; done += Math.max(1, Math.ceil(total / 10))) {
      if (opId !== null && cancelled.has(opId)) return reject("cancelled", `${kind}: cancelled`);
      onProgress?.({ key, kind, mission_type: missionType, done, total, unit: "items" });
      await sleep(100);
    }
    onProgress?.({ key, kind, mission_type: missionType, done: total, total, unit: "items" });
    return undefined;
  };

  // The demo vault: in memory, gone on reload.
  const DEMO_PASS = "demo passphrase";
  const vaultParam = params.get("vault");
  let vaultPass: string | null = vaultParam === "absent" ? null : DEMO_PASS;
  let unlocked = vaultParam === "open";
  let autoLockMin: number | null = 10;
  const dayMs = 86_400_000;
  const startedMs = Date.now();
  let flights: FlightView[] = [
    { id: "d1", start_ms: startedMs - 2 * dayMs, end_ms: startedMs - 2 * dayMs + 1_260_000, duration_s: 1260, bytes: 9_830_400, frames: 201_000, sysids: [1], armed: true, complete: true, recording: false },
    { id: "d2", start_ms: startedMs - dayMs, end_ms: startedMs - dayMs + 95_000, duration_s: 95, bytes: 512_000, frames: 10_400, sysids: [1, 2], armed: false, complete: false, recording: false },
  ];
  let missions: StoredMissionView[] = [];
  const vaultView = (): VaultView => ({
    state: vaultPass === null ? "absent" : unlocked ? "unlocked" : "locked",
    recording: vaultPass !== null,
    detail: null,
    path: "(demo, in memory)",
    auto_lock_min: unlocked ? autoLockMin : null,
  });
  const needUnlocked = async (): Promise<void> => {
    if (vaultPass === null) return reject("no_vault", "There is no vault yet: create one first.");
    if (!unlocked) return reject("locked", "The vault is locked: unlock it first.");
  };

  // The seal: online, with a switch that only says what it would do (a demo never restarts).
  let sealSwitch: "online" | "sealed" = "online";
  let forwards: ForwardView[] = [];
  let nextForward = 1;
  const sealView = (): SealView => ({
    sealed: false,
    selftest_passed: true,
    layers: [
      { layer: "egress gate", outcome: "absent", detail: "not engaged: the switch is ONLINE (demo)" },
      { layer: "OS seal", outcome: "absent", detail: "not available in the demo" },
    ],
    os_layer: "not available in the demo",
    os_layer_available: false,
    refused: 0,
    os_refused: null,
    switch: sealSwitch,
    sealed_flag: false,
    pending: sealSwitch === "sealed" ? "The switch is SEALED now: Airgap starts sealed after a restart." : null,
    reopen: links.filter((l) => l.state !== "closed").map((l) => l.address),
  });

  // The demo has no tiles: the map shows the bundled basemap, and the settings what a
  // fresh vault would say.
  let tileTemplate: string | null = null;
  const tilesView = (): TilesView => {
    const osm = tileTemplate === null;
    return {
      source: {
        name: osm ? "openstreetmap" : tileTemplate ?? "",
        url_template: tileTemplate ?? "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        is_openstreetmap: osm,
        attribution: osm ? "© OpenStreetMap contributors" : "Map tiles (demo)",
        max_zoom: osm ? 19 : 20,
        max_area_zoom: osm ? 16 : 24,
        max_area_tiles: osm ? 2500 : 200000,
      },
      caches: [],
      sealed: sealSwitch === "sealed",
    };
  };
  const lockedError = () => reject("locked", "The vault is locked: unlock it first.");

  return {
    tilesStatus: async () => (unlocked ? tilesView() : lockedError()),
    tilesSetSource: async (template) => {
      if (template !== null && !/^https?:\/\/.*\{z\}.*\{x\}.*\{-?y\}/.test(template))
        return reject("invalid", `Tile source ${JSON.stringify(template)} is not usable: the template must hold {z}, {x} and {y}.`);
      if (!unlocked) return lockedError();
      tileTemplate = template;
      return tilesView();
    },
    tilesEstimate: async () => reject("invalid", "The demo downloads no tiles."),
    tilesDownload: async () => reject("invalid", "The demo downloads no tiles."),
    tilesImport: async () => null,
    tilesDelete: async () => tilesView(),
    sealStatus: async () => sealView(),
    sealEngage: async () => {
      sealSwitch = "sealed";
      return false;
    },
    sealDisengage: async (passphrase) => {
      await sleep(350);
      if (passphrase !== vaultPass) return reject("wrong_passphrase", "Wrong passphrase. The attempt is recorded in the vault's audit trail.");
      sealSwitch = "online";
      return false;
    },
    forwardsList: async () => forwards.map((f) => ({ ...f, tx_frames: f.tx_frames + 1 })),
    forwardAdd: async (address) => {
      if (!ACCEPTED.test(address.trim())) return reject("bad_address", "Not an address this demo accepts.");
      const f: ForwardView = { id: nextForward++, address: address.trim(), detail: null, tx_frames: 0, rx_frames: 0, dropped: 0 };
      forwards = [...forwards, f];
      return f;
    },
    forwardRemove: async (id) => {
      forwards = forwards.filter((f) => f.id !== id);
    },
    vaultStatus: async () => vaultView(),
    vaultCreate: async (passphrase) => {
      if (vaultPass !== null) return reject("invalid", "There is a vault already: unlock it instead.");
      await sleep(300);
      vaultPass = passphrase;
      unlocked = true;
      return vaultView();
    },
    vaultUnlock: async (passphrase) => {
      await sleep(350);
      if (passphrase !== vaultPass) return reject("wrong_passphrase", "Wrong passphrase. The attempt is recorded in the vault's audit trail.");
      unlocked = true;
      return vaultView();
    },
    vaultLock: async () => {
      unlocked = false;
      return vaultView();
    },
    vaultSetAutoLock: async (minutes) => {
      await needUnlocked();
      autoLockMin = minutes;
      return vaultView();
    },
    flightsList: async () => {
      await needUnlocked();
      const live: FlightView[] = links.map((l) => ({
        id: `live${l.id}`,
        start_ms: startedMs,
        end_ms: Date.now(),
        duration_s: (Date.now() - startedMs) / 1000,
        bytes: l.rx_bytes + 8 * l.rx_frames,
        frames: l.rx_frames,
        sysids: l.sim.map((v) => v.sysid),
        armed: l.sim.length > 0,
        complete: false,
        recording: true,
      }));
      return { flights: [...live, ...flights.slice().reverse()], damaged: 0 };
    },
    flightDelete: async (id) => {
      await needUnlocked();
      flights = flights.filter((f) => f.id !== id);
    },
    flightExport: noFiles,
    flightTrack: async (id) => {
      await needUnlocked();
      const v = new DemoVehicle(1, 0, null);
      const t_s: number[] = [];
      const lat: number[] = [];
      const lon: number[] = [];
      const alt: number[] = [];
      for (let t = 0; t < 300; t += 1) {
        const s = v.state(t);
        t_s.push(startedMs / 1000 + t);
        lat.push(s.lat);
        lon.push(s.lon);
        alt.push(s.altRel);
      }
      return { sysid: id === "d2" ? 2 : 1, t_s, lat_deg: lat, lon_deg: lon, alt_rel_m: alt, messages: 3000, bad_records: 0 };
    },
    missionsList: async () => {
      await needUnlocked();
      return missions.slice().sort((a, b) => a.name.localeCompare(b.name));
    },
    missionStore: async (name, plan) => {
      await needUnlocked();
      const m: StoredMissionView = { id: `m${Date.now()}`, name, saved_ms: Date.now(), mission_items: plan.mission.length, fence_items: plan.fence.length, rally_items: plan.rally.length };
      missions.push(m);
      storedPlans.set(m.id, structuredClone(plan));
      return m;
    },
    missionLoad: async (id) => {
      await needUnlocked();
      const p = storedPlans.get(id);
      return p ? structuredClone(p) : reject("not_found", `No mission with id ${id}`);
    },
    missionRename: async (id, name) => {
      await needUnlocked();
      missions = missions.map((m) => (m.id === id ? { ...m, name, saved_ms: Date.now() } : m));
    },
    missionDelete: async (id) => {
      await needUnlocked();
      missions = missions.filter((m) => m.id !== id);
    },
    snapshotsList: async () => {
      await needUnlocked();
      return [{ id: "s1", sysid: 1, taken_ms: startedMs - dayMs, count: vehicleParams.length }];
    },
    snapshotParams: async () => {
      await needUnlocked();
      return vehicleParams.map((p) => (p.name === "RTL_ALT" ? { ...p, value: 2000 } : { ...p }));
    },
    appInfo: async (): Promise<AppInfo> => ({
      version: "0.1.0-demo",
      sim_address: scenario === "empty" ? null : "tcp:127.0.0.1:5760",
    }),
    connect: async (address) => {
      const a = address.trim();
      if (!ACCEPTED.test(a)) {
        return reject(
          "bad_address",
          `"${a}" is not a link address. Accepted: udpin:HOST:PORT, udpout:HOST:PORT, tcp:HOST:PORT, ` +
            `tcpin:HOST:PORT, serial:PATH:BAUD, /dev/ttyACM0:115200, COM3:57600, replay:FILE[@SPEED].`,
        );
      }
      const link: DemoLink = {
        id: nextId++,
        address: a,
        state: "connecting",
        detail: "Demo: no vehicle behind this address.",
        rx_frames: 0,
        tx_frames: 0,
        rx_bytes: 0,
        tx_bytes: 0,
        crc_errors: 0,
        seq_gaps: 0,
        quality_pct: null,
        recording: true,
        sim: [],
      };
      links.push(link);
      return publicView(link);
    },
    connectSim: async () => publicView(addSim()),
    disconnect: async (linkId) => {
      const i = links.findIndex((l) => l.id === linkId);
      if (i < 0) return reject("no_such_link", `No link ${linkId}.`);
      links.splice(i, 1);
    },
    listSerialPorts: async (): Promise<SerialPortView[]> => [
      { path: "/dev/ttyACM0", description: "USB 1209:5741 ArduPilot (demo)", vid: 0x1209, pid: 0x5741, kind: "autopilot", suggested_baud: 115200 },
      { path: "/dev/ttyUSB0", description: "USB 0403:6015 FTDI radio (demo)", vid: 0x0403, pid: 0x6015, kind: "radio", suggested_baud: 57600 },
    ],
    subscribeProgress: async (f) => {
      onProgress = f;
    },
    cancelOp: async (opId) => {
      cancelled.add(opId);
      return true;
    },
    vehicleCommand: async (_key, action) => {
      await sleep(300);
      // The demo vehicle is always flying: a plain disarm is refused the way ArduCopter does.
      if (action.kind === "disarm" && !action.force)
        return reject("refused", "Disarm: the vehicle failed to do the command: Disarm: not landed (demo)");
      return { command: `demo ${action.kind}` };
    },
    modeList: async () => COPTER_MODES,
    paramsDownload: async (key, opId) => {
      await transfer(key, "param_download", null, vehicleParams.length, opId);
      return vehicleParams.map((p) => ({ ...p }));
    },
    paramGet: async (_key, name) => {
      const p = vehicleParams.find((q) => q.name === name);
      return p ? { ...p } : reject("transfer_failed", `Reading ${name}: the vehicle has no such parameter`);
    },
    paramSet: async (_key, name, value) => {
      await sleep(200);
      const p = vehicleParams.find((q) => q.name === name);
      if (!p) return reject("transfer_failed", `Setting ${name}: the vehicle has no such parameter`);
      p.value = p.param_type === "REAL32" ? Math.fround(value) : value;
      return { ...p };
    },
    paramsOpen: noFiles,
    paramsSave: noFiles,
    missionUpload: async (key, plan, verify, opId) => {
      await transfer(key, "mission_upload", "mission", plan.mission.length + 1, opId);
      if (verify) await transfer(key, "mission_verify", "mission", plan.mission.length + 1, opId);
      vehiclePlan = structuredClone(plan);
      return { mission_items: plan.mission.length, fence_items: plan.fence.length, rally_items: plan.rally.length, verified: verify };
    },
    missionDownload: async (key, opId) => {
      await transfer(key, "mission_download", "mission", vehiclePlan.mission.length + 1, opId);
      return structuredClone(vehiclePlan);
    },
    missionClear: async () => {
      vehiclePlan = { ...vehiclePlan, mission: [], fence: [], rally: [] };
    },
    planOpen: noFiles,
    planSave: noFiles,
    subscribeTelemetry: async (onTick) => {
      setInterval(() => {
        const nowMs = Date.now();
        const tS = nowMs / 1000;
        const vehicles: VehicleView[] = [];
        for (const l of links) {
          const lost = l.sim.length > 0 && l.sim.every((v) => v.isLost(tS));
          if (l.sim.length > 0) {
            l.state = lost ? "lost" : "up";
            l.detail = lost ? "No heartbeat for 3 s" : null;
            if (!lost) {
              l.rx_frames += 7 + (nowMs % 3);
              l.rx_bytes += 280;
              l.seq_gaps += nowMs % 97 === 0 ? 1 : 0;
              l.crc_errors += nowMs % 211 === 0 ? 1 : 0;
              l.quality_pct = 97 + (nowMs % 4);
            }
          }
          for (const v of l.sim) {
            if (Math.random() < 0.004) v.say(4, "Demo: GPS glitch cleared", nowMs);
            vehicles.push(v.view(tS, prevTS, l.id));
          }
        }
        prevTS = tS;
        onTick({ time_ms: nowMs, links: links.map(publicView), vehicles });
      }, TICK_MS);
    },
  };
}
