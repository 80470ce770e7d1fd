#!/usr/bin/env node
// The `sleds` bin. The CLI is TypeScript; tsx compiles it on load, so there is no build step.
import { register } from 'tsx/esm/api';

register();
// Imported only after register(): a static import would be hoisted above it.
const { main } = await import('./main.ts');
await main();
