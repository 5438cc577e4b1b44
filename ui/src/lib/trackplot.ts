// A recorded flight's altitude as an SVG polyline: the view of a finished flight needs no
// live chart, only the whole curve scaled to its box.

export interface PlotBox {
  width: number;
  height: number;
}

export interface PlotScale {
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

/** The range of the finite pairs, widened where it is empty so a flat line still draws. */
export function plotScale(xs: number[], ys: number[]): PlotScale | null {
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const x = xs[i] as number;
    const y = ys[i] as number;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  if (minX === Infinity) return null;
  if (maxX === minX) maxX = minX + 1;
  if (maxY - minY < 1) {
    const mid = (maxY + minY) / 2;
    minY = mid - 0.5;
    maxY = mid + 0.5;
  }
  return { minX, maxX, minY, maxY };
}

/** SVG `points` segments: one per run of finite values (a gap breaks the line). */
export function polylines(xs: number[], ys: number[], box: PlotBox, scale: PlotScale): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const sx = box.width / (scale.maxX - scale.minX);
  const sy = box.height / (scale.maxY - scale.minY);
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const x = xs[i] as number;
    const y = ys[i] as number;
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (run.length > 1) out.push(run.join(" "));
      run = [];
      continue;
    }
    run.push(`${((x - scale.minX) * sx).toFixed(1)},${(box.height - (y - scale.minY) * sy).toFixed(1)}`);
  }
  if (run.length > 1) out.push(run.join(" "));
  return out;
}
