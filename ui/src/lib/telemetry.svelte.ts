// The UI's live state: the newest TelemetryTick (reactive, drives the instruments at the
// tick rate), the plot history per vehicle (not reactive: the charts poll it once per
// animation frame), which vehicle the pilot is looking at, and each link's message rate.
import type { LinkView } from "./bindings/LinkView";
import type { TelemetryTick } from "./bindings/TelemetryTick";
import type { VehicleKey } from "./bindings/VehicleKey";
import type { VehicleView } from "./bindings/VehicleView";
import { RateMeter } from "./rate";
import { VehicleSeries } from "./series";

export function vehicleId(key: VehicleKey): string {
  return `${key.sysid}:${key.compid}`;
}

/** Whether the pilot must be told the selected vehicle is out of contact. */
export function isLinkLost(vehicle: VehicleView | null, link: LinkView | null): boolean {
  return vehicle !== null && (vehicle.lost || link?.state === "lost");
}

export class TelemetryStore {
  tick = $state.raw<TelemetryTick | null>(null);
  /** The pilot's choice; null follows the first vehicle heard. */
  chosenId = $state<string | null>(null);

  /** Plot history, keyed by `vehicleId`. Mutated in place; not reactive on purpose. */
  readonly series = new Map<string, VehicleSeries>();
  private readonly rates = new Map<number, RateMeter>();

  readonly vehicles: VehicleView[] = $derived(this.tick?.vehicles ?? []);
  readonly links: LinkView[] = $derived(this.tick?.links ?? []);

  readonly selected: VehicleView | null = $derived.by(() => {
    const vs = this.vehicles;
    return vs.find((v) => vehicleId(v.key) === this.chosenId) ?? vs[0] ?? null;
  });

  readonly selectedId: string | null = $derived(this.selected ? vehicleId(this.selected.key) : null);

  readonly selectedLink: LinkView | null = $derived.by(() => {
    const v = this.selected;
    return v === null ? null : (this.links.find((l) => l.id === v.link_id) ?? null);
  });

  readonly linkLost: boolean = $derived(isLinkLost(this.selected, this.selectedLink));

  /** Seconds since the selected vehicle's last heartbeat while contact is lost, or null. */
  readonly lostForS: number | null = $derived(
    !this.linkLost || this.tick === null || this.selected?.last_heartbeat_ms == null
      ? null
      : Math.max(0, (this.tick.time_ms - this.selected.last_heartbeat_ms) / 1000),
  );

  /** Frames per second on the selected vehicle's link. */
  readonly messageRate: number | null = $derived.by(() => {
    const l = this.selectedLink;
    // Read the tick so this recomputes each tick even though the meter is not reactive.
    return this.tick !== null && l !== null ? (this.rates.get(l.id)?.perSecond() ?? null) : null;
  });

  ingest(tick: TelemetryTick): void {
    const seen = new Set<string>();
    for (const v of tick.vehicles) {
      const id = vehicleId(v.key);
      seen.add(id);
      let s = this.series.get(id);
      if (s === undefined) {
        s = new VehicleSeries();
        this.series.set(id, s);
      }
      s.apply(v.series);
    }
    for (const id of [...this.series.keys()]) if (!seen.has(id)) this.series.delete(id);

    const linkIds = new Set<number>();
    for (const l of tick.links) {
      linkIds.add(l.id);
      let m = this.rates.get(l.id);
      if (m === undefined) {
        m = new RateMeter();
        this.rates.set(l.id, m);
      }
      m.push(tick.time_ms, l.rx_frames);
    }
    for (const id of [...this.rates.keys()]) if (!linkIds.has(id)) this.rates.delete(id);

    this.tick = tick;
  }

  choose(id: string): void {
    this.chosenId = id;
  }
}
