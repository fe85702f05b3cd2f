import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatProblem, splitSizes, validateSpec } from '../src/index.ts';

const fixtures = new URL('../../../apps/api/test/fixtures/', import.meta.url);
const examples = readdirSync(fixtures).filter((f) => f.endsWith('.json'));

describe('experiment spec', () => {
  it('accepts every published example unchanged', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const f of examples) {
      const r = validateSpec(JSON.parse(readFileSync(new URL(f, fixtures), 'utf8')));
      expect(r.ok, `${f}: ${r.ok ? '' : r.problems.map(formatProblem).join('; ')}`).toBe(true);
    }
  });

  it('a selection split resolves into the spec only when asked for, so older specs resolve as they did', () => {
    const raw = (dataset: Record<string, unknown>) => {
      const r = validateSpec({
        name: 's',
        dataset: { name: 'fashion-mnist', validationSize: 3000, ...dataset },
        model: { arch: 'cnn' },
        training: { epochs: 1, batchSize: 8, optimizer: 'sgd', learningRate: 0.1 },
        method: { kind: 'adals' },
      });
      if (!r.ok) throw new Error(r.problems.map(formatProblem).join('; '));
      return r.spec.dataset;
    };
    expect('selectionSize' in raw({})).toBe(false);
    expect('selectionSize' in raw({ selectionSize: 0 })).toBe(false);
    expect(raw({ selectionSize: 2000 }).selectionSize).toBe(2000);
    expect(
      validateSpec({
        name: 's',
        dataset: { name: 'mnist', selectionSize: -1 },
        model: { arch: 'mlp' },
        training: { epochs: 1, batchSize: 8, optimizer: 'sgd', learningRate: 0.1 },
        method: { kind: 'vanilla' },
      }).ok,
    ).toBe(false);
    // the estimate's sizes: training takes what validation and selection leave of the 60,000-image file
    expect(splitSizes({ name: 'fashion-mnist', validationSize: 3000, selectionSize: 2000 }).train).toBe(55000);
    expect(splitSizes({ name: 'fashion-mnist', validationSize: 3000 }).train).toBe(57000);
  });

  it('a corruption subset (evaluation.shiftLimit) resolves into the spec only when asked for, and needs corruptions', () => {
    const run = (evaluation: Record<string, unknown>) =>
      validateSpec({
        name: 's',
        dataset: { name: 'fashion-mnist' },
        model: { arch: 'cnn' },
        training: { epochs: 1, batchSize: 8, optimizer: 'sgd', learningRate: 0.1 },
        method: { kind: 'vanilla' },
        evaluation,
      });
    const ok = (evaluation: Record<string, unknown>) => {
      const r = run(evaluation);
      if (!r.ok) throw new Error(r.problems.map(formatProblem).join('; '));
      return r.spec.evaluation;
    };
    expect('shiftLimit' in ok({ corruptions: ['contrast'] })).toBe(false);
    expect(ok({ corruptions: ['contrast'], shiftLimit: 2000 }).shiftLimit).toBe(2000);
    const without = run({ shiftLimit: 2000 });
    expect(without.ok).toBe(false);
    if (!without.ok) expect(without.problems.map((p) => p.path)).toContain('evaluation.shiftLimit');
    expect(run({ corruptions: ['contrast'], shiftLimit: 0 }).ok).toBe(false);
  });

  it('fills the documented defaults', () => {
    const r = validateSpec({
      name: 'd',
      dataset: { name: 'fashion-mnist', validationSize: 100 },
      model: { arch: 'cnn' },
      training: { epochs: 1, batchSize: 8, optimizer: 'sgd', learningRate: 0.1 },
      method: { kind: 'ar-adals' },
    });
    if (!r.ok) throw new Error('invalid');
    expect(r.spec.seed).toBe(0);
    expect(r.spec.training).toMatchObject({ momentum: 0.9, weightDecay: 0, schedule: 'constant', checkpoint: 'last' });
    expect(r.spec.method).toMatchObject({
      subsets: 10,
      alpha: 1,
      robustness: { attack: 'ddn-l2', source: 'precompute', everyEpochs: 1 },
    });
    expect(r.spec.ensemble).toEqual({ members: 1, mode: 'independent' });
    expect(r.spec.evaluation).toMatchObject({
      bins: 15,
      robustnessSubsets: 10,
      robustness: { reference: 'self', attack: 'ddn-l2' },
    });
    expect(r.spec.dataset).toMatchObject({ classes: 10, shape: [28, 28, 1] });
  });

  it('reports every schema problem at once with dot paths, before cross-field rules', () => {
    const r = validateSpec({
      name: 'x',
      dataset: { name: 'mnist', trainLimit: 0 },
      model: { arch: 'cnn', colour: 'red' },
      training: { epochs: 0, batchSize: 1.5, optimizer: 'rmsprop', learningRate: 0.1 },
      method: { kind: 'vanilla', epsilon: 0.1 },
      ensemble: { members: 0, mode: 'joint' },
    });
    expect(r.ok).toBe(false);
    const lines = r.ok ? [] : r.problems.map(formatProblem);
    expect(lines).toEqual(
      expect.arrayContaining([
        'dataset.trainLimit: must be >= 1',
        'model.colour: is not a known field',
        'training.epochs: must be >= 1',
        'training.batchSize: must be an integer',
        'training.optimizer: must be one of sgd | adam',
        'ensemble.members: must be >= 1',
      ]),
    );
    // cross-field problems (epsilon without label smoothing, joint without adals) wait until the schema passes
    expect(lines.some((l) => l.startsWith('method.epsilon') || l.startsWith('ensemble.mode'))).toBe(false);
  });

  it('checks cross-field rules once the schema passes', () => {
    const r = validateSpec({
      name: 'x',
      dataset: { name: 'mnist', validationSize: 0 },
      model: { arch: 'wrn', depth: 12 },
      training: { epochs: 1, batchSize: 1, optimizer: 'sgd', learningRate: 0.1 },
      method: { kind: 'vanilla', epsilon: 0.1 },
      ensemble: { members: 2, mode: 'joint' },
    });
    expect(r.ok ? [] : r.problems.map(formatProblem)).toEqual(
      expect.arrayContaining([
        'method.epsilon: only applies to method label-smoothing',
        'ensemble.mode: joint is only defined for adals and ar-adals, not vanilla',
        'model.depth: must be 6n + 4 for wrn (e.g. 10, 16, 28)',
      ]),
    );
  });
});
