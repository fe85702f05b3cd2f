/**
 * Where a file-backed dataset is looked for, in order: the spec's `dataset.path` (only there, when given);
 * the data directory the caller passes (from ARCAL_DATA_DIR — this module reads no environment); the Debian
 * install folder `/usr/share/datasets/<name>`; the cache `<cacheDir>/<name>` (default
 * `~/.cache/arcal/datasets/<name>`). Each root is searched itself and in the dataset's usual sub-folders
 * (e.g. `cifar-10-batches-bin`). A folder counts when it holds every training and test file (only the test
 * files with `testOnly`, as for an out-of-distribution set), plain or `.gz`.
 */
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DATASETS, type FileDatasetName, type RemoteFile } from './catalog.ts';

export const DEFAULT_DEBIAN_ROOT = '/usr/share/datasets';
/** `~/.cache/arcal/datasets`. */
export const defaultCacheDir = (): string => join(homedir(), '.cache', 'arcal', 'datasets');

export type LocationKind = 'path' | 'data-dir' | 'debian' | 'cache';

export interface DatasetLocation {
  kind: LocationKind;
  dir: string;
  /** Empty when located with `testOnly`. */
  train: string[];
  test: string[];
  /** e.g. `debian:/usr/share/datasets/fashion-mnist`, `cache:/home/u/.cache/arcal/datasets/mnist`. */
  source: string;
}

export interface LocateOptions {
  path?: string;
  dataDir?: string;
  debianRoot?: string;
  cacheDir?: string;
  /** Look for the test files only (an out-of-distribution set needs nothing else). */
  testOnly?: boolean;
}

export interface LocateResult {
  found?: DatasetLocation;
  /** Every folder looked in, in order. */
  searched: string[];
  /** Folders holding some but not all of the files, with what they lack. */
  partial: string[];
}

const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile();

/** `dir/name` or `dir/name.gz`, whichever exists (plain first). */
export function findFile(dir: string, name: string): string | undefined {
  for (const c of [join(dir, name), join(dir, `${name}.gz`)]) if (isFile(c)) return c;
  return undefined;
}

/** The roots to search for `name`, in order, with their kinds. */
export function searchRoots(
  name: FileDatasetName,
  o: LocateOptions,
): Array<{ kind: LocationKind; root: string; flat: boolean }> {
  if (o.path) return [{ kind: 'path', root: o.path, flat: false }];
  const roots: Array<{ kind: LocationKind; root: string; flat: boolean }> = [];
  if (o.dataDir) roots.push({ kind: 'data-dir', root: o.dataDir, flat: false });
  roots.push({ kind: 'debian', root: join(o.debianRoot ?? DEFAULT_DEBIAN_ROOT, name), flat: true });
  roots.push({ kind: 'cache', root: join(o.cacheDir ?? defaultCacheDir(), name), flat: true });
  return roots;
}

/** Finds the first folder that holds the whole dataset `name`; see the module documentation for the order. */
export function locateDataset(name: FileDatasetName, o: LocateOptions = {}): LocateResult {
  const entry = DATASETS[name];
  const trainNames = o.testOnly ? [] : entry.train;
  const searched: string[] = [];
  const partial: string[] = [];
  for (const { kind, root, flat } of searchRoots(name, o)) {
    const dirs = flat ? [root] : [root, ...entry.subdirs.map((s) => join(root, s))];
    for (const dir of dirs) {
      searched.push(dir);
      const train = trainNames.map((f) => findFile(dir, f));
      const test = entry.test.map((f) => findFile(dir, f));
      const all = [...train, ...test];
      if (all.every((f) => f !== undefined)) {
        return {
          found: { kind, dir, train: train as string[], test: test as string[], source: `${kind}:${dir}` },
          searched,
          partial,
        };
      }
      if (all.some((f) => f !== undefined)) {
        const lacking = [...trainNames, ...entry.test].filter((_, i) => all[i] === undefined);
        partial.push(`${dir} (lacks ${lacking.join(', ')})`);
      }
    }
  }
  return { searched, partial };
}

/** The files of `remotes` (published files of `name`) that hold its test file; all of them when none is known to. */
export function remotesHoldingTest(name: FileDatasetName, remotes: RemoteFile[]): RemoteFile[] {
  const test = DATASETS[name].test;
  const holds = (file: string) => test.some((t) => file === t || file === `${t}.gz`);
  const some = remotes.filter((r) => (r.extract ? r.extract.some((m) => holds(m.name)) : holds(r.name)));
  return some.length ? some : remotes;
}

/** One message saying exactly what to install or set so that `name` is found. */
export function notFoundMessage(
  name: FileDatasetName,
  r: LocateResult,
  o: LocateOptions & { downloadError?: string },
): string {
  const e = DATASETS[name];
  const files = [...(o.testOnly ? [] : e.train), ...e.test].map((f) => (e.format === 'idx' ? `${f}.gz` : f)).join(', ');
  const lines: string[] = [];
  if (o.path) {
    lines.push(
      `${e.title} not found: dataset.path ${o.path} does not hold ${files} (gzipped or plain, directly or in ${e.subdirs.join(' or ')}).`,
    );
  } else {
    lines.push(`${e.title} not found (looked in ${r.searched.join(', ')}).`);
    const ways: string[] = [];
    if (e.debianPackage) ways.push(`apt-get install ${e.debianPackage}`);
    ways.push(`set ARCAL_DATA_DIR=<dir with ${files}> (directly or in ${e.subdirs[0]}/)`);
    const src = o.testOnly ? remotesHoldingTest(name, e.remote)[0] : e.remote[0];
    ways.push(
      `allow a download into ${join(o.cacheDir ?? defaultCacheDir(), name)} (from ${src.urls[0]}${src.extract ? ', unpacked' : ''})`,
    );
    lines.push(`Fix: ${ways.join(', or ')}.`);
  }
  if (r.partial.length) lines.push(`Incomplete: ${r.partial.join('; ')}.`);
  if (o.downloadError) lines.push(`Download failed: ${o.downloadError}`);
  return lines.join(' ');
}
