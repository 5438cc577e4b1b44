// Axis ranges for the live charts: a steady value must not fill the whole height with
// noise, so every axis spans at least a minimum range, centred on the data.

/** [min, max] padded by 10 % of the span, and never narrower than `minSpan`. */
export function paddedRange(dataMin: number | null, dataMax: number | null, minSpan: number): [number, number] {
  if (dataMin === null || dataMax === null || !Number.isFinite(dataMin) || !Number.isFinite(dataMax)) {
    return [-minSpan / 2, minSpan / 2];
  }
  const lo = Math.min(dataMin, dataMax);
  const hi = Math.max(dataMin, dataMax);
  const pad = (hi - lo) * 0.1;
  let min = lo - pad;
  let max = hi + pad;
  if (max - min < minSpan) {
    const mid = (lo + hi) / 2;
    min = mid - minSpan / 2;
    max = mid + minSpan / 2;
  }
  return [min, max];
}

/** A symmetric range around 0 (roll and pitch read best with level in the middle). */
export function symmetricRange(dataMin: number | null, dataMax: number | null, minHalf: number): [number, number] {
  const m = Math.max(Math.abs(dataMin ?? 0), Math.abs(dataMax ?? 0), 0);
  const half = Math.max(minHalf, Number.isFinite(m) ? m * 1.1 : minHalf);
  return [-half, half];
}

/** Yaw fits either −180…180 or 0…360 depending on how the autopilot reports it. */
export function yawRange(dataMax: number | null): [number, number] {
  return dataMax !== null && dataMax > 180 ? [0, 360] : [-180, 180];
}
