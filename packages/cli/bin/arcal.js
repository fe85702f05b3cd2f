#!/usr/bin/env node
// arcal CLI entry: TypeScript sources run through tsx, so `npx arcal` works right after `npm ci`.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
