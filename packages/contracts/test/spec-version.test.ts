/**
 * Spec versions: a spec resolved today gets version 2 and its attack defaults; a stored spec keeps version 1 (or
 * none, which means 1) and the attack defaults it was run with, so a changed default never changes what a stored
 * spec means.
 */
import { describe, expect, it } from 'vitest';
import {
  attackParamsFor,
  attackPassesPerExample,
  DEFAULT_RANKING_ATTACK,
  pinSpecVersion,
  type ResolvedSpec,
  SPEC_VERSION,
  validateSpec,
} from '../src/index.ts';

const base = {
  name: 'v',
  dataset: { name: 'synthetic', validationSize: 100 },
  model: { arch: 'mlp' },
  training: { epochs: 1, batchSize: 8, optimizer: 'adam', learningRate: 1e-3 },
  method: { kind: 'ar-adals' },
};

function resolve(raw: unknown): ResolvedSpec {
  const r = validateSpec(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

describe('spec version', () => {
  it('a spec without a version resolves to the current one, 2', () => {
    expect(SPEC_VERSION).toBe(2);
    expect(resolve(base).version).toBe(2);
  });

  it('an explicit version 1 or 2 is kept; anything else is a problem at `version`', () => {
    expect(resolve({ ...base, version: 1 }).version).toBe(1);
    expect(resolve({ ...base, version: 2 }).version).toBe(2);
    const r = validateSpec({ ...base, version: 3 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toEqual([{ path: 'version', message: 'must be one of 1 | 2' }]);
  });

  it('the ranking attack a spec names no attack for is the one documented for its version', () => {
    expect(resolve({ ...base, version: 1 }).method.robustness.attack).toBe('ddn-l2');
    expect(resolve(base).method.robustness.attack).toBe(DEFAULT_RANKING_ATTACK);
  });
});

describe('attackParamsFor', () => {
  it('version 1: C&W at a constant 0.01 with per-example stopping, DeepFool with the unclipped total', () => {
    const v1 = resolve({ ...base, version: 1 });
    expect(attackParamsFor(v1, 'cw-l2')).toMatchObject({
      learningRate: 0.01,
      learningRateFinalRatio: 1,
      abortRule: 'each',
      steps: 200,
      binarySearchSteps: 9,
    });
    expect(attackParamsFor(v1, 'deepfool-l2')).toMatchObject({ clipTotal: false, steps: 50, overshoot: 0.02 });
  });

  it('version 2: C&W at 0.1 annealed to 0.001, one stop for the whole round; DeepFool with the clipped total', () => {
    const v2 = resolve(base);
    expect(attackParamsFor(v2, 'cw-l2')).toMatchObject({
      learningRate: 0.1,
      learningRateFinalRatio: 0.01,
      abortRule: 'all',
    });
    expect(attackParamsFor(v2, 'deepfool-l2')).toMatchObject({ clipTotal: true });
  });

  it('a resolved spec stored before versions existed (no version field) gets version 1', () => {
    const stored = JSON.parse(JSON.stringify(resolve({ ...base, version: 1 })));
    delete stored.version;
    expect(attackParamsFor(stored, 'cw-l2')).toMatchObject({ learningRate: 0.01, abortRule: 'each' });
    expect(attackParamsFor(stored, 'deepfool-l2')).toMatchObject({ clipTotal: false });
  });

  it("the spec's own params win over its version's defaults", () => {
    const s = resolve({
      ...base,
      method: { kind: 'ar-adals', robustness: { params: { learningRate: 0.05, steps: 7 } } },
    });
    expect(attackParamsFor(s, 'cw-l2')).toMatchObject({ learningRate: 0.05, steps: 7, abortRule: 'all' });
    expect(attackParamsFor(s, 'fmn-l2')).toMatchObject({ steps: 7, alphaInit: 1 });
  });

  it('the cost estimate counts the same passes for both versions (only rates and rules changed)', () => {
    for (const v of [1, 2]) {
      const s = resolve({ ...base, version: v });
      expect(attackPassesPerExample('cw-l2', attackParamsFor(s, 'cw-l2'), 10)).toBe(9 * 200);
      expect(attackPassesPerExample('deepfool-l2', attackParamsFor(s, 'deepfool-l2'), 10)).toBe(50 * 9);
    }
  });
});

describe('pinSpecVersion (re-resolving a stored spec)', () => {
  it('takes the version of the stored resolution, 1 where it has none', () => {
    expect(resolve(pinSpecVersion(base, { version: 1 })).version).toBe(1);
    expect(resolve(pinSpecVersion(base, {})).version).toBe(1);
    expect(resolve(pinSpecVersion(base, { version: 2 })).version).toBe(2);
  });

  it('leaves a spec that names its version, or one never resolved before, as it is', () => {
    expect(pinSpecVersion({ ...base, version: 2 }, { version: 1 })).toEqual({ ...base, version: 2 });
    expect(pinSpecVersion(base, undefined)).toBe(base);
    expect(pinSpecVersion('not a spec', { version: 1 })).toBe('not a spec');
  });
});
