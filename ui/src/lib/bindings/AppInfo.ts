export type AppInfo = { version: string, sim_address: string | null, };
