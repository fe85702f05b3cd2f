/**
 * The experiment spec: the one document that the CLI, the API and the workers agree on.
 * Pure schema (TypeBox, so it is also JSON Schema); imports nothing from the rest of arcal.
 * One experiment = one method, optionally trained as an ensemble.
 */
import { type Static, Type as T } from '@sinclair/typebox';

const Int = (opts: { minimum?: number; maximum?: number; default?: number; description?: string } = {}) =>
  T.Integer(opts);
const Num = (opts: {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  default?: number;
  description?: string;
}) => T.Number(opts);
const OneOf = <L extends string[]>(values: [...L], opts: { default?: L[number]; description?: string } = {}) =>
  T.Union(
    values.map((v) => T.Literal(v)),
    opts,
  );

export const DATASET_NAMES = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'svhn', 'synthetic'] as const;
export const ARCHS = ['mlp', 'cnn', 'resnet', 'wrn'] as const;
export const METHOD_KINDS = [
  'vanilla',
  'label-smoothing',
  'adals',
  'ar-adals',
  'temperature-scaling',
  'mixup',
  'ccat',
  'mix-n-match',
] as const;
export const ATTACKS = ['cw-l2', 'fmn-l2', 'ddn-l2', 'deepfool-l2'] as const;
export const CORRUPTIONS = [
  'gaussian_noise',
  'shot_noise',
  'impulse_noise',
  'speckle_noise',
  'gaussian_blur',
  'defocus_blur',
  'glass_blur',
  'motion_blur',
  'zoom_blur',
  'snow',
  'frost',
  'fog',
  'brightness',
  'contrast',
  'elastic_transform',
  'pixelate',
  'jpeg_compression',
  'spatter',
  'saturate',
] as const;

export const DatasetSpec = T.Object(
  {
    name: OneOf([...DATASET_NAMES]),
    path: T.Optional(T.String({ minLength: 1, description: 'Directory holding the files (inline runs only).' })),
    validationSize: T.Optional(
      Int({
        minimum: 0,
        description: 'Examples held out from the official training file by a seeded shuffle, disjoint from training.',
      }),
    ),
    selectionSize: T.Optional(
      Int({
        minimum: 0,
        description:
          'Examples held out after the validation ones by the same shuffle, disjoint from validation and training: validation drives the adaptive soft-label update (Eq. 3) and post-hoc fits, this selection split only reports metrics for choosing tuned settings (α, ε) [0: none].',
      }),
    ),
    trainLimit: T.Optional(Int({ minimum: 1, description: 'Training examples taken from the rest [all].' })),
    testLimit: T.Optional(Int({ minimum: 1, description: 'First N examples of the official test file [all].' })),
    classes: T.Optional(Int({ minimum: 2, maximum: 1000, description: 'Synthetic only: number of classes [10].' })),
    shape: T.Optional(
      T.Tuple([Int({ minimum: 1 }), Int({ minimum: 1 }), Int({ minimum: 1, maximum: 4 })], {
        description: 'Synthetic only: [height, width, channels] [28, 28, 1].',
      }),
    ),
    labelNoise: T.Optional(
      Num({ minimum: 0, maximum: 1, description: 'Synthetic only: share of labels resampled [0.1].' }),
    ),
  },
  { additionalProperties: false },
);

export const ModelSpec = T.Object(
  {
    arch: OneOf([...ARCHS]),
    depth: T.Optional(
      Int({ minimum: 1, description: 'resnet/wrn depth (resnet: 6n+2, wrn: 6n+4) [resnet 8, wrn 16].' }),
    ),
    width: T.Optional(
      Int({
        minimum: 1,
        description: 'resnet: base filters [16]; wrn: width multiplier k [4] (WRN-16-4; WRN-10-1 would be ResNet-8).',
      }),
    ),
    hidden: T.Optional(T.Array(Int({ minimum: 1 }), { description: 'mlp hidden layer sizes [256, 128].' })),
  },
  { additionalProperties: false },
);

export const TrainingSpec = T.Object(
  {
    epochs: Int({ minimum: 1, maximum: 10000 }),
    batchSize: Int({ minimum: 1, maximum: 65536 }),
    optimizer: OneOf(['sgd', 'adam']),
    learningRate: Num({ exclusiveMinimum: 0 }),
    momentum: T.Optional(Num({ minimum: 0, exclusiveMaximum: 1, description: '[0.9 for sgd]' })),
    weightDecay: T.Optional(Num({ minimum: 0, default: 0 })),
    schedule: T.Optional(OneOf(['constant', 'cosine', 'step'], { default: 'constant' })),
    checkpoint: T.Optional(
      OneOf(['last', 'best-val'], {
        default: 'last',
        description:
          'The weights kept: the last epoch, or the epoch with the lowest NLL on the selection split when there is one (dataset.selectionSize), else on validation [last].',
      }),
    ),
  },
  { additionalProperties: false },
);

export const AttackParams = T.Object(
  {
    steps: T.Optional(Int({ minimum: 1, maximum: 100000 })),
    binarySearchSteps: T.Optional(Int({ minimum: 1, maximum: 50 })),
    learningRate: T.Optional(Num({ exclusiveMinimum: 0 })),
    initialConst: T.Optional(Num({ exclusiveMinimum: 0 })),
    overshoot: T.Optional(Num({ minimum: 0 })),
    gamma: T.Optional(Num({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
    batchSize: T.Optional(Int({ minimum: 1 })),
    candidates: T.Optional(
      Int({ minimum: 2, description: 'deepfool-l2: classes considered (the top-k clean logits) [all].' }),
    ),
  },
  { additionalProperties: false },
);

export const RobustnessSpec = T.Object(
  {
    attack: T.Optional(OneOf([...ATTACKS], { default: 'ddn-l2' })),
    source: T.Optional(OneOf(['precompute', 'on-the-fly'], { default: 'precompute' })),
    everyEpochs: T.Optional(Int({ minimum: 1, default: 1 })),
    params: T.Optional(AttackParams),
  },
  { additionalProperties: false },
);

export const CcatSpec = T.Object(
  {
    epsilon: T.Optional(
      Num({
        exclusiveMinimum: 0,
        maximum: 1,
        description: 'L∞ radius ε of the confidence-maximising PGD [0.3 for 1-channel images, 8/255 otherwise].',
      }),
    ),
    steps: T.Optional(
      Int({
        minimum: 1,
        maximum: 1000,
        description:
          'PGD iterations per batch [10]; each costs about half a training step (half of every batch is attacked).',
      }),
    ),
    stepSize: T.Optional(Num({ exclusiveMinimum: 0, description: 'PGD signed-gradient step [2.5·ε/steps].' })),
    rho: T.Optional(Num({ minimum: 0, description: 'ρ of the target transition λ = (1 − min(1, ‖δ‖∞/ε))^ρ [10].' })),
  },
  { additionalProperties: false },
);

export const MethodSpec = T.Object(
  {
    kind: OneOf([...METHOD_KINDS]),
    epsilon: T.Optional(Num({ minimum: 0, maximum: 1, description: 'label-smoothing ε.' })),
    alpha: T.Optional(Num({ exclusiveMinimum: 0, description: 'adals/ar-adals step size α of Eq. 3 [1].' })),
    subsets: T.Optional(Int({ minimum: 1, maximum: 1000, description: 'R used for training (ar-adals) [10].' })),
    robustness: T.Optional(RobustnessSpec),
    mixupAlpha: T.Optional(Num({ exclusiveMinimum: 0, description: 'mixup Beta(α, α) [0.2].' })),
    ccat: T.Optional(CcatSpec),
  },
  { additionalProperties: false },
);

export const EnsembleSpec = T.Object(
  {
    members: T.Optional(Int({ minimum: 1, maximum: 64, default: 1 })),
    mode: T.Optional(OneOf(['independent', 'joint'], { default: 'independent' })),
  },
  { additionalProperties: false },
);

export const EvaluationSpec = T.Object(
  {
    bins: T.Optional(Int({ minimum: 1, maximum: 1000, default: 15 })),
    robustnessSubsets: T.Optional(Int({ minimum: 0, maximum: 1000, default: 10 })),
    robustness: T.Optional(
      T.Object(
        {
          reference: T.Optional(OneOf(['self', 'vanilla'], { default: 'self' })),
          attack: T.Optional(OneOf([...ATTACKS])),
        },
        { additionalProperties: false },
      ),
    ),
    corruptions: T.Optional(T.Array(OneOf([...CORRUPTIONS]), { uniqueItems: true })),
    severities: T.Optional(T.Array(Int({ minimum: 1, maximum: 5 }), { uniqueItems: true })),
    shiftLimit: T.Optional(
      Int({
        minimum: 1,
        description:
          'Corruption metrics on a fixed subset of this many test images, the same for every spec and seed [all].',
      }),
    ),
    ood: T.Optional(
      T.Object(
        { dataset: OneOf(['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'svhn']) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ExperimentSpec = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 200 }),
    seed: T.Optional(Int({ minimum: 0, maximum: 2 ** 31 - 1, default: 0 })),
    version: T.Optional(
      T.Union([T.Literal(1), T.Literal(2)], {
        default: 2,
        description:
          'Defaults the spec is resolved with: 2 (current) or 1 (the attack defaults before docs/ATTACKS.md was redone) [2].',
      }),
    ),
    dataset: DatasetSpec,
    model: ModelSpec,
    training: TrainingSpec,
    method: MethodSpec,
    ensemble: T.Optional(EnsembleSpec),
    evaluation: T.Optional(EvaluationSpec),
  },
  {
    additionalProperties: false,
    $id: 'https://arcal.dev/schemas/experiment-spec.json',
    title: 'arcal experiment spec',
  },
);

export type ExperimentSpecInput = Static<typeof ExperimentSpec>;
export type AttackName = (typeof ATTACKS)[number];
export type MethodKind = (typeof METHOD_KINDS)[number];
export type DatasetName = (typeof DATASET_NAMES)[number];
export type CorruptionId = (typeof CORRUPTIONS)[number];
