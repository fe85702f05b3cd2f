/** docker compose cannot run here (no engine): the file is checked statically instead. */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url);
// merge: compose honours YAML merge keys (<<: *anchor)
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true });
const services = compose.services as Record<string, any>;
const command = (s: any) => (Array.isArray(s.command) ? s.command.join(' ') : String(s.command ?? ''));

describe('docker-compose.yml', () => {
  it('has postgres, redis, api and worker services, each buildable or pulled', () => {
    for (const name of ['postgres', 'redis', 'api', 'worker']) expect(services[name], name).toBeDefined();
    for (const [name, s] of Object.entries(services)) {
      expect(Boolean(s.image) || Boolean(s.build), name).toBe(true);
      if (s.build) expect(existsSync(new URL(s.build.dockerfile, root)), `${name}: ${s.build.dockerfile}`).toBe(true);
    }
  });

  it('runs Redis with maxmemory-policy noeviction', () => {
    expect(command(services.redis)).toMatch(/--maxmemory-policy\s+noeviction/);
  });

  it('api and workers get DATABASE_URL/REDIS_URL pointing at the compose services and wait for migrations', () => {
    for (const name of ['api', 'worker', 'worker-gpu']) {
      const s = services[name];
      expect(s.environment.DATABASE_URL, name).toMatch(/@postgres:5432\//);
      expect(s.environment.REDIS_URL, name).toBe('redis://redis:6379');
      expect(s.depends_on.migrate.condition, name).toBe('service_completed_successfully');
    }
    expect(command(services.migrate)).toMatch(/db:migrate/);
    expect(command(services.worker)).toMatch(/arcal-worker\.js --queues attack,train,evaluate,orchestrate/);
  });

  it('the gpu profile holds a worker that requests GPUs and whose image installs tfjs-node-gpu with its script approved', () => {
    const gpu = Object.entries(services).filter(([, s]) => s.profiles?.includes('gpu'));
    expect(gpu.map(([n]) => n)).toEqual(['worker-gpu']);
    const s = gpu[0]![1];
    const devices = s.deploy.resources.reservations.devices;
    expect(devices[0].capabilities).toContain('gpu');
    expect(devices[0].driver).toBe('nvidia');
    for (const [name, other] of Object.entries(services))
      if (name !== 'worker-gpu') expect(other.profiles, name).toBeUndefined();
    const dockerfile = readFileSync(new URL(s.build.dockerfile, root), 'utf8');
    expect(dockerfile).toMatch(/^FROM nvidia\/cuda:/m);
    expect(dockerfile).toMatch(/@tensorflow\/tfjs-node-gpu@4\.22\.0/);
    // npm 10 (nodesource's Node 20) has no `install-scripts` command; the root allowScripts approves it for npm 11
    expect(dockerfile).not.toMatch(/npm install-scripts/);
    const rootPackage = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
    expect(rootPackage.allowScripts?.['@tensorflow/tfjs-node-gpu']).toBe(true);
  });
});
