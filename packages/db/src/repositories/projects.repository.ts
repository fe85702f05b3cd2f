/** Projects, API keys (stored as sha256 only) and browser sessions. */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../client.ts';
import { sql } from './sql.ts';

export const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** A new API key: `arcal_` + 32 random bytes in base64url. Only its hash is stored. */
export const newApiKey = () => `arcal_${randomBytes(32).toString('base64url')}`;

export interface Principal {
  projectId: string;
  projectName: string;
  apiKeyId: string;
}

const PRINCIPAL_FOR_KEY = `
  SELECT k.project_id AS "projectId", p.name AS "projectName", k.id AS "apiKeyId"
  FROM api_keys k JOIN projects p ON p.id = k.project_id
  WHERE k.key_hash = $1::bpchar AND k.revoked_at IS NULL`;

const PRINCIPAL_FOR_SESSION = `
  SELECT k.project_id AS "projectId", p.name AS "projectName", s.api_key_id AS "apiKeyId",
         s.csrf_hash AS "csrfHash", s.expires_at AS "expiresAt"
  FROM sessions s JOIN api_keys k ON k.id = s.api_key_id JOIN projects p ON p.id = k.project_id
  WHERE s.token_hash = $1::bpchar AND k.revoked_at IS NULL`;

export class ProjectsRepository {
  constructor(private readonly db: Db) {}

  /** The project called `name`, created when missing. */
  async ensureProject(name: string): Promise<{ id: string; name: string }> {
    return this.db.project.upsert({ where: { name }, create: { name }, update: {}, select: { id: true, name: true } });
  }

  /** Creates a key for a project (created when missing); returns the key in clear text, once. */
  async createApiKey(
    projectName: string,
    label?: string,
  ): Promise<{ key: string; id: string; projectId: string; prefix: string }> {
    const project = await this.ensureProject(projectName);
    const key = newApiKey();
    const row = await this.db.apiKey.create({
      data: { projectId: project.id, keyHash: sha256Hex(key), prefix: key.slice(0, 12), name: label ?? null },
    });
    return { key, id: row.id, projectId: project.id, prefix: row.prefix };
  }

  /** Stores a key chosen elsewhere (ARCAL_BOOTSTRAP_KEY); idempotent. */
  async importApiKey(projectName: string, key: string, label: string): Promise<{ id: string; projectId: string }> {
    const project = await this.ensureProject(projectName);
    const row = await this.db.apiKey.upsert({
      where: { keyHash: sha256Hex(key) },
      create: { projectId: project.id, keyHash: sha256Hex(key), prefix: key.slice(0, 12), name: label },
      update: {},
    });
    return { id: row.id, projectId: row.projectId };
  }

  /** The project a (non-revoked) key belongs to, or null. */
  async principalForKey(key: string): Promise<Principal | null> {
    // Every authenticated request asks this: one joined query instead of Prisma's two for `include`.
    const rows = await sql<Principal>(this.db, 'arcal_principal_for_key', PRINCIPAL_FOR_KEY, [sha256Hex(key)]);
    return rows[0] ?? null;
  }

  async revokeApiKey(id: string): Promise<void> {
    await this.db.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
  }

  /** A session for a key: returns the cookie token and the CSRF token (both shown once). */
  async createSession(apiKeyId: string, ttlMs: number): Promise<{ token: string; csrf: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + ttlMs);
    await this.db.session.create({
      data: { apiKeyId, tokenHash: sha256Hex(token), csrfHash: sha256Hex(csrf), expiresAt },
    });
    return { token, csrf, expiresAt };
  }

  /** Ends a session (sign-out); returns whether a session had that token. */
  async deleteSession(token: string): Promise<boolean> {
    const r = await this.db.session.deleteMany({ where: { tokenHash: sha256Hex(token) } });
    return r.count > 0;
  }

  /** The principal of a live session and its CSRF hash, or null. */
  async principalForSession(token: string): Promise<(Principal & { csrfHash: string }) | null> {
    const rows = await sql<Principal & { csrfHash: string; expiresAt: Date }>(
      this.db,
      'arcal_principal_for_session',
      PRINCIPAL_FOR_SESSION,
      [sha256Hex(token)],
    );
    const row = rows[0];
    if (!row || row.expiresAt.getTime() < Date.now()) return null;
    return { projectId: row.projectId, projectName: row.projectName, apiKeyId: row.apiKeyId, csrfHash: row.csrfHash };
  }
}
