// What the seal indicator says, decided from the backend's SealView alone. The one rule it
// keeps: SEALED only when this process runs sealed AND its start-up self-test passed; a
// sealed process whose self-test failed says so in red, never "SEALED".
import type { SealView } from "./bindings/SealView";

export type SealBadge = "sealed" | "failed" | "online" | "unknown";

export function sealBadge(view: SealView | null): SealBadge {
  if (view === null) return "unknown";
  if (!view.sealed) return "online";
  return view.selftest_passed ? "sealed" : "failed";
}

export function badgeText(badge: SealBadge): string {
  switch (badge) {
    case "sealed":
      return "SEALED";
    case "failed":
      return "SEAL FAILED";
    case "online":
      return "ONLINE";
    case "unknown":
      return "—";
  }
}

/** One line on what protects a sealed app (or why it is not sealed). */
export function protectionText(view: SealView | null): string {
  if (view === null) return "";
  if (!view.sealed) return "Not sealed: every feature may reach networks through the egress gate.";
  const failed = view.layers.filter((l) => l.outcome === "fail");
  if (failed.length > 0) return `Self-test failed: ${failed.map((l) => `${l.layer}: ${l.detail}`).join("; ")}`;
  return `Egress gate engaged; OS layer ${view.os_layer}.`;
}

/** The confirmation for engaging: what happens, and what comes back. */
export function engageBody(view: SealView | null): string {
  if (view?.sealed) {
    return "This Airgap already runs sealed; the switch makes every later start sealed too. Nothing restarts.";
  }
  const reopen = view?.reopen ?? [];
  const links =
    reopen.length === 0
      ? "No link is open."
      : `It reopens ${reopen.join(", ")}. A loopback link (a SITL) is back within seconds: a TCP link reconnects, a UDP listener hears the vehicle again on its next datagram. A serial link reopens. A link to a network address stays closed while sealed.`;
  return `Airgap finishes the recording, restarts sealed (only loopback addresses and serial devices can be reached) and keeps the vault. ${links}`;
}
