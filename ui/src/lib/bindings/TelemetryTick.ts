import type { LinkView } from "./LinkView";
import type { VehicleView } from "./VehicleView";
export type TelemetryTick = { time_ms: number, links: Array<LinkView>, vehicles: Array<VehicleView>, };
