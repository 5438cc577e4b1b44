// The map's background until tiles come from the vault: a graticule (lines of latitude and
// longitude) whose spacing follows the zoom, so the pilot can judge distances with no
// imagery at all. Pure arithmetic; leafmap.ts draws it.

const STEPS_DEG = [
  30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001, 0.00005,
];

/** The largest round spacing that puts at least `minLines` lines across `spanDeg`. */
export function graticuleStep(spanDeg: number, minLines = 6): number {
  if (!(spanDeg > 0)) return STEPS_DEG[0] as number;
  for (const step of STEPS_DEG) if (spanDeg / step >= minLines) return step;
  return STEPS_DEG[STEPS_DEG.length - 1] as number;
}

/** Multiples of `step` from below `lo` to above `hi` (at most `limit` of them). */
export function gridValues(lo: number, hi: number, step: number, limit = 200): number[] {
  const out: number[] = [];
  const first = Math.floor(lo / step) * step;
  for (let v = first; v <= hi + step && out.length < limit; v += step) out.push(Number(v.toFixed(6)));
  return out;
}

/** Approximate metres per degree of longitude at a latitude (for the scale hint). */
export function metresPerDegLon(latDeg: number): number {
  return 111_320 * Math.cos((latDeg * Math.PI) / 180);
}

/** Great-circle distance in metres (haversine; plenty for mission legs). */
export function distanceM(a: [number, number], b: [number, number]): number {
  const r = 6_371_000;
  const rad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * rad;
  const dLon = (b[1] - a[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Total length of a path in metres. */
export function pathLengthM(path: [number, number][]): number {
  let m = 0;
  for (let i = 1; i < path.length; i++) m += distanceM(path[i - 1] as [number, number], path[i] as [number, number]);
  return m;
}
