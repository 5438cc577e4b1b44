// The one door to the Rust side: every Tauri command the UI uses, typed with the bindings
// generated from src-tauri/src/dto.rs. Nothing else in the UI calls `invoke`.
//
// Outside Tauri (a plain browser on `npm run dev` or `vite preview`) there is no backend;
// `loadBackend` then loads a demo that is labelled on screen as such. The demo module is a
// separate chunk imported only when the Tauri runtime is absent, so it can never stand in
// for the real backend inside the app.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { AppInfo } from "./bindings/AppInfo";
import type { CommandDone } from "./bindings/CommandDone";
import type { IpcError } from "./bindings/IpcError";
import type { LinkView } from "./bindings/LinkView";
import type { ParamFileView } from "./bindings/ParamFileView";
import type { ParamView } from "./bindings/ParamView";
import type { PlanFileView } from "./bindings/PlanFileView";
import type { PlanView } from "./bindings/PlanView";
import type { ProgressView } from "./bindings/ProgressView";
import type { SerialPortView } from "./bindings/SerialPortView";
import type { TelemetryTick } from "./bindings/TelemetryTick";
import type { UploadView } from "./bindings/UploadView";
import type { VehicleAction } from "./bindings/VehicleAction";
import type { VehicleKey } from "./bindings/VehicleKey";
import type { ExportView } from "./bindings/ExportView";
import type { FlightListView } from "./bindings/FlightListView";
import type { FlightTrackView } from "./bindings/FlightTrackView";
import type { SnapshotView } from "./bindings/SnapshotView";
import type { StoredMissionView } from "./bindings/StoredMissionView";
import type { VaultView } from "./bindings/VaultView";
import type { SealView } from "./bindings/SealView";
import type { ForwardView } from "./bindings/ForwardView";
import type { TileAreaView } from "./bindings/TileAreaView";
import type { TileEstimateView } from "./bindings/TileEstimateView";
import type { TileImportView } from "./bindings/TileImportView";
import type { TileProgressView } from "./bindings/TileProgressView";
import type { TileReportView } from "./bindings/TileReportView";
import type { TilesView } from "./bindings/TilesView";

export interface Backend {
  appInfo(): Promise<AppInfo>;
  /** Opens a link; rejects with an IpcError (`bad_address` lists the accepted forms). */
  connect(address: string): Promise<LinkView>;
  /** Starts the built-in simulated vehicle and connects to it. */
  connectSim(): Promise<LinkView>;
  disconnect(linkId: number): Promise<void>;
  listSerialPorts(): Promise<SerialPortView[]>;
  /** Registers `onTick`; the backend then pushes a TelemetryTick at the display rate. */
  subscribeTelemetry(onTick: (tick: TelemetryTick) => void): Promise<void>;
  /** Registers `onProgress` for transfer progress (at most every 100 ms per transfer). */
  subscribeProgress(onProgress: (p: ProgressView) => void): Promise<void>;
  /** Cancels the transfer started with `opId`; false when it had already ended. */
  cancelOp(opId: number): Promise<boolean>;

  /** Resolves once the vehicle accepted; rejects with `refused` and its reason otherwise. */
  vehicleCommand(key: VehicleKey, action: VehicleAction): Promise<CommandDone>;
  /** The vehicle's flight-mode names, for the mode picker. */
  modeList(key: VehicleKey): Promise<string[]>;

  paramsDownload(key: VehicleKey, opId: number | null): Promise<ParamView[]>;
  paramGet(key: VehicleKey, name: string): Promise<ParamView>;
  /** Resolves with the value the vehicle confirmed. */
  paramSet(key: VehicleKey, name: string, value: number): Promise<ParamView>;
  /** Asks for a .param/.params file and reads it; null when the pilot cancelled. */
  paramsOpen(): Promise<ParamFileView | null>;
  /** Asks where to save; the file name written, or null when cancelled. */
  paramsSave(key: VehicleKey, params: ParamView[]): Promise<string | null>;

  missionUpload(key: VehicleKey, plan: PlanView, verify: boolean, opId: number | null): Promise<UploadView>;
  missionDownload(key: VehicleKey, opId: number | null): Promise<PlanView>;
  missionClear(key: VehicleKey): Promise<void>;
  /** `key` decides ArduPilot's or PX4's home convention (ArduPilot when null). */
  planOpen(key: VehicleKey | null): Promise<PlanFileView | null>;
  planSave(key: VehicleKey | null, plan: PlanView): Promise<string | null>;

  vaultStatus(): Promise<VaultView>;
  /** First start: creates the vault and leaves it unlocked. */
  vaultCreate(passphrase: string): Promise<VaultView>;
  /** Rejects with `wrong_passphrase` (the vault audits the attempt). */
  vaultUnlock(passphrase: string): Promise<VaultView>;
  vaultLock(): Promise<VaultView>;
  /** Idle minutes before the UI locks the vault; null: never. */
  vaultSetAutoLock(minutes: number | null): Promise<VaultView>;
  flightsList(): Promise<FlightListView>;
  flightDelete(id: string): Promise<void>;
  /** Asks where to save the .tlog; null when the pilot cancelled. */
  flightExport(id: string): Promise<ExportView | null>;
  flightTrack(id: string): Promise<FlightTrackView>;
  missionsList(): Promise<StoredMissionView[]>;
  missionStore(name: string, plan: PlanView): Promise<StoredMissionView>;
  missionLoad(id: string): Promise<PlanView>;
  missionRename(id: string, name: string): Promise<void>;
  missionDelete(id: string): Promise<void>;
  snapshotsList(): Promise<SnapshotView[]>;
  snapshotParams(id: string): Promise<ParamView[]>;

  /** The network seal of this process, the start-up self-test and the refused count. */
  sealStatus(): Promise<SealView>;
  /** Engages the switch; true when the app restarts sealed (this page goes away with it). */
  sealEngage(): Promise<boolean>;
  /** Needs the vault passphrase (`wrong_passphrase` is audited); true when the app restarts. */
  sealDisengage(passphrase: string, restartNow: boolean): Promise<boolean>;
  forwardsList(): Promise<ForwardView[]>;
  /** Rejects with `egress_refused` (the gate's words) when sealed and not loopback. */
  forwardAdd(address: string): Promise<ForwardView>;
  forwardRemove(id: number): Promise<void>;

  /** The tile source and the vault's tile caches (unlocked only: `locked` otherwise). */
  tilesStatus(): Promise<TilesView>;
  /** A URL template with {z}, {x}, {y}; null: OpenStreetMap. `invalid` says what is wrong. */
  tilesSetSource(urlTemplate: string | null): Promise<TilesView>;
  /** Tiles and bytes of an area download, or `invalid` with the source's refusal. */
  tilesEstimate(area: TileAreaView): Promise<TileEstimateView>;
  /** Downloads the area into the vault; `cancelOp(opId)` cancels. */
  tilesDownload(area: TileAreaView, opId: number, onProgress: (p: TileProgressView) => void): Promise<TileReportView>;
  /** Asks for an MBTiles file and imports it; null when the pilot cancelled. */
  tilesImport(): Promise<TileImportView | null>;
  tilesDelete(source: string): Promise<TilesView>;
}

export interface LoadedBackend {
  backend: Backend;
  /** True when the data on screen is made up (no Tauri runtime). */
  demo: boolean;
}

/** Whether this page runs inside the Tauri web view. */
export function isTauriRuntime(): boolean {
  const g = globalThis as { __TAURI_INTERNALS__?: unknown; isTauri?: unknown };
  return g.__TAURI_INTERNALS__ !== undefined || g.isTauri === true;
}

export function tauriBackend(): Backend {
  return {
    appInfo: () => invoke<AppInfo>("app_info"),
    connect: (address) => invoke<LinkView>("connect", { address }),
    connectSim: () => invoke<LinkView>("connect_sim"),
    disconnect: (linkId) => invoke<void>("disconnect", { linkId }),
    listSerialPorts: () => invoke<SerialPortView[]>("list_serial_ports"),
    subscribeTelemetry: async (onTick) => {
      const channel = new Channel<TelemetryTick>();
      channel.onmessage = onTick;
      await invoke<void>("subscribe_telemetry", { channel });
    },
    subscribeProgress: async (onProgress) => {
      const channel = new Channel<ProgressView>();
      channel.onmessage = onProgress;
      await invoke<void>("subscribe_progress", { channel });
    },
    cancelOp: (opId) => invoke<boolean>("cancel_op", { opId }),
    vehicleCommand: (key, action) => invoke<CommandDone>("vehicle_command", { key, action }),
    modeList: (key) => invoke<string[]>("mode_list", { key }),
    paramsDownload: (key, opId) => invoke<ParamView[]>("params_download", { key, opId }),
    paramGet: (key, name) => invoke<ParamView>("param_get", { key, name }),
    paramSet: (key, name, value) => invoke<ParamView>("param_set", { key, name, value }),
    paramsOpen: () => invoke<ParamFileView | null>("params_open"),
    paramsSave: (key, params) => invoke<string | null>("params_save", { key, params }),
    missionUpload: (key, plan, verify, opId) => invoke<UploadView>("mission_upload", { key, plan, verify, opId }),
    missionDownload: (key, opId) => invoke<PlanView>("mission_download", { key, opId }),
    missionClear: (key) => invoke<void>("mission_clear", { key }),
    planOpen: (key) => invoke<PlanFileView | null>("plan_open", { key }),
    planSave: (key, plan) => invoke<string | null>("plan_save", { key, plan }),
    vaultStatus: () => invoke<VaultView>("vault_status"),
    vaultCreate: (passphrase) => invoke<VaultView>("vault_create", { passphrase }),
    vaultUnlock: (passphrase) => invoke<VaultView>("vault_unlock", { passphrase }),
    vaultLock: () => invoke<VaultView>("vault_lock"),
    vaultSetAutoLock: (minutes) => invoke<VaultView>("vault_set_auto_lock", { minutes }),
    flightsList: () => invoke<FlightListView>("flights_list"),
    flightDelete: (id) => invoke<void>("flight_delete", { id }),
    flightExport: (id) => invoke<ExportView | null>("flight_export", { id }),
    flightTrack: (id) => invoke<FlightTrackView>("flight_track", { id }),
    missionsList: () => invoke<StoredMissionView[]>("missions_list"),
    missionStore: (name, plan) => invoke<StoredMissionView>("mission_store", { name, plan }),
    missionLoad: (id) => invoke<PlanView>("mission_load", { id }),
    missionRename: (id, name) => invoke<void>("mission_rename", { id, name }),
    missionDelete: (id) => invoke<void>("mission_delete", { id }),
    snapshotsList: () => invoke<SnapshotView[]>("snapshots_list"),
    snapshotParams: (id) => invoke<ParamView[]>("snapshot_params", { id }),
    sealStatus: () => invoke<SealView>("seal_status"),
    sealEngage: () => invoke<boolean>("seal_engage"),
    sealDisengage: (passphrase, restartNow) => invoke<boolean>("seal_disengage", { passphrase, restartNow }),
    forwardsList: () => invoke<ForwardView[]>("forwards_list"),
    forwardAdd: (address) => invoke<ForwardView>("forward_add", { address }),
    forwardRemove: (id) => invoke<void>("forward_remove", { id }),
    tilesStatus: () => invoke<TilesView>("tiles_status"),
    tilesSetSource: (urlTemplate) => invoke<TilesView>("tiles_set_source", { urlTemplate }),
    tilesEstimate: (area) => invoke<TileEstimateView>("tiles_estimate", { area }),
    tilesDownload: (area, opId, onProgress) => {
      const progress = new Channel<TileProgressView>();
      progress.onmessage = onProgress;
      return invoke<TileReportView>("tiles_download", { area, opId, progress });
    },
    tilesImport: () => invoke<TileImportView | null>("tiles_import"),
    tilesDelete: (source) => invoke<TilesView>("tiles_delete", { source }),
  };
}

let lastOpId = 0;

/** A fresh id for a cancellable transfer. */
export function nextOpId(): number {
  lastOpId = (lastOpId + 1) % 0x7fff_ffff;
  return lastOpId;
}

export async function loadBackend(): Promise<LoadedBackend> {
  if (isTauriRuntime()) return { backend: tauriBackend(), demo: false };
  const { createDemoBackend } = await import("./demo/demoBackend");
  return { backend: createDemoBackend(new URLSearchParams(globalThis.location?.search ?? "")), demo: true };
}

function isIpcError(e: unknown): e is IpcError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as { code?: unknown }).code === "string" &&
    typeof (e as { message?: unknown }).message === "string"
  );
}

/** Whatever a command rejected with, as an IpcError (Tauri itself rejects with plain strings). */
export function toIpcError(e: unknown): IpcError {
  if (isIpcError(e)) return e;
  if (typeof e === "string") return { code: "internal", message: e };
  if (e instanceof Error) return { code: "internal", message: e.message };
  return { code: "internal", message: "The backend failed without saying why." };
}
