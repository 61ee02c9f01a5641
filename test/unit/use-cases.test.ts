import { describe, expect, it } from 'vitest';
import { parseAuditQuery, readAuditTrail } from '../../src/app/audit-trail.js';
import { handleResourceEvent } from '../../src/app/event-intake.js';
import type { Intake } from '../../src/app/ports.js';
import type { AuditQuery } from '../../src/domain/audit.js';
import { InvalidInputError } from '../../src/domain/errors.js';
import { HOME_SUB, VAULT, harness } from './fakes.js';

describe('audit trail: query parameters become one audit query', () => {
  it('reads a resource filter as its lower-case key and passes the query to the store', async () => {
    // Prepare
    const asked: AuditQuery[] = [];
    const audit = { query: async (query: AuditQuery) => (asked.push(query), { entries: [] }) };
    // Act
    const page = await readAuditTrail({ audit }, new URLSearchParams({ resource: VAULT.id.toUpperCase(), outcome: 'approved', pageSize: '10' }));
    // Assess
    expect(page.entries).toEqual([]);
    expect(asked).toEqual([{ resourceId: VAULT.key, outcome: 'approved', pageSize: 10 }]);
  });

  it('refuses an unknown parameter, naming the known ones', () => {
    expect(() => parseAuditQuery(new URLSearchParams({ vaults: 'x' }))).toThrow(InvalidInputError);
    expect(() => parseAuditQuery(new URLSearchParams({ vaults: 'x' }))).toThrow(/Unknown query parameter 'vaults'. Known: resource, vault/);
  });
});

describe('event intake: one delivered event, read at the boundary, becomes a hint', () => {
  it('audits an unreadable event with an excerpt and acts on nothing', async () => {
    // Prepare
    const h = harness();
    h.connections.add('pe-app.1', HOME_SUB);
    const parse = async (raw: unknown): Promise<Intake> => ({ kind: 'invalid', eventId: 'evt-9', error: 'no subject', raw });
    // Act
    const result = await handleResourceEvent({ parse, audit: h.audit, workflow: h.workflow }, { id: 'evt-9' });
    // Assess
    expect(result).toEqual({ kind: 'invalid', eventId: 'evt-9', error: 'no subject' });
    expect(h.audit.entries).toMatchObject([{ kind: 'error', outcome: 'invalid', correlationId: 'evt-9', detail: { error: 'no subject', raw: '{"id":"evt-9"}' } }]);
    expect(h.connections.puts).toHaveLength(0);
  });

  it('hands a hint to the workflow and counts changes still provisioning', async () => {
    // Prepare
    const h = harness({ actionTimeoutMs: 2_000 });
    h.connections.updatingReads = 1_000;
    h.connections.add('pe-app.1', HOME_SUB);
    const parse = async (): Promise<Intake> => ({ kind: 'hint', hint: h.hint });
    // Act
    const result = await handleResourceEvent({ parse, audit: h.audit, workflow: h.workflow }, {});
    // Assess
    expect(result).toMatchObject({ kind: 'handled', unfinished: 1 });
  });
});
