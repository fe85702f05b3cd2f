/**
 * The log of a reproduction's parts: `<summaries>/parts.json`, one record per invocation that ran experiments
 * (the commit and whether the checkout had changes, when it started and last wrote, its wall time, the
 * experiments it finished, the machine). A long preset runs in parts (`--minutes`), on one machine or several,
 * over days; RESULTS.md states the commits and the summed wall time from this file, so the published numbers say
 * which code made them. The record is rewritten after every finished experiment, so a part that is killed keeps
 * what it did.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const PARTS_FILE = 'parts.json';

export interface PartRecord {
  /** Full commit hash of the checkout, or 'unknown' outside a git checkout. */
  commit: string;
  /**
   * The checkout had uncommitted changes to the code a reproduction runs (packages/, scripts/, the lock file) when
   * the part started: its numbers then come from code that is not exactly `commit`.
   */
  dirty: boolean;
  startedAt: string;
  /** When the record was last written: after the part's last finished experiment. */
  updatedAt: string;
  wallSeconds: number;
  /** `<family>/<slug>` of every experiment the part finished, in order. */
  finished: string[];
  machine: { cpu: string; cores: number; memoryGb: number; os: string; node: string };
  backend: string;
  threads?: number;
}

/** The commit of the checkout holding `dir`, and whether the code a reproduction runs differs from it. */
export function checkoutState(dir: string): { commit: string; dirty: boolean } {
  const git = (args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' }).trim();
  try {
    const commit = git(['rev-parse', 'HEAD']);
    const changes = git(['status', '--porcelain', '--', 'packages', 'scripts', 'package-lock.json']);
    return { commit, dirty: changes.length > 0 };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

export async function readParts(summariesDir: string): Promise<PartRecord[]> {
  const file = join(summariesDir, PARTS_FILE);
  if (!existsSync(file)) return [];
  return JSON.parse(await readFile(file, 'utf8')) as PartRecord[];
}

/** Replaces the record with the same start (this part's earlier write) or appends it; atomic like a summary. */
export async function recordPart(summariesDir: string, part: PartRecord): Promise<void> {
  const parts = (await readParts(summariesDir)).filter((p) => p.startedAt !== part.startedAt);
  parts.push(part);
  parts.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const file = join(summariesDir, PARTS_FILE);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(parts, null, 1)}\n`);
  await rename(tmp, file);
}

/** One line for RESULTS.md: how many parts, on which commits, and their summed wall time. */
export function partsLine(parts: PartRecord[]): string {
  if (!parts.length) return 'No record of the parts that ran the experiments (parts.json is absent).';
  const wall = parts.reduce((s, p) => s + p.wallSeconds, 0);
  const commits = [...new Set(parts.map((p) => `${p.commit.slice(0, 7)}${p.dirty ? ' (with local changes)' : ''}`))];
  const n = parts.reduce((s, p) => s + p.finished.length, 0);
  const span = `${parts[0].startedAt.slice(0, 16).replace('T', ' ')} to ${parts.at(-1)!.updatedAt.slice(0, 16).replace('T', ' ')} UTC`;
  return (
    `The experiments ran in ${parts.length} part${parts.length === 1 ? '' : 's'} (${span}), ` +
    `${n} experiment${n === 1 ? '' : 's'} in all, ${(wall / 3600).toFixed(2)} h of wall time summed over the parts, ` +
    `at commit${commits.length === 1 ? '' : 's'} ${commits.join(', ')} (each part's record: \`${PARTS_FILE}\` beside the summaries).`
  );
}
