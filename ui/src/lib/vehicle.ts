// How the pilot sees a vehicle named in confirmations and messages.
import type { VehicleView } from "./bindings/VehicleView";

const COPTERS = new Set(["Quadrotor", "Hexarotor", "Octorotor", "Tricopter", "Coaxial", "Helicopter", "Dodecarotor", "Decarotor", "Multirotor"]);

/** The firmware a pilot would name: ArduCopter, ArduPlane, … or "PX4 Quadrotor". */
export function firmwareName(autopilot: string, vehicleType: string): string {
  if (autopilot === "ArduPilot") {
    if (COPTERS.has(vehicleType)) return "ArduCopter";
    if (vehicleType === "Fixed wing" || vehicleType === "VTOL") return "ArduPlane";
    if (vehicleType === "Rover" || vehicleType === "Boat") return "ArduRover";
    if (vehicleType === "Submarine") return "ArduSub";
    return `ArduPilot ${vehicleType}`;
  }
  return `${autopilot} ${vehicleType}`;
}

/** "vehicle 1 (ArduCopter)". */
export function vehicleLabel(v: Pick<VehicleView, "key" | "autopilot" | "vehicle_type">): string {
  return `vehicle ${v.key.sysid} (${firmwareName(v.autopilot, v.vehicle_type)})`;
}

/** Whether a GPS fix is good enough to arm on (3D or better). */
export function hasPositionFix(gpsFix: string | null | undefined): boolean {
  return gpsFix === "3D" || gpsFix === "DGPS" || gpsFix === "RTK float" || gpsFix === "RTK fixed";
}
