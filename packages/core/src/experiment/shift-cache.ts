/**
 * Corrupted copies of the test images, kept between evaluations in one process. A corrupted set is a function of
 * (images, corruption, severity, seed) alone (shift/corrupt.ts), and generating it costs more than predicting on
 * it: for 2,000 Fashion-MNIST images, the 85 sets of the 17 grey corruptions × 5 severities took 20 s to make and
 * 9 s to classify with the reference CNN (2 cores). Every method of a study evaluated on the same seed's test
 * images gets the same sets, so a run of many experiments per seed (a reproduction, a worker evaluating several
 * experiments) makes them once. The cache holds at most `ARCAL_SHIFT_CACHE_MB` of images (default 0: off, so a
 * worker holds no images between its jobs; `npm run reproduce` sets 768); a set that does not fit is returned
 * uncached, and a new source array or seed empties it (sets of another seed never match).
 */
const DEFAULT_MB = 0;

export interface ShiftCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  entries: number;
}

export class ShiftCache {
  private source: object | undefined;
  private seed: number | undefined;
  private readonly sets = new Map<string, Float32Array>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;

  constructor(private readonly capBytes: number) {}

  /**
   * The corrupted set for `key` (the corruption, severity and subset) of `source` at `seed`: from the cache when
   * present, else made by `make` and kept when it fits.
   */
  get(source: object, seed: number, key: string, make: () => Float32Array): Float32Array {
    if (source !== this.source || seed !== this.seed) {
      this.sets.clear();
      this.bytes = 0;
      this.source = source;
      this.seed = seed;
    }
    const had = this.sets.get(key);
    if (had) {
      this.hits++;
      return had;
    }
    this.misses++;
    const made = make();
    if (this.bytes + made.byteLength <= this.capBytes) {
      this.sets.set(key, made);
      this.bytes += made.byteLength;
    }
    return made;
  }

  stats(): ShiftCacheStats {
    return { hits: this.hits, misses: this.misses, bytes: this.bytes, entries: this.sets.size };
  }

  clear(): void {
    this.sets.clear();
    this.bytes = 0;
    this.source = undefined;
    this.seed = undefined;
  }
}

function capFromEnv(): number {
  const raw = process.env.ARCAL_SHIFT_CACHE_MB;
  const mb = raw === undefined || raw === '' ? DEFAULT_MB : Number(raw);
  if (!Number.isFinite(mb) || mb < 0) throw new RangeError(`ARCAL_SHIFT_CACHE_MB must be a size in MiB, got "${raw}"`);
  return mb * 2 ** 20;
}

/** The process's cache, sized by ARCAL_SHIFT_CACHE_MB when first used. */
let shared: ShiftCache | undefined;
export const shiftCache = (): ShiftCache => {
  shared ??= new ShiftCache(capFromEnv());
  return shared;
};
