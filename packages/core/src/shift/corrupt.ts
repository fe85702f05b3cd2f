/**
 * The corruption entry point: CIFAR-10-C ids, which of them apply to an image's channel count, and
 * `corrupt`, which applies one id at one severity to a batch of NHWC float32 images in [0, 1], seeded.
 * Pure array maths (no tfjs, no I/O).
 */
import { ArcalError, CORRUPTIONS } from '@arcal/contracts';
import { Rng } from '../util/rng.ts';
import { OPERATIONS } from './corruptions.ts';

/** The 19 CIFAR-10-C corruption ids, in the order of the published file list (the spec's `evaluation.corruptions`). */
export const CORRUPTION_IDS = CORRUPTIONS;
export type CorruptionId = (typeof CORRUPTION_IDS)[number];

export const SEVERITIES = [1, 2, 3, 4, 5] as const;

export interface Applicability {
  applicable: boolean;
  /** Why not, when not applicable. */
  reason?: string;
}

/** Corruptions that are not produced at all, with the reason. */
export const LEFT_OUT: Partial<Record<CorruptionId, string>> = {
  frost:
    'frost overlays crops of six photographs of frost on glass (frost1.png … frost6.jpg in the published generator); ' +
    'arcal does not ship those images and a synthetic texture would not be the same corruption, so frost is not generated. ' +
    'Published CIFAR-10-C frost.npy files can still be read with readCifarCorruption.',
};

/** Ids whose operation is defined on colour (HSV saturation or a colour model): RGB only. */
const RGB_ONLY: Partial<Record<CorruptionId, string>> = {
  saturate: 'saturate scales HSV saturation, which a one-channel image does not have',
};

/** Ids whose definition mixes channels through a colour model defined for 1 (grey) or 3 (RGB) channels only. */
const GREY_OR_RGB = new Set<CorruptionId>(['brightness', 'snow', 'jpeg_compression', 'spatter', 'saturate']);

export const isCorruptionId = (id: string): id is CorruptionId => (CORRUPTION_IDS as readonly string[]).includes(id);

/**
 * Whether `id` can be applied to images with `channels` channels, with a reason when it cannot:
 * frost never (left out); saturate only for 3 channels; brightness, snow, jpeg_compression and spatter for 1 or 3
 * (on one channel: brightness raises the grey value, snow's whitening uses the grey value itself, JPEG codes a
 * single luminance plane, spatter paints the luma of its water/mud colour); the rest act per channel and apply to any.
 */
export function corruptionApplicability(id: CorruptionId, channels: number): Applicability {
  if (!isCorruptionId(id)) throw new ArcalError('INVALID_INPUT', `unknown corruption id '${id}'`);
  if (!Number.isInteger(channels) || channels < 1)
    throw new ArcalError('INVALID_INPUT', `channels must be a positive integer, got ${channels}`);
  const out = LEFT_OUT[id];
  if (out) return { applicable: false, reason: out };
  if (RGB_ONLY[id] && channels !== 3) return { applicable: false, reason: RGB_ONLY[id] };
  if (GREY_OR_RGB.has(id) && channels !== 1 && channels !== 3) {
    return {
      applicable: false,
      reason: `${id} uses a grey/RGB colour model, defined for 1 or 3 channels, not ${channels}`,
    };
  }
  return { applicable: true };
}

/** The ids `corrupt` accepts for this channel count. */
export function applicableCorruptions(channels: number): CorruptionId[] {
  return CORRUPTION_IDS.filter((id) => corruptionApplicability(id, channels).applicable);
}

/**
 * Applies corruption `id` at `severity` (1–5) to every image of an NHWC batch in [0, 1] and clips the result to
 * [0, 1]. Randomness: image i draws from Rng(seeds_i) with seeds_i the i-th `fork()` of Rng(seed), so the output
 * is a function of (images, id, severity, seed) alone. Constants are the published 32×32 CIFAR ones, with
 * pixel-measured constants scaled by min(h, w)/32 for other sizes (cifar-params.ts states the rule).
 * Throws ArcalError INVALID_INPUT for a bad shape, id or severity and NOT_IMPLEMENTED for a corruption that does
 * not apply to the channel count or is left out.
 */
export function corrupt(
  images: Float32Array,
  shape: [number, number, number, number],
  id: CorruptionId,
  severity: number,
  seed: number,
): Float32Array {
  const [n, h, w, c] = shape;
  if (!shape.every((d) => Number.isInteger(d) && d >= 1) || images.length !== n * h * w * c) {
    throw new ArcalError(
      'INVALID_INPUT',
      `images has ${images.length} entries, shape [${shape.join(', ')}] needs ${n * h * w * c}`,
    );
  }
  if (!Number.isInteger(severity) || severity < 1 || severity > 5)
    throw new ArcalError('INVALID_INPUT', `severity must be an integer in 1..5, got ${severity}`);
  const ok = corruptionApplicability(id, c);
  if (!ok.applicable)
    throw new ArcalError('NOT_IMPLEMENTED', `${id} is not available for ${c}-channel images: ${ok.reason}`);
  const op = OPERATIONS[id];
  const root = new Rng(seed);
  const size = h * w * c;
  const out = new Float32Array(images.length);
  const s = Math.min(h, w) / 32;
  for (let i = 0; i < n; i++) {
    const img = Float64Array.from(images.subarray(i * size, (i + 1) * size));
    const res = op({ img, h, w, c, k: severity - 1, rng: new Rng(root.fork()), s });
    for (let j = 0; j < size; j++) {
      const v = res[j];
      out[i * size + j] = Number.isNaN(v) ? 0 : Math.min(1, Math.max(0, v));
    }
  }
  return out;
}
