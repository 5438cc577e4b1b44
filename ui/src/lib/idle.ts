// The auto-lock timer: the vault locks after the pilot set idle time without input. Pure
// (the caller passes the time), so it is tested without waiting.

export class IdleTimer {
  private lastActivityMs: number;
  private limitMs: number | null = null;

  constructor(nowMs: number) {
    this.lastActivityMs = nowMs;
  }

  /** Any key, click or wheel; resets the countdown. */
  activity(nowMs: number): void {
    this.lastActivityMs = Math.max(this.lastActivityMs, nowMs);
  }

  /** The idle time in minutes after which to lock; null turns auto-lock off. Restarts the countdown. */
  setLimit(minutes: number | null, nowMs: number): void {
    this.limitMs = minutes === null || !(minutes > 0) ? null : minutes * 60_000;
    this.lastActivityMs = nowMs;
  }

  /** Whether the idle time has run out. */
  due(nowMs: number): boolean {
    return this.limitMs !== null && nowMs - this.lastActivityMs >= this.limitMs;
  }

  /** Milliseconds left before locking, null when auto-lock is off. */
  remainingMs(nowMs: number): number | null {
    return this.limitMs === null ? null : Math.max(0, this.limitMs - (nowMs - this.lastActivityMs));
  }
}

/** Parses the auto-lock field: whole minutes 1–1440, or "" / "off" for never. */
export function parseAutoLock(text: string): { ok: true; minutes: number | null } | { ok: false; error: string } {
  const t = text.trim().toLowerCase();
  if (t === "" || t === "off" || t === "never") return { ok: true, minutes: null };
  if (!/^\d+$/.test(t)) return { ok: false, error: "Whole minutes, or off." };
  const n = Number(t);
  if (n < 1 || n > 1440) return { ok: false, error: "Between 1 and 1440 minutes." };
  return { ok: true, minutes: n };
}
