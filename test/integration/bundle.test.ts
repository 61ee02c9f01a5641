import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../../functions/all.js';
import { buildDeployment } from '../../scripts/build.js';
import { probeColdStart, type ProbeResult } from '../fixtures/worker-probe.js';

describe('the deployable bundle (npm run build)', () => {
  let outDir: string;
  let metafile: Metafile;
  let probe: ProbeResult;

  beforeAll(async () => {
    // Prepare: build into a fresh folder; the probe plays the worker.
    outDir = mkdtempSync(join(tmpdir(), 'linkgate-bundle-'));
    metafile = await buildDeployment(outDir);
    probe = await probeColdStart(join(outDir, 'index.mjs'), { teams: true });
  }, 120_000);

  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('registers every function of functions/all.ts with the worker, with its trigger', () => {
    expect(probe.functions.map((f) => f.name)).toEqual(allFunctions.map((spec) => spec.name));
    for (const spec of allFunctions) {
      const registered = probe.functions.find((f) => f.name === spec.name)!;
      expect(registered.handler).toBe('function');
      const trigger = Object.values(registered.bindings).find((b) => b.direction === 'in')!;
      if (spec.kind === 'http') {
        expect(trigger).toMatchObject({ type: 'httpTrigger', route: spec.route, methods: [...spec.methods], authLevel: spec.authLevel });
      } else if (spec.kind === 'timer') {
        expect(trigger).toMatchObject({ type: 'timerTrigger', schedule: spec.schedule });
      } else {
        expect(trigger.type).toBe('eventGridTrigger');
      }
    }
  });

  it('loads the Teams chunk on demand and answers through it', () => {
    expect(probe.messages?.status).toBe(400);
    expect(probe.messages?.jsonBody?.error).toMatch(/Bot Framework activity/);
  });

  it('keeps the Teams SDK, MSAL and the Event Grid SDK out of what every cold start loads', () => {
    const statics = staticClosure(metafile, entryOutput(metafile));
    const eager = [...statics].flatMap((file) => Object.keys(metafile.outputs[file]!.inputs));
    expect(eager.filter((input) => /node_modules\/@microsoft\/teams\./.test(input))).toEqual([]);
    expect(eager.filter((input) => /node_modules\/@azure\/msal-/.test(input))).toEqual([]);
    expect(eager.filter((input) => /node_modules\/@azure\/eventgrid\//.test(input))).toEqual([]);
    const lazy = Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs));
    expect(lazy.some((input) => input.includes('node_modules/@microsoft/teams.apps/'))).toBe(true);
  });

  it('holds no test code, no local stack, and no copy of @azure/functions-core', () => {
    const inputs = Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs));
    expect(inputs.filter((input) => input.startsWith('test/') || input.startsWith('src/dev/') || input.startsWith('src/cli/'))).toEqual([]);
    expect(inputs.filter((input) => input.includes('@azure/functions-core'))).toEqual([]);
    const files = listFiles(outDir);
    expect(files.filter((file) => !/^(index\.mjs|chunks\/[\w-]+\.mjs|host\.json|package\.json|meta\.json)(\.map|\.LEGAL\.txt)?$/.test(file))).toEqual([]);
  });
});

function entryOutput(metafile: Metafile): string {
  const [file] = Object.entries(metafile.outputs).find(([, output]) => output.entryPoint === 'functions/index.ts') ?? [];
  if (!file) throw new Error('No output for functions/index.ts');
  return file;
}

/** Output files loaded by static imports from `file`, itself included. */
function staticClosure(metafile: Metafile, file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const imported of metafile.outputs[file]?.imports ?? []) {
    if (imported.kind === 'import-statement' && !imported.external) staticClosure(metafile, imported.path, seen);
  }
  return seen;
}

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name), base) : [relative(base, join(dir, entry.name))],
  );
}
