/**
 * A writer to be killed mid-upload (kill.test.ts): puts `PUT_KEY` from a stream that yields `PUT_READY_BYTES`
 * bytes, prints "ready" when the store asks for more, then stalls forever, as a worker does when killed in the
 * middle of writing a checkpoint. Configured like any process: ARTIFACT_URL/ARTIFACT_DIR, AWS_*, DATABASE_URL.
 */
import { createDb, ObjectsRepository } from '@arcal/db';
import { artifactConfigFromEnv, createArtifactStore } from '../src/index.ts';

const env = process.env;
const db = createDb(env.DATABASE_URL!, { max: 1 });
const store = await createArtifactStore(artifactConfigFromEnv(env), new ObjectsRepository(db), {
  partSize: Number(env.PUT_PART_SIZE || 5 * 2 ** 20),
});
const ready = Number(env.PUT_READY_BYTES);
const chunk = Buffer.alloc(2 ** 20, 0x5a);

async function* body() {
  for (let sent = 0; sent < ready; sent += chunk.length) yield chunk;
  process.stdout.write('ready\n');
  setInterval(() => {}, 60_000); // keeps the process alive while the upload waits forever
  await new Promise(() => {});
}

await store.put(env.PUT_KEY!, body());
process.stdout.write('finished\n'); // never reached
