// The charts' notion of "now": telemetry arrives ~20 times a second but the plots redraw
// every animation frame, so the x window must advance between ticks without jumping.
// The clock follows the data's own time base (sample t_s), not the machine's clock, so
// a replay or a vehicle with a skewed clock still scrolls correctly.

/** Offset errors bigger than this are a new time base, not jitter: follow at once. */
export const SNAP_S = 1;
/** Share of each observed error absorbed per observation; smooths tick arrival jitter. */
export const GAIN = 0.1;

export class DisplayClock {
  /** data time minus local monotonic time, seconds. */
  private offsetS: number | null = null;

  reset(): void {
    this.offsetS = null;
  }

  /** Called when samples up to `dataTS` arrived at local monotonic `perfMs`. */
  observe(dataTS: number, perfMs: number): void {
    if (!Number.isFinite(dataTS) || !Number.isFinite(perfMs)) return;
    const measured = dataTS - perfMs / 1000;
    if (this.offsetS === null || Math.abs(measured - this.offsetS) > SNAP_S) {
      this.offsetS = measured;
    } else {
      this.offsetS += (measured - this.offsetS) * GAIN;
    }
  }

  /** Data-time now, or null before the first sample. */
  now(perfMs: number): number | null {
    return this.offsetS === null ? null : perfMs / 1000 + this.offsetS;
  }
}
