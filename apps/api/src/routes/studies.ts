/**
 * /v1/studies: submit a study (one experiment per grid point), list studies, read one with its report, cancel
 * every unfinished experiment of one, delete one with its experiments.
 */
import {
  ref,
  type Static,
  Study,
  StudyDetail,
  type StudyEstimate,
  StudyPage,
  StudySpecBody,
  StudySubmitted,
} from '@arcal/contracts';
import type { ExperimentRow, Repositories, StudyRow } from '@arcal/db';
import { Type as T } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { idempotencyKeyOf } from '../plugins/input-guard.ts';
import { errors, IdempotencyHeaders, StudyIdParams, security, type TypeBoxProvider } from '../schemas.ts';
import {
  countStatuses,
  documentOf,
  gridOf,
  type StatusCounts,
  type StudiesService,
  studyStatus,
} from '../services/studies.service.ts';
import { linksOf as experimentLinks } from './experiments.ts';

export interface StudyRoutesDeps {
  studies: StudiesService;
  repos: Repositories;
  authenticate: (request: FastifyRequest) => Promise<void>;
}

export const studyLinksOf = (id: string) => ({ self: `/v1/studies/${id}`, cancel: `/v1/studies/${id}/cancel` });

const viewOf = (s: StudyRow, counts: StatusCounts) => ({
  id: s.id,
  name: s.name,
  status: studyStatus(counts),
  counts,
  varied: gridOf(s).varied,
  estimate: s.estimate as Static<typeof StudyEstimate>,
  createdAt: s.createdAt.toISOString(),
  links: studyLinksOf(s.id),
});

const countsOf = (experiments: ExperimentRow[]) => {
  const by: Partial<Record<ExperimentRow['status'], number>> = {};
  for (const e of experiments) by[e.status] = (by[e.status] ?? 0) + 1;
  return countStatuses(by);
};

export async function studyRoutes(app: FastifyInstance, deps: StudyRoutesDeps): Promise<void> {
  const { studies, repos } = deps;
  app.addHook('preHandler', deps.authenticate);
  const api = app.withTypeProvider<TypeBoxProvider>();
  const projectOf = (r: FastifyRequest) => r.principal!.projectId;

  api.post(
    '/v1/studies',
    {
      schema: {
        operationId: 'submitStudy',
        summary: 'Submit a study: one experiment per grid point',
        description:
          'Validates the study and every experiment it expands to (each problem once, with its path in the study document: `base.method.alpha`, `vary.method.subsets.2`, `select.by`), checks the sum of the estimates against the budget, then stores and queues one experiment per grid point exactly as POST /v1/experiments would. `Idempotency-Key` makes a retried submission return the first one.',
        tags: ['studies'],
        security,
        headers: IdempotencyHeaders,
        body: ref(StudySpecBody),
        response: {
          202: ref(StudySubmitted),
          200: ref(StudySubmitted),
          ...errors(400, 401, 403, 409, 413, 422, 429),
        },
      },
      // Documented here, validated by the service (every problem with its path, no coercion or stripping).
      validatorCompiler: ({ httpPart }) => (httpPart === 'body' ? (value: unknown) => ({ value }) : () => true),
    },
    async (request, reply) => {
      const r = await studies.submit(projectOf(request), request.body, idempotencyKeyOf(request));
      reply.status(r.created ? 202 : 200).header('location', studyLinksOf(r.study.id).self);
      return {
        id: r.study.id,
        status: studyStatus(countsOf(r.experiments)),
        experiments: r.experiments.map((e) => e.id),
        estimate: r.study.estimate as Static<typeof StudyEstimate>,
        links: studyLinksOf(r.study.id),
      };
    },
  );

  api.get(
    '/v1/studies',
    {
      schema: {
        operationId: 'listStudies',
        summary: 'List studies of the caller’s project, newest first',
        tags: ['studies'],
        security,
        querystring: T.Object({
          limit: T.Optional(T.Integer({ minimum: 1, maximum: 100, default: 20 })),
          cursor: T.Optional(T.String({ description: '`next` of the previous page' })),
        }),
        response: {
          200: ref(StudyPage),
          ...errors(400, 401),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await repos.studies.list(projectOf(request), { limit: q.limit ?? 20, cursor: q.cursor });
      const counts = await repos.studies.statusCounts(page.items.map((s) => s.id));
      return { items: page.items.map((s) => viewOf(s, countStatuses(counts.get(s.id) ?? {}))), next: page.next };
    },
  );

  api.get(
    '/v1/studies/:id',
    {
      schema: {
        operationId: 'getStudy',
        summary: 'One study: status, its experiments, and the report over the experiments that have succeeded',
        description:
          'The report aggregates the experiments that have succeeded so far (mean ± std over seeds per configuration, and the selection among the configurations with results). While other experiments are queued or running it is `partial`, with `included` of `expected` experiments, and its numbers and selection can change as more finish; it is null until one has succeeded.',
        tags: ['studies'],
        security,
        params: StudyIdParams,
        response: { 200: ref(StudyDetail), ...errors(401, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const s = await studies.get(projectOf(request), id);
      const experiments = await studies.experimentsOf(s);
      const points = new Map(gridOf(s).experiments.map((p) => [p.name, p]));
      return {
        ...viewOf(s, countsOf(experiments)),
        document: documentOf(s),
        experiments: experiments.map((e) => ({
          id: e.id,
          name: e.name,
          status: e.status,
          seed: points.get(e.name)?.seed ?? (e.spec as { seed?: number }).seed ?? 0,
          config: points.get(e.name)?.config ?? {},
          links: { self: experimentLinks(e.id).self },
        })),
        report: await studies.report(s, experiments),
      };
    },
  );

  api.post(
    '/v1/studies/:id/cancel',
    {
      schema: {
        operationId: 'cancelStudy',
        summary: 'Cancel a study: every unfinished experiment is cancelled as POST /v1/experiments/:id/cancel does',
        description:
          'Waiting jobs are removed, running ones aborted within seconds; experiments that have finished stay as they are. A second cancel changes nothing. Answers the study with its counts afterwards.',
        tags: ['studies'],
        security,
        params: StudyIdParams,
        response: { 200: ref(Study), ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const r = await studies.cancel(projectOf(request), id);
      return viewOf(r.study, countsOf(r.experiments));
    },
  );

  api.delete(
    '/v1/studies/:id',
    {
      schema: {
        operationId: 'deleteStudy',
        summary: 'Delete a finished study with its experiments, their records and artifacts',
        description:
          '409 while any experiment is queued or running (cancel the study first). The study and its experiments are deleted in one transaction, then the experiments’ artifact folders.',
        tags: ['studies'],
        security,
        params: StudyIdParams,
        response: { 204: T.Null(), ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const r = await studies.delete(projectOf(request), id);
      if (r.leftovers.length)
        request.log.warn({ study: id, folders: r.leftovers }, 'study deleted; some artifact folders were not removed');
      return reply.status(204).send(null);
    },
  );
}
