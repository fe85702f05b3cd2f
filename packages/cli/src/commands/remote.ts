/**
 * `arcal submit|status|logs|cancel|retry|report|list`, `arcal study <file> --remote` and `arcal studies`
 * (`studies cancel|delete <id>` too): the service from the command line, through
 * @arcal/client against ARCAL_URL with ARCAL_API_KEY. One file per command in remote/; this one reads the
 * arguments, loads the command, and turns every error into lines and an exit code. Progress goes to stderr
 * (redrawn per job on a TTY, plain lines otherwise), results to stdout; `--json` prints machine-readable
 * results only.
 * Exit codes: 0 ok, 1 failure (the API's error, or an experiment that did not succeed), 2 invalid input
 * or spec (one line per problem), 130 interrupted.
 */
import { ApiError, ArcalClient, isApiError } from '@arcal/client';
import { formatProblem, isArcalError } from '@arcal/contracts';
import { parseArgs } from '../args.ts';
import type { RemoteCommandModule, RemoteIo } from './remote/shared.ts';

export { reportMarkdown } from './remote/report-markdown.ts';
export type { RemoteIo } from './remote/shared.ts';

const LOAD = {
  submit: () => import('./remote/submit.ts'),
  status: () => import('./remote/status.ts'),
  logs: () => import('./remote/logs.ts'),
  cancel: () => import('./remote/cancel.ts'),
  retry: () => import('./remote/retry.ts'),
  report: () => import('./remote/report.ts'),
  list: () => import('./remote/list.ts'),
  study: () => import('./remote/study.ts'),
  studies: () => import('./remote/studies.ts'),
} satisfies Record<string, () => Promise<{ default: RemoteCommandModule }>>;

export type RemoteCommand = keyof typeof LOAD;
export const REMOTE_COMMANDS = Object.keys(LOAD) as RemoteCommand[];

const INVALID = new Set(['INVALID_SPEC', 'INVALID_INPUT', 'NOT_IMPLEMENTED']);

/** Runs one remote command; never throws for API or input errors (they become lines and exit codes). */
export async function remoteCommand(cmd: RemoteCommand, argv: string[], io: RemoteIo): Promise<number> {
  try {
    const command = (await LOAD[cmd]()).default;
    const a = parseArgs(argv, command.options);
    const client = ArcalClient.fromEnv(io.env, io.fetch ? { fetch: io.fetch } : {});
    return await command.run(a, client, io);
  } catch (e) {
    if ((e as Error)?.name === 'AbortError' || io.signal?.aborted) {
      io.stderr.write('arcal: interrupted (the experiment keeps running on the service)\n');
      return 130;
    }
    if (isApiError(e)) {
      if (INVALID.has(e.code) && e.details.length) {
        for (const d of e.details) io.stderr.write(`${formatProblem(d)}\n`);
        return 2;
      }
      io.stderr.write(`arcal: ${e.describe()}\n`);
      if (e.code === 'BUDGET_EXCEEDED' && e.body.estimate)
        io.stderr.write(`estimate: ${JSON.stringify(e.body.estimate)}\n`);
      return INVALID.has(e.code) || (e.code === 'UNAUTHORIZED' && e.status === 0) ? 2 : 1;
    }
    if (isArcalError(e)) {
      if (e.details.length) for (const d of e.details) io.stderr.write(`${formatProblem(d)}\n`);
      else io.stderr.write(`arcal: ${e.message}\n`);
      return INVALID.has(e.code) ? 2 : 1;
    }
    throw e;
  }
}

export { ApiError };
