/**
 * Minimiser over [lo, hi] of a unimodal function: golden-section search down to a bracket narrower than `tol`,
 * then the bracket's midpoint compared with both ends, so that a minimum at a boundary (where the search only
 * approaches it) is returned exactly. Needs no gradient and cannot diverge; temperature scaling searches ln T
 * with it and Mix-n-Match its ensemble weights along a line.
 */
export function goldenSectionMin(f: (t: number) => number, lo: number, hi: number, tol: number): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > tol) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  let best = (a + b) / 2;
  let fBest = f(best);
  for (const t of [lo, hi]) {
    const ft = f(t);
    if (ft < fBest) {
      best = t;
      fBest = ft;
    }
  }
  return best;
}
