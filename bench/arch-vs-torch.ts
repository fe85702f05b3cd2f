/**
 * The residual nets on arcal's `native` backend against a PyTorch twin of the same networks, on this machine.
 *
 *   npm run bench:arch -- --torch ../shared/bench/torch_arch.py [--archs resnet,wrn] [--workload train,attack,infer]
 *                         [--batch 64,256] [--threads 2] [--seconds 3] [--rounds 3] [--python /usr/bin/python3]
 *                         [--torch-wait passive|spin]
 *
 * For every architecture, batch and workload, arcal (bench/arch-throughput.ts in child mode: one process per
 * measurement) and the twin run alternately --rounds times, so that both see the same machine load; the
 * figures are the medians. Workloads: `train` one Adam step on uniform random images, `attack` the gradient of
 * the cross-entropy with respect to the images in inference mode (arch-throughput's `input-grad`), `infer` the
 * logits in inference mode. Architectures as arcal builds them by default: ResNet-8 (width 16) and WRN-16-4,
 * on 32×32×3; the twin is told the same depth and width (its own defaults are ResNet-8 and WRN-10-1).
 *
 * The twin (torch_arch.py) is the same network: pre-activation blocks (BN-ReLU, 3×3 conv, BN-ReLU, 3×3 conv,
 * a 1×1 shortcut conv on the first BN-ReLU's output when channels or stride change), no conv bias, final
 * BN-ReLU, global average pool, dense with bias; the layouts differ (PyTorch NCHW, arcal NHWC) and so do the
 * initial weights (irrelevant to throughput). PyTorch's default Adam and arcal's differ in no step cost.
 *
 * OpenMP's wait policy: arcal's addon makes its OpenMP threads wait passively unless the environment says
 * otherwise (packages/native/src/addon.ts), since spinning threads on a shared machine take cores from the
 * threads with work. The twin runs with the same OMP_WAIT_POLICY=passive by default (`--torch-wait passive`);
 * `--torch-wait spin` leaves PyTorch's default (libgomp spins before sleeping), which under load is several
 * times slower (measured 21 against 169 img/s training ResNet-8 at load 6.8 on 2 cores) and on an idle
 * machine a little faster.
 *
 * Prints one line per measurement on stderr and, as the last stdout line, one JSON object: the commit, the
 * load averages before and after, the thread count, and per arch/batch/workload the medians (img/s, or
 * img·step/s for the attack) and arcal / PyTorch.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const torch = opt('torch', '');
if (!torch) throw new Error('--torch path/to/torch_arch.py is required');
const python = opt('python', '/usr/bin/python3');
const archs = opt('archs', 'resnet,wrn').split(',');
const workloads = opt('workload', 'train,attack,infer').split(',');
const batches = opt('batch', '64,256').split(',').map(Number);
const threads = Number(opt('threads', '2'));
const seconds = Number(opt('seconds', '3'));
const rounds = Number(opt('rounds', '3'));
const torchWait = opt('torch-wait', 'passive');
if (torchWait !== 'passive' && torchWait !== 'spin') throw new Error(`--torch-wait passive|spin, got ${torchWait}`);
const torchEnv = { ...process.env };
if (torchWait === 'passive') torchEnv.OMP_WAIT_POLICY = 'passive';
else delete torchEnv.OMP_WAIT_POLICY;
for (const w of workloads)
  if (!['train', 'attack', 'infer'].includes(w)) throw new Error(`unknown workload ${w} (train, attack, infer)`);
/** The default depth and width arcal builds for each architecture (packages/core resolveModelConfig). */
const DEFAULTS: Record<string, [number, number]> = { resnet: [8, 16], wrn: [16, 4] };
for (const a of archs) if (!DEFAULTS[a]) throw new Error(`unknown arch ${a} (resnet, wrn)`);

const archBench = fileURLToPath(new URL('./arch-throughput.ts', import.meta.url));
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

function arcal(arch: string, batch: number, workload: string): number {
  const w = workload === 'attack' ? 'input-grad' : workload;
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      archBench,
      '--child',
      'native',
      '--archs',
      arch,
      '--batch',
      String(batch),
      '--workload',
      w,
      '--threads',
      String(threads),
      '--seconds',
      String(seconds),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const r = lastJson(out);
  if (r.threads !== threads) throw new Error(`arcal ran on ${r.threads} threads, not ${threads}`);
  return r[arch];
}

function pytorch(arch: string, batch: number, workload: string): number {
  const w = workload === 'attack' ? 'input-grad' : workload;
  const [depth, width] = DEFAULTS[arch];
  const out = execFileSync(
    python,
    [
      torch,
      '--archs',
      arch,
      '--workload',
      w,
      '--batch',
      String(batch),
      '--threads',
      String(threads),
      '--seconds',
      String(seconds),
      '--depth',
      String(depth),
      '--width',
      String(width),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: torchEnv },
  );
  return lastJson(out)[arch];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round2 = (x: number) => Math.round(x * 100) / 100;
const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

let commit: string | null = null;
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {}
const loadBefore = load();
console.error(
  `load average ${loadBefore.join(' ')}; ${threads} threads, ${rounds} rounds of ${seconds} s, PyTorch's OpenMP wait ${torchWait}`,
);
const results: Array<Record<string, unknown>> = [];
for (const arch of archs)
  for (const batch of batches)
    for (const workload of workloads) {
      const a: number[] = [];
      const t: number[] = [];
      for (let r = 0; r < rounds; r++) {
        a.push(arcal(arch, batch, workload));
        t.push(pytorch(arch, batch, workload));
      }
      const row = {
        arch: `${arch}-${DEFAULTS[arch].join('-')}`,
        batch,
        workload,
        arcal: median(a),
        pytorch: median(t),
        ratio: round2(median(a) / median(t)),
        arcalRuns: a,
        pytorchRuns: t,
        load: load()[0],
      };
      results.push(row);
      console.error(
        `${row.arch} b${batch} ${workload}: arcal ${row.arcal} pytorch ${row.pytorch} ratio ${row.ratio} (load ${row.load})`,
      );
    }
console.log(
  JSON.stringify({
    bench: 'arch-vs-torch',
    date: new Date().toISOString(),
    commit,
    threads,
    torchWait,
    seconds,
    rounds,
    loadBefore,
    loadAfter: load(),
    results,
  }),
);
