export type SerialPortView = { path: string, description: string, vid: number | null, pid: number | null, kind: string, suggested_baud: number, };
