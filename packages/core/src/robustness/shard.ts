/**
 * Robustness shards: which contiguous, batch-aligned slice of a split shard i of n covers, and the shard's
 * file format (JSON lines: one header line, then one line per example; +Infinity written as "Infinity").
 * Works on strings and buffers only; callers read and write files.
 */
import { ArcalError } from '@arcal/contracts';
import type { AttackName, AttackParams } from '../attacks/types.ts';

export const SHARD_FORMAT = 'arcal.robustness/1';

/** What identifies the computation a shard belongs to; all shards of one run share it. */
export interface RobustnessRunHeader {
  datasetChecksum: string;
  split: string;
  splitParams: unknown;
  seed: number;
  modelChecksum: string;
}

export interface ShardHeader extends RobustnessRunHeader {
  format: typeof SHARD_FORMAT;
  attack: AttackName;
  /** The attack's parameters (JSON values only). */
  params: AttackParams;
  batchSize: number;
  /** What the model returned (see MinimalPerturbationOptions.outputs). */
  outputs: 'logits' | 'probabilities';
  shard: { index: number; count: number };
  /** Examples in the whole split. */
  total: number;
  /** Examples in this shard: end − start. */
  rows: number;
  /** First split index covered (inclusive) and the end (exclusive). */
  start: number;
  end: number;
}

export interface ShardRow {
  /** Position within the split. */
  index: number;
  /** Index of the example in the dataset file. */
  fileIndex: number;
  /** Smallest adversarial L2 norm found, +Infinity when the example was never fooled. */
  norm: number;
  predicted: number;
  success: 0 | 1;
}

export interface RobustnessShard {
  header: ShardHeader;
  rows: ShardRow[];
}

/**
 * The slice [start, end) of a split of `total` examples that shard `index` of `count` covers: batches
 * B = ⌈total / batchSize⌉ are dealt out contiguously, shard i getting batches ⌊iB/count⌋ … ⌊(i+1)B/count⌋ − 1,
 * so every shard starts on a batch boundary and runs exactly the batches a serial run would.
 */
export function shardBounds(
  total: number,
  batchSize: number,
  shard: { index: number; count: number },
): { start: number; end: number } {
  if (!Number.isInteger(total) || total < 0)
    throw new ArcalError('INVALID_INPUT', `split size must be an integer ≥ 0 (got ${total})`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ArcalError('INVALID_INPUT', `batchSize must be an integer ≥ 1 (got ${batchSize})`);
  const { index, count } = shard ?? ({} as { index: number; count: number });
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new ArcalError(
      'INVALID_INPUT',
      `shard must be {index, count} with integers 0 ≤ index < count (got ${JSON.stringify(shard)})`,
    );
  }
  const batches = Math.ceil(total / batchSize);
  const first = Math.floor((index * batches) / count);
  const last = Math.floor(((index + 1) * batches) / count);
  return { start: Math.min(total, first * batchSize), end: Math.min(total, last * batchSize) };
}

const encodeNorm = (v: number): number | string => (Number.isFinite(v) ? v : String(v));

/** JSON lines: the header, then one row per line; +Infinity norms are written as the string "Infinity". */
export function serializeShard(shard: RobustnessShard): string {
  const lines = [JSON.stringify(shard.header)];
  for (const r of shard.rows) {
    lines.push(
      JSON.stringify({
        index: r.index,
        fileIndex: r.fileIndex,
        norm: encodeNorm(r.norm),
        predicted: r.predicted,
        success: r.success,
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

const corrupt = (msg: string): never => {
  throw new ArcalError('DATA_CORRUPT', `robustness shard: ${msg}`);
};
const isInt = (v: unknown, min = 0): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** Parses serializeShard's output, checking the header and that the rows are exactly start … end − 1. */
export function parseShard(text: string | Uint8Array): RobustnessShard {
  const s = typeof text === 'string' ? text : new TextDecoder().decode(text);
  const lines = s.split('\n');
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) corrupt('empty');
  const parse = (line: string, n: number): Record<string, unknown> => {
    try {
      const v = JSON.parse(line);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) corrupt(`line ${n} is not a JSON object`);
      return v;
    } catch (e) {
      if (e instanceof ArcalError) throw e;
      return corrupt(`line ${n} is not valid JSON (${(e as Error).message})`);
    }
  };
  const h = parse(lines[0], 1) as unknown as ShardHeader;
  if (h.format !== SHARD_FORMAT) corrupt(`header format is ${JSON.stringify(h.format)}, expected ${SHARD_FORMAT}`);
  for (const key of ['datasetChecksum', 'split', 'modelChecksum', 'attack'] as const) {
    if (typeof h[key] !== 'string') corrupt(`header.${key} must be a string`);
  }
  if (typeof h.seed !== 'number') corrupt('header.seed must be a number');
  if (!h.params || typeof h.params !== 'object') corrupt('header.params must be an object');
  if (!isInt(h.batchSize, 1) || !isInt(h.total) || !isInt(h.rows) || !isInt(h.start) || !isInt(h.end)) {
    corrupt('header.batchSize, total, rows, start and end must be integers');
  }
  if (!h.shard || !isInt(h.shard.index) || !isInt(h.shard.count, 1) || h.shard.index >= h.shard.count)
    corrupt('header.shard must be {index, count}');
  if (h.end - h.start !== h.rows || h.end > h.total)
    corrupt(`header rows ${h.rows} does not match [${h.start}, ${h.end}) of ${h.total}`);
  if (lines.length - 1 !== h.rows) corrupt(`header announces ${h.rows} rows, found ${lines.length - 1} (truncated?)`);
  const rows: ShardRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const r = parse(lines[i], i + 1);
    const norm = r.norm === 'Infinity' ? Number.POSITIVE_INFINITY : r.norm;
    if (r.index !== h.start + i - 1) corrupt(`line ${i + 1}: index ${String(r.index)}, expected ${h.start + i - 1}`);
    if (!isInt(r.fileIndex) || !isInt(r.predicted) || (r.success !== 0 && r.success !== 1))
      corrupt(`line ${i + 1}: bad fileIndex, predicted or success`);
    if (typeof norm !== 'number' || Number.isNaN(norm) || norm < 0)
      corrupt(`line ${i + 1}: norm must be a number ≥ 0 or "Infinity"`);
    if ((r.success === 1) !== Number.isFinite(norm))
      corrupt(`line ${i + 1}: success ${String(r.success)} contradicts norm ${String(r.norm)}`);
    rows.push({
      index: r.index as number,
      fileIndex: r.fileIndex as number,
      norm: norm as number,
      predicted: r.predicted as number,
      success: r.success as 0 | 1,
    });
  }
  return { header: h, rows };
}

/** Canonical JSON (sorted keys) for comparing headers. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export interface MergedRobustness {
  /** The header all shards share, without the per-shard fields (shard.index, rows, start, end). */
  header: Omit<ShardHeader, 'rows' | 'start' | 'end' | 'shard'> & { shard: { count: number } };
  norms: Float32Array;
  predicted: Int32Array;
  success: Uint8Array;
  fileIndex: Int32Array;
}

/**
 * Joins the shards of one run into full arrays indexed by split position. Refuses (INVALID_INPUT) shards
 * whose headers disagree on anything but shard.index, rows, start and end; duplicates; overlaps; gaps; a
 * missing first or last slice; and slices that are not the batch-aligned ones shardBounds assigns.
 */
export function mergeShards(shards: RobustnessShard[]): MergedRobustness {
  if (!Array.isArray(shards) || shards.length === 0)
    throw new ArcalError('INVALID_INPUT', 'mergeShards needs at least one shard');
  const common = (h: ShardHeader) => {
    const { rows: _r, start: _s, end: _e, shard, ...rest } = h;
    return { ...rest, shard: { count: shard.count } };
  };
  const ref = common(shards[0].header);
  const refKey = canonical(ref);
  for (const s of shards.slice(1)) {
    const c = common(s.header);
    if (canonical(c) !== refKey) {
      const keys = [...new Set([...Object.keys(ref), ...Object.keys(c)])].filter(
        (k) => canonical((ref as Record<string, unknown>)[k]) !== canonical((c as Record<string, unknown>)[k]),
      );
      throw new ArcalError(
        'INVALID_INPUT',
        `shard ${s.header.shard.index} disagrees with shard ${shards[0].header.shard.index} on ${keys.join(', ')}`,
        keys.map((k) => ({ path: `header.${k}`, message: 'differs between shards' })),
      );
    }
  }
  const sorted = [...shards].sort((a, b) => a.header.start - b.header.start || a.header.end - b.header.end);
  const { total, batchSize } = ref;
  const seen = new Set<number>();
  let cursor = 0;
  for (const s of sorted) {
    const h = s.header;
    if (seen.has(h.shard.index)) throw new ArcalError('INVALID_INPUT', `shard ${h.shard.index} given twice`);
    seen.add(h.shard.index);
    if (h.start < cursor)
      throw new ArcalError(
        'INVALID_INPUT',
        `shard ${h.shard.index} [${h.start}, ${h.end}) overlaps the rows before ${cursor}`,
      );
    if (h.start > cursor)
      throw new ArcalError(
        'INVALID_INPUT',
        `rows [${cursor}, ${h.start}) are missing (gap before shard ${h.shard.index})`,
      );
    const want = shardBounds(total, batchSize, h.shard);
    if (want.start !== h.start || want.end !== h.end) {
      throw new ArcalError(
        'INVALID_INPUT',
        `shard ${h.shard.index} covers [${h.start}, ${h.end}) but shard ${h.shard.index} of ${h.shard.count} is [${want.start}, ${want.end})`,
      );
    }
    if (s.rows.length !== h.rows)
      throw new ArcalError(
        'INVALID_INPUT',
        `shard ${h.shard.index} has ${s.rows.length} rows, its header says ${h.rows}`,
      );
    cursor = h.end;
  }
  if (cursor !== total)
    throw new ArcalError(
      'INVALID_INPUT',
      `rows [${cursor}, ${total}) are missing (no shard covers the end of the split)`,
    );
  const norms = new Float32Array(total);
  const predicted = new Int32Array(total);
  const success = new Uint8Array(total);
  const fileIndex = new Int32Array(total);
  for (const s of sorted) {
    for (let i = 0; i < s.rows.length; i++) {
      const r = s.rows[i];
      const at = s.header.start + i;
      if (r.index !== at)
        throw new ArcalError(
          'INVALID_INPUT',
          `shard ${s.header.shard.index} row ${i} has index ${r.index}, expected ${at}`,
        );
      norms[at] = r.norm;
      predicted[at] = r.predicted;
      success[at] = r.success;
      fileIndex[at] = r.fileIndex;
    }
  }
  return { header: ref, norms, predicted, success, fileIndex };
}
