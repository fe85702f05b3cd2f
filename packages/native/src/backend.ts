/**
 * The `native` tfjs backend: tfjs's pure-JS cpu backend (same tensor storage: one Float32Array per tensor)
 * whose hot kernels run in the oneDNN addon. Every kernel registered for 'cpu' is copied onto 'native';
 * kernels.ts then replaces the hot ones, each falling back to the copied JS kernel for cases it does not
 * handle. Nothing is ever registered on 'cpu', which stays the reference implementation.
 */

import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type * as tf from '@tensorflow/tfjs-core';
import { BufferPool } from './buffer-pool.ts';

type DataId = object;
type Stored = { values?: unknown };

/**
 * Bytes of idle buffers the pool may keep: ARCAL_NATIVE_POOL_MB, default 1024. A step's intermediates return to the
 * pool at its end and the next step takes the same sizes again; what exceeds the bound is allocated afresh every
 * step (zero-fill and first-touch page faults). 256 MiB held ResNet-8's attack step at batch 64 (one fresh array
 * per step) but not at batch 256 (10 fresh arrays of 16 MiB per step) nor WRN-16-4's at batch 64 (42).
 */
export function poolBytes(env: Record<string, string | undefined> = process.env): number {
  const mb = Number(env.ARCAL_NATIVE_POOL_MB);
  return (Number.isFinite(mb) && mb >= 0 && env.ARCAL_NATIVE_POOL_MB !== '' ? mb : 1024) * 2 ** 20;
}

/** MathBackendCPU whose stored arrays are tracked so native outputs can be recycled safely (buffer-pool.ts). */
export class NativeBackend extends MathBackendCPU {
  readonly pool = new BufferPool(poolBytes());

  constructor() {
    super();
    // The cpu backend's one-time "install tfjs-node" hint does not apply to this backend.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): DataId {
    const id = super.write(values, shape, dtype);
    this.pool.retain(values);
    return id;
  }

  override move(
    dataId: DataId,
    values: tf.backend_util.BackendValues,
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ): void {
    super.move(dataId, values, shape, dtype, refCount);
    this.pool.retain(values);
  }

  override readSync(dataId: DataId): tf.backend_util.BackendValues {
    if (this.data.has(dataId)) this.pool.expose((this.data.get(dataId) as Stored).values);
    return super.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    // data.get on a missing id would ask the engine to move it from another backend; check first.
    const stored = this.data.has(dataId) ? (this.data.get(dataId) as Stored) : undefined;
    const done = super.disposeData(dataId, force);
    if (stored && !this.data.has(dataId)) this.pool.release(stored.values);
    return done;
  }

  /** The Float32Array behind a float32 tensor, or undefined for any other storage. */
  f32(t: tf.TensorInfo): Float32Array | undefined {
    if (t.dtype !== 'float32') return undefined;
    const v = (this.data.get(t.dataId) as Stored | undefined)?.values;
    return v instanceof Float32Array ? v : undefined;
  }

  /** Wraps a pool array (fully written by a native kernel) as a float32 tensor. */
  output(shape: number[], values: Float32Array): tf.TensorInfo {
    return this.makeTensorInfo(shape, 'float32', values);
  }
}

/**
 * How a kernel with a JS fallback reads its inputs and gets its output arrays: natively (pool buffers; float32
 * inputs only, others decline) or in JS (any input read as float32, fresh arrays).
 */
export interface KernelArrays {
  /** The input's values as float32, or undefined to decline. */
  values(t: tf.TensorInfo): Float32Array | undefined;
  alloc(n: number): Float32Array;
  output(shape: number[], v: Float32Array): tf.TensorInfo;
}

export function nativeArrays(b: NativeBackend): KernelArrays {
  return {
    values: (t) => b.f32(t),
    alloc: (n) => b.pool.take(n),
    output: (shape, v) => b.output(shape, v),
  };
}

export function jsArrays(b: NativeBackend): KernelArrays {
  return {
    values: (t) => {
      const v = b.readSync(t.dataId);
      return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
    },
    alloc: (n) => new Float32Array(n),
    output: (shape, v) => b.makeTensorInfo(shape, 'float32', v),
  };
}
