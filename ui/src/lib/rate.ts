// Message rate from the link's cumulative rx counter, averaged over a short window so the
// status bar does not flicker with tick-to-tick jitter.

export const RATE_WINDOW_MS = 2000;

export class RateMeter {
  private samples: { tMs: number; count: number }[] = [];
  private readonly windowMs: number;

  constructor(windowMs = RATE_WINDOW_MS) {
    this.windowMs = windowMs;
  }

  push(tMs: number, count: number): void {
    if (!Number.isFinite(tMs) || !Number.isFinite(count)) return;
    const last = this.samples[this.samples.length - 1];
    // A counter going down means a new link reused the id: start again.
    if (last !== undefined && (count < last.count || tMs < last.tMs)) this.samples = [];
    this.samples.push({ tMs, count });
    const cutoff = tMs - this.windowMs;
    // Keep one sample at or before the cutoff so the window always spans the full period.
    while (this.samples.length > 2 && this.samples[1].tMs <= cutoff) this.samples.shift();
  }

  /** Frames per second over the window, or null until there is half a second of history. */
  perSecond(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined) return null;
    const spanMs = last.tMs - first.tMs;
    if (spanMs < 500) return null;
    return ((last.count - first.count) * 1000) / spanMs;
  }
}
