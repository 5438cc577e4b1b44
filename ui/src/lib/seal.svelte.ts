// The seal as the UI knows it, read from the backend once a second so the refused count is
// live. The badge is derived by `sealBadge`, never set by hand.
import type { SealView } from "./bindings/SealView";
import { toIpcError, type Backend } from "./ipc";
import { sealBadge, type SealBadge } from "./seal";

/** How often the status is read (the refused count is shown live). */
const POLL_MS = 1000;

export class SealStore {
  view = $state.raw<SealView | null>(null);
  error = $state<string | null>(null);
  /** What is running ("Engaging"), or null. */
  busy = $state<string | null>(null);
  /** Set once a restart began: this page goes away with the process. */
  restarting = $state(false);

  readonly badge: SealBadge = $derived(sealBadge(this.view));

  /** Starts polling; returns the function that stops it. */
  watch(backend: Backend): () => void {
    const read = () => {
      backend
        .sealStatus()
        .then((v) => (this.view = v))
        .catch(() => {
          // A restart stops the engine under the page; the last view stays.
        });
    };
    read();
    const timer = setInterval(read, POLL_MS);
    return () => clearInterval(timer);
  }

  async engage(backend: Backend): Promise<void> {
    this.busy = "Engaging the seal";
    this.error = null;
    try {
      this.restarting = await backend.sealEngage();
      this.view = await backend.sealStatus();
    } catch (e) {
      this.error = toIpcError(e).message;
    } finally {
      this.busy = null;
    }
  }

  /** True when the switch was turned off. */
  async disengage(backend: Backend, passphrase: string, restartNow: boolean): Promise<boolean> {
    this.busy = "Checking the passphrase";
    this.error = null;
    try {
      this.restarting = await backend.sealDisengage(passphrase, restartNow);
      if (!this.restarting) this.view = await backend.sealStatus();
      return true;
    } catch (e) {
      this.error = toIpcError(e).message;
      return false;
    } finally {
      this.busy = null;
    }
  }
}
