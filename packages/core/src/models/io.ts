/**
 * Exported models: `model.json` (architecture, input shape, classes, fitted temperature or calibrator, weight
 * layout, sha256) and `weights.bin` (float32, trainable then state, in model order).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArcalError } from '@arcal/contracts';
import { createModel, getWeights, type Model, type ModelConfig, setWeights } from './index.ts';

export interface ExportedModelMeta {
  format: 'arcal-model-1';
  config: Required<ModelConfig>;
  /** Softmax temperature fitted on validation data (1 = none). */
  temperature: number;
  /** A serialised post-hoc calibrator (mix-n-match), applied to logits after the temperature. */
  calibrator?: unknown;
  sizes: number[];
  sha256: string;
  experiment?: string;
  member?: number;
}

export async function saveModel(
  dir: string,
  model: Model,
  extra: { temperature?: number; calibrator?: unknown; experiment?: string; member?: number } = {},
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const ws = getWeights(model);
  const total = ws.reduce((n, a) => n + a.length, 0);
  const buf = new Float32Array(total);
  let off = 0;
  for (const a of ws) {
    buf.set(a, off);
    off += a.length;
  }
  const bytes = Buffer.from(buf.buffer);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const meta: ExportedModelMeta = {
    format: 'arcal-model-1',
    config: model.config,
    temperature: extra.temperature ?? 1,
    ...(extra.calibrator ? { calibrator: extra.calibrator } : {}),
    sizes: ws.map((a) => a.length),
    sha256,
    ...(extra.experiment ? { experiment: extra.experiment } : {}),
    ...(extra.member !== undefined ? { member: extra.member } : {}),
  };
  await writeFile(join(dir, 'weights.bin.tmp'), bytes);
  await rename(join(dir, 'weights.bin.tmp'), join(dir, 'weights.bin'));
  await writeFile(join(dir, 'model.json'), `${JSON.stringify(meta, null, 2)}\n`);
  return sha256;
}

export async function loadModel(dir: string): Promise<{ model: Model; meta: ExportedModelMeta }> {
  let meta: ExportedModelMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  } catch (e) {
    throw new ArcalError(
      'INVALID_INPUT',
      `${join(dir, 'model.json')}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found (is this an arcal model directory?)' : (e as Error).message}`,
    );
  }
  if (meta.format !== 'arcal-model-1')
    throw new ArcalError('INVALID_INPUT', `${dir}: unknown model format ${meta.format}`);
  const bytes = await readFile(join(dir, 'weights.bin'));
  if (createHash('sha256').update(bytes).digest('hex') !== meta.sha256) {
    throw new ArcalError('INVALID_INPUT', `${join(dir, 'weights.bin')} does not match model.json (checksum differs)`);
  }
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const model = createModel(meta.config, 0);
  let off = 0;
  setWeights(
    model,
    meta.sizes.map((n) => {
      const a = all.subarray(off, off + n);
      off += n;
      return a;
    }),
  );
  return { model, meta };
}
