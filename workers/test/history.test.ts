/**
 * completeHistory: a `train:experiment` job that resumed from a checkpoint reports only the epochs it trained
 * itself; the report must still hold every epoch. The checkpoint's header carries the member's whole history;
 * records missing from the run's own list are taken from it (and stored), in an uninterrupted run's order.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EpochRecord } from '@arcal/contracts';
import { checkpointFileHeader } from '@arcal/core/checkpoint-file';
import { describe, expect, it } from 'vitest';
import { layoutOf } from '../src/graph.ts';
import type { ComputeJob } from '../src/processors/compute-context.ts';
import { completeHistory } from '../src/processors/train.processor.ts';

const rec = (member: number | 'ensemble', epoch: number): EpochRecord =>
  ({ member, epoch, trainLoss: epoch, trainAccuracy: 0.5, learningRate: 0.1, seconds: 1 }) as EpochRecord;

/** A checkpoint file whose header holds `epochs` (no weights: only the header is read here). */
function writeCheckpoint(dir: string, epochs: EpochRecord[]) {
  mkdirSync(dir, { recursive: true });
  const header = checkpointFileHeader({
    format: 'arcal-checkpoint-2',
    epoch: epochs.length,
    optimizerStep: 0,
    sizes: [],
    bytes: 0,
    sha256: '',
    pTrue: [1],
    epochs,
  });
  writeFileSync(join(dir, 'checkpoint.bin'), header);
}

function job(members: number, mode: 'independent' | 'joint') {
  const layout = layoutOf(mkdtempSync(join(tmpdir(), 'arcal-hist-')), 'e');
  const stored: string[] = [];
  const c = {
    spec: { ensemble: { members, mode } },
    layout,
    record: async (r: EpochRecord) => void stored.push(`${r.member}/${r.epoch}`),
  } as unknown as ComputeJob;
  return { c, layout, stored };
}

const keys = (rs: EpochRecord[]) => rs.map((r) => `${r.member}/${r.epoch}`);

describe('completeHistory', () => {
  it('one member resumed after epoch 2 of 5: epochs 1 and 2 come from the checkpoint and are stored', async () => {
    const { c, layout, stored } = job(1, 'independent');
    writeCheckpoint(
      layout.member(0),
      [1, 2, 3, 4, 5].map((e) => rec(0, e)),
    );
    const own = [3, 4, 5].map((e) => rec(0, e));
    expect(keys(await completeHistory(c, own))).toEqual(['0/1', '0/2', '0/3', '0/4', '0/5']);
    expect(stored).toEqual(['0/1', '0/2']);
  });

  it("the run's own records win, and an uninterrupted run changes nothing", async () => {
    const { c, layout, stored } = job(1, 'independent');
    writeCheckpoint(layout.member(0), [rec(0, 1), rec(0, 2)]);
    const own = [{ ...rec(0, 1), trainLoss: 9 }, rec(0, 2)];
    const out = await completeHistory(c, own);
    expect(out.map((r) => r.trainLoss)).toEqual([9, 2]);
    expect(stored).toEqual([]);
  });

  it('joint mode keeps the epoch-by-epoch order: members, then the ensemble, per epoch', async () => {
    const { c, layout } = job(1, 'joint');
    writeCheckpoint(
      layout.member(0),
      [1, 2, 3].map((e) => rec(0, e)),
    );
    // resumed after epoch 1: the ensemble records are replayed from joint.json, member epoch 1 is not
    const own = [rec('ensemble', 1), rec(0, 2), rec('ensemble', 2), rec(0, 3), rec('ensemble', 3)];
    expect(keys(await completeHistory(c, own))).toEqual([
      '0/1',
      'ensemble/1',
      '0/2',
      'ensemble/2',
      '0/3',
      'ensemble/3',
    ]);
  });
});
