/** Response and parameter schemas (TypeBox = JSON Schema) for routes and the OpenAPI document. */
import { Type as T } from '@sinclair/typebox';

export const ErrorResponse = T.Object(
  {
    code: T.String({ description: 'Stable error code (ErrorCodes)' }),
    message: T.String(),
    details: T.Array(T.Object({ path: T.String({ description: 'dot path of the field' }), message: T.String() })),
    requestId: T.String(),
    estimate: T.Optional(T.Unknown()),
  },
  { $id: 'ErrorResponse', additionalProperties: true },
);
export const errorRef = T.Ref('ErrorResponse');

export const Links = T.Object({
  self: T.String(),
  events: T.String(),
  metrics: T.String(),
  logs: T.String(),
  artifacts: T.String(),
  cancel: T.String(),
  retry: T.String(),
});

export const Status = T.Union(
  ['queued', 'running', 'succeeded', 'failed', 'cancelling', 'cancelled'].map((s) => T.Literal(s)),
);

export const ExperimentView = T.Object(
  {
    id: T.String({ format: 'uuid' }),
    name: T.String(),
    status: Status,
    attempt: T.Integer(),
    spec: T.Unknown({ description: 'The resolved spec (every default filled in)' }),
    estimate: T.Unknown(),
    error: T.Union([T.Unknown(), T.Null()]),
    createdAt: T.String({ format: 'date-time' }),
    startedAt: T.Union([T.String({ format: 'date-time' }), T.Null()]),
    finishedAt: T.Union([T.String({ format: 'date-time' }), T.Null()]),
    links: Links,
  },
  { additionalProperties: true },
);

export const Submitted = T.Object({ id: T.String(), status: Status, estimate: T.Unknown(), links: Links });

export const IdParams = T.Object({ id: T.String({ description: 'experiment id (uuid)' }) });
