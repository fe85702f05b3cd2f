/**
 * The reference rankings travel with the summaries. Every experiment of a seed pairs with the others of that seed
 * through one vanilla reference model: its ranking of the test set defines the robustness subsets, its ranking
 * of the training and validation splits drives AR-AdaLS. A later part of a reproduction on another machine would
 * train that model again and, with other kernels (AVX2 instead of AVX-512, another thread count), get other
 * radii. So the reference's robustness files and key (not the model: an experiment only needs what it ranked)
 * are published beside the summaries, `<summaries>/reference/seed-<n>/`, and restored into the runs folder before
 * anything runs; runExperiment then skips the model (run.ts). About 0.4 MB per seed.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

const SHARED = (name: string) => name === 'key.json' || /^robustness-[a-z]+\.json$/.test(name);

async function sameContent(a: string, b: string): Promise<boolean> {
  if (!existsSync(b)) return false;
  const [x, y] = await Promise.all([readFile(a), readFile(b)]);
  return x.equals(y);
}

/** Copies the shared files of every `seed-<n>` folder under `from` into `to` where `to` lacks or differs from them. */
async function sync(from: string, to: string, overwrite: boolean): Promise<string[]> {
  if (!existsSync(from)) return [];
  const copied: string[] = [];
  for (const seedDir of (await readdir(from)).filter((d) => /^seed-\d+$/.test(d)).sort()) {
    const files = (await readdir(join(from, seedDir))).filter(SHARED).sort();
    for (const f of files) {
      const src = join(from, seedDir, f);
      const dst = join(to, seedDir, f);
      if (existsSync(dst) && (!overwrite || (await sameContent(src, dst)))) continue;
      await mkdir(join(to, seedDir), { recursive: true });
      const tmp = `${dst}.tmp-${process.pid}`;
      await copyFile(src, tmp);
      await rename(tmp, dst);
      copied.push(`${seedDir}/${f}`);
    }
  }
  return copied;
}

/** Published reference files missing from the runs folder are put there (existing ones are never replaced). */
export const restoreReferences = (summariesDir: string, runsDir: string): Promise<string[]> =>
  sync(join(summariesDir, 'reference'), join(runsDir, 'reference'), false);

/** The runs folder's reference files are published beside the summaries (new or changed ones). */
export const publishReferences = (runsDir: string, summariesDir: string): Promise<string[]> =>
  sync(join(runsDir, 'reference'), join(summariesDir, 'reference'), true);
