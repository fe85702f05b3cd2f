import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArcalClient } from '@arcal/client';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE, sampleReport } from '../../charts/test/report-fixture.ts';
import { type LiveApi, smallSpec, startApi } from '../../client/test/live-api.ts';
import { type RemoteCommand, remoteCommand } from '../src/commands/remote.ts';

const integration = await integrationEnv('cli-remote');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const dir = mkdtempSync(join(tmpdir(), 'arcal-cli-remote-'));
const specFile = (name: string, spec: unknown) => {
  const f = join(dir, `${name}.json`);
  writeFileSync(f, JSON.stringify(spec));
  return f;
};

describe.skipIf(!env)('arcal remote commands against the real API', () => {
  let api: LiveApi;
  let client: ArcalClient;

  /** Starts a command; `until` waits for its output to match (e.g. proof that it follows the stream). */
  const start = (cmd: RemoteCommand, argv: string[], o: { tty?: boolean; env?: Record<string, string> } = {}) => {
    const out = { stdout: '', stderr: '' };
    const done = remoteCommand(cmd, argv, {
      env: o.env ?? { ARCAL_URL: api.url, ARCAL_API_KEY: api.key },
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s), isTTY: o.tty ?? false },
      pollMs: 50,
    }).then((code) => ({ code, ...out }));
    const until = async (seen: (o: { stdout: string; stderr: string }) => boolean) => {
      const t0 = Date.now();
      while (!seen(out)) {
        if (Date.now() - t0 > 20_000) throw new Error(`timed out waiting for output; so far: ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    return { done, until };
  };
  const run = (cmd: RemoteCommand, argv: string[], o: { tty?: boolean; env?: Record<string, string> } = {}) =>
    start(cmd, argv, o).done;

  /** Plays a worker: runs the experiment to `status`, publishing events as the workers do. */
  async function playWorker(id: string, status: 'succeeded' | 'failed') {
    await api.deps.repos.experiments.transition(id, ['queued'], 'running');
    await api.deps.events.publish(id, { type: 'status', status: 'running' });
    await api.deps.events.publish(id, { type: 'job', jobId: 'j1', kind: 'train:member', state: 'active' });
    for (const epoch of [1, 2]) {
      const log = await api.deps.repos.results.appendLog(id, 'info', `epoch ${epoch} done`);
      await api.deps.events.publish(id, {
        type: 'epoch',
        member: 0,
        epoch,
        record: { trainLoss: 1 - epoch / 4, trainAccuracy: 0.5 },
      });
      await api.deps.events.publish(id, {
        type: 'log',
        id: log.id.toString(),
        level: 'info',
        message: log.message,
        at: log.createdAt.toISOString(),
      });
    }
    if (status === 'succeeded') {
      const e = await client.get(id);
      await api.deps.repos.results.saveReport(id, sampleReport(e.spec));
      await api.deps.repos.experiments.transition(id, ['running'], 'succeeded');
    } else {
      await api.deps.repos.experiments.transition(id, ['running'], 'failed', {
        code: 'TRAINING_DIVERGED',
        message: 'loss became NaN',
      });
    }
    await api.deps.events.publish(id, { type: 'status', status });
  }

  beforeAll(async () => {
    api = await startApi(env!);
    client = new ArcalClient({ baseUrl: api.url, apiKey: api.key });
  });
  afterAll(() => api?.close());

  it('submit: an invalid spec exits 2 with one line per problem, before any request', async () => {
    const bad = smallSpec('bad') as Record<string, any>;
    bad.training.epochs = 0;
    bad.ensemble.members = 0;
    const r = await run('submit', [specFile('bad', bad)]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => l.split(':')[0]).sort()).toEqual(['ensemble.members', 'training.epochs']);
    expect((await client.list()).items).toHaveLength(0);
    expect((await run('submit', [join(dir, 'missing.json')])).code).toBe(2);
    writeFileSync(join(dir, 'broken.json'), '{');
    expect((await run('submit', [join(dir, 'broken.json')])).stderr).toMatch(/not valid JSON/);
  });

  it('submit: problems only the service knows come back as lines with exit 2 too', async () => {
    const r = await run('submit', [specFile('path', smallSpec('p', { dataset: { name: 'synthetic', path: '/etc' } }))]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'dataset.path: is not accepted by the service: datasets are named from the server registry',
    );
  });

  it('submit prints the id; --json prints the API answer; status and list see it', async () => {
    const r = await run('submit', [specFile('ok', smallSpec('plain'))]);
    expect(r.code).toBe(0);
    const [id, status] = r.stdout.trim().split(' ');
    expect(status).toBe('queued');
    const st = await run('status', [id!]);
    expect(st.stdout).toContain('status    queued (attempt 1)');
    expect(st.stdout).toContain('progress  0/2 epochs (0%)');
    const j = await run('status', [id!, '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ id, status: 'queued', progress: { done: 0, total: 2, fraction: 0 } });
    const list = await run('list', ['--json']);
    expect(JSON.parse(list.stdout).map((e: { id: string }) => e.id)).toContain(id);
    const text = await run('list', ['--status', 'queued']);
    expect(text.stdout.split('\n')[0]).toMatch(/^id\s+status\s+method\s+dataset/);
    expect(text.stdout).toContain(id);
    const sj = await run('submit', [specFile('ok2', smallSpec('json')), '--json']);
    expect(JSON.parse(sj.stdout)).toMatchObject({
      status: 'queued',
      links: { self: expect.stringMatching(/^\/v1\/experiments\//) },
    });
  });

  it('submit --wait follows to success (exit 0) and prints plain progress lines off a TTY', async () => {
    const cmd = start('submit', [specFile('wait', smallSpec('wait-ok')), '--wait']);
    // The snapshot's status line proves the stream is subscribed (the API subscribes before sending it).
    await cmd.until((o) => o.stderr.includes('status queued'));
    const id = (await client.list()).items.find((e) => e.name === 'wait-ok')!.id;
    await playWorker(id, 'succeeded');
    const r = await cmd.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${id} succeeded`);
    expect(r.stdout).toContain('test accuracy 0.8100  ECE 0.0430');
    expect(r.stderr).toContain('status succeeded');
    expect(r.stderr).not.toContain('\x1b['); // no cursor control off a TTY
  });

  it('submit --wait exits 1 when the experiment fails; on a TTY it redraws per member', async () => {
    const cmd = start('submit', [specFile('fail', smallSpec('wait-fail')), '--wait'], { tty: true });
    await cmd.until((o) => o.stderr.includes('status queued'));
    const id = (await client.list()).items.find((e) => e.name === 'wait-fail')!.id;
    await playWorker(id, 'failed');
    const r = await cmd.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('TRAINING_DIVERGED: loss became NaN');
    // Each redraw moves the cursor up over the previous drawing: status + one member line (2), then
    // status + member + the active job (3).
    expect(r.stderr).toContain('\u001b[2A');
    expect(r.stderr).toContain('\u001b[3A');
    expect(r.stderr).toContain('member 0');
  });

  it('logs, logs --follow (no line lost or doubled), cancel, retry and error exits', async () => {
    const s = await client.submit(smallSpec('logs'));
    await api.deps.repos.results.appendLog(s.id, 'info', 'stored before');
    const cmd = start('logs', [s.id, '--follow']);
    await cmd.until((o) => o.stdout.includes('stored before')); // printed after the stream's first event
    await playWorker(s.id, 'failed');
    const r = await cmd.done;
    expect(r.code).toBe(1);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(2).join(' ')),
    ).toEqual(['stored before', 'epoch 1 done', 'epoch 2 done']);
    const all = await run('logs', [s.id, '--json']);
    expect(
      all.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).message),
    ).toEqual(['stored before', 'epoch 1 done', 'epoch 2 done']);

    const retried = await run('retry', [s.id]);
    expect([retried.code, retried.stdout.trim()]).toEqual([0, `${s.id} queued (attempt 2)`]);
    expect((await run('cancel', [s.id])).stdout.trim()).toBe(`${s.id} cancelled`);
    const again = await run('cancel', [s.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/CONFLICT, HTTP 409, request [0-9a-f-]{36}\)/);
    expect((await run('status', ['00000000-0000-0000-0000-000000000000'])).stderr).toMatch(/NOT_FOUND, HTTP 404/);
    expect((await run('status', [])).code).toBe(2);
    expect((await run('status', ['x'], { env: { ARCAL_URL: api.url } })).code).toBe(2);
    const down = await run('list', [], { env: { ARCAL_URL: 'http://127.0.0.1:1', ARCAL_API_KEY: 'k' } });
    expect([down.code, down.stderr]).toEqual([1, expect.stringContaining('cannot reach http://127.0.0.1:1')]);
    expect((await run('report', [s.id])).code).toBe(1);
  });

  it('report: json is the stored report; md has the tables; --figures writes the charts as SVG and PNG', async () => {
    const s = await client.submit(smallSpec('reported'));
    await playWorker(s.id, 'succeeded');
    const j = await run('report', [s.id, '--format', 'json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual((await client.get(s.id)).report);

    const figs = join(dir, 'figs');
    const out = join(dir, 'out', 'report.md');
    const md = await run('report', [s.id, '--format', 'md', '--figures', figs, '--out', out]);
    expect(md.code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('| 0.8100 | 0.0430 | 0.5200 | 0.2700 |');
    // One row per robustness subset in the per-subset table
    const subsetRows = text.split('\n').filter((l) => /^\| \d \| 32 \|/.test(l));
    expect(subsetRows).toHaveLength(FIXTURE.subsets);
    expect(text).toContain('![ECE per subset](../figs/subset-ece.svg)');
    const files = readdirSync(figs).sort();
    const names = [
      'epoch-curves',
      'ood-entropy',
      'reliability',
      'shift-severity',
      'soft-labels',
      'subset-acc-conf',
      'subset-ece',
    ];
    expect(files).toEqual(names.flatMap((n) => [`${n}.png`, `${n}.svg`]).sort());
    const svg = readFileSync(join(figs, 'subset-ece.svg'), 'utf8');
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(FIXTURE.subsets);
    expect([...readFileSync(join(figs, 'subset-ece.png')).subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);
    expect((await run('report', [s.id, '--format', 'html'])).code).toBe(2);
  });

  it('study --remote: problems by study path (exit 2), then queued; studies lists and shows it', async () => {
    const before = (await client.listAll()).length;
    const doc = { name: 'cli-sweep', base: smallSpec('b'), vary: { 'training.learningRate': [0.05, 0.1], seed: [1] } };
    const own = await run('study', [specFile('st-own', { ...doc, vary: { seed: [] }, extra: 1 }), '--remote']);
    expect(own.code).toBe(2);
    expect(own.stderr.trim().split('\n').sort()).toEqual([
      'extra: unexpected property',
      'vary.seed: expected array length to be greater or equal to 1',
    ]);
    const bad = { ...doc, base: { ...doc.base, training: { ...doc.base.training, epochs: 0 } } };
    const service = await run('study', [specFile('st-bad', bad), '--remote']);
    expect([service.code, service.stderr.trim()]).toEqual([2, 'base.training.epochs: must be >= 1']);
    expect((await client.listAll()).length).toBe(before);
    expect((await run('study', [specFile('st-noremote', doc)])).code).toBe(2);

    const r = await run('study', [specFile('st-ok', doc), '--remote']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f-]{36} queued: 2 experiments \(estimated \d+ CPU-seconds in all\)\n$/);
    const id = r.stdout.split(' ')[0]!;
    const list = await run('studies', []);
    expect(list.stdout.split('\n')[0]).toMatch(/^id\s+status\s+finished\s+varied/);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+queued\\s+0/2\\s+training.learningRate, seed`));
    const one = await run('studies', [id]);
    expect(one.stdout).toContain('status    queued; 0/2 experiments finished');
    expect(one.stdout).toContain('cli-sweep.training.learningRate=0.1_seed=1');
    expect(JSON.parse((await run('studies', [id, '--json'])).stdout).experiments).toHaveLength(2);
  });

  it('study --remote --wait follows the study and ends with its report (exit 0), or exit 1 when one failed', async () => {
    const doc = { name: 'cli-wait', base: smallSpec('b'), vary: { seed: [1, 2] } };
    const cmd = start('study', [specFile('st-wait', doc), '--remote', '--wait']);
    let id = '';
    await cmd.until((o) => {
      id = /submitted study (\S+): 2 experiments/.exec(o.stderr)?.[1] ?? '';
      return id !== '';
    });
    await cmd.until((o) => o.stderr.includes('study queued: 0/2 finished'));
    const detail = await client.getStudy(id);
    // Test ECE 0.1 and 0.2 over the two seeds: 15.00 ± 7.07 (in %).
    for (const [i, e] of detail.experiments.entries()) {
      await api.deps.repos.experiments.transition(e.id, ['queued'], 'running');
      const report = sampleReport(e);
      report.final.ece = 0.1 * (i + 1);
      await api.deps.repos.results.saveReport(e.id, report);
      await api.deps.repos.experiments.transition(e.id, ['running'], 'succeeded');
    }
    const r = await cmd.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('study succeeded: 2/2 finished (2 succeeded, 0 failed, 0 cancelled, 0 running)');
    expect(r.stdout).toContain('status    succeeded; 2/2 experiments finished');
    // seeds, test accuracy (0.81 in both) and test ECE, in %
    expect(r.stdout).toMatch(/\| 2 \| 81\.00 ± 0\.00 \| 15\.00 ± 7\.07 \|/);

    const failing = await client.submitStudy({ ...doc, name: 'cli-fail' });
    await api.deps.repos.experiments.transition(failing.experiments[0]!, ['queued'], 'cancelled');
    await api.deps.repos.experiments.transition(failing.experiments[1]!, ['queued'], 'failed');
    const f = await run('studies', [failing.id, '--wait']);
    expect(f.code).toBe(1);
    expect(f.stdout).toContain('status    failed; 2/2 experiments finished');
  });

  it('studies cancel / delete: one line each; delete of an unfinished study exits 1 with the reason', async () => {
    const s = await client.submitStudy({ name: 'cli-stop', base: smallSpec('b'), vary: { seed: [1, 2] } });
    await api.deps.repos.experiments.transition(s.experiments[0]!, ['queued'], 'running');
    const busy = await run('studies', ['delete', s.id]);
    expect(busy.code).toBe(1);
    expect(busy.stdout).toBe('');
    expect(busy.stderr).toMatch(
      new RegExp(
        `^arcal: study ${s.id} has unfinished experiments \\(1 queued, 1 running\\); cancel it before deleting \\(CONFLICT, HTTP 409, request [0-9a-f-]{36}\\)\n$`,
      ),
    );
    const c = await run('studies', ['cancel', s.id]);
    expect([c.code, c.stdout]).toEqual([0, `${s.id} cancelled: 2/2 finished (0 succeeded, 0 failed, 2 cancelled)\n`]);
    const again = await run('studies', ['cancel', s.id, '--json']);
    expect([again.code, JSON.parse(again.stdout).counts.cancelled]).toEqual([0, 2]);
    const d = await run('studies', ['delete', s.id]);
    expect([d.code, d.stdout]).toEqual([0, `${s.id} deleted\n`]);
    const gone = await run('studies', ['delete', s.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^arcal: study .* not found \(NOT_FOUND, HTTP 404, request /);
    expect((await run('studies', ['cancel'])).code).toBe(2);
    expect((await run('studies', ['delete', s.id, 'extra'])).code).toBe(2);
  });

  it('studies <id> shows a partial report while experiments are unfinished', async () => {
    const s = await client.submitStudy({ name: 'cli-partial', base: smallSpec('b'), vary: { seed: [1, 2] } });
    const e = s.experiments[0]!;
    await api.deps.repos.experiments.transition(e, ['queued'], 'running');
    await api.deps.repos.results.saveReport(e, sampleReport((await client.get(e)).spec));
    await api.deps.repos.experiments.transition(e, ['running'], 'succeeded');
    const r = await run('studies', [s.id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Partial: 1 of 2 experiments so far');
    expect(r.stdout).toContain('not aggregated (not finished or did not succeed): cli-partial.seed=2');
  });

  it('the arcal binary dispatches the remote commands and exits 0 / 1 / 2', async () => {
    const bin = fileURLToPath(new URL('../bin/arcal.js', import.meta.url));
    const arcal = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [bin, ...args],
          { env: { ...process.env, ARCAL_URL: api.url, ARCAL_API_KEY: api.key }, timeout: 30_000 },
          (err, stdout, stderr) =>
            resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const bad = smallSpec('bin-bad') as Record<string, any>;
    bad.training.epochs = 0;
    const [list, invalid, missing, help, studies] = await Promise.all([
      arcal('list', '--json'),
      arcal('submit', specFile('bin-bad', bad)),
      arcal('status', '00000000-0000-0000-0000-000000000000'),
      arcal('--help'),
      arcal('studies', '--json'),
    ]);
    expect([studies.code, JSON.parse(studies.stdout).length]).toEqual([0, (await client.listAllStudies()).length]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).length).toBe((await client.listAll()).length);
    expect([invalid.code, invalid.stderr.trim()]).toEqual([2, 'training.epochs: must be >= 1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^arcal: experiment .* not found \(NOT_FOUND, HTTP 404, request /);
    for (const c of ['submit', 'status', 'logs', 'cancel', 'retry', 'report', 'list', 'study', 'studies'])
      expect(help.stdout).toContain(`arcal ${c} `);
  });
});
