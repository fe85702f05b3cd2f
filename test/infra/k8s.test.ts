/**
 * infra/k8s: every overlay rendered with `kubectl kustomize` (kustomize v5), each object validated offline against
 * the Kubernetes and KEDA schemas, the wiring checked against arcal's own parsers (queue names, worker command
 * lines, the API's config), and the lists the KEDA scalers watch checked on a real BullMQ queue in Redis.
 * Without kubectl the file skips loudly; with REQUIRE_K8S=1 (set by .ci/run) that is a failure.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig as loadApiConfig } from '../../apps/api/src/config.ts';
import { QUEUE_NAMES, type QueueName } from '../../packages/db/src/queue/catalog.ts';
import { jobOptions } from '../../packages/db/src/queue/dispatcher.ts';
import { loadWorkerConfig } from '../../workers/src/config.ts';
import { workerMetricsOptions } from '../../workers/src/metrics.ts';
import { testRedis } from './redis-env.ts';

const k8sDir = fileURLToPath(new URL('../../infra/k8s/', import.meta.url));
const overlays = readdirSync(`${k8sDir}overlays`);

function kubectlVersion(): { kustomize: string } | undefined {
  const r = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.stderr.trim();
    const msg = `infra/k8s tests need kubectl (with kustomize v5): ${why}`;
    if (process.env.REQUIRE_K8S === '1') throw new Error(`${msg} (REQUIRE_K8S=1, so this is a failure)`);
    console.warn(`\n*** SKIPPING infra/k8s tests: ${msg} ***\n`);
    return undefined;
  }
  return { kustomize: String(JSON.parse(r.stdout).kustomizeVersion ?? 'none') };
}

const kubectl = kubectlVersion();

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [k: string]: any;
};

function render(overlay: string): Obj[] {
  const r = spawnSync('kubectl', ['kustomize', `${k8sDir}overlays/${overlay}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl kustomize overlays/${overlay}: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJSON() as Obj);
}

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

const byKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const named = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const container = (d: Obj) => d.spec.template.spec.containers[0];
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** A container's environment as the kubelet would build it from envFrom and env (values only, no refs). */
function containerEnv(objs: Obj[], c: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, named(objs, 'ConfigMap', from.configMapRef.name).data);
    if (from.secretRef) Object.assign(env, named(objs, 'Secret', from.secretRef.name).stringData);
  }
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}

/** The queue a worker Deployment serves, read with the worker's own argument parser. */
function workerQueues(objs: Obj[], d: Obj): QueueName[] {
  const c = container(d);
  expect(c.command, d.metadata.name).toEqual(['node', 'workers/bin/arcal-worker.js']);
  return loadWorkerConfig(c.args, containerEnv(objs, c)).queues;
}

describe.skipIf(!kubectl)('infra/k8s', () => {
  it('kubectl renders with kustomize v5 or newer', () => {
    const major = Number(/^v?(\d+)\./.exec(kubectl!.kustomize)?.[1] ?? 0);
    expect(
      major,
      `kubectl's kustomize is ${kubectl!.kustomize}; these manifests need v5 (kubectl >= 1.27)`,
    ).toBeGreaterThanOrEqual(5);
  });

  it('has a cpu and a gpu overlay', () => {
    expect(overlays.sort()).toEqual(['cpu', 'gpu']);
  });

  for (const overlay of ['cpu', 'gpu']) {
    describe(`overlay ${overlay}`, () => {
      let objs: Obj[] = [];
      beforeAll(() => {
        objs = render(overlay);
      });
      const gpu = overlay === 'gpu';

      it('every object validates against its Kubernetes or KEDA schema', () => {
        for (const o of objs) {
          const Model = MODELS[`${o.apiVersion}/${o.kind}`];
          expect(Model, `${o.apiVersion} ${o.kind} ${o.metadata.name}: no schema to check it with`).toBeDefined();
          expect(() => new Model!(o).validate(), `${o.kind} ${o.metadata.name}`).not.toThrow();
        }
      });

      it('the API: Deployment with /readyz and /healthz probes, Service and PodDisruptionBudget on its pods, TRUST_PROXY on', () => {
        const api = named(objs, 'Deployment', 'arcal-api');
        const c = container(api);
        const labels = api.spec.template.metadata.labels;
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
        expect(c.livenessProbe.httpGet.path).toBe('/healthz');
        const env = containerEnv(objs, c);
        const config = loadApiConfig(env);
        expect(config.trustProxy).toBe(true);
        const port = c.ports.find((p: any) => p.name === c.readinessProbe.httpGet.port);
        expect(port.containerPort).toBe(config.port);
        const svc = named(objs, 'Service', 'arcal-api');
        expect(matches(svc.spec.selector, labels)).toBe(true);
        expect(svc.spec.ports[0].targetPort).toBe(port.name);
        const pdb = named(objs, 'PodDisruptionBudget', 'arcal-api');
        expect(matches(pdb.spec.selector.matchLabels, labels)).toBe(true);
        expect(pdb.spec.minAvailable).toBeLessThan(api.spec.replicas);
        expect(c.image).toMatch(/^arcal-service:/);
        expect(api.spec.template.spec.securityContext.runAsUser).toBe(1000);
      });

      it('pods share no volume: the artifact store is S3, and each worker keeps its cache and job folders on its own emptyDir', () => {
        expect(byKind(objs, 'PersistentVolumeClaim')).toEqual([]);
        for (const d of byKind(objs, 'Deployment')) {
          const c = container(d);
          const env = containerEnv(objs, c);
          const volumes = d.spec.template.spec.volumes ?? [];
          expect(
            volumes.filter((v: any) => v.persistentVolumeClaim),
            d.metadata.name,
          ).toEqual([]);
          if (d.metadata.name === 'arcal-api') continue;
          const worker = loadWorkerConfig(c.args, env);
          expect(worker.artifact?.kind, d.metadata.name).toBe('s3');
          for (const dir of [worker.cache!.dir, worker.workDir!]) {
            const mount = c.volumeMounts.find((m: any) => dir === m.mountPath || dir.startsWith(`${m.mountPath}/`));
            expect(mount, `${d.metadata.name}: a volume holding ${dir}`).toBeDefined();
            expect(
              volumes.find((v: any) => v.name === mount.name).emptyDir,
              `${d.metadata.name}: ${dir}`,
            ).toBeDefined();
          }
        }
      });

      it('a migration Job that runs the migrations with the shared configuration', () => {
        const job = named(objs, 'Job', 'arcal-migrate');
        const c = job.spec.template.spec.containers[0];
        expect(c.command.join(' ')).toMatch(/db:migrate|packages\/db\/scripts\/migrate\.ts/);
        expect(containerEnv(objs, c).DATABASE_URL).toMatch(/^postgresql:\/\//);
      });

      it('one worker Deployment per queue, each with requests, a grace period longer than its own, and the right image', () => {
        const workers = byKind(objs, 'Deployment').filter((d) => d.metadata.name !== 'arcal-api');
        const served = workers.map((d) => workerQueues(objs, d));
        expect(served.every((q) => q.length === 1)).toBe(true);
        expect(served.flat().sort()).toEqual([...QUEUE_NAMES].sort());
        for (const d of workers) {
          const [queue] = workerQueues(objs, d);
          const c = container(d);
          const spec = d.spec.template.spec;
          const env = containerEnv(objs, c);
          const compute = queue !== 'orchestrate';
          expect(c.resources.requests.cpu, d.metadata.name).toBeDefined();
          // the worker's own /metrics listener is on the port the pod declares and announces for scraping
          const metricsPort = workerMetricsOptions(env).port;
          expect(c.ports.find((p: any) => p.name === 'metrics').containerPort).toBe(metricsPort);
          expect(d.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(metricsPort));
          expect(c.resources.requests.memory, d.metadata.name).toBeDefined();
          const worker = loadWorkerConfig(c.args, env);
          // the worker gives up on its running job before the kubelet kills it, and a compute job gets long
          // enough to finish the epoch or shard it checkpoints at
          expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(worker.shutdownGraceSeconds);
          if (compute) expect(worker.shutdownGraceSeconds).toBeGreaterThanOrEqual(600);
          // the images' user (uid 1000, test/infra/images.test.ts) owns the cache and artifact folders
          expect(spec.securityContext.runAsUser).toBe(1000);
          expect(spec.securityContext.fsGroup).toBe(1000);
          if (gpu && compute) {
            expect(c.resources.requests['nvidia.com/gpu'], d.metadata.name).toBe(1);
            expect(c.resources.limits['nvidia.com/gpu'], d.metadata.name).toBe(1);
            expect(c.image).toMatch(/^arcal-worker-gpu:/);
            expect(env.ARCAL_BACKEND).toBe('tfjs-node-gpu');
          } else {
            expect(c.resources.requests['nvidia.com/gpu'], d.metadata.name).toBeUndefined();
            expect(c.image).toMatch(/^arcal-service:/);
            if (compute) expect(env.ARCAL_BACKEND).toBe('wasm');
          }
        }
      });

      it('one ScaledObject per worker Deployment: waiting plus active jobs of its queue, GPU pools may idle at zero', () => {
        const workers = byKind(objs, 'Deployment').filter((d) => d.metadata.name !== 'arcal-api');
        const scaled = byKind(objs, 'ScaledObject');
        expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(
          workers.map((d) => d.metadata.name).sort(),
        );
        for (const so of scaled) {
          const d = named(objs, 'Deployment', so.spec.scaleTargetRef.name);
          const [queue] = workerQueues(objs, d);
          const env = containerEnv(objs, container(d));
          const lists = watchedLists(so);
          expect(Object.keys(lists).sort(), so.metadata.name).toEqual(['active', 'waiting']);
          for (const t of so.spec.triggers) {
            expect(t.type).toBe('redis');
            // KEDA reads the address from the target's own environment
            expect(env[t.metadata.addressFromEnv], `${so.metadata.name}: ${t.metadata.addressFromEnv}`).toMatch(
              /^[\w.-]+:\d+$/,
            );
            named(objs, 'TriggerAuthentication', t.authenticationRef.name);
          }
          // the lists are the ones of this queue under the prefix the processes use
          expect(lists.waiting).toBe(`${env.ARCAL_QUEUE_PREFIX}:${queue}:wait`);
          expect(lists.active).toBe(`${env.ARCAL_QUEUE_PREFIX}:${queue}:active`);
          // --concurrency jobs per pod: the composite target is that many
          expect(Number(so.spec.advanced.scalingModifiers.target)).toBe(
            loadWorkerConfig(container(d).args, env).concurrency,
          );
          if (gpu && queue !== 'orchestrate') expect(so.spec.minReplicaCount).toBe(0);
          else expect(so.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
          expect(so.spec.maxReplicaCount).toBeGreaterThan(so.spec.minReplicaCount);
        }
        for (const ta of byKind(objs, 'TriggerAuthentication'))
          for (const ref of ta.spec.secretTargetRef)
            expect(
              named(objs, 'Secret', ref.name).stringData[ref.key],
              `${ta.metadata.name}: ${ref.key}`,
            ).toBeDefined();
      });
    });
  }
});

describe.skipIf(!kubectl)('infra/k8s/components/shared-folder (optional, instead of S3)', () => {
  let objs: Obj[] = [];
  beforeAll(() => {
    // an overlay of the cpu overlay with the component, in a copy of the tree (kustomize takes relative paths only)
    const copy = mkdtempSync(join(tmpdir(), 'arcal-k8s-'));
    cpSync(k8sDir, copy, { recursive: true });
    mkdirSync(join(copy, 'overlays', 'shared'));
    writeFileSync(
      join(copy, 'overlays', 'shared', 'kustomization.yaml'),
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../cpu]\ncomponents: [../../components/shared-folder]\n',
    );
    const r = spawnSync('kubectl', ['kustomize', join(copy, 'overlays', 'shared')], { encoding: 'utf8' });
    rmSync(copy, { recursive: true, force: true });
    if (r.status !== 0) throw new Error(`kubectl kustomize with components/shared-folder: ${r.stderr}`);
    objs = parseAllDocuments(r.stdout).map((d) => d.toJSON() as Obj);
  });

  it('the API and every worker mount one ReadWriteMany claim where ARTIFACT_URL points', () => {
    const claims = new Set<string>();
    for (const o of objs) new MODELS[`${o.apiVersion}/${o.kind}`]!(o).validate();
    for (const d of byKind(objs, 'Deployment')) {
      const c = container(d);
      const env = containerEnv(objs, c);
      const api = loadApiConfig(env);
      expect(api.artifactS3, d.metadata.name).toBeNull();
      const dir = api.artifactDir;
      if (d.metadata.name !== 'arcal-api') expect(loadWorkerConfig(c.args, env).artifactDir).toBe(dir);
      const mount = c.volumeMounts.find((m: any) => m.mountPath === dir);
      expect(mount, `${d.metadata.name}: a volume at ${dir}`).toBeDefined();
      const volume = d.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
      claims.add(volume.persistentVolumeClaim.claimName);
    }
    expect(claims.size).toBe(1);
    expect(named(objs, 'PersistentVolumeClaim', [...claims][0]!).spec.accessModes).toEqual(['ReadWriteMany']);
  });
});

/** The lists a ScaledObject's redis triggers read, by trigger name; the formula must be exactly their sum. */
function watchedLists(so: Obj): Record<string, string> {
  const lists: Record<string, string> = {};
  for (const t of so.spec.triggers) lists[t.name] = t.metadata.listName;
  const terms = String(so.spec.advanced.scalingModifiers.formula)
    .split('+')
    .map((s) => s.trim());
  expect(terms.sort(), `${so.metadata.name}: formula`).toEqual(Object.keys(lists).sort());
  return lists;
}

const redis = kubectl ? await testRedis('k8s-scalers') : undefined;

describe.skipIf(!redis)('the scalers watch the lists where BullMQ keeps waiting and running jobs (real Redis)', () => {
  const connection = redis ? new Redis(redis.url, { maxRetriesPerRequest: null }) : undefined!;
  const open: Queue[] = [];

  afterAll(async () => {
    for (const o of open.reverse()) await o.close();
    connection.disconnect();
    await redis?.cleanup();
  });

  it("LLEN of the watched keys equals BullMQ's own waiting and active counts, for every queue", async () => {
    const objs = render('gpu');
    const prefix = containerEnv(objs, container(named(objs, 'Deployment', 'arcal-api'))).ARCAL_QUEUE_PREFIX!;
    for (const so of byKind(objs, 'ScaledObject')) {
      const [queueName] = workerQueues(objs, named(objs, 'Deployment', so.spec.scaleTargetRef.name));
      const queue = new Queue(queueName!, { connection, prefix: redis!.prefix });
      open.push(queue);
      // arcal's own job options (a priority or a delay would move jobs out of the wait list)
      await queue.addBulk(
        [0, 1, 2].map((i) => ({
          name: 'member',
          data: { experimentId: 'e' },
          opts: jobOptions(`${queueName}:member` as never, `k8s-${queueName}-${i}`),
        })),
      );
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const worker = new Worker(
        queueName!,
        async () => {
          started();
          await gate;
        },
        { connection, prefix: redis!.prefix, concurrency: 1 },
      );
      try {
        await running;
        const counts = await queue.getJobCounts('wait', 'active');
        expect(counts).toEqual({ wait: 2, active: 1 });
        const lists = watchedLists(so);
        const value: Record<string, number> = {};
        for (const [trigger, list] of Object.entries(lists)) {
          expect(list.startsWith(`${prefix}:`)).toBe(true);
          value[trigger] = await connection.llen(`${redis!.prefix}:${list.slice(prefix.length + 1)}`);
        }
        expect(value).toEqual({ waiting: counts.wait, active: counts.active });
        // the composite metric: three jobs, one per pod, so three pods, the busy one among them
        expect(value.waiting! + value.active!).toBe(3);
      } finally {
        release();
        await worker.close();
      }
    }
  });
});
