// The plan being edited, kept here (not in the Plan view) so it survives switching views and
// the Fly map can draw it.
import type { PlanView } from "./bindings/PlanView";
import { emptyPlan } from "./mission";
import { Transfer } from "./transfers.svelte";

/** The progress kinds the Plan view's transfers report. */
export const PLAN_KINDS = ["mission_upload", "mission_verify", "mission_download", "mission_clear"];

export type PlanTool = "waypoint" | "fence" | "rally";

export class PlanStore {
  plan = $state.raw<PlanView>(emptyPlan());
  /** Index of the mission item open in the side list. */
  selected = $state<number | null>(null);
  tool = $state<PlanTool>("waypoint");
  /** Altitude above home of new waypoints and rally points. */
  defaultAltM = $state(30);
  verify = $state(true);
  /** The file the plan came from or was saved to. */
  fileName = $state<string | null>(null);
  readonly transfer = new Transfer();

  set(plan: PlanView): void {
    this.plan = plan;
    if (this.selected !== null && this.selected >= plan.mission.length) this.selected = null;
  }
}
