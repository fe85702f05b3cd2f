/**
 * Where the corruption evaluation's time goes: making each corrupted set against classifying it. For every
 * corruption that applies to 28×28×1 images, at severities 1–5, corrupts `--images` uniform random images and
 * classifies them with a freshly initialised reference CNN (`--arch cnn`); the reproduction's shift stage is this
 * loop on 2,000 test images per experiment (evaluation.shiftLimit).
 *
 *   npx tsx bench/shift-eval.ts [--images 2000] [--backend native] [--threads 2]
 *
 * Prints one line per corruption and, last, one JSON object.
 */
import { loadavg } from 'node:os';
import { createModel, predictProbabilities, ready } from '@arcal/core';
import { applicableCorruptions, corrupt } from '@arcal/core/shift';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const n = Number(opt('images', '2000'));
const info = await ready({ backend: opt('backend', 'native'), threads: Number(opt('threads', '2')) });
const load = loadavg();
const [h, w, c] = [28, 28, 1];
const x = new Float32Array(n * h * w * c).map((_, i) => ((i * 2654435761) >>> 0) / 2 ** 32);
const model = createModel({ arch: 'cnn', inputShape: [h, w, c], classes: 10 }, 0);
const rows: Array<{ corruption: string; corruptSeconds: number; predictSeconds: number }> = [];
for (const id of applicableCorruptions(c)) {
  let make = 0;
  let predict = 0;
  for (const sev of [1, 2, 3, 4, 5]) {
    const t0 = performance.now();
    const xs = corrupt(x, [n, h, w, c], id, sev, sev);
    const t1 = performance.now();
    predictProbabilities(model, xs, n);
    make += t1 - t0;
    predict += performance.now() - t1;
  }
  rows.push({ corruption: id, corruptSeconds: make / 1000, predictSeconds: predict / 1000 });
  console.log(`${id.padEnd(18)} corrupt ${(make / 1000).toFixed(2)} s   classify ${(predict / 1000).toFixed(2)} s`);
}
const sum = (k: 'corruptSeconds' | 'predictSeconds') => rows.reduce((s, r) => s + r[k], 0);
console.log(
  `all ${rows.length} × 5 sets: corrupt ${sum('corruptSeconds').toFixed(1)} s, classify ${sum('predictSeconds').toFixed(1)} s`,
);
model.dispose();
console.log(
  JSON.stringify({
    bench: 'shift-eval',
    images: n,
    backend: info.name,
    load,
    corruptSeconds: sum('corruptSeconds'),
    predictSeconds: sum('predictSeconds'),
    rows,
  }),
);
