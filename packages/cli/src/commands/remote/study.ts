/** `arcal study <study.json> --remote [--wait] [--idempotency-key k] [--json]`: queue a study on the service. */
import { ArcalError, studyProblems } from '@arcal/contracts';
import { str } from '../../args.ts';
import { printJson, type RemoteCommandModule, readJson } from './shared.ts';
import { finishStudy, followStudy } from './study-view.ts';

const usage = 'arcal study <study.json> --remote [--wait] [--idempotency-key k] [--json]';

export default {
  usage,
  options: { boolean: ['remote', 'wait', 'json'], string: ['idempotency-key'] },
  async run(a, client, io) {
    const file = a.positionals[0];
    if (!a.flags.remote || !file || a.positionals.length > 1) throw new ArcalError('INVALID_INPUT', `usage: ${usage}`);
    const raw = readJson(file);
    // The document's own rules are checked here first; the expanded experiments are checked by the service,
    // which names each problem by its path in the study (base.…, vary.<path>.<index>).
    const problems = studyProblems(raw);
    if (problems.length) throw new ArcalError('INVALID_SPEC', `${file}: ${problems.length} problem(s)`, problems);
    const key = str(a, 'idempotency-key');
    const s = await client.submitStudy(raw, key ? { idempotencyKey: key } : {});
    if (!a.flags.wait) {
      if (a.flags.json) printJson(io, s);
      else
        io.stdout.write(
          `${s.id} ${s.status}: ${s.experiments.length} experiments (estimated ${Math.round(s.estimate.seconds)} CPU-seconds in all)\n`,
        );
      return 0;
    }
    if (!a.flags.json) io.stderr.write(`submitted study ${s.id}: ${s.experiments.length} experiments\n`);
    return finishStudy(await followStudy(client, s.id, io, Boolean(a.flags.json)), io, Boolean(a.flags.json));
  },
} satisfies RemoteCommandModule;
