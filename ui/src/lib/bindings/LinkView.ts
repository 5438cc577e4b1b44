import type { LinkState } from "./LinkState";
export type LinkView = { id: number, address: string, state: LinkState, detail: string | null, rx_frames: number, tx_frames: number, rx_bytes: number, tx_bytes: number, crc_errors: number, seq_gaps: number, quality_pct: number | null, };
