/**
 * Recycles the Float32Arrays that native kernels write their outputs into. Fresh large arrays are costly
 * here (zero-fill plus first-touch page faults), and a training step allocates the same sizes every time.
 *
 * Safety rule: a buffer returns to the pool only when no backend entry refers to any view of it and it was
 * never handed to user code. The backend reports every stored array (`retain`: a kernel's output, or a
 * view such as a contiguous Slice made over one of our buffers), every removal (`release`), and every array
 * it gives out through readSync/read (`expose`; such a buffer is never reused). Buffers not made by the
 * pool are ignored.
 */

interface Owned {
  whole: Float32Array;
  /** Backend entries holding this buffer or a view of it. */
  refs: number;
  exposed: boolean;
  pooled: boolean;
}

export interface PoolStats {
  allocated: number;
  reused: number;
  pooledBytes: number;
}

export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly owned = new WeakMap<ArrayBufferLike, Owned>();
  private pooledBytes = 0;
  private allocated = 0;
  private reused = 0;

  /** @param maxBytes upper bound on bytes kept idle in the pool; beyond it released buffers go to the GC. */
  constructor(private readonly maxBytes = 256 * 2 ** 20) {}

  /** An array of n floats with arbitrary contents: the caller must overwrite every element. */
  take(n: number): Float32Array {
    const a = this.free.get(n)?.pop();
    if (a) {
      const o = this.owned.get(a.buffer)!;
      o.pooled = false;
      this.pooledBytes -= a.byteLength;
      this.reused++;
      return a;
    }
    const fresh = new Float32Array(n);
    this.owned.set(fresh.buffer, { whole: fresh, refs: 0, exposed: false, pooled: false });
    this.allocated++;
    return fresh;
  }

  /** Returns an array from `take` that was never stored in the backend (its kernel declined). */
  giveBack(a: Float32Array): void {
    const o = this.owned.get(a.buffer);
    if (o && o.refs === 0 && !o.exposed && !o.pooled) this.put(o);
  }

  retain(values: unknown): void {
    const o = this.lookup(values);
    if (!o) return;
    o.refs++;
    // Defensive: a view of an idle buffer being stored means someone kept a stale view; take it back out.
    if (o.pooled) this.unpool(o);
  }

  release(values: unknown): void {
    const o = this.lookup(values);
    if (!o) return;
    o.refs--;
    if (o.refs <= 0 && !o.exposed && !o.pooled) this.put(o);
  }

  expose(values: unknown): void {
    const o = this.lookup(values);
    if (o) o.exposed = true;
  }

  /** Whether a live array may be handed out again by `take` (for tests: it must be false for live data). */
  isPooled(values: Float32Array): boolean {
    return this.owned.get(values.buffer)?.pooled ?? false;
  }

  stats(): PoolStats {
    return { allocated: this.allocated, reused: this.reused, pooledBytes: this.pooledBytes };
  }

  /** Drops every idle buffer. */
  clear(): void {
    for (const list of this.free.values()) for (const a of list) this.owned.get(a.buffer)!.pooled = false;
    this.free.clear();
    this.pooledBytes = 0;
  }

  private lookup(values: unknown): Owned | undefined {
    return values instanceof Float32Array ? this.owned.get(values.buffer) : undefined;
  }

  private unpool(o: Owned): void {
    const list = this.free.get(o.whole.length)!;
    list.splice(list.indexOf(o.whole), 1);
    o.pooled = false;
    this.pooledBytes -= o.whole.byteLength;
  }

  private put(o: Owned): void {
    const a = o.whole;
    if (this.pooledBytes + a.byteLength > this.maxBytes) return;
    o.pooled = true;
    this.pooledBytes += a.byteLength;
    let list = this.free.get(a.length);
    if (!list) {
      list = [];
      this.free.set(a.length, list);
    }
    list.push(a);
  }
}
