/**
 * `arcal robustness`: the minimal adversarial L2 norm (AR-AdaLS §3) of every example of one split under an
 * exported model, computed in shards that separate processes or machines can share, and `arcal robustness
 * merge` that joins a complete set of shards. The maths and the shard format live in @arcal/core
 * (computeRobustness, serializeShard, parseShard, mergeShards); this file reads and writes files and talks
 * to the terminal.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ArcalError, attackParamsFor, isArcalError } from '@arcal/contracts';
import {
  ATTACK_NAMES,
  type AttackName,
  type AttackParams,
  computeRobustness,
  dataOptionsFromEnv,
  loadExperimentData,
  loadModel,
  type MergedRobustness,
  mergeShards,
  parseShard,
  type RobustnessShard,
  ready,
  serializeShard,
} from '@arcal/core';
import { int, type ParsedArgs, parseArgs, str } from '../args.ts';
import { Progress } from '../progress.ts';
import { loadSpecFile, problemLines } from '../spec-file.ts';

export const robustnessUsage = `usage: arcal robustness --model <dir> --spec <spec.json> --split train|validation|test [--attack ${ATTACK_NAMES.join('|')}] [--shard i/n] [--batch-size n] --out <file>
       arcal robustness merge <shard files...> --out <file>`;

const SPLITS = ['train', 'validation', 'test'] as const;
type SplitName = (typeof SPLITS)[number];

/** Error codes that mean the input (arguments, files, spec) is wrong: exit 2. */
const INPUT_CODES = new Set([
  'INVALID_INPUT',
  'INVALID_SPEC',
  'NOT_IMPLEMENTED',
  'DATA_NOT_FOUND',
  'DATA_CORRUPT',
  'CONFLICT',
]);

const bad = (message: string): never => {
  throw new ArcalError('INVALID_INPUT', message);
};

/** `i/n` with integers 0 ≤ i < n. */
export function parseShardArg(v: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m) return bad(`--shard must be i/n with integers 0 ≤ i < n (got "${v}")`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) return bad(`--shard ${v}: n must be at least 1`);
  if (index >= count) return bad(`--shard ${v}: i must be below n (shards are numbered 0 … ${count - 1})`);
  return { index, count };
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return bad(
      `${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`,
    );
  }
}

async function computeShard(a: ParsedArgs, signal: AbortSignal): Promise<number> {
  const modelDir = str(a, 'model');
  const specFile = str(a, 'spec');
  const splitArg = str(a, 'split');
  const outFile = str(a, 'out');
  if (a.positionals.length > 0)
    bad(`unexpected argument "${a.positionals[0]}" (arcal robustness --help shows the usage)`);
  if (!modelDir || !specFile || !splitArg || !outFile) {
    const missing = (['model', 'spec', 'split', 'out'] as const).filter((k) => !str(a, k)).map((k) => `--${k}`);
    bad(`missing ${missing.join(', ')} (arcal robustness --help shows the usage)`);
  }
  if (!(SPLITS as readonly string[]).includes(splitArg as string))
    bad(`unknown split "${splitArg}" (expected ${SPLITS.join(', ')})`);
  const split = splitArg as SplitName;
  const shard = parseShardArg(str(a, 'shard') ?? '0/1');
  const attackArg = str(a, 'attack');
  if (attackArg !== undefined && !(ATTACK_NAMES as readonly string[]).includes(attackArg)) {
    bad(`unknown attack "${attackArg}" (expected ${ATTACK_NAMES.join(', ')})`);
  }
  const batchArg = int(a, 'batch-size');
  const threads = int(a, 'threads');

  const spec = loadSpecFile(specFile as string);
  const attack = (attackArg ?? spec.method.robustness.attack) as AttackName;
  // the spec's version's attack defaults written out, so the shard header records what the attack ran with
  const { batchSize: specBatch, ...params } = attackParamsFor(spec, attack) as AttackParams & { batchSize?: number };
  const batchSize = batchArg ?? specBatch ?? 256;

  const progress = new Progress();
  const { model, meta } = await loadModel(modelDir as string);
  try {
    await ready({ backend: str(a, 'backend'), threads, arch: meta.config.arch, log: (l) => progress.line(l) });
    const data = await loadExperimentData(spec.dataset, spec.seed, {
      ...dataOptionsFromEnv(process.env),
      ...(str(a, 'data-dir') ? { dataDir: str(a, 'data-dir') } : {}),
      allowDownload: a.flags.offline !== true,
      onLog: (l) => progress.line(l),
    });
    const [h, w, c] = meta.config.inputShape;
    if (data.shape[0] !== h || data.shape[1] !== w || data.shape[2] !== c) {
      bad(
        `${specFile}: ${data.name} images are ${data.shape.join('×')}, the model in ${modelDir} expects ${h}×${w}×${c}`,
      );
    }
    if (data.classes !== meta.config.classes) {
      bad(`${specFile}: ${data.name} has ${data.classes} classes, the model in ${modelDir} has ${meta.config.classes}`);
    }
    const s = data[split];
    const label = `${attack} ${split} shard ${shard.index}/${shard.count}`;
    const result: RobustnessShard = await computeRobustness(
      model,
      { x: s.x, shape: [s.n, ...data.shape], indices: s.fileIndex },
      {
        shard,
        batchSize,
        attack,
        params,
        header: {
          datasetChecksum: data.checksum,
          split,
          splitParams: {
            dataset: spec.dataset.name,
            validationSize: spec.dataset.validationSize,
            trainLimit: spec.dataset.trainLimit ?? null,
            testLimit: spec.dataset.testLimit ?? null,
          },
          seed: spec.seed,
          modelChecksum: meta.sha256,
        },
        onProgress: (done, total) => progress.update(label, done, total),
        // Checked between batches and attack steps; an interrupted shard writes nothing.
        signal,
      },
    );
    writeAtomic(resolve(outFile as string), serializeShard(result));
    const fooled = result.rows.reduce((n, r) => n + r.success, 0);
    progress.line(
      `${label}: examples [${result.header.start}, ${result.header.end}) of ${result.header.total}, ${fooled} fooled → ${outFile}`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}

/** The merged run as JSON: the shared header and one array per field (+Infinity norms as "Infinity"). */
export function mergedToJson(m: MergedRobustness): string {
  return `${JSON.stringify({
    header: m.header,
    norms: Array.from(m.norms, (v) => (Number.isFinite(v) ? v : String(v))),
    predicted: Array.from(m.predicted),
    success: Array.from(m.success),
    fileIndex: Array.from(m.fileIndex),
  })}\n`;
}

function merge(a: ParsedArgs): number {
  const files = a.positionals.slice(1);
  const outFile = str(a, 'out');
  if (files.length === 0 || !outFile) bad('usage: arcal robustness merge <shard files...> --out <file>');
  const shards = files.map((f) => {
    try {
      return parseShard(readText(f));
    } catch (e) {
      if (isArcalError(e) && e.code === 'DATA_CORRUPT') throw new ArcalError('DATA_CORRUPT', `${f}: ${e.message}`);
      throw e;
    }
  });
  const merged = mergeShards(shards);
  writeAtomic(resolve(outFile as string), mergedToJson(merged));
  let fooled = 0;
  for (const v of merged.success) fooled += v;
  process.stderr.write(
    `merged ${files.length} shard${files.length === 1 ? '' : 's'}: ${merged.norms.length} examples, ${fooled} fooled → ${outFile}\n`,
  );
  // A digest of the merged norms lets two runs be compared at a glance.
  process.stderr.write(
    `norms sha256 ${createHash('sha256').update(Buffer.from(merged.norms.buffer)).digest('hex').slice(0, 16)}\n`,
  );
  return 0;
}

/**
 * Entry point of `arcal robustness …`. Returns the exit code: 0 done, 1 failure, 2 invalid input (bad
 * arguments, missing or corrupt files, shards that do not merge), 130 interrupted. Problems are printed as
 * one line on stderr (spec problems: one line each).
 */
export async function robustnessCommand(argv: string[], signal: AbortSignal): Promise<number> {
  try {
    if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      process.stdout.write(`${robustnessUsage}\n`);
      return 0;
    }
    const a = parseArgs(argv, {
      string: ['model', 'spec', 'split', 'attack', 'shard', 'batch-size', 'out', 'backend', 'threads', 'data-dir'],
      boolean: ['offline'],
    });
    if (a.positionals[0] === 'merge') return merge(a);
    return await computeShard(a, signal);
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') {
      process.stderr.write('\narcal robustness: interrupted; no shard written\n');
      return 130;
    }
    if (isArcalError(e)) {
      const lines = e.code === 'INVALID_SPEC' || e.code === 'NOT_IMPLEMENTED' ? problemLines(e) : [];
      process.stderr.write(`arcal robustness: ${e.message}\n`);
      for (const l of lines) process.stderr.write(`  ${l}\n`);
      return INPUT_CODES.has(e.code) ? 2 : 1;
    }
    throw e;
  }
}
