export type VehicleKey = { sysid: number, compid: number, };
