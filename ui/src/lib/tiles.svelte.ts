// Map tiles as the UI keeps them: the tile settings read from the vault (null while it is
// locked, so the maps drop their tile layer), the layer every map draws, the rectangle the
// pilot last looked at (what "Download this area" downloads), and the area download, import
// and cache deletion with how each ended.
import type { TileAreaView } from "./bindings/TileAreaView";
import type { TileEstimateView } from "./bindings/TileEstimateView";
import type { TileProgressView } from "./bindings/TileProgressView";
import type { TilesView } from "./bindings/TilesView";
import { nextOpId, toIpcError, type Backend } from "./ipc";
import { fmtBytes } from "./vault.svelte";
import { type MapView, tileLayerConfig, type TileLayerConfig } from "./tiles";
import type { Outcome } from "./transfers.svelte";

function userAgent(): string {
  return globalThis.navigator?.userAgent ?? "";
}

export class TilesStore {
  /** The tile settings; null while the vault is locked (no tile layer then). */
  view = $state.raw<TilesView | null>(null);
  /** Bumped whenever what the tile scheme serves may have changed. */
  generation = $state(0);
  /** The rectangle a map showed last: the area a download covers. */
  lastView = $state.raw<MapView | null>(null);
  /** The source field's refusal, shown beside it. */
  sourceError = $state<string | null>(null);
  estimate = $state.raw<TileEstimateView | null>(null);
  /** The area `estimate` is for: a download starts only for the area estimated. */
  estimatedArea = $state.raw<TileAreaView | null>(null);
  /** Why the area cannot be downloaded (the source's limits), or the download failed. */
  areaError = $state<string | null>(null);
  progress = $state.raw<TileProgressView | null>(null);
  /** What is running ("Downloading"), or null. */
  busy = $state<string | null>(null);
  outcome = $state.raw<Outcome | null>(null);
  private opId: number | null = null;

  readonly layer: TileLayerConfig | null = $derived(tileLayerConfig(this.view, userAgent(), this.generation));

  /** Reads the settings when the vault is unlocked, drops them when it is not. */
  async sync(backend: Backend, unlocked: boolean): Promise<void> {
    this.generation++;
    if (!unlocked) {
      this.view = null;
      this.estimate = null;
      return;
    }
    try {
      this.view = await backend.tilesStatus();
    } catch (e) {
      // Locked meanwhile, most likely: the basemap alone, and the reason for the settings.
      this.view = null;
      this.outcome = { ok: false, text: toIpcError(e).message };
    }
  }

  /** Makes `template` the source (null: OpenStreetMap); false when refused. */
  async setSource(backend: Backend, template: string | null): Promise<boolean> {
    this.sourceError = null;
    try {
      this.view = await backend.tilesSetSource(template);
      this.generation++;
      this.estimate = null;
      return true;
    } catch (e) {
      this.sourceError = toIpcError(e).message;
      return false;
    }
  }

  /** Asks what downloading `area` would take; the refusal lands in `areaError`. */
  async estimateArea(backend: Backend, area: TileAreaView): Promise<void> {
    this.areaError = null;
    this.estimate = null;
    this.outcome = null;
    try {
      this.estimate = await backend.tilesEstimate(area);
      this.estimatedArea = area;
    } catch (e) {
      this.areaError = toIpcError(e).message;
    }
  }

  async download(backend: Backend, area: TileAreaView): Promise<void> {
    if (this.busy !== null) return;
    const opId = nextOpId();
    this.opId = opId;
    this.busy = "Downloading";
    this.progress = null;
    this.outcome = null;
    this.areaError = null;
    try {
      const r = await backend.tilesDownload(area, opId, (p) => {
        if (this.opId === opId) this.progress = p;
      });
      const parts = [`${r.fetched} fetched (${fmtBytes(r.bytes)})`, `${r.skipped} already cached`];
      if (r.missing > 0) parts.push(`${r.missing} not on the server`);
      if (r.failed > 0) parts.push(`${r.failed} failed${r.failures[0] ? ` (${r.failures[0]})` : ""}`);
      this.outcome = { ok: r.failed === 0 && !r.cancelled, text: `${r.cancelled ? "Cancelled" : "Done"}: ${parts.join(", ")}.` };
    } catch (e) {
      const err = toIpcError(e);
      this.outcome = { ok: false, text: err.code === "cancelled" ? "Cancelled." : err.message };
    } finally {
      this.busy = null;
      this.opId = null;
      this.estimate = null;
      this.generation++;
      await this.refresh(backend);
    }
  }

  async cancel(backend: Backend): Promise<void> {
    if (this.opId !== null) await backend.cancelOp(this.opId);
  }

  async importMbtiles(backend: Backend): Promise<void> {
    if (this.busy !== null) return;
    this.busy = "Importing";
    this.outcome = null;
    try {
      const r = await backend.tilesImport();
      if (r !== null) {
        const skipped = r.skipped > 0 ? `, ${r.skipped} rows left out` : "";
        this.outcome = { ok: true, text: `Imported ${r.imported} tiles (${fmtBytes(r.bytes)}) from ${r.file}${skipped}.` };
        this.generation++;
      }
    } catch (e) {
      this.outcome = { ok: false, text: toIpcError(e).message };
    } finally {
      this.busy = null;
      await this.refresh(backend);
    }
  }

  async deleteCache(backend: Backend, source: string): Promise<void> {
    try {
      this.view = await backend.tilesDelete(source);
      this.generation++;
      this.outcome = { ok: true, text: `Deleted the cached tiles of ${source}.` };
    } catch (e) {
      this.outcome = { ok: false, text: toIpcError(e).message };
    }
  }

  private async refresh(backend: Backend): Promise<void> {
    if (this.view === null) return;
    try {
      this.view = await backend.tilesStatus();
    } catch {
      // Locked meanwhile: the next unlock reads it again.
    }
  }
}
