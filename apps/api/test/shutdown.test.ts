/**
 * The API server as a real process: SIGTERM with a live event stream, then a new API instance (in this
 * process, to keep the test short: what carries over a restart is Redis and Postgres, not process state)
 * resuming the stream from `Last-Event-ID`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRedis, EventPublisher, type ExperimentEvent } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api-shutdown');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const entry = fileURLToPath(new URL('../src/server.ts', import.meta.url));
const key = `arcal_shutdown_${Math.random().toString(36).slice(2)}`;
const artifactDir = mkdtempSync(join(tmpdir(), 'arcal-shutdown-'));
const spec = JSON.parse(readFileSync(new URL('./fixtures/vanilla-synthetic.json', import.meta.url), 'utf8'));

interface Server {
  child: ChildProcess;
  base: string;
  exited: Promise<number | string | null>;
  output: () => string;
}

/** Starts `apps/api/src/server.ts` on a free port; resolves once it listens. */
async function startServer(shutdownTimeoutMs = 20_000): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: {
      ...process.env,
      DATABASE_URL: env!.databaseUrl,
      REDIS_URL: env!.redisUrl,
      ARCAL_QUEUE_PREFIX: env!.prefix,
      ARTIFACT_DIR: artifactDir,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      ARCAL_BOOTSTRAP_KEY: key,
      SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string | null>((r) => child.once('exit', (code, sig) => r(code ?? sig)));
  const base = await new Promise<string>((resolve, reject) => {
    const look = (d: Buffer) => {
      out += d;
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    exited.then((code) => reject(new Error(`the API exited (${code}) before listening:\n${out}`)));
  });
  return { child, base, exited, output: () => out };
}

interface Sse {
  id?: string;
  event: string;
  data: any;
  retry?: number;
}

/** An event stream read block by block (the WHATWG framing, enough for what the API writes). */
async function openStream(base: string, id: string, lastEventId?: string) {
  const res = await fetch(`${base}/v1/experiments/${id}/events`, {
    headers: { authorization: `Bearer ${key}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  const pending: Sse[] = [];
  const fill = async () => {
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      return;
    }
    buffer += decoder.decode(value, { stream: true });
    let cut = buffer.indexOf('\n\n');
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf('\n\n');
      const ev: Sse = { event: 'message', data: undefined };
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const [field, ...rest] = line.split(': ');
        const value = rest.join(': ');
        if (field === 'id') ev.id = value;
        else if (field === 'event') ev.event = value;
        else if (field === 'data') data += value;
        else if (field === 'retry') ev.retry = Number(value);
      }
      if (data) pending.push({ ...ev, data: JSON.parse(data) });
    }
  };
  return {
    /** The next `n` events (fewer when the stream ends first). */
    async take(n: number): Promise<Sse[]> {
      while (pending.length < n && !ended) await fill();
      return pending.splice(0, n);
    },
    /** Everything until the server ends the stream. */
    async rest(): Promise<Sse[]> {
      while (!ended) await fill();
      return pending.splice(0);
    },
  };
}

const ms = (id: string) => id.split('-').map(BigInt) as [bigint, bigint];
const after = (a: string, b: string) => {
  const [am, as] = ms(a);
  const [bm, bs] = ms(b);
  return am > bm || (am === bm && as > bs);
};

describe.skipIf(!env)('API shutdown with live event streams (real server processes)', () => {
  it('SIGTERM: the stream gets `shutdown` with a retry, the process exits though the experiment runs on; a new instance resumes from Last-Event-ID without repeats or gaps', async () => {
    const redis = createRedis(env!.redisUrl, 'producer');
    const publisher = new EventPublisher(redis, env!.prefix);
    const epoch = (n: number): ExperimentEvent => ({ type: 'epoch', member: 0, epoch: n, record: { n } });
    let first: Server | undefined;
    let second: Awaited<ReturnType<typeof testApp>> | undefined;
    try {
      first = await startServer();
      const submitted = await fetch(`${first.base}/v1/experiments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(spec),
      });
      expect(submitted.status).toBe(202);
      const { id } = (await submitted.json()) as { id: string };

      const stream = await openStream(first.base, id);
      const [snapshot] = await stream.take(1);
      expect(snapshot.event).toBe('snapshot');
      expect(snapshot.id).toBe('0-0'); // nothing published yet
      await publisher.publish(id, epoch(1));
      await publisher.publish(id, epoch(2));
      const live = await stream.take(2);
      expect(live.map((e) => e.data.epoch)).toEqual([1, 2]);
      expect(after(live[0].id!, snapshot.id!)).toBe(true);
      expect(after(live[1].id!, live[0].id!)).toBe(true);

      // The experiment stays queued (no worker): the server must not wait for it.
      first.child.kill('SIGTERM');
      const closing = await stream.rest();
      expect(closing.map((e) => e.event)).toEqual(['shutdown']);
      expect(closing[0].retry).toBeGreaterThan(0);
      expect(closing[0].data.retryMs).toBe(closing[0].retry);
      // 0: closed by itself; the 20 s bound would have exited with 1
      expect(await first.exited).toBe(0);

      // Published while no API runs: a reconnecting client must still get them.
      await publisher.publish(id, epoch(3));
      await publisher.publish(id, epoch(4));

      second = await testApp(env!);
      const base = await second.app.listen({ host: '127.0.0.1', port: 0 });
      const resumed = await openStream(base, id, live[1].id);
      const missed = await resumed.take(2);
      expect(missed.map((e) => [e.event, e.data.epoch])).toEqual([
        ['epoch', 3],
        ['epoch', 4],
      ]);
      expect(after(missed[0].id!, live[1].id!)).toBe(true);
      expect(after(missed[1].id!, missed[0].id!)).toBe(true);
      await publisher.publish(id, epoch(5));
      await publisher.publish(id, { type: 'status', status: 'cancelled' });
      const tail = await resumed.rest();
      expect(tail.map((e) => e.event)).toEqual(['epoch', 'status', 'end']);
      expect(tail[0].data.epoch).toBe(5);
      expect(after(tail[0].id!, missed[1].id!)).toBe(true);

      // Without Last-Event-ID: a snapshot whose id is the last event's, so a later resume starts there.
      const fresh = await openStream(base, id);
      const [snap2] = await fresh.take(1);
      expect(snap2.event).toBe('snapshot');
      expect(snap2.id).toBe(tail[1].id);
      // From the first snapshot's id: all six events once each, in order.
      const replayStream = await openStream(base, id, snapshot.id);
      const replay = await replayStream.take(6);
      expect(replay.map((e) => e.data.epoch ?? e.data.status)).toEqual([1, 2, 3, 4, 5, 'cancelled']);
      expect(replay.map((e) => e.id)).toEqual([...live, ...missed, ...tail.slice(0, 2)].map((e) => e.id));

      // The replay held the final status, so that stream ended; the other is still open (the row says queued).
      expect((await replayStream.rest()).map((e) => e.event)).toEqual(['end']);
      // Once the row says finished too, a resume whose replay holds the final status ends the stream once.
      await second.deps.repos.experiments.transition(id, ['queued'], 'cancelled');
      const again = await (await openStream(base, id, snapshot.id)).rest();
      expect(again.map((e) => e.event)).toEqual(['epoch', 'epoch', 'epoch', 'epoch', 'epoch', 'status', 'end']);
      // Closing this instance ends the open stream with `shutdown` too (else close would wait on it).
      const open = fresh.rest();
      await second.close();
      second = undefined;
      expect((await open).map((e) => e.event)).toEqual(['shutdown']);
    } finally {
      if (first && first.child.exitCode === null) first.child.kill('SIGKILL');
      await second?.close();
      redis.disconnect();
    }
  }, 60_000);

  it('exits at the stated bound, with code 1, when a request never finishes', async () => {
    const server = await startServer(1000);
    const { hostname, port } = new URL(server.base);
    const socket = connect(Number(port), hostname);
    try {
      // A body announced at 100 bytes of which 10 ever arrive: the request stays in flight.
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(
        `POST /v1/experiments HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"name":"x`,
      );
      // Signal only once the server has logged the request as started (then it is in flight, not an idle socket).
      while (!/"msg":"incoming request"[^\n]*"POST"|"POST"[^\n]*"msg":"incoming request"/.test(server.output()))
        await new Promise((r) => setTimeout(r, 50));
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(1);
      expect(server.output()).toContain('shutdown bound reached');
    } finally {
      socket.destroy();
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  }, 60_000);
});
