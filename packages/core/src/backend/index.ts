/**
 * The tensor backend: one tfjs instance for all of arcal, and `ready()` that picks and initialises the
 * fastest available backend in the chain tfjs-node-gpu → tfjs-node → native → wasm → cpu.
 * `ARCAL_BACKEND` (or the `backend` option) forces one; an unknown or unavailable name is an error,
 * never a silent fallback. Every entry point awaits `ready()` before touching tensors.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
// The union package registers every gradient (tfjs-core alone registers none) and the cpu backend.
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { ArcalError } from '@arcal/contracts';

export { tf };

export const BACKEND_NAMES = ['tfjs-node-gpu', 'tfjs-node', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendProbe {
  name: BackendName;
  available: boolean;
  /** Why it is or is not available, in words a user can act on. */
  reason: string;
}

export interface BackendInfo {
  /** The arcal backend name (tfjs registers tfjs-node(-gpu) as `tensorflow`). */
  name: BackendName;
  tfBackend: string;
  threads: number;
  reason: string;
  probes: BackendProbe[];
}

const require = createRequire(import.meta.url);
let current: BackendInfo | undefined;
let pending: Promise<BackendInfo> | undefined;

export interface ReadyOptions {
  /** Force a backend (else ARCAL_BACKEND, else the chain). */
  backend?: string;
  /** Threads for backends that use them (native, wasm); defaults to ARCAL_THREADS or the core count. */
  threads?: number;
  /** Called once with a line describing the choice. */
  log?: (line: string) => void;
  /**
   * The model architecture about to run. Without a forced backend, the chain skips `native` for
   * architectures where it was measured slower than wasm (docs/PERFORMANCE.md); at present there are none.
   */
  arch?: string;
}

/**
 * Architectures for which wasm beat native in bench measurements (train img/s on 2 cores, bench/arch-throughput.ts).
 * Empty: ResNet and WRN were here until batch norm + relu, Mean/Sum over middle axes and middle-axis broadcasts
 * got native kernels (docs/PERFORMANCE.md); native now trains them about 8× faster than wasm.
 */
export const NATIVE_SLOWER_ARCHS: ReadonlySet<string> = new Set<string>();

type Initialiser = (threads: number) => Promise<{ tfBackend: string; reason: string }>;

function resolvable(mod: string): boolean {
  try {
    require.resolve(mod);
    return true;
  } catch {
    return false;
  }
}

async function initTfjsNode(mod: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu') {
  if (!resolvable(mod)) throw new Error(`${mod} is not installed (an optional dependency; it needs libtensorflow)`);
  try {
    await import(mod);
  } catch (e) {
    throw new Error(`${mod} is installed but failed to load: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!(await tf.setBackend('tensorflow')))
    throw new Error(`${mod} loaded but the tensorflow backend did not initialise`);
  return { tfBackend: 'tensorflow', reason: `${mod} loaded` };
}

const initialisers: Record<BackendName, Initialiser> = {
  'tfjs-node-gpu': () => initTfjsNode('@tensorflow/tfjs-node-gpu'),
  'tfjs-node': () => initTfjsNode('@tensorflow/tfjs-node'),
  native: async (threads) => {
    const { registerNativeBackend } = await import('./native.ts');
    const r = registerNativeBackend(threads);
    if (!r.ok) throw new Error(r.reason);
    if (!(await tf.setBackend('native'))) throw new Error('native backend registered but failed to initialise');
    return { tfBackend: 'native', reason: r.reason };
  },
  wasm: async (threads) => {
    const { initWasmBackend } = await import('./wasm.ts');
    const reason = await initWasmBackend(threads);
    return { tfBackend: 'wasm', reason };
  },
  cpu: async () => {
    await tf.setBackend('cpu');
    return { tfBackend: 'cpu', reason: 'pure JavaScript reference backend (slow)' };
  },
};

export function defaultThreads(): number {
  const env = Number(process.env.ARCAL_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  // os.availableParallelism is Node >= 18.14
  return Math.max(1, require('node:os').availableParallelism?.() ?? require('node:os').cpus().length);
}

/** Checks which backends could load, without switching to any of them (used by `arcal doctor`). */
export async function probeBackends(): Promise<BackendProbe[]> {
  const out: BackendProbe[] = [];
  for (const name of ['tfjs-node-gpu', 'tfjs-node'] as const) {
    const mod = `@tensorflow/${name}`;
    if (!resolvable(mod)) {
      out.push({
        name,
        available: false,
        reason: `${mod} not installed (optional; its install downloads libtensorflow)`,
      });
      continue;
    }
    try {
      require(mod);
      out.push({ name, available: true, reason: `${mod} loads` });
    } catch (e) {
      out.push({
        name,
        available: false,
        reason: `${mod} installed but does not load: ${(e as Error).message.split('\n')[0]}`,
      });
    }
  }
  try {
    const { probeNative } = await import('./native.ts');
    const r = probeNative();
    out.push({ name: 'native', available: r.ok, reason: r.reason });
  } catch (e) {
    out.push({ name: 'native', available: false, reason: (e as Error).message });
  }
  out.push({
    name: 'wasm',
    available: resolvable('@tensorflow/tfjs-backend-wasm'),
    reason: 'tfjs-backend-wasm with arcal gradient kernels',
  });
  out.push({ name: 'cpu', available: true, reason: 'pure JavaScript, always available' });
  return out;
}

/**
 * Selects and initialises the backend once per process. Later calls return the same choice; asking for a
 * different backend after one was chosen switches to it (tests use this to compare backends).
 */
export async function ready(opts: ReadyOptions = {}): Promise<BackendInfo> {
  const forced = opts.backend ?? process.env.ARCAL_BACKEND ?? undefined;
  if (forced && !(BACKEND_NAMES as readonly string[]).includes(forced)) {
    throw new ArcalError(
      'BACKEND_UNAVAILABLE',
      `unknown backend "${forced}" (ARCAL_BACKEND must be one of ${BACKEND_NAMES.join(', ')})`,
    );
  }
  if (current && (!forced || forced === current.name)) return current;
  if (pending && !forced) return pending;
  const threads = opts.threads ?? defaultThreads();
  pending = (async () => {
    const probes: BackendProbe[] = [];
    const skipNative = !forced && opts.arch !== undefined && NATIVE_SLOWER_ARCHS.has(opts.arch);
    const chain: BackendName[] = forced
      ? [forced as BackendName]
      : BACKEND_NAMES.filter((b) => !(skipNative && b === 'native'));
    for (const name of chain) {
      try {
        const r = await initialisers[name](threads);
        probes.push({ name, available: true, reason: r.reason });
        current = { name, tfBackend: r.tfBackend, threads, reason: r.reason, probes };
        opts.log?.(
          `backend: ${name} (${r.reason}; ${threads} thread${threads === 1 ? '' : 's'})` +
            (probes.length > 1
              ? ` — skipped ${probes
                  .slice(0, -1)
                  .map((p) => `${p.name}: ${p.reason}`)
                  .join('; ')}`
              : '') +
            (skipNative ? ` — native skipped: slower than wasm for ${opts.arch}` : ''),
        );
        return current;
      } catch (e) {
        probes.push({ name, available: false, reason: (e as Error).message });
        if (forced) {
          throw new ArcalError('BACKEND_UNAVAILABLE', `backend ${name} is not available: ${(e as Error).message}`);
        }
      }
    }
    throw new ArcalError('BACKEND_UNAVAILABLE', 'no tensor backend could be initialised');
  })();
  try {
    return await pending;
  } finally {
    pending = undefined;
  }
}

/** The backend chosen by `ready()`, or undefined before it. */
export const activeBackend = (): BackendInfo | undefined => current;
