/** /v1/experiments: submit, list, read, follow (SSE), logs, artifacts, cancel, retry, delete. */
import {
  ArcalError,
  ArtifactList,
  type Estimate,
  Experiment,
  ExperimentDetail,
  ExperimentMetrics,
  ExperimentPage,
  ExperimentSpecBody,
  ExperimentSubmitted,
  LogPage,
  type MetricRow,
  ref,
  type Static,
  statusUnion,
} from '@arcal/contracts';
import {
  compareEventIds,
  EVENT_ID,
  type EventSubscriber,
  type ExperimentEvent,
  type ExperimentRow,
  FINISHED,
  type Repositories,
} from '@arcal/db';
import { type ArtifactStore, InvalidKeyError, ObjectNotFoundError, type OpenedObject } from '@arcal/storage';
import { Type as T } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { idempotencyKeyOf } from '../plugins/input-guard.ts';
import { errors, IdempotencyHeaders, IdParams, rawResponse, security, type TypeBoxProvider } from '../schemas.ts';
import type { ExperimentsService } from '../services/experiments.service.ts';

export interface ExperimentRoutesDeps {
  service: ExperimentsService;
  repos: Repositories;
  subscriber: EventSubscriber;
  authenticate: (request: FastifyRequest) => Promise<void>;
  /** Where artifact bytes live (local folder or S3); an artifact's `path` is its key there. */
  store: ArtifactStore;
  /** Answer downloads with a redirect to a presigned URL where the store can sign one (ARTIFACT_PRESIGN=1). */
  presign: boolean;
}

export const linksOf = (id: string) => {
  const self = `/v1/experiments/${id}`;
  return {
    self,
    events: `${self}/events`,
    metrics: `${self}/metrics`,
    logs: `${self}/logs`,
    artifacts: `${self}/artifacts`,
    cancel: `${self}/cancel`,
    retry: `${self}/retry`,
  };
};

export const viewOf = (e: ExperimentRow) => ({
  id: e.id,
  name: e.name,
  status: e.status,
  attempt: e.attempt,
  spec: e.spec,
  // JSON columns, written by this API and the workers in these shapes
  estimate: e.estimate as Static<typeof Estimate>,
  error: (e.error ?? null) as { code?: string; message?: string } | null,
  createdAt: e.createdAt.toISOString(),
  startedAt: e.startedAt?.toISOString() ?? null,
  finishedAt: e.finishedAt?.toISOString() ?? null,
  links: linksOf(e.id),
});

/** What JSON.stringify writes for a float: the serializer would refuse a NaN outright. */
const finiteOrNull = (x: number | null) => (x !== null && Number.isFinite(x) ? x : null);

const MAX_BIGINT = 2n ** 63n - 1n;

/** A log id from `?after=` (PostgreSQL bigint); 400 beyond its range rather than an error from the database. */
function logCursor(after: string | undefined): bigint {
  const n = BigInt(after ?? '0');
  if (n > MAX_BIGINT)
    throw new ArcalError('INVALID_INPUT', 'the request is invalid', [
      { path: 'querystring.after', message: `must be at most ${MAX_BIGINT} (a log id)` },
    ]);
  return n;
}

/** The `retry` an event stream's client is given when the server shuts down, ms. */
export const RECONNECT_MS = 1000;

export async function experimentRoutes(app: FastifyInstance, deps: ExperimentRoutesDeps): Promise<void> {
  const { service, repos, subscriber } = deps;
  app.addHook('preHandler', deps.authenticate);
  const api = app.withTypeProvider<TypeBoxProvider>();
  const projectOf = (r: FastifyRequest) => r.principal!.projectId;
  // Open event streams: each gets a `shutdown` event before the server stops (else close waits on them).
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const shutdown of [...streams]) shutdown();
  });

  api.post(
    '/v1/experiments',
    {
      schema: {
        operationId: 'submitExperiment',
        summary: 'Submit an experiment',
        description:
          'Validates the spec (every problem reported with its dot path), checks the dataset registry and the cost budget, stores the experiment and queues it. `Idempotency-Key` makes a retried submission return the first one.',
        tags: ['experiments'],
        security,
        headers: IdempotencyHeaders,
        body: ref(ExperimentSpecBody),
        response: {
          202: ref(ExperimentSubmitted),
          200: ref(ExperimentSubmitted),
          ...errors(400, 401, 409, 413, 422, 429),
        },
      },
      // The spec is documented here but validated by validateSpec, which reports every problem with its
      // dot path and never coerces or strips the document the way Fastify's default validator would.
      validatorCompiler: ({ httpPart }) => (httpPart === 'body' ? (value: unknown) => ({ value }) : () => true),
    },
    async (request, reply) => {
      const { experiment, created } = await service.submit(projectOf(request), request.body, idempotencyKeyOf(request));
      reply.status(created ? 202 : 200).header('location', linksOf(experiment.id).self);
      return {
        id: experiment.id,
        status: experiment.status,
        estimate: experiment.estimate as Static<typeof Estimate>,
        links: linksOf(experiment.id),
      };
    },
  );

  api.get(
    '/v1/experiments',
    {
      schema: {
        operationId: 'listExperiments',
        summary: 'List experiments of the caller’s project, newest first',
        tags: ['experiments'],
        security,
        querystring: T.Object({
          status: T.Optional(statusUnion()),
          limit: T.Optional(T.Integer({ minimum: 1, maximum: 100, default: 20 })),
          cursor: T.Optional(T.String({ description: '`next` of the previous page' })),
        }),
        response: {
          200: ref(ExperimentPage),
          ...errors(400, 401),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await repos.experiments.list(projectOf(request), {
        status: q.status,
        limit: q.limit ?? 20,
        cursor: q.cursor,
      });
      return { items: page.items.map(viewOf), next: page.next };
    },
  );

  api.get(
    '/v1/experiments/:id',
    {
      schema: {
        operationId: 'getExperiment',
        summary: 'One experiment, with its runs and report when finished',
        tags: ['experiments'],
        security,
        params: IdParams,
        response: { 200: ref(ExperimentDetail), ...errors(401, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const e = await service.get(projectOf(request), id);
      const runs = await repos.runs.listForExperiment(id);
      const report = e.status === 'succeeded' ? await repos.results.getReport(id) : null;
      return {
        ...viewOf(e),
        runs: runs.map((r) => ({ member: r.member, seed: r.seed, status: r.status, final: r.final })),
        report: report as Static<typeof ExperimentDetail>['report'],
      };
    },
  );

  api.get(
    '/v1/experiments/:id/metrics',
    {
      schema: {
        operationId: 'getExperimentMetrics',
        summary: 'Per-epoch metrics of every member (loss, accuracy, validation ECE, soft-label table)',
        tags: ['experiments'],
        security,
        params: IdParams,
        response: { 200: ref(ExperimentMetrics), ...errors(401, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      await service.get(projectOf(request), id);
      const rows = await repos.runs.metricsForExperiment(id);
      return {
        id,
        epochs: rows.map((r) => ({
          member: r.member,
          epoch: r.epoch,
          trainLoss: finiteOrNull(r.trainLoss),
          trainAccuracy: finiteOrNull(r.trainAccuracy),
          learningRate: finiteOrNull(r.learningRate),
          valLoss: finiteOrNull(r.valLoss),
          valAccuracy: finiteOrNull(r.valAccuracy),
          valEce: finiteOrNull(r.valEce),
          softLabels: r.softLabels as Static<typeof MetricRow>['softLabels'],
          seconds: finiteOrNull(r.seconds),
        })),
      };
    },
  );

  api.get(
    '/v1/experiments/:id/events',
    {
      schema: {
        operationId: 'followExperimentEvents',
        summary:
          'Server-sent events: first a `snapshot`, then `status`, `epoch`, `log`, `job`, `report`; ends with `end` once finished',
        description:
          "Ends with `shutdown` (carrying a `retry` delay) when the server stops: reconnect then. Event ids are the experiment's event-log ids, monotone across server restarts; a request with `Last-Event-ID` gets the events after that id and no snapshot (a snapshot again when the log no longer reaches back that far).",
        tags: ['experiments'],
        security,
        params: IdParams,
        response: {
          200: rawResponse('text/event-stream', 'The event stream (`id:`, `event:`, `data:` JSON lines)'),
          ...errors(401, 404),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const project = projectOf(request);
      await service.get(project, id);
      const given = request.headers['last-event-id'];
      // An id this server did not issue (or none) starts over with a snapshot rather than failing.
      const resumeFrom = typeof given === 'string' && EVENT_ID.test(given.trim()) ? given.trim() : undefined;
      // Subscribe before reading the event log or the snapshot so nothing published in between is lost;
      // what arrives both ways is dropped by id.
      const queue: Array<{ event: ExperimentEvent; id: string | undefined }> = [];
      let push: (event: ExperimentEvent, eventId: string | undefined) => void = (event, eventId) => {
        queue.push({ event, id: eventId });
      };
      const unsubscribe = await subscriber.subscribe(id, (event, eventId) => push(event, eventId));
      let last: string;
      let replay: Array<{ id: string; event: ExperimentEvent }> | undefined;
      let snapshot: unknown;
      let e: ExperimentRow;
      try {
        replay = resumeFrom ? await subscriber.history(id, resumeFrom) : undefined;
        if (replay) {
          last = resumeFrom!;
          e = await service.get(project, id);
        } else {
          // Read before the snapshot: every event up to this id is already reflected in it.
          last = await subscriber.lastEventId(id);
          e = await service.get(project, id);
          const metrics = await repos.runs.metricsForExperiment(id);
          snapshot = {
            experiment: viewOf(e),
            epochs: metrics.map((m) => ({ member: m.member, epoch: m.epoch, record: m.record })),
          };
        }
      } catch (err) {
        unsubscribe();
        throw err;
      }
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-request-id': String(request.id),
        'x-accel-buffering': 'no',
      });
      const send = (event: string, data: unknown, eventId?: string) =>
        raw.write(`${eventId ? `id: ${eventId}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      let closed = false;
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(shutdown);
        app.metrics?.sseStreams.dec();
        raw.end();
      };
      // Server shutdown: tell the client to come back (after `retry` ms, with the last id it saw) and let go.
      const shutdown = () => {
        if (closed) return;
        raw.write(
          `retry: ${RECONNECT_MS}\nevent: shutdown\ndata: ${JSON.stringify({ message: 'the server is restarting: reconnect with Last-Event-ID to resume', retryMs: RECONNECT_MS })}\n\n`,
        );
        close();
      };
      streams.add(shutdown);
      app.metrics?.sseStreams.inc();
      request.raw.on('close', close);
      // The client may have gone while the snapshot was read: its 'close' has fired already.
      if (raw.destroyed) {
        close();
        return;
      }
      const finishedNow = (status: string) => (FINISHED as string[]).includes(status);
      const forward = (ev: ExperimentEvent, eventId: string | undefined) => {
        if (closed) return;
        if (eventId !== undefined) {
          if (compareEventIds(eventId, last) <= 0) return;
          last = eventId;
        }
        send(ev.type, ev, eventId);
        if (ev.type === 'status' && finishedNow(ev.status)) {
          send('end', { status: ev.status });
          close();
        }
      };
      if (snapshot) send('snapshot', snapshot, last);
      for (const r of replay ?? []) forward(r.event, r.id);
      for (const q of queue.splice(0)) forward(q.event, q.id);
      if (closed) return;
      // Finished with its last status event already seen (or never published): nothing more will come.
      if (finishedNow(e.status)) {
        send('end', { status: e.status });
        close();
        return;
      }
      push = forward;
    },
  );

  api.get(
    '/v1/experiments/:id/logs',
    {
      schema: {
        operationId: 'listExperimentLogs',
        summary: 'Worker logs of an experiment, oldest first; page with `after`',
        tags: ['experiments'],
        security,
        params: IdParams,
        querystring: T.Object({
          after: T.Optional(
            T.String({ pattern: '^[0-9]{1,19}$', description: 'id of the last log already read (a bigint)' }),
          ),
          limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000, default: 200 })),
        }),
        response: {
          200: ref(LogPage),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const q = request.query;
      await service.get(projectOf(request), id);
      const limit = q.limit ?? 200;
      const rows = await repos.results.listLogs(id, logCursor(q.after), limit);
      return {
        items: rows.map((r) => ({
          id: r.id.toString(),
          at: r.createdAt.toISOString(),
          level: r.level,
          job: r.jobId,
          message: r.message,
          data: r.data,
        })),
        next: rows.length === limit ? rows[rows.length - 1]!.id.toString() : null,
      };
    },
  );

  api.get(
    '/v1/experiments/:id/artifacts',
    {
      schema: {
        operationId: 'listArtifacts',
        summary: 'Files an experiment produced (checkpoints, report.json)',
        tags: ['artifacts'],
        security,
        params: IdParams,
        response: { 200: ref(ArtifactList), ...errors(401, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      await service.get(projectOf(request), id);
      const rows = await repos.results.listArtifacts(id);
      return {
        items: rows.map((a) => ({
          name: a.name,
          size: Number(a.size),
          sha256: a.sha256.trim(),
          contentType: a.contentType,
        })),
      };
    },
  );

  api.get(
    '/v1/experiments/:id/artifacts/:name',
    {
      schema: {
        operationId: 'downloadArtifact',
        summary: 'Download one artifact (ETag = sha256)',
        description:
          'Streams the file from the artifact store; with ARTIFACT_PRESIGN=1 and an S3 store, answers 302 to a presigned URL valid for 5 minutes instead.',
        tags: ['artifacts'],
        security,
        params: T.Object({ id: T.String(), name: T.String() }),
        response: {
          200: rawResponse(
            'application/octet-stream',
            'The file’s bytes, sent with the content type its listing gives (application/json for .json files)',
            'binary',
          ),
          302: T.Null({ description: 'Redirect to a presigned URL of the store (ARTIFACT_PRESIGN=1)' }),
          ...errors(401, 404),
        },
      },
    },
    async (request, reply) => {
      const { id, name } = request.params;
      await service.get(projectOf(request), id);
      const a = await repos.results.getArtifact(id, name);
      if (!a) throw new ArcalError('NOT_FOUND', `artifact ${name} not found`);
      const filename = name.replace(/[^\w.-]/g, '_');
      let opened: OpenedObject;
      try {
        if (deps.presign) {
          const url = await deps.store.presignedUrl(a.path, {
            expiresInSeconds: 300,
            filename,
            contentType: a.contentType,
          });
          if (url) return reply.redirect(url, 302);
        }
        opened = await deps.store.get(a.path);
      } catch (err) {
        // a path that is no key of the store (one leaving the folder, say) names nothing
        if (err instanceof InvalidKeyError) throw new ArcalError('NOT_FOUND', `artifact ${name} not found`);
        if (err instanceof ObjectNotFoundError)
          throw new ArcalError('NOT_FOUND', `artifact ${name} is recorded but its file is gone`);
        throw err;
      }
      reply
        .header('content-type', a.contentType)
        .header('content-length', opened.size)
        .header('etag', `"${a.sha256.trim()}"`)
        .header('content-disposition', `attachment; filename="${filename}"`);
      return reply.send(opened.body);
    },
  );

  api.post(
    '/v1/experiments/:id/cancel',
    {
      schema: {
        operationId: 'cancelExperiment',
        summary: 'Cancel: waiting jobs are removed, running ones aborted within seconds',
        tags: ['experiments'],
        security,
        params: IdParams,
        response: { 200: ref(Experiment), ...errors(401, 403, 404, 409) },
      },
    },
    async (request) => viewOf(await service.cancel(projectOf(request), request.params.id)),
  );

  api.post(
    '/v1/experiments/:id/retry',
    {
      schema: {
        operationId: 'retryExperiment',
        summary: 'Run a failed or cancelled experiment again, resuming from what was recorded',
        tags: ['experiments'],
        security,
        params: IdParams,
        response: { 202: ref(Experiment), ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      reply.status(202);
      return viewOf(await service.retry(projectOf(request), request.params.id));
    },
  );

  api.delete(
    '/v1/experiments/:id',
    {
      schema: {
        operationId: 'deleteExperiment',
        summary: 'Delete a finished experiment with its records and artifacts',
        tags: ['experiments'],
        security,
        params: IdParams,
        response: { 204: T.Null(), ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await service.delete(projectOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
}
