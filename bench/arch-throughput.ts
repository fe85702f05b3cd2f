/**
 * Training throughput of each model architecture on each backend, to choose the default backend per
 * architecture (`NATIVE_SLOWER_ARCHS` in packages/core/src/backend/index.ts).
 *
 *   npx tsx bench/arch-throughput.ts [--backends native,wasm] [--archs mlp,cnn,resnet,wrn] [--threads n]
 *                                    [--seconds 3] [--batch 64] [--workload train|infer|input-grad]
 *
 * Workload `train` (default): one Adam step (`trainStep`) at batch 64 of uniform random images; `infer`: the
 * logits of the batch in inference mode; `input-grad`: the gradient of the cross-entropy with respect to the
 * images in inference mode (an attack step). Models: MLP 784-256-128-10 and the reference CNN on 28×28×1,
 * ResNet-8 (width 16) and the default WRN (WRN-16-4; the figures in docs/PERFORMANCE.md before it was the default are WRN-10-1) on 32×32×3. Each backend runs in its own child process (a tfjs process holds
 * one backend at a time cleanly). Two warm-up steps, then as many steps as fit in --seconds.
 * The last stdout line is one JSON object: img/s per backend and architecture.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Arch, ready } from '@arcal/core';
import { type ArchWorkload, archStep } from './lib/arch-step.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const seconds = Number(opt('seconds', '3'));
const batch = Number(opt('batch', '64'));
const archs = opt('archs', 'mlp,cnn,resnet,wrn').split(',') as Arch[];
const threads = opt('threads', '');
const workload = opt('workload', 'train');
if (!['train', 'infer', 'input-grad'].includes(workload)) throw new Error(`unknown --workload ${workload}`);

async function measure(backend: string): Promise<Record<string, number>> {
  const info = await ready({ backend, threads: threads ? Number(threads) : undefined });
  const out: Record<string, number> = { threads: info.threads };
  for (const arch of archs) {
    const { step, dispose } = archStep(arch, batch, workload as ArchWorkload);
    for (let i = 0; i < 2; i++) step();
    let steps = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      step();
      steps++;
    }
    out[arch] = Math.round((10 * steps * batch) / ((performance.now() - t0) / 1000)) / 10;
    dispose();
  }
  return out;
}

const child = opt('child', '');
if (child) {
  console.log(JSON.stringify(await measure(child)));
} else {
  const result: Record<string, unknown> = {
    bench: 'arch-throughput',
    date: new Date().toISOString(),
    workload,
    batch,
    seconds,
  };
  for (const backend of opt('backends', 'native,wasm').split(',')) {
    const self = fileURLToPath(import.meta.url);
    const runner = self.endsWith('.ts') ? ['--import', 'tsx', self] : [self];
    try {
      const stdout = execFileSync(process.execPath, [...runner, ...args, '--child', backend], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      result[backend] = JSON.parse(stdout.trim().split('\n').at(-1)!);
    } catch (e) {
      result[backend] = { error: (e as Error).message.split('\n')[0] };
    }
    console.error(`${backend}: ${JSON.stringify(result[backend])}`);
  }
  console.log(JSON.stringify(result));
}
