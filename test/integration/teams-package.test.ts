import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePng, outlineIcon } from '../../scripts/teams-icons.js';
import { APP_PACKAGE_DIR, buildTeamsPackage, checkIcons, decodePng, fillManifest, validateManifest } from '../../scripts/teams-package.js';

/** What `azd provision` outputs for a deployment (main.bicep). */
const DEPLOYMENT = {
  LINKGATE_TEAMS_APP_ID: '4b3f3c0e-9d4b-4a53-9d57-7f1d8f0c9a11',
  LINKGATE_TEAMS_BOT_ID: '0E5B7C1D-2F4A-4B8E-9C3D-5A6F7E8D9C0B',
  LINKGATE_API_URL: 'https://func-linkgate-abc123.azurewebsites.net',
};

const dir = mkdtempSync(join(tmpdir(), 'linkgate-teams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run teams:package', () => {
  it('writes a zip of manifest.json and the two icons, with the deployment\'s IDs, whose manifest validates', async () => {
    const output = join(dir, 'app.zip');
    await buildTeamsPackage(DEPLOYMENT, output);

    const entries = unzipSync(readFileSync(output));
    expect(Object.keys(entries).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    const manifestJson = Buffer.from(entries['manifest.json']!).toString('utf8');
    expect(manifestJson).not.toContain('${{');
    const manifest = JSON.parse(manifestJson);
    expect(manifest.id).toBe(DEPLOYMENT.LINKGATE_TEAMS_APP_ID);
    expect(manifest.bots).toEqual([expect.objectContaining({ botId: DEPLOYMENT.LINKGATE_TEAMS_BOT_ID.toLowerCase(), scopes: ['team', 'groupChat', 'personal'] })]);
    expect(manifest.validDomains).toEqual(['func-linkgate-abc123.azurewebsites.net']);
    expect(manifest.developer.websiteUrl).toBe(DEPLOYMENT.LINKGATE_API_URL);
    expect(await validateManifest(manifestJson)).toEqual([]);
    expect(Buffer.from(entries['color.png']!).equals(readFileSync(join(APP_PACKAGE_DIR, 'color.png')))).toBe(true);
  });

  it('validates against the real schema: a manifest that breaks it is refused and nothing is written', async () => {
    const output = join(dir, 'bad.zip');
    await expect(buildTeamsPackage({ ...DEPLOYMENT, LINKGATE_TEAMS_DEVELOPER_NAME: 'A platform team with a very long name' }, output)).rejects.toThrow(
      /nothing was written[\s\S]*developer\/name/,
    );
    expect(() => readFileSync(output)).toThrow();
    const template = readFileSync(join(APP_PACKAGE_DIR, 'manifest.json'), 'utf8');
    const tooLong = JSON.parse(fillManifest(template, {
      LINKGATE_TEAMS_APP_ID: DEPLOYMENT.LINKGATE_TEAMS_APP_ID,
      LINKGATE_TEAMS_BOT_ID: DEPLOYMENT.LINKGATE_TEAMS_BOT_ID,
      LINKGATE_API_HOST: 'func-linkgate-abc123.azurewebsites.net',
      LINKGATE_TEAMS_WEBSITE_URL: DEPLOYMENT.LINKGATE_API_URL,
      LINKGATE_TEAMS_DEVELOPER_NAME: 'Linkgate',
      LINKGATE_TEAMS_APP_VERSION: '1.0.0',
    }));
    tooLong.name.short = 'x'.repeat(31);
    expect((await validateManifest(JSON.stringify(tooLong))).join('\n')).toMatch(/name\/short|maxLength|30/);
  });

  it('names every missing or malformed value', async () => {
    await expect(buildTeamsPackage({}, join(dir, 'none.zip'))).rejects.toThrow(/LINKGATE_TEAMS_APP_ID is missing[\s\S]*LINKGATE_TEAMS_BOT_ID is missing[\s\S]*LINKGATE_API_URL is missing/);
    await expect(buildTeamsPackage({ ...DEPLOYMENT, LINKGATE_TEAMS_BOT_ID: 'bot' }, join(dir, 'x.zip'))).rejects.toThrow(/LINKGATE_TEAMS_BOT_ID must be a GUID/);
    await expect(buildTeamsPackage({ ...DEPLOYMENT, LINKGATE_API_URL: 'http://func.example' }, join(dir, 'x.zip'))).rejects.toThrow(/must be https/);
    await expect(buildTeamsPackage({ ...DEPLOYMENT, LINKGATE_TEAMS_APP_VERSION: 'v2' }, join(dir, 'x.zip'))).rejects.toThrow(/MAJOR\.MINOR\.PATCH/);
    expect(() => fillManifest('{"id":"${{SOMETHING_ELSE}}"}', {})).toThrow(/SOMETHING_ELSE/);
  });

  it('checks the icons as Teams requires them: 192×192 colour, 32×32 white-on-transparent outline', () => {
    const color = readFileSync(join(APP_PACKAGE_DIR, 'color.png'));
    const outline = readFileSync(join(APP_PACKAGE_DIR, 'outline.png'));
    expect(checkIcons(color, outline)).toEqual([]);
    expect(outline.equals(outlineIcon())).toBe(true);
    const { width, height, pixels } = decodePng(outline);
    expect([width, height]).toEqual([32, 32]);
    const tinted = Buffer.from(pixels);
    const opaque = [...Array(tinted.length / 4).keys()].find((i) => tinted[i * 4 + 3]! > 0)!;
    tinted[opaque * 4] = 0;
    expect(checkIcons(color, encodePng(32, 32, tinted))).toEqual([expect.stringMatching(/white on transparent; 1 pixel/)]);
    expect(checkIcons(outline, outline)).toEqual([expect.stringMatching(/color\.png must be 192×192, is 32×32/)]);
  });
});
