export type StatusLine = { severity: number, text: string, time_ms: number, };
