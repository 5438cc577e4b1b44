// The Plan and Parameters views' long operations: which one runs, its newest progress
// report, how to cancel it, and the line that reports how it ended.
import type { ProgressView } from "./bindings/ProgressView";
import { nextOpId, toIpcError, type Backend } from "./ipc";
import { fraction } from "./mission";

export interface Outcome {
  ok: boolean;
  text: string;
}

export class Transfer {
  /** What is running ("Uploading"), or null. */
  busy = $state<string | null>(null);
  progress = $state.raw<ProgressView | null>(null);
  outcome = $state.raw<Outcome | null>(null);
  private opId: number | null = null;

  /** Progress 0–1, or null while unknown (the bar then moves without a figure). */
  readonly fraction: number | null = $derived(
    this.progress === null ? null : fraction(this.progress.done, this.progress.total),
  );

  /** Runs `op` with a fresh op id; reports `done(result)` or the error. */
  async run<T>(what: string, op: (opId: number) => Promise<T>, done: (result: T) => string): Promise<T | null> {
    if (this.busy !== null) return null;
    const opId = nextOpId();
    this.opId = opId;
    this.busy = what;
    this.progress = null;
    this.outcome = null;
    try {
      const result = await op(opId);
      this.outcome = { ok: true, text: done(result) };
      return result;
    } catch (e) {
      this.outcome = { ok: false, text: toIpcError(e).message };
      return null;
    } finally {
      this.busy = null;
      this.opId = null;
      this.progress = null;
    }
  }

  /** Takes a progress report if it is about this transfer's kind of work. */
  offer(p: ProgressView, kinds: string[]): void {
    if (this.busy !== null && kinds.includes(p.kind)) this.progress = p;
  }

  async cancel(backend: Backend): Promise<void> {
    if (this.opId !== null) await backend.cancelOp(this.opId);
  }

  report(ok: boolean, text: string): void {
    this.outcome = { ok, text };
  }
}
