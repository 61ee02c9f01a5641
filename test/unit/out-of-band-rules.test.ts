import { describe, expect, it } from 'vitest';
import { decide, judgeOutOfBand, type RequestFacts, type StoredRule } from '../../src/domain/policy/engine.js';
import { reviewRuleChange } from '../../src/domain/policy/rule-change.js';
import { parseRule } from '../../src/domain/policy/rule.js';
import { RuleValidationError } from '../../src/domain/errors.js';
import { parsePrivateEndpointId, resourceRef } from '../../src/domain/resource-id.js';
import { KEY_VAULT } from '../../src/domain/resource-types.js';
import { HOME_SUB, HOME_TENANT, OTHER_TENANT, VAULT_SUB } from './fakes.js';

const facts = (tenant: RequestFacts['requesterTenant']): RequestFacts => ({
  resource: resourceRef(KEY_VAULT, VAULT_SUB, 'rg', 'kv-oob'),
  connectionName: 'pe-1.c',
  privateEndpoint: parsePrivateEndpointId(`/subscriptions/${HOME_SUB}/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe-1`),
  requesterTenant: tenant,
  requestMessage: undefined,
});
const ok = (input: unknown): StoredRule => ({ ok: true, rule: parseRule(input) });
const home = { kind: 'visible', tenantId: HOME_TENANT } as const;
const ignoreHome = ok({ name: 'oob-home', priority: 10, appliesTo: 'out-of-band', action: 'ignore', conditions: { requesterTenant: ['home'] } });

describe('out-of-band rules', () => {
  it('parse with their own actions, and refuse request actions (and vice versa)', () => {
    expect(parseRule({ name: 'a', priority: 1, appliesTo: 'out-of-band', action: 'flag', review: { conversation: '19:x@thread.tacv2', remindAfterHours: 4 } })).toMatchObject({ appliesTo: 'out-of-band', action: 'flag' });
    expect(parseRule({ name: 'b', priority: 1, action: 'review' })).not.toHaveProperty('appliesTo');
    expect(parseRule({ name: 'b', priority: 1, appliesTo: 'request', action: 'review' })).not.toHaveProperty('appliesTo');
    expect(() => parseRule({ name: 'c', priority: 1, appliesTo: 'out-of-band', action: 'approve' })).toThrow(/action: must be one of ignore, flag for a rule that applies to out-of-band approvals/);
    expect(() => parseRule({ name: 'd', priority: 1, action: 'flag' })).toThrow(RuleValidationError);
    expect(() => parseRule({ name: 'e', priority: 1, appliesTo: 'elsewhere', action: 'ignore' })).toThrow(/appliesTo/);
    expect(() => parseRule({ name: 'f', priority: 1, appliesTo: 'out-of-band', action: 'flag', review: { expireAfterDays: 2 } })).toThrow(/conversation, approvers and remindAfterHours only/);
  });

  it('ignore what a rule matches, flag the rest by default, and never decide requests', () => {
    expect(judgeOutOfBand([ignoreHome], facts(home), HOME_TENANT)).toMatchObject({ verdict: 'ignore', ruleName: 'oob-home' });
    expect(judgeOutOfBand([ignoreHome], facts({ kind: 'visible', tenantId: OTHER_TENANT }), HOME_TENANT)).toMatchObject({ verdict: 'flag', ruleName: undefined, summary: expect.stringMatching(/flagged by default/) });
    // A request rule never answers an out-of-band question, and an out-of-band rule never decides a request.
    const approveAll = ok({ name: 'approve-all', priority: 1, action: 'approve' });
    expect(judgeOutOfBand([approveAll], facts(home), HOME_TENANT).verdict).toBe('flag');
    expect(decide([ignoreHome], facts(home), HOME_TENANT)).toMatchObject({ action: 'review', ruleName: undefined });
  });

  it('fail closed: an unreadable rule, an unknown requester or a hold turn an ignore into a flag', () => {
    const unreadable: StoredRule = { ok: false, name: 'broken', error: 'bad json' };
    expect(judgeOutOfBand([ignoreHome, unreadable], facts(home), HOME_TENANT)).toMatchObject({ verdict: 'flag', summary: expect.stringMatching(/'broken' could not be read/) });
    expect(judgeOutOfBand([ok({ name: 'all', priority: 1, appliesTo: 'out-of-band', action: 'ignore' })], facts({ kind: 'unknown' }), HOME_TENANT).verdict).toBe('flag');
    const hold = { by: { objectId: 'ada00000-0000-4000-8000-0000000000a1', name: 'Ada' }, at: new Date(), reason: 'incident' };
    expect(judgeOutOfBand([ignoreHome], facts(home), HOME_TENANT, hold as never)).toMatchObject({ verdict: 'flag', summary: expect.stringMatching(/on hold/) });
  });

  it('shadow out-of-band rules record what they would do; a flag rule carries where the alert goes', () => {
    const shadow = ok({ name: 'would-ignore', priority: 1, mode: 'shadow', appliesTo: 'out-of-band', action: 'ignore' });
    const flag = ok({ name: 'flag-all', priority: 5, appliesTo: 'out-of-band', action: 'flag', review: { conversation: '19:sec@thread.tacv2' } });
    expect(judgeOutOfBand([shadow, flag], facts(home), HOME_TENANT)).toMatchObject({ verdict: 'flag', ruleName: 'flag-all', review: { conversation: '19:sec@thread.tacv2' }, shadowMatches: [{ rule: 'would-ignore', action: 'ignore' }] });
  });

  it('need a second person to silence alerts, not to raise them', () => {
    const ignore = parseRule({ name: 'oob', priority: 1, appliesTo: 'out-of-band', action: 'ignore' });
    const flag = parseRule({ name: 'oob', priority: 1, appliesTo: 'out-of-band', action: 'flag' });
    expect(reviewRuleChange(undefined, ignore)).toMatchObject({ needsSecondPerson: true, reason: expect.stringMatching(/silence alerts/) });
    expect(reviewRuleChange(undefined, flag).needsSecondPerson).toBe(false);
    expect(reviewRuleChange(ignore, flag).needsSecondPerson).toBe(false);
    expect(reviewRuleChange(flag, ignore).needsSecondPerson).toBe(true);
    expect(reviewRuleChange(undefined, { ...ignore, mode: 'shadow' }).needsSecondPerson).toBe(false);
  });
});
