/**
 * The images and compose services, checked without a container engine against what arcal itself accepts: the
 * users exist, the process can write where it must, the backend name is one `ready()` takes, the worker's
 * command line parses with the worker's own parser, and nothing at run time builds into the read-only code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BACKEND_NAMES } from '../../packages/core/src/backend/index.ts';
import { loadWorkerConfig } from '../../workers/src/config.ts';
import { type Instruction, imageCmd, imageEnv, interpolateDefaults, parseDockerfile } from './dockerfile.ts';

const root = new URL('../../', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');
const scripts: Record<string, string> = JSON.parse(read('package.json')).scripts;
const compose = parse(read('docker-compose.yml'), { merge: true });
const services = compose.services as Record<string, any>;
const DOCKERFILES = ['infra/docker/service.Dockerfile', 'infra/docker/worker-gpu.Dockerfile'];

// Users that official base images ship, with their uid (the node images' `node` is 1000).
const BASE_USERS: Record<string, Record<string, number>> = { node: { node: 1000 } };

interface Image {
  path: string;
  ins: Instruction[];
  user: string;
  uid: number;
  env: Record<string, string>;
}

function image(path: string): Image {
  const ins = parseDockerfile(read(path));
  const from = ins.find((i) => i.op === 'FROM')!.args.split(/\s+/)[0]!;
  const userIns = ins.filter((i) => i.op === 'USER').at(-1);
  if (!userIns) throw new Error(`${path}: no USER, so it runs as root`);
  const user = userIns.args.split(':')[0]!;
  const base = BASE_USERS[from.split(':')[0]!] ?? {};
  let uid = base[user];
  for (const i of ins) {
    if (i.op !== 'RUN' || i.line > userIns.line) continue;
    const add = new RegExp(`useradd\\b[^&;]*?(--uid|-u)\\s+(\\d+)[^&;]*\\s${user}(\\s|$)`).exec(i.args);
    if (add) uid = Number(add[2]);
  }
  if (uid === undefined) throw new Error(`${path}: USER ${user} exists neither in ${from} nor through a useradd`);
  return { path, ins, user, uid, env: imageEnv(ins) };
}

/** Is `dir` created and handed to the image's user before the USER line (so a fresh volume inherits it)? */
function ownedByUser(img: Image, dir: string): boolean {
  const userLine = img.ins.filter((i) => i.op === 'USER').at(-1)!.line;
  return img.ins.some((i) => {
    if (i.op !== 'RUN' || i.line > userLine) return false;
    const m = new RegExp(`chown\\s+(-R\\s+)?${img.user}(:\\S+)?\\s+([^&;]+)`).exec(i.args);
    return Boolean(m?.[3]?.split(/\s+/).some((d) => d && (dir === d || dir.startsWith(`${d.replace(/\/$/, '')}/`))));
  });
}

/** Checks one process's command line; returns what it runs as ('api', 'worker', 'migrate'). */
function checkCommand(cmd: string[], env: Record<string, string | undefined>, where: string): string {
  if (cmd[0] === 'npm') {
    expect(cmd[1], where).toBe('run');
    const name = cmd[2]!;
    expect(scripts[name], `${where}: npm script ${name}`).toBeDefined();
    // npm runs a `pre<name>` hook first; the ones here write into the code folder, which the user cannot
    expect(scripts[`pre${name}`], `${where}: npm run ${name} would first run pre${name}`).toBeUndefined();
    return name === 'db:migrate' ? 'migrate' : name;
  }
  expect(cmd[0], where).toBe('node');
  let args = cmd.slice(1);
  if (args[0] === '--import') {
    expect(args[1], where).toBe('tsx');
    args = args.slice(2);
  }
  const file = args[0]!;
  expect(existsSync(new URL(file, root)), `${where}: ${file}`).toBe(true);
  if (file === 'workers/bin/arcal-worker.js') {
    // throws on any argument or variable the worker itself would refuse at start-up
    loadWorkerConfig(args.slice(1), env);
    return 'worker';
  }
  if (file === 'apps/api/src/server.ts') return 'api';
  throw new Error(`${where}: unexpected command ${cmd.join(' ')}`);
}

function checkBackend(env: Record<string, string | undefined>, where: string) {
  if (env.ARCAL_BACKEND !== undefined) expect(BACKEND_NAMES, `${where}: ARCAL_BACKEND`).toContain(env.ARCAL_BACKEND);
}

describe('Dockerfiles', () => {
  for (const path of DOCKERFILES) {
    it(`${path}: an existing unprivileged user, a backend arcal accepts, a command that starts`, () => {
      const img = image(path);
      expect(['root', '0']).not.toContain(img.user);
      expect(img.uid).toBeGreaterThan(0);
      checkBackend(img.env, path);
      for (const v of ['ARTIFACT_DIR', 'ARCAL_CACHE_DIR'])
        if (img.env[v]) expect(ownedByUser(img, img.env[v]!), `${path}: ${v}=${img.env[v]} writable`).toBe(true);
      checkCommand(imageCmd(img.ins), img.env, `${path} CMD`);
    });
  }

  it('the service image builds the dashboard at build time, before it drops to its user', () => {
    const img = image('infra/docker/service.Dockerfile');
    const userLine = img.ins.filter((i) => i.op === 'USER').at(-1)!.line;
    const build = img.ins.find(
      (i) => i.op === 'RUN' && /(npm run build:web|node apps\/web\/scripts\/build\.mjs)/.test(i.args),
    );
    expect(build, 'a RUN that builds apps/web/dist').toBeDefined();
    expect(build!.line).toBeLessThan(userLine);
    expect(scripts['build:web']).toMatch(/apps\/web\/scripts\/build\.mjs/);
  });

  it('both images run as the same uid, so they can share the artifacts volume', () => {
    expect(new Set(DOCKERFILES.map((p) => image(p).uid)).size).toBe(1);
  });
});

describe('docker-compose.yml services, against their images', () => {
  for (const [name, s] of Object.entries(services)) {
    if (!s.build) continue;
    it(`${name}: command, environment and volumes work in ${s.build.dockerfile}`, () => {
      const img = image(s.build.dockerfile);
      const env: Record<string, string> = { ...img.env };
      for (const [k, v] of Object.entries(s.environment ?? {})) env[k] = interpolateDefaults(String(v));
      checkBackend(env, name);
      const cmd = s.command ? (s.command as string[]).map(interpolateDefaults) : imageCmd(img.ins);
      const role = checkCommand(cmd, env, name);
      for (const v of s.volumes ?? []) {
        const target = String(v).split(':')[1]!;
        expect(ownedByUser(img, target), `${name}: volume at ${target} writable by ${img.user}`).toBe(true);
      }
      if (role === 'worker' || role === 'api')
        expect(
          s.volumes?.some((v: string) => v.endsWith(`:${env.ARTIFACT_DIR}`)),
          `${name}: ARTIFACT_DIR on a volume`,
        ).toBe(true);
    });
  }

  it('the gpu worker runs tfjs-node-gpu with one compute process per listed device', () => {
    const s = services['worker-gpu'];
    const env = Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, interpolateDefaults(String(v))]));
    expect(env.ARCAL_BACKEND).toBe('tfjs-node-gpu');
    const config = loadWorkerConfig((s.command as string[]).slice(2), env);
    expect(config.devices?.length).toBeGreaterThan(0);
    expect(config.queues).not.toContain('orchestrate');
    expect(s.deploy.resources.reservations.devices[0].count).toBe('all');
  });
});
