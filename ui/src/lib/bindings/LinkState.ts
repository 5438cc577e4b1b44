export type LinkState = "connecting" | "up" | "lost" | "closed";
