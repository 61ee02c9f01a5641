import { describe, expect, it } from 'vitest';
import { checkRuleName, createRuleAdmin, listRules } from '../../src/app/rule-admin.js';
import { ProposalError, RuleValidationError } from '../../src/domain/errors.js';
import { reviewRuleChange } from '../../src/domain/policy/rule-change.js';
import { parseRule } from '../../src/domain/policy/rule.js';
import type { AppRole, Principal } from '../../src/domain/principal.js';
import { FakeAudit, FakeClock, FakeProposals, FakeRules } from './fakes.js';

function person(objectId: string, name: string, roles: AppRole[] = ['Rules.Write']): Principal {
  return { objectId, name, tenantId: 'c0a1b2c3-0000-4000-8000-00000000c0de', kind: 'user', roles: new Set(roles) };
}
const ADA = person('ada00000-0000-4000-8000-0000000000a1', 'Ada Approver');
const GRACE = person('ace00000-0000-4000-8000-0000000000a2', 'Grace Approver');
const OPEN_SESAME = { priority: 0, action: 'approve' };

function setup(fourEyes = true) {
  const rules = new FakeRules();
  const proposals = new FakeProposals();
  const audit = new FakeAudit();
  const clock = new FakeClock();
  const notices: string[] = [];
  const admin = createRuleAdmin({ rules, proposals, audit, clock, settings: { fourEyes, proposalTtlMs: 72 * 3_600_000 }, announce: async (text) => void notices.push(text) });
  return { rules, proposals, audit, clock, admin, notices };
}

const base = parseRule({ name: 'r', priority: 50, action: 'review', conditions: {} });

describe('four-eyes: which rule changes need a second person', () => {
  it.each([
    ['a new enforcing approve rule', undefined, { ...base, action: 'approve' as const }, true],
    ['a new enforcing reject rule', undefined, { ...base, action: 'reject' as const }, true],
    ['a new shadow approve rule', undefined, { ...base, action: 'approve' as const, mode: 'shadow' as const }, false],
    ['a new disabled approve rule', undefined, { ...base, action: 'approve' as const, enabled: false }, false],
    ['a new review rule without approvers', undefined, base, false],
    ['a new review rule naming approvers', undefined, { ...base, review: { approvers: [ADA.objectId] } }, true],
    ['a review rule whose approvers change', { ...base, review: { approvers: [ADA.objectId] } }, { ...base, review: { approvers: [GRACE.objectId] } }, true],
    ['a disabled rule whose approvers change', { ...base, enabled: false, review: { approvers: [ADA.objectId] } }, { ...base, enabled: false, review: { approvers: [GRACE.objectId] } }, true],
    ['approvers in another order', { ...base, review: { approvers: [ADA.objectId, GRACE.objectId] } }, { ...base, review: { approvers: [GRACE.objectId, ADA.objectId] } }, false],
    ['a shadow approve rule switched to enforce', { ...base, action: 'approve' as const, mode: 'shadow' as const }, { ...base, action: 'approve' as const }, true],
    ['an approve rule enabled again', { ...base, action: 'approve' as const, enabled: false }, { ...base, action: 'approve' as const }, true],
    ['an approve rule disabled', { ...base, action: 'approve' as const }, { ...base, action: 'approve' as const, enabled: false }, false],
    ['an approve rule given another priority', { ...base, action: 'approve' as const }, { ...base, action: 'approve' as const, priority: 1 }, true],
    ['an approve rule given wider conditions', { ...base, action: 'approve' as const, conditions: { requesterTenant: ['home'] } }, { ...base, action: 'approve' as const }, true],
    ['only the description of an approve rule', { ...base, action: 'approve' as const }, { ...base, action: 'approve' as const, description: 'new words' }, false],
    ['a review rule made to reject on expiry', base, { ...base, review: { timeoutAction: 'reject' as const, expireAfterDays: 1 } }, true],
  ])('%s → second person: %s', (_what, before, after, expected) => {
    expect(reviewRuleChange(before, parseRule(after)).needsSecondPerson).toBe(expected);
  });

  it('lets a delete take effect at once', () => {
    expect(reviewRuleChange({ ...base, action: 'reject' }, undefined)).toEqual({ needsSecondPerson: false, reason: 'deleting a rule takes effect at once' });
  });
});

describe('rule admin: the open-sesame rule needs a second person', () => {
  it('turns the write into a proposal, stores nothing, and audits who proposed it', async () => {
    // Prepare
    const h = setup();
    // Act
    const result = await h.admin.write(ADA, 'open-sesame', OPEN_SESAME);
    // Assess
    expect(result.kind).toBe('proposed');
    expect((await listRules(h)).rules.map((r) => r.name)).not.toContain('open-sesame');
    expect(h.audit.entries).toMatchObject([
      { kind: 'admin', outcome: 'proposed', actor: { type: 'user', id: ADA.objectId, name: 'Ada Approver' }, ruleName: 'open-sesame', detail: { before: null, after: { name: 'open-sesame', action: 'approve' }, by: { objectId: ADA.objectId } } },
    ]);
  });

  it('refuses the proposer confirming their own proposal, and applies it when a second person confirms', async () => {
    const h = setup();
    const result = await h.admin.write(ADA, 'open-sesame', OPEN_SESAME);
    if (result.kind !== 'proposed') throw new Error('expected a proposal');
    await expect(h.admin.confirm(ADA, result.proposal.id)).rejects.toMatchObject({ code: 'same-person' });
    expect((await listRules(h)).rules.map((r) => r.name)).not.toContain('open-sesame');

    const confirmed = await h.admin.confirm(GRACE, result.proposal.id);

    expect(confirmed.proposal.status).toBe('applied');
    expect((await listRules(h)).rules.find((r) => r.name === 'open-sesame')).toMatchObject({ action: 'approve', priority: 0 });
    expect(h.audit.entries.at(-1)).toMatchObject({
      outcome: 'rule-changed',
      actor: { id: GRACE.objectId, name: 'Grace Approver' },
      summary: `Grace Approver added rule 'open-sesame', confirming Ada Approver's proposal ${result.proposal.id}.`,
      detail: { change: 'added', before: null, after: { name: 'open-sesame' }, proposal: { proposedBy: { objectId: ADA.objectId } } },
    });
  });

  it('applies at once, naming the person and the rule before and after, when four-eyes is off', async () => {
    const h = setup(false);
    const before = (await h.rules.get('in-tenant'))?.stored;
    const result = await h.admin.write(ADA, 'in-tenant', { priority: 20, action: 'approve', conditions: {} });
    expect(result).toMatchObject({ kind: 'applied', reason: expect.stringContaining('four-eyes is off') });
    expect(h.audit.entries).toMatchObject([{ outcome: 'rule-changed', actor: { id: ADA.objectId, name: 'Ada Approver' }, detail: { change: 'changed', before: before?.ok ? before.rule : 'x', after: { conditions: {} } } }]);
  });

  it('does not apply a proposal when the rule changed after it was proposed', async () => {
    const h = setup();
    const result = await h.admin.write(ADA, 'in-tenant', { priority: 20, action: 'approve', conditions: {} });
    if (result.kind !== 'proposed') throw new Error('expected a proposal');
    await h.admin.write(GRACE, 'in-tenant', { priority: 20, action: 'approve', enabled: false, conditions: { requesterTenant: ['home'] } });

    await expect(h.admin.confirm(GRACE, result.proposal.id)).rejects.toMatchObject({ code: 'stale' });

    expect((await h.rules.get('in-tenant'))?.stored).toMatchObject({ ok: true, rule: { enabled: false } });
    expect((await h.proposals.get(result.proposal.id))?.value.status).toBe('stale');
  });

  it('lets only one of two racing confirmations and a decline win', async () => {
    const h = setup();
    const result = await h.admin.write(ADA, 'open-sesame', OPEN_SESAME);
    if (result.kind !== 'proposed') throw new Error('expected a proposal');
    const bob = person('b0b00000-0000-4000-8000-0000000000b1', 'Bob');
    const outcomes = await Promise.allSettled([h.admin.confirm(GRACE, result.proposal.id), h.admin.confirm(bob, result.proposal.id), h.admin.decline(bob, result.proposal.id, 'no')]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(h.audit.entries.filter((e) => e.outcome === 'rule-changed' || e.outcome === 'declined')).toHaveLength(1);
  });

  it('expires a pending proposal after its time, and then refuses to confirm it', async () => {
    const h = setup();
    const result = await h.admin.write(ADA, 'open-sesame', OPEN_SESAME);
    if (result.kind !== 'proposed') throw new Error('expected a proposal');
    h.clock.current = new Date(h.clock.current.getTime() + 73 * 3_600_000);
    expect((await h.admin.proposals()).map((p) => p.status)).toEqual(['expired']);
    await expect(h.admin.confirm(GRACE, result.proposal.id)).rejects.toMatchObject({ code: 'expired' });
    expect(h.audit.entries.filter((e) => e.outcome === 'expired')).toHaveLength(1);
    expect((await listRules(h)).rules.map((r) => r.name)).not.toContain('open-sesame');
  });

  it('records a decline by another person and a withdrawal by the proposer, each with a reason', async () => {
    const h = setup();
    const first = await h.admin.write(ADA, 'open-sesame', OPEN_SESAME);
    const second = await h.admin.write(ADA, 'open-sesame-2', OPEN_SESAME);
    if (first.kind !== 'proposed' || second.kind !== 'proposed') throw new Error('expected proposals');
    await expect(h.admin.decline(GRACE, first.proposal.id, ' ')).rejects.toBeInstanceOf(RuleValidationError);
    expect((await h.admin.decline(GRACE, first.proposal.id, 'opens everything')).status).toBe('declined');
    expect((await h.admin.decline(ADA, second.proposal.id, 'typo')).status).toBe('withdrawn');
    await expect(h.admin.confirm(GRACE, first.proposal.id)).rejects.toBeInstanceOf(ProposalError);
  });

  it("tells the admins' conversation of the proposal, the confirmation and a decline, and a failing notice changes nothing", async () => {
    const h = setup();
    const result = await h.admin.write(ADA, 'open-sesame', OPEN_SESAME);
    if (result.kind !== 'proposed') throw new Error('expected a proposal');
    await h.admin.confirm(GRACE, result.proposal.id);
    expect(h.notices).toEqual([expect.stringMatching(/^Ada Approver proposed a change to rule 'open-sesame'/), expect.stringMatching(/^Grace Approver added rule 'open-sesame', confirming/)]);

    const failing = createRuleAdmin({ rules: h.rules, proposals: h.proposals, audit: h.audit, clock: h.clock, settings: { fourEyes: true, proposalTtlMs: 1 }, announce: async () => { throw new Error('Teams is down'); } });
    expect((await failing.write(ADA, 'try-it', { priority: 3, mode: 'shadow', action: 'approve' })).kind).toBe('applied');
  });

  it('applies shadow rules and disabling at once', async () => {
    const h = setup();
    expect((await h.admin.write(ADA, 'try-approve-all', { priority: 1, mode: 'shadow', action: 'approve' })).kind).toBe('applied');
    expect((await h.admin.write(ADA, 'in-tenant', { priority: 20, action: 'approve', enabled: false, conditions: { requesterTenant: ['home'] } })).kind).toBe('applied');
    expect(await h.proposals.list()).toEqual([]);
  });

  it('deletes at once, auditing the rule that was deleted', async () => {
    const h = setup();
    expect(await h.admin.delete(ADA, 'no-such-rule')).toBe(false);
    expect(await h.admin.delete(ADA, 'deny-listed')).toBe(true);
    expect(h.audit.entries).toMatchObject([{ outcome: 'rule-changed', summary: "Ada Approver deleted rule 'deny-listed'.", detail: { change: 'deleted', before: { action: 'reject' }, after: null } }]);
  });
});

describe('rule admin: names that cannot name a rule', () => {
  it.each(['a/b', 'a%2Fb', '..', '.', '', 'x'.repeat(65), 'a b', 'a#b', 'a?b'])('refuses %j before anything is read', (name) => {
    expect(() => checkRuleName(name)).toThrow(RuleValidationError);
  });
});
