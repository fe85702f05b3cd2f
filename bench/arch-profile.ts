/**
 * Where an attack step's time goes on the `native` backend: per-kernel time of one step of
 * bench/arch-throughput's `input-grad` workload (the gradient of the cross-entropy with respect to the images,
 * inference mode), aggregated by kernel and input shapes.
 *
 *   npx tsx bench/arch-profile.ts [--arch resnet] [--batch 64] [--threads 2] [--steps 5] [--top 25]
 *                                 [--workload input-grad|train|infer]
 *
 * After two warm-up steps, --steps steps run under tf.profile; each kernel call's time is summed per kernel
 * name and input shapes, and divided by the steps. `path` says how a kernel ran: `native` (addon), `js` (a
 * JavaScript kernel: tfjs cpu's, or one of arcal's whose arithmetic is JavaScript), or `native+js` when some
 * calls fell back (nativeKernelStats). The wall time of the same steps without the profiler is printed too
 * (the profiler adds a data read per kernel). Last stdout line: one JSON object.
 */
import { loadavg } from 'node:os';
import { type Arch, ready, tf } from '@arcal/core';
import { nativeKernelStats } from '@arcal/native';
import { type ArchWorkload, archStep } from './lib/arch-step.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const arch = opt('arch', 'resnet') as Arch;
const batch = Number(opt('batch', '64'));
const steps = Number(opt('steps', '5'));
const top = Number(opt('top', '25'));
const workload = opt('workload', 'input-grad');

const info = await ready({ backend: 'native', threads: Number(opt('threads', '2')) });
const { step } = archStep(arch, batch, workload as ArchWorkload);

for (let i = 0; i < 2; i++) step();
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const wallMs = (performance.now() - t0) / steps;

nativeKernelStats(true);
const prof = await tf.profile(() => {
  for (let i = 0; i < steps; i++) step();
});
const stats = nativeKernelStats(true);
const rows = new Map<string, { kernel: string; shapes: string; calls: number; ms: number }>();
let totalMs = 0;
for (const k of prof.kernels) {
  const shapes = k.inputShapes.map((s) => `[${s.join(',')}]`).join(' ');
  const key = `${k.name} ${shapes}`;
  const r = rows.get(key) ?? { kernel: k.name, shapes, calls: 0, ms: 0 };
  const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  r.calls++;
  r.ms += ms;
  totalMs += ms;
  rows.set(key, r);
}
const path = (name: string) => {
  const s = stats[name];
  if (!s) return 'js';
  return s.fallback === 0 ? 'native' : s.native === 0 ? 'js' : 'native+js';
};
const byKernel = new Map<string, { calls: number; ms: number }>();
for (const r of rows.values()) {
  const b = byKernel.get(r.kernel) ?? { calls: 0, ms: 0 };
  b.calls += r.calls;
  b.ms += r.ms;
  byKernel.set(r.kernel, b);
}
const per = (v: number) => Math.round((v / steps) * 100) / 100;
const kernels = [...byKernel]
  .sort((a, b) => b[1].ms - a[1].ms)
  .map(([kernel, b]) => ({ kernel, path: path(kernel), callsPerStep: b.calls / steps, msPerStep: per(b.ms) }));
const entries = [...rows.values()]
  .sort((a, b) => b.ms - a.ms)
  .slice(0, top)
  .map((r) => ({ ...r, path: path(r.kernel), calls: r.calls / steps, ms: per(r.ms) }));

console.error(
  `${arch} b${batch} ${workload}, ${info.threads} threads, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}: ${wallMs.toFixed(1)} ms/step unprofiled, ${per(totalMs)} ms/step in kernels`,
);
console.error('\nby kernel:');
for (const k of kernels)
  console.error(
    `  ${k.kernel.padEnd(24)} ${k.path.padEnd(9)} ${String(k.callsPerStep).padStart(5)} calls ${k.msPerStep.toFixed(2).padStart(8)} ms`,
  );
console.error(`\ntop ${top} by kernel and input shapes:`);
for (const e of entries)
  console.error(
    `  ${e.ms.toFixed(2).padStart(8)} ms  ${String(e.calls).padStart(3)}×  ${e.kernel} (${e.path}) ${e.shapes}`,
  );
console.log(
  JSON.stringify({
    bench: 'arch-profile',
    arch,
    batch,
    workload,
    threads: info.threads,
    load: loadavg(),
    wallMsPerStep: Math.round(wallMs * 100) / 100,
    kernelMsPerStep: per(totalMs),
    kernels,
    top: entries,
  }),
);
