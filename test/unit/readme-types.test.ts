import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESOURCE_TYPES } from '../../src/domain/resource-types.js';

/** The README's "Supported resource types" table says what the registry says. */
describe('the README table of supported resource types', () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const start = readme.indexOf('## Supported resource types');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const rows = section
    .split('\n')
    .filter((line) => /^\| [^|]+ \| `[a-z]+` \| `Microsoft\./.test(line))
    .map((line) => line.split(' | ').map((cell) => cell.replace(/^\|?\s*|\s*\|?$/g, '').replace(/`/g, '')));

  it('has one row per registered type, in registry order, with its key, ARM type, API version and permissions', () => {
    expect(rows.map(([name, key, type, version]) => ({ name, key, type, version }))).toEqual(
      RESOURCE_TYPES.map((t) => ({ name: t.displayName, key: t.key, type: t.type, version: t.apiVersion })),
    );
    rows.forEach((row, index) => {
      const type = RESOURCE_TYPES[index]!;
      const listed = (row[4] ?? '').split(', ').map((action) => `${type.type}/${action}`);
      expect(listed).toEqual([...type.permissions.read, ...type.permissions.approve]);
    });
  });
});
