/**
 * `npm run build`: bundles the function app into dist/deploy, the folder azd deploys.
 *
 *   dist/deploy/index.mjs        entry point (package.json "main"), registers every function
 *   dist/deploy/chunks/*.mjs     code loaded on demand (the Teams SDK, loaded by /api/messages
 *                                and by review cards only)
 *   dist/deploy/host.json        the host configuration
 *   dist/deploy/package.json     name, version, main; no dependencies: everything is bundled
 *   dist/deploy/meta.json        esbuild's metafile (what went in, and how big)
 *
 * `@azure/functions-core` stays external: the Node worker provides it at run time, and a bundled
 * copy would register functions with nobody. Output is ESM so that esbuild can split the lazily
 * imported Teams code into its own chunk; CommonJS dependencies inside it get a `require` made
 * with createRequire, which resolves `@azure/functions-core` through the worker as before.
 */
import { build, type Metafile } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..');

export const DEPLOY_DIR = join(root, 'dist', 'deploy');

/** Banner for every output file: what CommonJS code expects and ESM does not define. */
const BANNER = [
  "import { createRequire as __linkgateCreateRequire } from 'node:module';",
  "import { fileURLToPath as __linkgateFileURLToPath } from 'node:url';",
  "import { dirname as __linkgateDirname } from 'node:path';",
  'const require = __linkgateCreateRequire(import.meta.url);',
  'const __filename = __linkgateFileURLToPath(import.meta.url);',
  'const __dirname = __linkgateDirname(__filename);',
].join('\n');

export async function buildDeployment(outDir = DEPLOY_DIR): Promise<Metafile> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { index: 'functions/index.ts' },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    external: ['@azure/functions-core'],
    // ESM builds of the Azure SDKs where they exist; "module" before "main".
    mainFields: ['module', 'main'],
    conditions: ['node', 'import'],
    banner: { js: BANNER },
    sourcemap: 'linked',
    sourcesContent: false,
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
  writeFileSync(
    join(outDir, 'package.json'),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true, main: 'index.mjs', engines: { node: '>=22' } }, null, 2)}\n`,
  );
  copyFileSync(join(root, 'host.json'), join(outDir, 'host.json'));
  writeFileSync(join(outDir, 'meta.json'), JSON.stringify(result.metafile));
  return result.metafile;
}

/** Output files and their sizes, largest inputs first, for the build log. */
export function describe(metafile: Metafile, outDir = DEPLOY_DIR): string {
  const lines: string[] = [];
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (file.endsWith('.map') || file.endsWith('.LEGAL.txt')) continue;
    lines.push(`${relative(outDir, join(root, file)).padEnd(40)} ${(output.bytes / 1024).toFixed(0).padStart(6)} KiB`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  buildDeployment().then(
    (metafile) => console.log(`Built ${relative(root, DEPLOY_DIR)}:\n${describe(metafile)}`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
