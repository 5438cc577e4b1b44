// The Fly view's command state: the one command in flight and how the last one ended.
import type { VehicleAction } from "./bindings/VehicleAction";
import type { VehicleKey } from "./bindings/VehicleKey";
import { toIpcError, type Backend } from "./ipc";
import type { Outcome } from "./transfers.svelte";

export class FlyState {
  takeoffAltM = $state(10);
  /** What is being sent ("Arm"), or null. */
  pending = $state<string | null>(null);
  result = $state.raw<Outcome | null>(null);

  async send(backend: Backend, key: VehicleKey, action: VehicleAction, what: string): Promise<boolean> {
    this.pending = what;
    this.result = null;
    try {
      await backend.vehicleCommand(key, action);
      this.result = { ok: true, text: `${what}: accepted` };
      return true;
    } catch (e) {
      // The backend's message already names the command and carries the vehicle's reason.
      this.result = { ok: false, text: toIpcError(e).message };
      return false;
    } finally {
      this.pending = null;
    }
  }
}
