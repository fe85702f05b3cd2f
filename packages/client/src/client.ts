/**
 * A typed client for the arcal HTTP API. Two modes:
 * - key mode (CLI, scripts): `new ArcalClient({ baseUrl, apiKey })` sends `Authorization: Bearer`;
 * - cookie mode (the dashboard): `new ArcalClient({ baseUrl: '' })`, then `createSession(key)` trades the
 *   key for the HttpOnly session cookie; the key is not kept, writes send the CSRF token.
 * Every failure is an ApiError carrying the API's `{ code, message, requestId }`. Runs in Node ≥ 20 and
 * browsers (fetch, ReadableStream, TextDecoder); imports nothing at run time.
 */
import { ROUTES, type RouteName, routePath } from './routes.ts';
import { readSse } from './sse.ts';
import type {
  ArtifactInfo,
  ExperimentDetail,
  ExperimentStatus,
  ExperimentStreamEvent,
  ExperimentView,
  LogItem,
  MetricRow,
  Page,
  SessionInfo,
  StudyDetail,
  StudySubmitted,
  StudyView,
  Submitted,
} from './types.ts';
import { FINISHED_STATUSES } from './types.ts';

/** An error answered by the API (or the lack of an answer: code NETWORK, status 0). */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly requestId: string | undefined;
  readonly details: Array<{ path: string; message: string }>;
  /** Extra fields of the error body (e.g. `estimate` with BUDGET_EXCEEDED). */
  readonly body: Record<string, unknown>;
  constructor(
    status: number,
    body: {
      code?: string;
      message?: string;
      requestId?: string;
      details?: Array<{ path: string; message: string }>;
      [k: string]: unknown;
    },
  ) {
    const code = body.code ?? (status === 0 ? 'NETWORK' : `HTTP_${status}`);
    super(body.message ?? `HTTP ${status}`);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.requestId = body.requestId;
    this.details = Array.isArray(body.details) ? body.details : [];
    this.body = body;
  }

  /** `message (CODE, HTTP 404, request abc)` — what a user quotes when reporting it. */
  describe(): string {
    const where = [
      this.code,
      this.status ? `HTTP ${this.status}` : '',
      this.requestId ? `request ${this.requestId}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    return `${this.message} (${where})`;
  }
}

export const isApiError = (e: unknown): e is ApiError =>
  e instanceof Error && (e as Error).name === 'ApiError' && typeof (e as ApiError).code === 'string';

export interface ClientOptions {
  /** Service root, e.g. `http://127.0.0.1:3000`; '' for the page's own origin. */
  baseUrl: string;
  /** Bearer mode. Leave out for cookie mode. */
  apiKey?: string;
  /** CSRF token of a cookie session (set by createSession). */
  csrfToken?: string;
  fetch?: typeof fetch;
  /** Sent as x-request-id on every request when given (for tracing a CLI call in the logs). */
  requestId?: () => string;
}

export interface FollowOptions {
  signal?: AbortSignal;
  /**
   * Reconnect when the stream drops or the server shuts down before `end` (default true). A reconnect sends the
   * last event id seen (`Last-Event-ID`), so the stream resumes after it without repeats or gaps; the server
   * sends a fresh snapshot instead only when its event log no longer reaches back that far.
   */
  reconnect?: boolean;
  /** Delay before a reconnect, ms (default 1000). */
  retryMs?: number;
  /** Gives up after this many reconnects in a row without receiving an event (default 5). */
  maxRetries?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    const stop = () => {
      clearTimeout(t);
      resolve();
    };
    signal?.addEventListener('abort', stop, { once: true });
  });

export class ArcalClient {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private csrfToken: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly requestId: (() => string) | undefined;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    this.csrfToken = opts.csrfToken;
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.requestId = opts.requestId;
  }

  /** Key mode from ARCAL_URL (default http://127.0.0.1:3000) and ARCAL_API_KEY. */
  static fromEnv(env: Record<string, string | undefined>, opts: Partial<ClientOptions> = {}): ArcalClient {
    const apiKey = env.ARCAL_API_KEY;
    if (!apiKey)
      throw new ApiError(0, {
        code: 'UNAUTHORIZED',
        message: 'set ARCAL_API_KEY (create a key with arcal keys create --project <name>)',
      });
    return new ArcalClient({ baseUrl: env.ARCAL_URL || 'http://127.0.0.1:3000', apiKey, ...opts });
  }

  get hasSession(): boolean {
    return this.csrfToken !== undefined;
  }

  /** Writes made with the cookie need the token; the dashboard keeps it for the tab's lifetime. */
  setCsrfToken(token: string | undefined): void {
    this.csrfToken = token;
  }

  private async request(
    name: RouteName,
    o: {
      params?: Record<string, string>;
      query?: Record<string, string | number | undefined>;
      body?: unknown;
      headers?: Record<string, string>;
      signal?: AbortSignal;
      raw?: boolean;
    } = {},
  ): Promise<Response> {
    const route = ROUTES[name];
    let url = `${this.baseUrl}${routePath(name, o.params)}`;
    const q = Object.entries(o.query ?? {}).filter(([, v]) => v !== undefined && v !== '');
    if (q.length) url += `?${new URLSearchParams(q.map(([k, v]) => [k, String(v)])).toString()}`;
    const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
    if (this.apiKey && !headers.authorization) headers.authorization = `Bearer ${this.apiKey}`;
    if (!this.apiKey && this.csrfToken && route.method !== 'GET') headers['x-csrf-token'] = this.csrfToken;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (this.requestId) headers['x-request-id'] = this.requestId();
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: route.method,
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        credentials: 'same-origin',
        signal: o.signal,
      });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(0, {
        code: 'NETWORK',
        message: `cannot reach ${this.baseUrl || 'the service'}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
      });
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  private async json<T>(name: RouteName, o: Parameters<ArcalClient['request']>[1] = {}): Promise<T> {
    const res = await this.request(name, o);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** Cookie mode: exchanges the key for the session cookie (set by the browser) and keeps the CSRF token. */
  async createSession(apiKey: string): Promise<SessionInfo> {
    const s = await this.json<SessionInfo>('createSession', { headers: { authorization: `Bearer ${apiKey}` } });
    this.csrfToken = s.csrfToken;
    return s;
  }

  /**
   * Signs out: the API deletes the session and clears the cookie; the CSRF token is forgotten. Later requests
   * with the old cookie get 401.
   */
  async deleteSession(): Promise<void> {
    await this.json('deleteSession');
    this.csrfToken = undefined;
  }

  /** 202 for a new experiment; 200 when `idempotencyKey` repeats an earlier submission. */
  submit(spec: unknown, opts: { idempotencyKey?: string } = {}): Promise<Submitted> {
    return this.json('submit', {
      body: spec,
      headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {},
    });
  }

  list(opts: { status?: ExperimentStatus; limit?: number; cursor?: string } = {}): Promise<Page<ExperimentView>> {
    return this.json('list', { query: { status: opts.status, limit: opts.limit, cursor: opts.cursor } });
  }

  /** Every experiment (newest first), following `next` until the last page or `max` items. */
  async listAll(opts: { status?: ExperimentStatus; max?: number } = {}): Promise<ExperimentView[]> {
    const out: ExperimentView[] = [];
    const max = opts.max ?? Number.POSITIVE_INFINITY;
    let cursor: string | undefined;
    do {
      const page = await this.list({
        status: opts.status,
        limit: Math.min(100, Math.max(1, max - out.length)),
        cursor,
      });
      out.push(...page.items);
      cursor = page.next ?? undefined;
    } while (cursor && out.length < max);
    return out.slice(0, max);
  }

  get(id: string): Promise<ExperimentDetail> {
    return this.json('get', { params: { id } });
  }

  metrics(id: string): Promise<{ id: string; epochs: MetricRow[] }> {
    return this.json('metrics', { params: { id } });
  }

  logs(id: string, opts: { after?: string; limit?: number } = {}): Promise<Page<LogItem>> {
    return this.json('logs', { params: { id }, query: { after: opts.after, limit: opts.limit } });
  }

  artifacts(id: string): Promise<{ items: ArtifactInfo[] }> {
    return this.json('artifacts', { params: { id } });
  }

  /** The artifact's bytes. */
  async artifact(id: string, name: string): Promise<Uint8Array> {
    const res = await this.request('artifact', { params: { id, name }, headers: { accept: '*/*' } });
    return new Uint8Array(await res.arrayBuffer());
  }

  cancel(id: string): Promise<ExperimentView> {
    return this.json('cancel', { params: { id } });
  }

  retry(id: string): Promise<ExperimentView> {
    return this.json('retry', { params: { id } });
  }

  delete(id: string): Promise<void> {
    return this.json('delete', { params: { id } });
  }

  /** A study: one experiment per grid point. 202 when new; 200 when `idempotencyKey` repeats a submission. */
  submitStudy(study: unknown, opts: { idempotencyKey?: string } = {}): Promise<StudySubmitted> {
    return this.json('submitStudy', {
      body: study,
      headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {},
    });
  }

  listStudies(opts: { limit?: number; cursor?: string } = {}): Promise<Page<StudyView>> {
    return this.json('listStudies', { query: { limit: opts.limit, cursor: opts.cursor } });
  }

  /** Every study (newest first), following `next` until the last page or `max` items. */
  async listAllStudies(opts: { max?: number } = {}): Promise<StudyView[]> {
    const out: StudyView[] = [];
    const max = opts.max ?? Number.POSITIVE_INFINITY;
    let cursor: string | undefined;
    do {
      const page = await this.listStudies({ limit: Math.min(100, Math.max(1, max - out.length)), cursor });
      out.push(...page.items);
      cursor = page.next ?? undefined;
    } while (cursor && out.length < max);
    return out.slice(0, max);
  }

  /** The study, its experiments and the report over the experiments that have succeeded so far (or null). */
  getStudy(id: string): Promise<StudyDetail> {
    return this.json('getStudy', { params: { id } });
  }

  /** Cancels every unfinished experiment of the study (a no-op when none is left); the study afterwards. */
  cancelStudy(id: string): Promise<StudyView> {
    return this.json('cancelStudy', { params: { id } });
  }

  /** Deletes a study whose experiments have all finished, with them (409 CONFLICT while any is unfinished). */
  deleteStudy(id: string): Promise<void> {
    return this.json('deleteStudy', { params: { id } });
  }

  /**
   * Reads the study every `intervalMs` (default 5 s) until every experiment has finished; `onUpdate` sees each
   * reading. Resolves with the last one.
   */
  async waitForStudy(
    id: string,
    opts: { intervalMs?: number; signal?: AbortSignal; onUpdate?: (s: StudyDetail) => void } = {},
  ): Promise<StudyDetail> {
    for (;;) {
      const s = await this.getStudy(id);
      opts.onUpdate?.(s);
      if (FINISHED_STATUSES.includes(s.status) || opts.signal?.aborted) return s;
      await sleep(opts.intervalMs ?? 5000, opts.signal);
    }
  }

  health(): Promise<{ ok: boolean }> {
    return this.json('health');
  }

  ready(): Promise<{ ok: boolean; postgres: boolean; redis: boolean }> {
    return this.json('ready');
  }

  /**
   * Follows an experiment's events: a `snapshot` first, then `status`, `epoch`, `log`, `job`, `report`, and
   * finally `end`, after which the iterator finishes. A server's `shutdown` event is not yielded: the stream
   * reconnects after the delay it gives and resumes after the last event id.
   */
  async *events(id: string, opts: FollowOptions = {}): AsyncGenerator<ExperimentStreamEvent> {
    const reconnect = opts.reconnect ?? true;
    const maxRetries = opts.maxRetries ?? 5;
    let failures = 0;
    let lastEventId: string | undefined;
    for (;;) {
      let res: Response;
      let retryMs = opts.retryMs ?? 1000;
      try {
        res = await this.request('events', {
          params: { id },
          headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
          signal: opts.signal,
        });
      } catch (e) {
        if (!reconnect || !isApiError(e) || e.code !== 'NETWORK' || ++failures > maxRetries) throw e;
        await sleep(opts.retryMs ?? 1000, opts.signal);
        if (opts.signal?.aborted) return;
        continue;
      }
      if (!res.body) throw new ApiError(res.status, { code: 'HTTP_STREAM', message: 'the event stream has no body' });
      try {
        for await (const raw of readSse(res.body, opts.signal)) {
          failures = 0;
          if (raw.id !== undefined) lastEventId = raw.id;
          let data: unknown;
          try {
            data = JSON.parse(raw.data);
          } catch {
            continue;
          }
          if (raw.event === 'shutdown') {
            const given = (data as { retryMs?: unknown } | null)?.retryMs;
            if (typeof given === 'number' && Number.isFinite(given) && given >= 0) retryMs = Math.min(given, 60_000);
            break;
          }
          const ev = {
            event: raw.event,
            data,
            ...(raw.id !== undefined ? { id: raw.id } : {}),
          } as ExperimentStreamEvent;
          yield ev;
          if (ev.event === 'end') return;
        }
      } catch (e) {
        if (opts.signal?.aborted) return;
        if (!reconnect)
          throw new ApiError(0, { code: 'NETWORK', message: `the event stream broke: ${(e as Error).message}` });
      }
      if (opts.signal?.aborted) return;
      if (!reconnect)
        throw new ApiError(0, { code: 'NETWORK', message: 'the event stream ended before the experiment finished' });
      if (++failures > maxRetries)
        throw new ApiError(0, {
          code: 'NETWORK',
          message: `the event stream kept dropping (${maxRetries} reconnects)`,
        });
      await sleep(retryMs, opts.signal);
      if (opts.signal?.aborted) return;
    }
  }

  /** Resolves with the experiment once it has finished (following events). */
  async waitFor(
    id: string,
    opts: FollowOptions & { onEvent?: (e: ExperimentStreamEvent) => void } = {},
  ): Promise<ExperimentDetail> {
    for await (const ev of this.events(id, opts)) {
      opts.onEvent?.(ev);
      if (ev.event === 'snapshot' && FINISHED_STATUSES.includes(ev.data.experiment.status)) break;
    }
    return this.get(id);
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object') body = parsed;
  } catch {
    body = { message: text.trim().slice(0, 200) || `HTTP ${res.status} ${res.statusText}` };
  }
  if (typeof body.requestId !== 'string') {
    const rid = res.headers.get('x-request-id');
    if (rid) body.requestId = rid;
  }
  return new ApiError(res.status, body as never);
}
