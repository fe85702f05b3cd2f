/**
 * The `arcal` command line. Inline commands (run, demo, predict, validate, robustness, doctor) need no
 * services; `keys` talks to PostgreSQL. Exit codes: 0 ok, 1 failure, 2 invalid input or spec, 130 interrupted.
 *
 * A command's module (and with it tfjs, TypeBox, the HTTP client or Prisma) is imported only when that command
 * runs: `arcal --help` loads nothing but this file.
 */
import type { ParsedArgs } from './args.ts';
import type { RemoteCommand } from './commands/remote.ts';

const HELP = `arcal — calibration vs adversarial robustness experiments (AR-AdaLS)

Inline (no services):
  arcal run <spec.json> [--out dir] [--backend b] [--threads n] [--data-dir d] [--offline]
                                  run one experiment in-process; writes report.json and the model
  arcal run --resume <dir>        continue an interrupted run
  arcal study <study.json> [--out dir]
                                  every experiment of a study grid (resumable); writes study.json and study.md
  arcal demo [--out dir] [--fresh] compare vanilla, label smoothing, AdaLS and AR-AdaLS on Fashion-MNIST
  arcal validate <spec.json>      check a spec; prints every problem with its path
  arcal predict --model <dir> --data <file> [--limit n]
                                  class probabilities of an exported model (JSON lines)
  arcal robustness --model <dir> --spec <spec.json> --split train|validation|test [--attack a] [--shard i/n] --out <file>
  arcal robustness merge <shard files...> --out <file>
  arcal doctor [--json]           which tensor backend runs and why the others do not
  arcal schema                    the experiment-spec JSON Schema

Service (ARCAL_URL, default http://127.0.0.1:3000, and ARCAL_API_KEY):
  arcal submit <spec.json> [--wait] [--idempotency-key k] [--json]
                                  queue an experiment; --wait follows it (progress per job) to the end
  arcal status <id> [--json]      status, progress and final metrics
  arcal logs <id> [--follow] [--json]
                                  worker logs; --follow streams them until the experiment ends
  arcal cancel <id> | arcal retry <id> [--json]
  arcal report <id> [--format md|json] [--figures dir] [--out file]
                                  the stored report; --figures writes the dashboard's charts as SVG (and PNG)
  arcal list [--status s] [--limit n] [--json]
  arcal study <study.json> --remote [--wait] [--idempotency-key k] [--json]
                                  queue a study (one experiment per grid point); --wait ends with its report
  arcal studies [<id>] [--wait] [--limit n] [--json]
                                  list studies, or one study: its experiments and mean ± std over the
                                  experiments finished so far (marked partial while others run)
  arcal studies cancel <id> | arcal studies delete <id> [--json]
                                  cancel every unfinished experiment of a study; delete a finished study
  arcal keys create --project <name> [--name label] [--json]
                                  create an API key (writes to DATABASE_URL)
  The dashboard is served by the API at /ui.

Environment: ARCAL_BACKEND (tfjs-node-gpu | tfjs-node | native | wasm | cpu), ARCAL_THREADS, ARCAL_DATA_DIR.
Exit codes: 0 ok, 1 failure, 2 invalid input, 130 interrupted.`;

const EXIT_INVALID = new Set([
  'INVALID_SPEC',
  'NOT_IMPLEMENTED',
  'INVALID_INPUT',
  'DATA_NOT_FOUND',
  'DATA_CORRUPT',
  'CONFLICT',
  'BACKEND_UNAVAILABLE',
]);

type Command = (argv: string[], signal: AbortSignal) => Promise<number>;

const parse = async (argv: string[], spec: { boolean?: string[]; string?: string[] }): Promise<ParsedArgs> =>
  (await import('./args.ts')).parseArgs(argv, spec);

const remote =
  (cmd: RemoteCommand): Command =>
  async (argv, signal) =>
    (await import('./commands/remote.ts')).remoteCommand(cmd, argv, {
      env: process.env,
      stdout: process.stdout,
      stderr: process.stderr,
      signal,
    });

const inline = { string: ['out', 'backend', 'threads', 'data-dir'], boolean: ['offline'] };

const COMMANDS: Record<string, Command> = {
  run: async (argv, signal) =>
    (await import('./commands/run.ts')).runCommand(
      await parse(argv, { ...inline, string: [...inline.string, 'resume'] }),
      signal,
    ),
  study: async (argv, signal) =>
    argv.includes('--remote')
      ? remote('study')(argv, signal)
      : (await import('./commands/study.ts')).studyCommand(await parse(argv, inline), signal),
  demo: async (argv, signal) =>
    (await import('./commands/demo.ts')).demoCommand(
      await parse(argv, { string: [...inline.string, 'train-limit'], boolean: ['offline', 'fresh'] }),
      signal,
    ),
  validate: async (argv) => {
    const a = await parse(argv, { boolean: ['json'] });
    const { ArcalError } = await import('@arcal/contracts');
    if (!a.positionals[0]) throw new ArcalError('INVALID_INPUT', 'usage: arcal validate <spec.json>');
    const { loadSpecFile } = await import('./spec-file.ts');
    const spec = loadSpecFile(a.positionals[0]);
    console.log(
      a.flags.json
        ? JSON.stringify(spec)
        : `${a.positionals[0]}: valid (${spec.method.kind}, ${spec.dataset.name}, ${spec.model.arch})`,
    );
    return 0;
  },
  schema: async () => {
    const { ExperimentSpec } = await import('@arcal/contracts');
    console.log(JSON.stringify(ExperimentSpec, null, 2));
    return 0;
  },
  doctor: async (argv) =>
    (await import('./commands/doctor.ts')).doctorCommand(await parse(argv, { boolean: ['json'], string: ['backend'] })),
  predict: async (argv) =>
    (await import('./commands/predict.ts')).predictCommand(
      await parse(argv, { string: ['model', 'data', 'limit', 'backend'] }),
    ),
  robustness: async (argv, signal) => (await import('./commands/robustness.ts')).robustnessCommand(argv, signal),
  submit: remote('submit'),
  status: remote('status'),
  logs: remote('logs'),
  cancel: remote('cancel'),
  retry: remote('retry'),
  report: remote('report'),
  list: remote('list'),
  studies: remote('studies'),
  keys: async (argv) => (await import('@arcal/db/keys')).keysCommand(argv),
};

async function dispatch(argv: string[], signal: AbortSignal): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(HELP);
    return cmd === undefined ? 2 : 0;
  }
  const run = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!run) {
    process.stderr.write(`arcal: unknown command "${cmd}" (arcal --help lists them)\n`);
    return 2;
  }
  return run(rest, signal);
}

/** One line (or one per spec problem) on stderr, and the exit code the error means. */
async function reportError(e: unknown): Promise<number> {
  if ((e as Error)?.name === 'AbortError') {
    process.stderr.write(
      `arcal: interrupted — ${(e as Error).message}; continue with \`arcal run --resume <out dir>\`\n`,
    );
    return 130;
  }
  const { isArcalError } = await import('@arcal/contracts');
  if (isArcalError(e)) {
    const lines = e.details.length ? (await import('./spec-file.ts')).problemLines(e) : [];
    if (lines.length) for (const l of lines) process.stderr.write(`${l}\n`);
    else process.stderr.write(`arcal: ${e.message}\n`);
    return EXIT_INVALID.has(e.code) ? 2 : 1;
  }
  process.stderr.write(`arcal: ${(e as Error)?.message ?? String(e)}\n`);
  if (process.env.ARCAL_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  return 1;
}

async function main(): Promise<void> {
  const ac = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\ninterrupt: stopping after the current batch (press Ctrl-C again to quit at once)\n');
    ac.abort();
  });
  process.on('SIGTERM', () => ac.abort());
  try {
    process.exitCode = await dispatch(process.argv.slice(2), ac.signal);
  } catch (e) {
    process.exitCode = await reportError(e);
  }
  // tfjs-wasm keeps no handles open, but a stray timer must not keep a finished command alive
  setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
}

await main();
