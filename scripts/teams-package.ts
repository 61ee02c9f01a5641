/**
 * `npm run teams:package`: the Teams app package (dist/teams/linkgate-teams.zip) for this
 * deployment, to upload in the Teams admin center or in Teams (Apps → Manage your apps → Upload).
 *
 * appPackage/manifest.json holds `${{NAME}}` placeholders, filled from the environment, or from
 * `azd env get-values` when a value is not in the environment:
 *
 *   LINKGATE_TEAMS_APP_ID   the Teams app's own ID (main.bicep output)
 *   LINKGATE_TEAMS_BOT_ID   the bot's app ID = the managed identity's client ID (output)
 *   LINKGATE_API_URL        the function app's URL (output); its host becomes validDomains
 *   LINKGATE_TEAMS_WEBSITE_URL, LINKGATE_TEAMS_DEVELOPER_NAME, LINKGATE_TEAMS_APP_VERSION
 *                           optional; default the API URL, "Linkgate", package.json's version
 *
 * The filled manifest is validated against its JSON schema offline (@microsoft/app-manifest
 * ships the schemas), and the icons are checked against what Teams requires, before the zip
 * is written. Nothing is written when anything is wrong.
 */
import { AppManifestUtils } from '@microsoft/app-manifest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { inflateSync } from 'node:zlib';
import { zipSync } from 'fflate';

const root = join(__dirname, '..');
export const APP_PACKAGE_DIR = join(root, 'appPackage');
export const DEFAULT_OUTPUT = join(root, 'dist', 'teams', 'linkgate-teams.zip');

const REQUIRED = ['LINKGATE_TEAMS_APP_ID', 'LINKGATE_TEAMS_BOT_ID', 'LINKGATE_API_URL'] as const;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class TeamsPackageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TeamsPackageError';
  }
}

type Values = Readonly<Record<string, string | undefined>>;

/** The placeholder values, checked; throws with every problem named. */
export function placeholderValues(values: Values): Record<string, string> {
  const problems: string[] = [];
  for (const name of REQUIRED) if (!values[name]?.trim()) problems.push(`${name} is missing`);
  for (const name of ['LINKGATE_TEAMS_APP_ID', 'LINKGATE_TEAMS_BOT_ID'] as const) {
    const value = values[name]?.trim();
    if (value && !GUID.test(value)) problems.push(`${name} must be a GUID, got '${value}'`);
  }
  // Teams wants MAJOR.MINOR.PATCH; the schema itself only caps the length.
  const version = values.LINKGATE_TEAMS_APP_VERSION?.trim();
  if (version && !/^\d+\.\d+\.\d+$/.test(version)) problems.push(`LINKGATE_TEAMS_APP_VERSION must be MAJOR.MINOR.PATCH, got '${version}'`);
  let apiHost = '';
  const apiUrl = values.LINKGATE_API_URL?.trim();
  if (apiUrl) {
    try {
      const url = new URL(apiUrl);
      if (url.protocol !== 'https:') problems.push(`LINKGATE_API_URL must be https, got '${apiUrl}'`);
      apiHost = url.host;
    } catch {
      problems.push(`LINKGATE_API_URL is not a URL: '${apiUrl}'`);
    }
  }
  if (problems.length > 0) {
    throw new TeamsPackageError(
      `Cannot build the Teams app package:\n  ${problems.join('\n  ')}\n` +
        'Run it in the azd environment after `azd provision` (the values are its outputs), or set them in the environment.',
    );
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  return {
    LINKGATE_TEAMS_APP_ID: values.LINKGATE_TEAMS_APP_ID!.trim().toLowerCase(),
    LINKGATE_TEAMS_BOT_ID: values.LINKGATE_TEAMS_BOT_ID!.trim().toLowerCase(),
    LINKGATE_API_HOST: apiHost,
    LINKGATE_TEAMS_WEBSITE_URL: values.LINKGATE_TEAMS_WEBSITE_URL?.trim() || apiUrl!.replace(/\/+$/, ''),
    LINKGATE_TEAMS_DEVELOPER_NAME: values.LINKGATE_TEAMS_DEVELOPER_NAME?.trim() || 'Linkgate',
    LINKGATE_TEAMS_APP_VERSION: values.LINKGATE_TEAMS_APP_VERSION?.trim() || pkg.version,
  };
}

/** The manifest template with every `${{NAME}}` replaced; an unknown name is an error. */
export function fillManifest(template: string, values: Record<string, string>): string {
  const unknown = new Set<string>();
  const filled = template.replace(/\$\{\{([A-Z0-9_]+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) {
      unknown.add(name);
      return '';
    }
    return JSON.stringify(value).slice(1, -1);
  });
  if (unknown.size > 0) throw new TeamsPackageError(`appPackage/manifest.json names placeholders nobody fills: ${[...unknown].join(', ')}`);
  return filled;
}

export interface PngImage {
  readonly width: number;
  readonly height: number;
  /** RGBA, 8 bits a channel. */
  readonly pixels: Buffer;
}

/** Decodes an 8-bit RGBA, non-interlaced PNG (what the icons are). */
export function decodePng(file: Buffer): PngImage {
  if (!file.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) throw new TeamsPackageError('not a PNG file');
  let offset = 8;
  let width = 0;
  let height = 0;
  const data: Buffer[] = [];
  while (offset < file.length) {
    const length = file.readUInt32BE(offset);
    const type = file.toString('ascii', offset + 4, offset + 8);
    const body = file.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || body[9] !== 6 || body[12] !== 0) throw new TeamsPackageError('icons must be 8-bit RGBA, non-interlaced PNGs');
    } else if (type === 'IDAT') {
      data.push(body);
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * 4;
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x]!;
      const left = x >= 4 ? pixels[y * stride + x - 4]! : 0;
      const up = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const upLeft = x >= 4 && y > 0 ? pixels[(y - 1) * stride + x - 4]! : 0;
      const predictor = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter ?? 0];
      if (predictor === undefined) throw new TeamsPackageError(`unknown PNG filter ${filter}`);
      pixels[y * stride + x] = (value + predictor) & 0xff;
    }
  }
  return { width, height, pixels };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Teams: the colour icon is 192×192; the outline icon is 32×32, white on a transparent
 * background (any pixel that is not transparent is white).
 */
export function checkIcons(color: Buffer, outline: Buffer): string[] {
  const problems: string[] = [];
  const c = decodePng(color);
  if (c.width !== 192 || c.height !== 192) problems.push(`color.png must be 192×192, is ${c.width}×${c.height}`);
  const o = decodePng(outline);
  if (o.width !== 32 || o.height !== 32) problems.push(`outline.png must be 32×32, is ${o.width}×${o.height}`);
  let coloured = 0;
  for (let i = 0; i < o.pixels.length; i += 4) {
    if (o.pixels[i + 3] !== 0 && (o.pixels[i] !== 255 || o.pixels[i + 1] !== 255 || o.pixels[i + 2] !== 255)) coloured++;
  }
  if (coloured > 0) problems.push(`outline.png must be white on transparent; ${coloured} pixel(s) have another colour`);
  return problems;
}

/** Validates the filled manifest against the schema its $schema names, offline. */
export async function validateManifest(manifestJson: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'linkgate-manifest-'));
  try {
    const file = join(dir, 'manifest.json');
    writeFileSync(file, manifestJson);
    const [, errors] = await AppManifestUtils.readAndValidateTeamsManifest(file);
    return errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function buildTeamsPackage(values: Values, output = DEFAULT_OUTPUT): Promise<{ output: string; manifest: Record<string, unknown> }> {
  const filledValues = placeholderValues(values);
  const manifestJson = fillManifest(readFileSync(join(APP_PACKAGE_DIR, 'manifest.json'), 'utf8'), filledValues);
  const color = readFileSync(join(APP_PACKAGE_DIR, 'color.png'));
  const outline = readFileSync(join(APP_PACKAGE_DIR, 'outline.png'));
  const problems = [...(await validateManifest(manifestJson)).map((e) => `manifest.json: ${e}`), ...checkIcons(color, outline)];
  if (problems.length > 0) throw new TeamsPackageError(`The Teams app package is not valid; nothing was written:\n  ${problems.join('\n  ')}`);
  const zip = zipSync({ 'manifest.json': Buffer.from(manifestJson), 'color.png': color, 'outline.png': outline }, { level: 9, mtime: new Date('2026-01-01T00:00:00Z') });
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, zip);
  return { output, manifest: JSON.parse(manifestJson) as Record<string, unknown> };
}

/** azd's values for the current environment, or {} when azd is not there. */
function azdValues(): Record<string, string> {
  const run = spawnSync('azd', ['env', 'get-values', '--output', 'json'], { encoding: 'utf8', shell: process.platform === 'win32' });
  if (run.status !== 0) return {};
  try {
    return JSON.parse(run.stdout) as Record<string, string>;
  } catch {
    return {};
  }
}

if (require.main === module) {
  const missing = REQUIRED.some((name) => !process.env[name]);
  const values = { ...(missing ? azdValues() : {}), ...process.env };
  buildTeamsPackage(values).then(
    ({ output, manifest }) => {
      console.log(`Wrote ${relative(process.cwd(), output)} (Teams app ${String(manifest.id)}, bot ${String((manifest.bots as { botId: string }[])[0]?.botId)}); the manifest validates against its schema.`);
      console.log('Upload it in the Teams admin center (Manage apps → Upload new app), then add Linkgate to the review channel.');
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
