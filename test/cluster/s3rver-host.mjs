// s3rver on a given address and port (a cluster host's private address), objects in the folder given. Prints
// "ready" once listening; exits on SIGTERM.
import S3rver from 's3rver';

const [directory, bucket, address, port] = process.argv.slice(2);
const server = new S3rver({
  address,
  port: Number(port),
  directory,
  silent: true,
  configureBuckets: [{ name: bucket }],
});
await server.run();
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await server.close().catch(() => {});
  process.exit(0);
});
