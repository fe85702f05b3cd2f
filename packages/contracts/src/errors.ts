/** Stable error codes shared by the CLI, the API and the workers. */
export const ErrorCodes = {
  INVALID_SPEC: 'INVALID_SPEC',
  NOT_IMPLEMENTED: 'NOT_IMPLEMENTED',
  DATA_NOT_FOUND: 'DATA_NOT_FOUND',
  DATA_CORRUPT: 'DATA_CORRUPT',
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  NOT_FOUND: 'NOT_FOUND',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  CONFLICT: 'CONFLICT',
  BUDGET_EXCEEDED: 'BUDGET_EXCEEDED',
  MEMORY_EXCEEDED: 'MEMORY_EXCEEDED',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  INVALID_INPUT: 'INVALID_INPUT',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const httpStatus: Record<ErrorCode, number> = {
  INVALID_SPEC: 400,
  NOT_IMPLEMENTED: 400,
  DATA_NOT_FOUND: 422,
  DATA_CORRUPT: 422,
  BACKEND_UNAVAILABLE: 503,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CONFLICT: 409,
  BUDGET_EXCEEDED: 422,
  MEMORY_EXCEEDED: 422,
  QUOTA_EXCEEDED: 429,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INVALID_INPUT: 400,
  INTERNAL: 500,
};

/** One error type for arcal: a stable code, the HTTP status it maps to, a message a user can act on. */
export class ArcalError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Array<{ path: string; message: string }>;
  constructor(code: ErrorCode, message: string, details: Array<{ path: string; message: string }> = []) {
    super(message);
    this.name = 'ArcalError';
    this.code = code;
    this.status = httpStatus[code];
    this.details = details;
  }
}

export const isArcalError = (e: unknown): e is ArcalError =>
  e instanceof Error && (e as ArcalError).name === 'ArcalError' && typeof (e as ArcalError).code === 'string';
