/**
 * Azure Functions entry point (package.json "main"). The Node worker loads this file and every
 * `app.*` call registers one function with the host. The specs themselves live in `all.ts`, which
 * the local dev host (src/dev/dev-host.ts) serves too, so both run the very same handlers.
 *
 * Outside the Functions host (plain `node`, tests) `app.*` only prints a "test mode" warning and
 * registers nothing; to run the functions locally use the dev host instead.
 */
import { app } from '@azure/functions';
import { getServices } from '../src/composition.js';
import { allFunctions } from './all.js';
import type { FunctionSpec } from './registry.js';

export function register(spec: FunctionSpec): void {
  switch (spec.kind) {
    case 'http':
      // The library mutates the options object, and its `methods` type is a mutable array.
      app.http(spec.name, {
        route: spec.route,
        methods: [...spec.methods],
        authLevel: spec.authLevel,
        handler: spec.handler,
      });
      return;
    case 'eventGrid':
      app.eventGrid(spec.name, { handler: spec.handler });
      return;
    case 'timer':
      app.timer(spec.name, {
        schedule: spec.schedule,
        runOnStartup: spec.runOnStartup ?? false,
        handler: spec.handler,
      });
      return;
  }
}

for (const spec of allFunctions) register(spec);

// Read and validate configuration and build the clients now, at cold start, so a missing or
// malformed setting stops the app with a message naming it instead of failing the first request.
getServices();
