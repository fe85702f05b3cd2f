/**
 * The native addon's three convolution kernels on the shapes of ResNet-8 (batch 64, 32×32×3) and of the reference
 * CNN (batch 64, 28×28×1): forward, input gradient (`d`) and filter gradient (`w`), milliseconds per call and
 * GFLOP/s (2·N·OH·OW·O·KH·KW·C per call), uniform random data, after 3 untimed calls.
 *
 *   npx tsx bench/conv-kernels.ts [--threads 2] [--reps 20]
 *
 * One line per shape, then one JSON object.
 */
import { loadavg } from 'node:os';
import { loadAddon } from '@arcal/native';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const { addon, reason } = loadAddon();
if (!addon) throw new Error(reason);
addon.setThreads(Number(opt('threads', '2')));
const reps = Number(opt('reps', '20'));

// [N, H, W, C, KH, KW, O, OH, OW, sh, sw, pt, pb, pl, pr]
const SHAPES: Record<string, number[]> = {
  'resnet stem 3→16': [64, 32, 32, 3, 3, 3, 16, 32, 32, 1, 1, 1, 1, 1, 1],
  'resnet 32×32 16→16': [64, 32, 32, 16, 3, 3, 16, 32, 32, 1, 1, 1, 1, 1, 1],
  'resnet stride 2 16→32': [64, 32, 32, 16, 3, 3, 32, 16, 16, 2, 2, 0, 1, 0, 1],
  'resnet 1×1 stride 2 16→32': [64, 32, 32, 16, 1, 1, 32, 16, 16, 2, 2, 0, 0, 0, 0],
  'resnet 16×16 32→32': [64, 16, 16, 32, 3, 3, 32, 16, 16, 1, 1, 1, 1, 1, 1],
  'resnet stride 2 32→64': [64, 16, 16, 32, 3, 3, 64, 8, 8, 2, 2, 0, 1, 0, 1],
  'resnet 8×8 64→64': [64, 8, 8, 64, 3, 3, 64, 8, 8, 1, 1, 1, 1, 1, 1],
  'cnn conv1 1→32': [64, 28, 28, 1, 3, 3, 32, 28, 28, 1, 1, 1, 1, 1, 1],
  'cnn conv2 32→64': [64, 14, 14, 32, 3, 3, 64, 14, 14, 1, 1, 1, 1, 1, 1],
};

const time = (f: () => void) => {
  for (let i = 0; i < 3; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / reps;
};
const load = loadavg();
const rows = Object.entries(SHAPES).map(([name, g]) => {
  const [N, H, W, C, KH, KW, O, OH, OW] = g;
  const geom = Int32Array.from(g);
  const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 2654435761) >>> 0) / 2 ** 32 - 0.5);
  const x = rand(N * H * W * C);
  const w = rand(KH * KW * C * O);
  const y = rand(N * OH * OW * O);
  const dx = new Float32Array(x.length);
  const dw = new Float32Array(w.length);
  const gflop = (2 * N * OH * OW * O * KH * KW * C) / 1e9;
  const ms = {
    forward: time(() => addon.conv2d(x, w, null, y, geom, false)),
    inputGrad: time(() => addon.conv2dBackpropInput(y, w, dx, geom)),
    filterGrad: time(() => addon.conv2dBackpropFilter(x, y, dw, geom)),
  };
  const cell = (m: number) => `${m.toFixed(2)} ms ${(gflop / (m / 1000)).toFixed(0).padStart(4)} GF/s`;
  console.log(
    `${name.padEnd(26)} f ${cell(ms.forward)} | d ${cell(ms.inputGrad)} | w ${cell(ms.filterGrad)}   (${addon.convImpl(geom, 'f')} / ${addon.convImpl(geom, 'd')} / ${addon.convImpl(geom, 'w')})`,
  );
  return { name, gflop, ms };
});
console.log(JSON.stringify({ bench: 'conv-kernels', threads: Number(opt('threads', '2')), reps, load, rows }));
