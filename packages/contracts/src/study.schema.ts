/**
 * The study document: a base experiment spec and a grid of values to vary over it (seeds included), with an
 * optional selection rule — e.g. the label-smoothing ε sweep of the paper, which keeps the ε with the best
 * validation ECE. Pure schema and the small checks that need no spec validation; imports nothing of arcal
 * beyond this package.
 */
import { type Static, Type as T } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { SpecProblem } from './validate.ts';

/**
 * Metrics a study can select by; `validation.*` come from the last epoch, `selection.*` from the final model(s) on
 * the selection split (dataset.selectionSize), `test.*` from the final report.
 */
export const STUDY_METRICS = [
  'validation.ece',
  'validation.nll',
  'validation.accuracy',
  'validation.brier',
  'selection.ece',
  'selection.nll',
  'selection.accuracy',
  'test.ece',
  'test.nll',
  'test.accuracy',
  'test.brier',
  'shift.ece',
] as const;
export type StudyMetric = (typeof STUDY_METRICS)[number];

/** Accuracy is better when larger; every other study metric when smaller. */
export const metricIsHigherBetter = (m: StudyMetric): boolean => m.endsWith('accuracy');

const DotPath = T.String({
  pattern: '^[A-Za-z][A-Za-z0-9]*(\\.[A-Za-z][A-Za-z0-9]*)*$',
  description: 'dot path into the spec, e.g. method.epsilon',
});

export const StudySpec = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 120, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    base: T.Record(T.String(), T.Unknown(), {
      description: 'An experiment spec; its name is replaced per experiment.',
    }),
    vary: T.Optional(
      // A record keyed by a pattern only checks the keys that match it: without additionalProperties: false,
      // any other key (`__proto__.x`, `$ne`) and its value would pass unchecked.
      T.Record(DotPath, T.Array(T.Unknown(), { minItems: 1 }), {
        description: 'Grid: every combination of the listed values; `seed` varies the seed.',
        additionalProperties: false,
      }),
    ),
    select: T.Optional(
      T.Object(
        {
          metric: T.Union(
            STUDY_METRICS.map((m) => T.Literal(m)),
            { default: 'validation.ece' },
          ),
          by: T.Optional(DotPath),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, $id: 'https://arcal.dev/schemas/study.json', title: 'arcal study' },
);

export type StudyDocument = Static<typeof StudySpec>;

const compiled = TypeCompiler.Compile(StudySpec);

/** Problems with a study document itself (the expanded experiment specs are validated on their own). */
export function studyProblems(input: unknown): SpecProblem[] {
  const out: SpecProblem[] = [];
  for (const e of compiled.Errors(input)) {
    out.push({ path: e.path.split('/').slice(1).join('.'), message: e.message.toLowerCase() });
  }
  if (out.length) return out;
  const doc = input as StudyDocument;
  const by = doc.select?.by;
  if (by !== undefined && !(doc.vary && Object.hasOwn(doc.vary, by)))
    out.push({
      path: 'select.by',
      message: `must be one of the varied paths (${Object.keys(doc.vary ?? {}).join(', ') || 'none'})`,
    });
  if (by === 'seed') out.push({ path: 'select.by', message: 'seeds are averaged over, not selected' });
  if (doc.vary && Object.hasOwn(doc.vary, 'name'))
    out.push({ path: 'vary.name', message: 'the experiment name is set by the study' });
  return out;
}
