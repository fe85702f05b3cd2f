/**
 * `arcal robustness` in-process on a tiny synthetic spec and an MLP saved with saveModel: three shards merged
 * equal one serial run bit for bit; the header names the data, split, seed, model and attack; predictions and
 * norms are checked against a plain-JavaScript forward pass of the saved weights; bad inputs exit 2 with one line.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { createModel, loadExperimentData, ready, saveModel, tf } from '@arcal/core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { robustnessCommand } from '../src/commands/robustness.ts';

const dir = mkdtempSync(join(tmpdir(), 'arcal-robustness-'));
const modelDir = join(dir, 'model');
const specFile = join(dir, 'spec.json');
const SPEC = {
  name: 'tiny',
  seed: 7,
  dataset: { name: 'synthetic', classes: 3, shape: [4, 4, 1], validationSize: 10, trainLimit: 12, testLimit: 22 },
  model: { arch: 'mlp', hidden: [8] },
  training: { epochs: 1, batchSize: 8, optimizer: 'adam', learningRate: 0.01 },
  method: { kind: 'vanilla', robustness: { attack: 'fmn-l2', params: { steps: 15, batchSize: 4 } } },
};

let stderr = '';
const run = async (...argv: string[]) => {
  stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  try {
    return await robustnessCommand(argv, new AbortController().signal);
  } finally {
    spy.mockRestore();
  }
};
afterEach(() => vi.restoreAllMocks());

interface MergedFile {
  header: Record<string, unknown> & { shard: { count: number } };
  norms: Array<number | string>;
  predicted: number[];
  success: number[];
  fileIndex: number[];
}
const readMerged = (f: string): MergedFile => JSON.parse(readFileSync(f, 'utf8'));

let weights: Float32Array[];
let weightsSha: string;
beforeAll(async () => {
  await ready({ backend: 'cpu' });
  writeFileSync(specFile, JSON.stringify(SPEC));
  const model = createModel({ arch: 'mlp', inputShape: [4, 4, 1], classes: 3, hidden: [8] }, 3);
  await saveModel(modelDir, model);
  model.dispose();
  const bytes = readFileSync(join(modelDir, 'weights.bin'));
  weightsSha = createHash('sha256').update(bytes).digest('hex');
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  // Layout of an MLP with one hidden layer: W1 [16, 8], b1 [8], W2 [8, 3], b2 [3].
  const sizes = [16 * 8, 8, 8 * 3, 3];
  let off = 0;
  weights = sizes.map((n) => {
    const a = all.subarray(off, off + n);
    off += n;
    return a;
  });
  expect(off).toBe(all.length);
});

/** Logits of one 16-pixel image by the saved weights, in float64. */
function logits(x: Float32Array): number[] {
  const [W1, b1, W2, b2] = weights;
  const h = Array.from({ length: 8 }, (_, j) => {
    let s = b1[j];
    for (let i = 0; i < 16; i++) s += x[i] * W1[i * 8 + j];
    return Math.max(0, s);
  });
  return Array.from({ length: 3 }, (_, k) => {
    let s = b2[k];
    for (let j = 0; j < 8; j++) s += h[j] * W2[j * 3 + k];
    return s;
  });
}

describe('arcal robustness', () => {
  it('three shards merged equal one serial run, bit for bit', async () => {
    const before = tf.memory().numTensors;
    const serial = join(dir, 'serial.jsonl');
    expect(await run('--model', modelDir, '--spec', specFile, '--split', 'test', '--out', serial)).toBe(0);
    const parts: string[] = [];
    for (let i = 0; i < 3; i++) {
      parts.push(join(dir, `part-${i}.jsonl`));
      expect(
        await run('--model', modelDir, '--spec', specFile, '--split', 'test', '--shard', `${i}/3`, '--out', parts[i]),
      ).toBe(0);
    }
    expect(tf.memory().numTensors).toBe(before);
    // 22 examples in batches of 4 → 6 batches, dealt 2 per shard: [0, 8), [8, 16), [16, 22).
    const starts = parts.map((p) => JSON.parse(readFileSync(p, 'utf8').split('\n')[0]));
    expect(starts.map((h) => [h.start, h.end])).toEqual([
      [0, 8],
      [8, 16],
      [16, 22],
    ]);

    // Parts given out of order still merge.
    expect(await run('merge', parts[2], parts[0], parts[1], '--out', join(dir, 'merged3.json'))).toBe(0);
    expect(await run('merge', serial, '--out', join(dir, 'merged1.json'))).toBe(0);
    const m3 = readMerged(join(dir, 'merged3.json'));
    const m1 = readMerged(join(dir, 'merged1.json'));
    expect(m3.norms).toEqual(m1.norms);
    expect(m3.predicted).toEqual(m1.predicted);
    expect(m3.success).toEqual(m1.success);
    expect(m3.fileIndex).toEqual(m1.fileIndex);
    expect({ ...m3.header, shard: undefined }).toEqual({ ...m1.header, shard: undefined });
    expect(m3.header.shard.count).toBe(3);
    expect(m1.header.shard.count).toBe(1);

    // The header identifies data, split, seed, model and attack (defaults taken from the spec).
    const data = await loadExperimentData(validateSpecOk(SPEC).dataset, 7);
    expect(m3.header).toMatchObject({
      datasetChecksum: data.checksum,
      split: 'test',
      seed: 7,
      modelChecksum: weightsSha,
      attack: 'fmn-l2',
      params: { steps: 15 },
      batchSize: 4,
      total: 22,
    });
    expect(m3.fileIndex).toEqual(Array.from(data.test.fileIndex));

    // Predictions and norms against the saved weights, evaluated in plain JavaScript.
    const [W1] = weights;
    let frob = 0;
    for (const v of W1) frob += v * v;
    frob = Math.sqrt(frob);
    const [, , W2] = weights;
    let fooled = 0;
    for (let i = 0; i < 22; i++) {
      const z = logits(data.test.x.subarray(i * 16, (i + 1) * 16));
      const y = z.indexOf(Math.max(...z));
      expect(m3.predicted[i]).toBe(y);
      // z_y − z_j is Lipschitz in x with constant ≤ ‖W1‖_F·‖W2[:,y] − W2[:,j]‖ (ReLU is 1-Lipschitz), so no
      // perturbation shorter than min_j (z_y − z_j) / that constant can change the prediction.
      let bound = Number.POSITIVE_INFINITY;
      for (let j = 0; j < 3; j++) {
        if (j === y) continue;
        let d2 = 0;
        for (let h = 0; h < 8; h++) d2 += (W2[h * 3 + y] - W2[h * 3 + j]) ** 2;
        bound = Math.min(bound, (z[y] - z[j]) / (frob * Math.sqrt(d2)));
      }
      const norm = m3.norms[i] === 'Infinity' ? Number.POSITIVE_INFINITY : (m3.norms[i] as number);
      expect(m3.success[i]).toBe(Number.isFinite(norm) ? 1 : 0);
      expect(norm).toBeGreaterThanOrEqual(bound * (1 - 1e-5));
      fooled += m3.success[i];
    }
    expect(fooled).toBeGreaterThan(11);
  });

  it('--attack, --batch-size and --split override the spec; the split is the seeded one', async () => {
    const f = join(dir, 'val.jsonl');
    expect(
      await run(
        '--model',
        modelDir,
        '--spec',
        specFile,
        '--split',
        'validation',
        '--attack',
        'deepfool-l2',
        '--batch-size',
        '3',
        '--out',
        f,
      ),
    ).toBe(0);
    const lines = readFileSync(f, 'utf8').trim().split('\n');
    const h = JSON.parse(lines[0]);
    expect(h).toMatchObject({ split: 'validation', attack: 'deepfool-l2', batchSize: 3, total: 10, rows: 10 });
    const data = await loadExperimentData(validateSpecOk(SPEC).dataset, 7);
    expect(lines.slice(1).map((l) => JSON.parse(l).fileIndex)).toEqual(Array.from(data.validation.fileIndex));
  });

  it('bad input: exit 2 and one line', async () => {
    const good = ['--model', modelDir, '--spec', specFile, '--split', 'test', '--out', join(dir, 'x.jsonl')];
    const cases: Array<[string[], RegExp]> = [
      [[...good, '--shard', '3/3'], /--shard 3\/3: i must be below n/],
      [[...good, '--shard', '1-3'], /--shard must be i\/n/],
      [[...good, '--shard', '0/0'], /n must be at least 1/],
      [['--model', modelDir, '--spec', specFile, '--split', 'holdout', '--out', 'x'], /unknown split "holdout"/],
      [['--model', join(dir, 'nope'), '--spec', specFile, '--split', 'test', '--out', 'x'], /model\.json: not found/],
      [
        ['--model', modelDir, '--spec', join(dir, 'nope.json'), '--split', 'test', '--out', 'x'],
        /nope\.json: no such file/,
      ],
      [[...good, '--attack', 'pgd'], /unknown attack "pgd"/],
      [['--model', modelDir, '--split', 'test'], /missing --spec, --out/],
      [['merge', join(dir, 'nope.jsonl'), '--out', join(dir, 'm.json')], /nope\.jsonl: no such file/],
    ];
    for (const [argv, msg] of cases) {
      expect(await run(...argv), argv.join(' ')).toBe(2);
      expect(stderr).toMatch(msg);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('merge refuses gaps, overlaps, mismatched headers and corrupt files', async () => {
    const p = (i: number) => join(dir, `part-${i}.jsonl`);
    const other = join(dir, 'other-attack.jsonl');
    expect(
      await run(
        '--model',
        modelDir,
        '--spec',
        specFile,
        '--split',
        'test',
        '--shard',
        '1/3',
        '--attack',
        'deepfool-l2',
        '--out',
        other,
      ),
    ).toBe(0);
    const half = join(dir, 'half.jsonl');
    expect(await run('--model', modelDir, '--spec', specFile, '--split', 'test', '--shard', '0/2', '--out', half)).toBe(
      0,
    );
    const corrupt = join(dir, 'corrupt.jsonl');
    writeFileSync(corrupt, readFileSync(p(1), 'utf8').split('\n').slice(0, 4).join('\n'));
    const out = join(dir, 'never.json');
    const cases: Array<[string[], RegExp]> = [
      [[p(0), p(2)], /rows \[8, 16\) are missing/],
      [[p(0), p(1)], /rows \[16, 22\) are missing/],
      [[p(0), p(1), p(1), p(2)], /given twice/],
      [[p(0), other, p(2)], /disagrees .* on attack/],
      [[half, p(1)], /disagrees .* on shard/],
      [[p(0), corrupt, p(2)], /corrupt\.jsonl: .*truncated/],
    ];
    for (const [files, msg] of cases) {
      expect(await run('merge', ...files, '--out', out), files.join(' ')).toBe(2);
      expect(stderr).toMatch(msg);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(() => readFileSync(out)).toThrow();
  });
});

function validateSpecOk(raw: unknown) {
  const r = validateSpec(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}
