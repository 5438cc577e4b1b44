// The vault as the UI knows it: its state (absent, locked, unlocked, unavailable), what the
// vault view lists, and the auto-lock timer. Lists are dropped when the vault locks, so a
// locked vault leaves nothing readable on screen either.
import type { FlightView } from "./bindings/FlightView";
import type { SnapshotView } from "./bindings/SnapshotView";
import type { StoredMissionView } from "./bindings/StoredMissionView";
import type { VaultView } from "./bindings/VaultView";
import { IdleTimer } from "./idle";
import { toIpcError, type Backend } from "./ipc";

export class VaultStore {
  status = $state.raw<VaultView | null>(null);
  /** The last vault command's failure, for the screen showing it. */
  error = $state<string | null>(null);
  /** What is running ("Unlocking"), or null. */
  busy = $state<string | null>(null);
  flights = $state.raw<FlightView[]>([]);
  damaged = $state(0);
  missions = $state.raw<StoredMissionView[]>([]);
  snapshots = $state.raw<SnapshotView[]>([]);
  readonly idle = new IdleTimer(Date.now());

  readonly unlocked: boolean = $derived(this.status?.state === "unlocked");

  private set(view: VaultView): void {
    const wasUnlocked = this.status?.state === "unlocked";
    this.status = view;
    if (view.state === "unlocked") {
      if (!wasUnlocked) this.idle.setLimit(view.auto_lock_min, Date.now());
    } else {
      this.idle.setLimit(null, Date.now());
      this.flights = [];
      this.missions = [];
      this.snapshots = [];
      this.damaged = 0;
    }
  }

  /** Runs one vault command; its failure lands in `error`. Returns null on failure. */
  private async run<T>(what: string, op: () => Promise<T>): Promise<T | null> {
    this.busy = what;
    this.error = null;
    try {
      return await op();
    } catch (e) {
      this.error = toIpcError(e).message;
      return null;
    } finally {
      this.busy = null;
    }
  }

  async load(backend: Backend): Promise<void> {
    const v = await this.run("Opening", () => backend.vaultStatus());
    if (v) this.set(v);
  }

  async create(backend: Backend, passphrase: string): Promise<boolean> {
    const v = await this.run("Creating the vault", () => backend.vaultCreate(passphrase));
    if (v) this.set(v);
    return v !== null;
  }

  async unlock(backend: Backend, passphrase: string): Promise<boolean> {
    const v = await this.run("Unlocking", () => backend.vaultUnlock(passphrase));
    if (v) this.set(v);
    return v !== null;
  }

  async lock(backend: Backend): Promise<void> {
    const v = await this.run("Locking", () => backend.vaultLock());
    if (v) this.set(v);
  }

  async setAutoLock(backend: Backend, minutes: number | null): Promise<boolean> {
    const v = await this.run("Saving", () => backend.vaultSetAutoLock(minutes));
    if (v) {
      this.status = v;
      this.idle.setLimit(v.auto_lock_min, Date.now());
    }
    return v !== null;
  }

  async refresh(backend: Backend): Promise<void> {
    if (!this.unlocked) return;
    await this.run("Reading", async () => {
      const [flights, missions, snapshots] = await Promise.all([backend.flightsList(), backend.missionsList(), backend.snapshotsList()]);
      this.flights = flights.flights;
      this.damaged = flights.damaged;
      this.missions = missions;
      this.snapshots = snapshots;
    });
  }

  /** Runs an action on the vault's contents, then lists again. */
  async act<T>(backend: Backend, what: string, op: () => Promise<T>): Promise<T | null> {
    const out = await this.run(what, op);
    await this.refresh(backend);
    return out;
  }
}

/** "12.3 MB", "940 kB", "512 B" (SI units, as file managers show). */
export function fmtBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "—";
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "1:05:09", "21:00", "0:07" */
export function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "—";
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  const pad = (x: number) => String(x).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

/** Local date and time, "2024-02-29 13:34". */
export function fmtDateTime(ms: number): string {
  const d = new Date(ms);
  const pad = (x: number) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
