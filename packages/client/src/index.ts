/** @arcal/client: a typed fetch client for the arcal API (Node and browsers). */
export { ApiError, ArcalClient, type ClientOptions, type FollowOptions, isApiError } from './client.ts';
export { type Progress, progressOf } from './progress.ts';
export { ROUTES, type RouteName, routePath } from './routes.ts';
export { type RawSseEvent, readSse, SseParser } from './sse.ts';
export * from './types.ts';
