// The one door to the Rust side: every Tauri command the UI uses, typed with the bindings
// generated from src-tauri/src/dto.rs. Nothing else in the UI calls `invoke`.
//
// Outside Tauri (a plain browser on `npm run dev` or `vite preview`) there is no backend;
// `loadBackend` then loads a demo that is labelled on screen as such. The demo module is a
// separate chunk imported only when the Tauri runtime is absent, so it can never stand in
// for the real backend inside the app.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { AppInfo } from "./bindings/AppInfo";
import type { IpcError } from "./bindings/IpcError";
import type { LinkView } from "./bindings/LinkView";
import type { SerialPortView } from "./bindings/SerialPortView";
import type { TelemetryTick } from "./bindings/TelemetryTick";

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
  };
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
