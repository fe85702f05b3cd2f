/** `arcal predict --model dir --data file`: class probabilities of an exported model, one JSON line per image. */
import { readFileSync } from 'node:fs';
import { ArcalError } from '@arcal/contracts';
import { calibratedProbabilities, loadModel, readImagesFile, ready } from '@arcal/core';
import { int, type ParsedArgs, str } from '../args.ts';

export async function predictCommand(a: ParsedArgs): Promise<number> {
  const dir = str(a, 'model');
  const file = str(a, 'data');
  if (!dir || !file)
    throw new ArcalError(
      'INVALID_INPUT',
      'usage: arcal predict --model <dir> --data <images.idx[.gz] | images.json> [--limit n]',
    );
  await ready({ backend: str(a, 'backend') });
  const { model, meta } = await loadModel(dir);
  const [h, w, c] = meta.config.inputShape;
  const imgs = file.endsWith('.json') ? fromJson(file, [h, w, c]) : readImagesFile(file);
  if (imgs.shape[0] !== h || imgs.shape[1] !== w || imgs.shape[2] !== c) {
    throw new ArcalError(
      'INVALID_INPUT',
      `${file}: images are ${imgs.shape.join('×')}, the model expects ${h}×${w}×${c}`,
    );
  }
  const n = Math.min(imgs.n, int(a, 'limit') ?? imgs.n);
  const probs = calibratedProbabilities(model, imgs.x.subarray(0, n * h * w * c), n, {
    temperature: meta.temperature,
    calibrator: meta.calibrator,
  });
  const Z = meta.config.classes;
  for (let i = 0; i < n; i++) {
    const row = Array.from(probs.subarray(i * Z, (i + 1) * Z), (p) => Number(p.toFixed(6)));
    let best = 0;
    for (let k = 1; k < Z; k++) if (row[k] > row[best]) best = k;
    console.log(JSON.stringify({ index: i, predicted: best, probabilities: row }));
  }
  model.dispose();
  return 0;
}

function fromJson(file: string, shape: [number, number, number]) {
  let rows: unknown;
  try {
    rows = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ArcalError('INVALID_INPUT', `${file}: not valid JSON (${(e as Error).message})`);
  }
  const per = shape[0] * shape[1] * shape[2];
  if (!Array.isArray(rows) || rows.some((r) => !Array.isArray(r) || r.flat(3).length !== per)) {
    throw new ArcalError(
      'INVALID_INPUT',
      `${file}: expected an array of images with ${per} values each (flat or nested)`,
    );
  }
  const x = new Float32Array(rows.length * per);
  rows.forEach((r, i) => {
    const flat = (r as unknown[]).flat(3) as number[];
    for (let k = 0; k < per; k++) {
      const v = flat[k];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1))
        throw new ArcalError('INVALID_INPUT', `${file}: image ${i} value ${k} is ${v}, expected a number in [0, 1]`);
      x[i * per + k] = v;
    }
  });
  return { x, n: rows.length, shape };
}
