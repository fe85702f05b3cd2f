// BullMQ sandboxed-processor file (plain JS so the forked process can load it): registers the
// TypeScript loader in that process, then serves jobs with compute.ts.
import { register } from 'tsx/esm/api';

register();
const { default: processor } = await import('./compute.ts');
export default processor;
