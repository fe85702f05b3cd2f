/**
 * What the routes share for their schemas: the named shapes live in @arcal/contracts (the client derives its
 * types from them); here are the error answers, the security requirement, path parameters, and the type
 * provider that types each route's request and reply by its schema.
 */
import { API_SCHEMAS, Problem, ref, type Static } from '@arcal/contracts';
import { Type as T, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyTypeProvider } from 'fastify';

/** Fastify's type provider for TypeBox schemas (what `@fastify/type-provider-typebox` provides, in one type). */
export interface TypeBoxProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
  serializer: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
}

/** Registers every named schema: they become `#/components/schemas/<$id>` in the OpenAPI document. */
export function registerSchemas(app: FastifyInstance): void {
  for (const s of API_SCHEMAS) app.addSchema(s);
}

/** The OpenAPI component name of a shared schema (its `$id`) instead of `def-N`. */
export const componentName = (json: { $id?: unknown }, _baseUri: unknown, _fragment: string, i: number): string =>
  typeof json.$id === 'string' ? json.$id : `def-${i}`;

export const errorRef = ref(Problem);
export const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [c, errorRef])) as Record<number, typeof errorRef>;
export const security: Array<Record<string, string[]>> = [{ bearer: [] }, { session: [] }];

export const IdParams = T.Object({ id: T.String({ description: 'experiment id (uuid)' }) });
export const StudyIdParams = T.Object({ id: T.String({ description: 'study id (uuid)' }) });
export const IdempotencyHeaders = T.Object({ 'idempotency-key': T.Optional(T.String({ maxLength: 200 })) });

/** A response with a body that is not JSON, typed for the OpenAPI document and a generated client. */
export const rawResponse = (contentType: string, description: string, format?: 'binary') =>
  T.Unsafe<unknown>({
    description,
    content: { [contentType]: { schema: { type: 'string', ...(format ? { format } : {}) } } },
  });
