import { describe, expect, it } from 'vitest';
import { formatText } from 'adaptivecards/lib/text-formatters';
import {
  ADAPTIVE_CARD_CONTENT_TYPE,
  ADAPTIVE_CARD_SCHEMA,
  MAX_REFRESH_USERS,
  neutralizeText,
  summaryText,
  teamsUserMri,
  toApprovalCard,
  toInvokeCardResponse,
  toMessageActivity,
  type AdaptiveCardJson,
} from '../../src/adapters/teams/approval-card.js';
import { portalResourceUrl } from '../../src/domain/portal.js';
import type { ReviewCardModel, ReviewCardView, ReviewStatus } from '../../src/app/review-ports.js';
import { allObjects, checkWithOfficialParser, inputs, objectsOfType, shownStrings, texts, utf8Bytes } from './adaptive-card-check.js';

const TEAMS_MESSAGE_LIMIT_BYTES = 28 * 1024;
const REQUESTED_AT = new Date('2025-03-04T05:06:07.890Z');
const DECIDED_AT = new Date('2025-03-05T10:20:30.000Z');
const EXPIRES_AT = new Date('2025-03-11T05:06:07.000Z');
const REQUESTED_TEXT = '{{DATE(2025-03-04T05:06:07Z, SHORT)}} {{TIME(2025-03-04T05:06:07Z)}}';
const DECIDED_TEXT = '{{DATE(2025-03-05T10:20:30Z, SHORT)}} {{TIME(2025-03-05T10:20:30Z)}}';
const EXPIRES_TEXT = '{{DATE(2025-03-11T05:06:07Z, SHORT)}} {{TIME(2025-03-11T05:06:07Z)}}';

const VAULT_ID = '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-prod';
const PE_ID = '/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-app';
const REQUESTER_OID = 'aaaaaaaa-0000-0000-0000-00000000000f';
const ALICE = { id: 'bbbbbbbb-0000-0000-0000-000000000001', name: 'Alice Admin' };

function approverIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `cccccccc-0000-0000-0000-${String(i).padStart(12, '0')}`);
}

function makeModel(overrides: Partial<ReviewCardModel> = {}): ReviewCardModel {
  return {
    approvalKey: `${VAULT_ID}/privateEndpointConnections/pe-app.1234`,
    generation: 7,
    resource: { id: VAULT_ID, type: 'Microsoft.KeyVault/vaults', typeName: 'Key Vault', noun: 'key vault', name: 'kv-prod', resourceGroup: 'rg-secrets', subscriptionId: '11111111-1111-1111-1111-111111111111' },
    connectionName: 'pe-app.1234',
    requester: {
      privateEndpointId: PE_ID,
      privateEndpointName: 'pe-app',
      subscriptionId: '22222222-2222-2222-2222-222222222222',
      tenantId: '33333333-3333-3333-3333-333333333333',
      badge: 'external',
      objectId: REQUESTER_OID,
    },
    requestMessage: 'Needed for the payments API in the partner tenant.',
    rule: { name: 'external-tenants', summary: 'Requests from other tenants need a human.' },
    requestedAt: REQUESTED_AT,
    links: { resource: portalResourceUrl(VAULT_ID), privateEndpoint: portalResourceUrl(PE_ID) },
    approverIds: approverIds(3),
    ...overrides,
  };
}

function makeView(audience: ReviewCardView['audience'], status: ReviewStatus, extra: { model?: Partial<ReviewCardModel>; notice?: string } = {}): ReviewCardView {
  return { audience, status, model: makeModel(extra.model), ...(extra.notice ? { notice: extra.notice } : {}) };
}

const AWAITING: ReviewStatus = { state: 'awaiting' };
const FINAL_STATUSES: ReadonlyArray<readonly [string, ReviewStatus, string]> = [
  ['approved with comment', { state: 'approved', by: ALICE, at: DECIDED_AT, comment: 'Checked with the partner team' }, `Approved by Alice Admin at ${DECIDED_TEXT}: Checked with the partner team`],
  ['approved without comment', { state: 'approved', by: ALICE, at: DECIDED_AT }, `Approved by Alice Admin at ${DECIDED_TEXT}`],
  ['rejected', { state: 'rejected', by: ALICE, at: DECIDED_AT, comment: 'Unknown tenant' }, `Rejected by Alice Admin at ${DECIDED_TEXT}: Unknown tenant`],
  ['decided elsewhere', { state: 'decided-elsewhere', status: 'Approved', at: DECIDED_AT }, `Status set to Approved outside Linkgate (portal or CLI) at ${DECIDED_TEXT}`],
  ['vanished', { state: 'vanished', at: DECIDED_AT }, 'The connection was deleted before anyone decided'],
  ['expired, left pending', { state: 'expired', at: DECIDED_AT, action: 'leave-pending' }, `Expired at ${DECIDED_TEXT}; left Pending`],
  ['expired, rejected', { state: 'expired', at: DECIDED_AT, action: 'reject' }, `Expired at ${DECIDED_TEXT}; rejected automatically`],
  ['failed', { state: 'failed', at: DECIDED_AT, error: 'ARM answered 403 AuthorizationFailed' }, 'Failed: ARM answered 403 AuthorizationFailed'],
];

const MAXIMAL_MESSAGE = '🔑 [Approve here](https://evil.example/a) <at>Everyone</at> '.repeat(400);

const OBSERVED_AT = new Date('2025-03-04T06:00:00.000Z');
const OBSERVED_TEXT = '{{DATE(2025-03-04T06:00:00Z, SHORT)}} {{TIME(2025-03-04T06:00:00Z)}}';
const PORTAL_ADMIN = 'dddddddd-0000-0000-0000-0000000000d1';
/** A connection approved outside Linkgate, flagged by a rule. */
const ALERT: NonNullable<ReviewCardModel['alert']> = {
  approvedBy: PORTAL_ADMIN,
  description: 'Approved for the payments migration',
  observedAt: OBSERVED_AT,
  ruleName: 'flag-external',
  summary: 'Approvals outside Linkgate for other tenants are reviewed.',
};

/** Every view the adapter has to draw, with a label for the test name. */
const ALL_VIEWS: ReadonlyArray<readonly [string, ReviewCardView]> = [
  ...(['shared', 'approver', 'requester', 'viewer'] as const).flatMap((audience) => [
    [`awaiting ${audience}`, makeView(audience, AWAITING)] as const,
    [`awaiting ${audience} with notice`, makeView(audience, AWAITING, { notice: 'Only approvers can decide this request.' })] as const,
    [`awaiting ${audience} without message`, makeView(audience, AWAITING, { model: { requestMessage: undefined } })] as const,
    [`awaiting ${audience} with expiry`, makeView(audience, AWAITING, { model: { expiresAt: EXPIRES_AT, timeoutAction: 'reject' } })] as const,
  ]),
  ...[0, 1, 60, 100].map((n) => [`awaiting shared with ${n} approvers`, makeView('shared', AWAITING, { model: { approverIds: approverIds(n) } })] as const),
  ['awaiting shared, requester among approvers', makeView('shared', AWAITING, { model: { approverIds: [REQUESTER_OID, ...approverIds(2)] } })],
  ['awaiting shared, maximal', makeView('shared', AWAITING, { notice: 'x'.repeat(5000), model: { requestMessage: MAXIMAL_MESSAGE, approverIds: approverIds(100) } })],
  ['awaiting approver, maximal', makeView('approver', AWAITING, { notice: 'x'.repeat(5000), model: { requestMessage: MAXIMAL_MESSAGE, approverIds: approverIds(100) } })],
  ['approving', makeView('shared', { state: 'approving', by: ALICE })],
  ['rejecting', makeView('approver', { state: 'rejecting', by: ALICE, comment: 'no' })],
  ...FINAL_STATUSES.flatMap(([label, status]) => [
    [`${label} (shared)`, makeView('shared', status)] as const,
    [`${label} (approver, with notice)`, makeView('approver', status, { notice: 'This request was already decided.' })] as const,
  ]),
  ['awaiting shared, requester unknown', makeView('shared', AWAITING, { model: { requesterUnknown: true, requiredApprovals: 2, requester: { badge: 'unknown' } } })],
  ['awaiting shared, quorum 3 with one approval', makeView('shared', AWAITING, { model: { requiredApprovals: 3, approvals: [{ ...ALICE, at: DECIDED_AT }] } })],
  ['awaiting voted', makeView('voted', AWAITING, { model: { requiredApprovals: 2, approvals: [{ ...ALICE, at: DECIDED_AT }] } })],
  ['awaiting approver after Linkgate gave up', makeView('approver', AWAITING, { model: { failure: { during: 'setting the status to Approved', attempts: 5, error: 'RestError: 503 '.repeat(200), at: DECIDED_AT } } })],
  ['approved by a quorum', makeView('shared', { state: 'approved', by: ALICE, at: DECIDED_AT }, { model: { requiredApprovals: 2, approvals: [{ id: 'x', name: 'Grace', at: REQUESTED_AT }, { ...ALICE, at: DECIDED_AT }] } })],
  ['rejected with maximal comment', makeView('shared', { state: 'rejected', by: { id: ALICE.id, name: 'N'.repeat(1000) }, at: DECIDED_AT, comment: '💬'.repeat(5000) }, { model: { requestMessage: MAXIMAL_MESSAGE, approverIds: approverIds(100) } })],
  ...(['shared', 'approver', 'requester', 'viewer'] as const).map((audience) => [`out-of-band alert ${audience}`, makeView(audience, AWAITING, { model: { alert: ALERT } })] as const),
  ['out-of-band alert approver, approver not known, no description', makeView('approver', AWAITING, { model: { alert: { observedAt: OBSERVED_AT, summary: 'No rule matched; flagged by default.' } } })],
  ['out-of-band alert shared, maximal', makeView('shared', AWAITING, { notice: 'x'.repeat(5000), model: { alert: { ...ALERT, description: MAXIMAL_MESSAGE, summary: 's'.repeat(5000) }, approverIds: approverIds(100) } })],
  ['out-of-band alert rejecting', makeView('approver', { state: 'rejecting', by: ALICE, comment: 'no' }, { model: { alert: ALERT } })],
  ['out-of-band alert rejected', makeView('shared', { state: 'rejected', by: ALICE, at: DECIDED_AT, comment: 'Unknown partner' }, { model: { alert: ALERT } })],
  ['out-of-band alert kept', makeView('shared', { state: 'kept', by: ALICE, at: DECIDED_AT, comment: 'Known partner' }, { model: { alert: ALERT } })],
  ['out-of-band alert decided elsewhere', makeView('shared', { state: 'decided-elsewhere', status: 'Disconnected', at: DECIDED_AT }, { model: { alert: ALERT } })],
  ['out-of-band alert after Linkgate gave up', makeView('approver', AWAITING, { model: { alert: ALERT, failure: { during: 'setting the status to Rejected', attempts: 5, error: 'RestError: 503', at: DECIDED_AT } } })],
];

function outcomeTexts(card: AdaptiveCardJson): string[] {
  return texts(card);
}

describe('toApprovalCard: every view is a valid Adaptive Card 1.5', () => {
  it.each(ALL_VIEWS)('%s parses with the official parser without events and validates cleanly', (_label, view) => {
    // Prepare: the view from the table.

    // Act
    const card = toApprovalCard(view);
    const check = checkWithOfficialParser(card);

    // Assess
    expect(check.parseEvents).toEqual([]);
    expect(check.validationEvents).toEqual([]);
    expect(check.roundTrip).toEqual(card);
    expect(card.version).toBe('1.5');
    expect(card.$schema).toBe(ADAPTIVE_CARD_SCHEMA);
    expect(card.type).toBe('AdaptiveCard');
  });

  it.each(ALL_VIEWS)('%s stays under the Teams message size limit', (_label, view) => {
    // Prepare: the view from the table, inside the activity that carries it.

    // Act
    const activityBytes = utf8Bytes(toMessageActivity(view));
    const invokeBytes = utf8Bytes(toInvokeCardResponse(view));

    // Assess
    expect(activityBytes).toBeLessThan(TEAMS_MESSAGE_LIMIT_BYTES);
    expect(invokeBytes).toBeLessThan(TEAMS_MESSAGE_LIMIT_BYTES);
  });

  it.each(ALL_VIEWS)('%s uses no Action.Submit and no fallback', (_label, view) => {
    // Prepare: the view from the table.

    // Act
    const objects = allObjects(toApprovalCard(view));

    // Assess
    expect(objects.filter((o) => o.type === 'Action.Submit')).toEqual([]);
    expect(objects.filter((o) => 'fallback' in o)).toEqual([]);
  });

  it.each(ALL_VIEWS)('%s links to the vault and the private endpoint in the portal', (_label, view) => {
    // Prepare: the view from the table.

    // Act
    const links = objectsOfType(toApprovalCard(view), 'Action.OpenUrl');

    // Assess
    expect(links).toEqual([
      { type: 'Action.OpenUrl', title: 'Open key vault in portal', url: view.model.links.resource },
      { type: 'Action.OpenUrl', title: 'Open private endpoint', url: view.model.links.privateEndpoint },
    ]);
  });

  it('card times use the DATE/TIME form the official text formatter recognises', () => {
    // Prepare
    const card = toApprovalCard(makeView('shared', { state: 'approved', by: ALICE, at: DECIDED_AT }, { model: { expiresAt: EXPIRES_AT } }));

    // Act
    const formatted = shownStrings(card).map((text) => formatText('en-US', text) ?? '');

    // Assess
    expect(shownStrings(card).some((text) => text.includes('{{DATE('))).toBe(true);
    expect(formatted.filter((text) => text.includes('{{'))).toEqual([]);
  });
});

describe('toApprovalCard: content', () => {
  it('shows the title, the status badge and the request facts', () => {
    // Prepare
    const view = makeView('shared', AWAITING);

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card).slice(0, 2)).toEqual(['Private endpoint request for key vault kv-prod', 'Awaiting review']);
    expect(objectsOfType(card, 'FactSet')[0]?.facts).toEqual([
      { title: 'Key Vault', value: 'kv-prod' },
      { title: 'Resource group', value: 'rg-secrets' },
      { title: 'Subscription', value: '11111111-1111-1111-1111-111111111111' },
      { title: 'Requested', value: REQUESTED_TEXT },
      { title: 'Private endpoint', value: 'pe-app' },
      { title: 'Requester subscription', value: '22222222-2222-2222-2222-222222222222' },
      { title: 'Requester tenant', value: 'External tenant (33333333-3333-3333-3333-333333333333)' },
    ]);
    expect(texts(card)).toContain('“Needed for the payments API in the partner tenant.”');
    expect(texts(card)).toContain('**Why review:** external-tenants: Requests from other tenants need a human.');
  });

  it.each([
    ['same-tenant', 'Same tenant (t-1)'],
    ['external', 'External tenant (t-1)'],
    ['not-visible', 'Not visible to Linkgate (t-1)'],
    ['unknown', 'Unknown (t-1)'],
  ] as const)('labels a %s requester tenant as "%s"', (badge, expected) => {
    // Prepare
    const view = makeView('viewer', AWAITING, { model: { requester: { ...makeModel().requester, badge, tenantId: 't-1' } } });

    // Act
    const facts = objectsOfType(toApprovalCard(view), 'FactSet')[0]?.facts as Array<{ title: string; value: string }>;

    // Assess
    expect(facts.find((f) => f.title === 'Requester tenant')?.value).toBe(expected);
  });

  it('says Unknown for what the request did not tell', () => {
    // Prepare
    const view = makeView('viewer', AWAITING, { model: { requester: { badge: 'unknown' }, links: { resource: portalResourceUrl(VAULT_ID) } } });

    // Act
    const card = toApprovalCard(view);
    const facts = objectsOfType(card, 'FactSet')[0]?.facts as Array<{ title: string; value: string }>;

    // Assess
    expect(facts.filter((f) => ['Private endpoint', 'Requester subscription', 'Requester tenant'].includes(f.title)).map((f) => f.value)).toEqual(['Unknown', 'Unknown', 'Unknown']);
    expect(objectsOfType(card, 'Action.OpenUrl').map((a) => a.title)).toEqual(['Open key vault in portal']);
  });

  it('says "(no message)" when the requester wrote none', () => {
    // Prepare
    const view = makeView('shared', AWAITING, { model: { requestMessage: '   ' } });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card)).toContain('(no message)');
  });

  it.each([
    ['leave-pending', `Expires ${EXPIRES_TEXT}; then left Pending`],
    ['reject', `Expires ${EXPIRES_TEXT}; then rejected automatically`],
  ] as const)('notes the expiry while awaiting (%s)', (timeoutAction, expected) => {
    // Prepare
    const view = makeView('approver', AWAITING, { model: { expiresAt: EXPIRES_AT, timeoutAction } });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card)).toContain(expected);
  });

  it('drops the expiry note once the request is decided', () => {
    // Prepare
    const view = makeView('shared', { state: 'approved', by: ALICE, at: DECIDED_AT }, { model: { expiresAt: EXPIRES_AT, timeoutAction: 'reject' } });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card).filter((t) => t.startsWith('Expires'))).toEqual([]);
  });

  it('puts the notice first, in warning colour', () => {
    // Prepare
    const view = makeView('viewer', AWAITING, { notice: 'Only approvers can decide this request.' });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(card.body[0]).toMatchObject({ type: 'TextBlock', text: 'Only approvers can decide this request.', color: 'Warning', weight: 'Bolder' });
  });
});

describe('toApprovalCard: approver view', () => {
  it('has exactly the Approve and Reject buttons, carrying the approval key and generation', () => {
    // Prepare
    const view = makeView('approver', AWAITING);

    // Act
    const card = toApprovalCard(view);
    const buttons = objectsOfType(card, 'Action.Execute');

    // Assess
    expect(buttons).toEqual([
      { type: 'Action.Execute', title: 'Approve', verb: 'approve', style: 'positive', data: { approvalKey: view.model.approvalKey, generation: 7 }, associatedInputs: 'auto' },
      { type: 'Action.Execute', title: 'Reject', verb: 'reject', style: 'destructive', data: { approvalKey: view.model.approvalKey, generation: 7 }, associatedInputs: 'auto' },
    ]);
    expect(card.refresh).toBeUndefined();
  });

  it('has the comment box and the warning that a rejection is permanent', () => {
    // Prepare
    const view = makeView('approver', AWAITING);

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(inputs(card)).toEqual([
      expect.objectContaining({ type: 'Input.Text', id: 'comment', isMultiline: true, placeholder: 'Reason (required to reject)', maxLength: 500 }),
    ]);
    expect(objectsOfType(card, 'TextBlock')).toContainEqual(
      expect.objectContaining({ text: 'Rejecting is permanent: a rejected connection can never be approved later.', color: 'Attention' }),
    );
  });
});

describe('toApprovalCard: shared view', () => {
  it('is read-only and asks Teams to refresh it for the approvers', () => {
    // Prepare
    const view = makeView('shared', AWAITING);

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(inputs(card)).toEqual([]);
    expect(card.actions).toBeUndefined();
    expect(card.refresh).toEqual({
      action: { type: 'Action.Execute', verb: 'refresh', title: 'Refresh', data: { approvalKey: view.model.approvalKey, generation: 7 } },
      userIds: approverIds(3).map((id) => `8:orgid:${id}`),
    });
    expect(texts(card)).toContain('Waiting for one of 3 approvers.');
  });

  it.each([
    [0, 0, 'No approvers are configured for this request.'],
    [1, 1, 'Waiting for 1 approver.'],
    [60, 60, 'Waiting for one of 60 approvers.'],
    [100, 60, 'Waiting for one of 100 approvers.'],
  ])('with %i approvers lists %i for refresh and says "%s"', (count, listed, line) => {
    // Prepare
    const view = makeView('shared', AWAITING, { model: { approverIds: approverIds(count) } });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(card.refresh?.userIds ?? []).toHaveLength(listed);
    expect(card.refresh?.userIds ?? []).toEqual(approverIds(count).slice(0, MAX_REFRESH_USERS).map(teamsUserMri));
    expect(texts(card)).toContain(line);
  });

  it('goes without refresh when nobody but the requester could approve', () => {
    // Prepare
    const view = makeView('shared', AWAITING, { model: { approverIds: [REQUESTER_OID] } });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(card.refresh).toBeUndefined();
    expect(texts(card)).toContain('No approvers are configured for this request.');
  });

  it('tells approvers beyond the refresh list how to get their buttons', () => {
    // Prepare
    const view = makeView('shared', AWAITING, { model: { approverIds: approverIds(61) } });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card)).toContain('Approvers who see no buttons: choose Refresh card in the message menu.');
  });

  it('leaves out the requester, who cannot approve their own request, and duplicates', () => {
    // Prepare
    const view = makeView('shared', AWAITING, { model: { approverIds: [REQUESTER_OID.toUpperCase(), ...approverIds(2), approverIds(1)[0]!.toUpperCase()] } });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(card.refresh?.userIds).toEqual(approverIds(2).map((id) => `8:orgid:${id}`));
    expect(card.refresh?.userIds).not.toContain(`8:orgid:${REQUESTER_OID}`);
    expect(texts(card)).toContain('Waiting for one of 2 approvers.');
  });

  it('never lists more than 60 users, even with the requester in a long list', () => {
    // Prepare
    const view = makeView('shared', AWAITING, { model: { approverIds: [...approverIds(30), REQUESTER_OID, ...approverIds(100).slice(30)] } });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(card.refresh?.userIds).toHaveLength(MAX_REFRESH_USERS);
    expect(card.refresh?.userIds).not.toContain(`8:orgid:${REQUESTER_OID}`);
  });
});

describe('toApprovalCard: requester and viewer views', () => {
  it.each([
    ['requester', 'You requested this endpoint, so someone else must approve it.'],
    ['viewer', 'Only the listed approvers can decide this request.'],
  ] as const)('the %s view is read-only and says "%s"', (audience, line) => {
    // Prepare
    const view = makeView(audience, AWAITING);

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card)).toContain(line);
    expect(inputs(card)).toEqual([]);
    expect(objectsOfType(card, 'Action.Execute')).toEqual([]);
    expect(card.refresh).toBeUndefined();
  });

  it('a notice replaces the requester line', () => {
    // Prepare
    const view = makeView('requester', AWAITING, { notice: 'You requested this endpoint, so someone else must approve it. Nothing was changed.' });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card)[0]).toBe('You requested this endpoint, so someone else must approve it. Nothing was changed.');
    expect(texts(card)).not.toContain('You requested this endpoint, so someone else must approve it.');
  });
});

describe('toApprovalCard: in-flight and final views', () => {
  it.each([
    ['approving', { state: 'approving', by: ALICE } as ReviewStatus, 'Approving…', 'Approving… (by Alice Admin)'],
    ['rejecting', { state: 'rejecting', by: ALICE, comment: 'no' } as ReviewStatus, 'Rejecting…', 'Rejecting… (by Alice Admin)'],
  ])('%s shows who is deciding and no buttons', (_label, status, badge, line) => {
    // Prepare
    const view = makeView('approver', status);

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card)[1]).toBe(badge);
    expect(texts(card)).toContain(line);
    expect(inputs(card)).toEqual([]);
    expect(objectsOfType(card, 'Action.Execute')).toEqual([]);
    expect(card.refresh).toBeUndefined();
  });

  it.each(FINAL_STATUSES)('%s: one outcome line, no inputs, no buttons, no refresh', (_label, status, outcome) => {
    for (const audience of ['shared', 'approver', 'requester', 'viewer'] as const) {
      // Prepare
      const view = makeView(audience, status, { model: { approverIds: approverIds(100) } });

      // Act
      const card = toApprovalCard(view);

      // Assess
      expect(outcomeTexts(card).filter((t) => t === outcome)).toHaveLength(1);
      expect(inputs(card)).toEqual([]);
      expect(objectsOfType(card, 'Action.Execute')).toEqual([]);
      expect(card.refresh).toBeUndefined();
      expect(card.actions).toBeUndefined();
      expect(texts(card).filter((t) => t.startsWith('Waiting for') || t.startsWith('You requested') || t.startsWith('Only the listed'))).toEqual([]);
    }
  });

  it.each([
    [{ state: 'approved', by: ALICE, at: DECIDED_AT } as ReviewStatus, 'Approved'],
    [{ state: 'rejected', by: ALICE, at: DECIDED_AT } as ReviewStatus, 'Rejected'],
    [{ state: 'decided-elsewhere', status: 'Approved', at: DECIDED_AT } as ReviewStatus, 'Approved outside Linkgate'],
    [{ state: 'vanished', at: DECIDED_AT } as ReviewStatus, 'Deleted'],
    [{ state: 'expired', at: DECIDED_AT, action: 'reject' } as ReviewStatus, 'Expired'],
    [{ state: 'failed', at: DECIDED_AT, error: 'boom' } as ReviewStatus, 'Failed'],
  ])('badge for %j is "%s"', (status, badge) => {
    // Prepare
    const view = makeView('shared', status);

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card)[1]).toBe(badge);
  });
});

describe('toApprovalCard: quorums, unknown requesters and give-ups', () => {
  it('says plainly when Linkgate could not tell who requested the connection', () => {
    const card = toApprovalCard(makeView('shared', AWAITING, { model: { requesterUnknown: true, requiredApprovals: 2 } }));
    expect(texts(card)).toContain('Linkgate could not tell who requested this connection, so it needs two different approvers.');
    expect(texts(card)).toContain('Waiting for 2 more of 3 approvers.');
  });

  it('shows who approved so far, with the time, and how many more are needed', () => {
    const card = toApprovalCard(makeView('shared', AWAITING, { model: { requiredApprovals: 3, approvals: [{ ...ALICE, at: DECIDED_AT }] } }));
    expect(texts(card)).toContain('Approving needs 3 different approvers.');
    expect(texts(card)).toContain(`Approved so far: Alice Admin at ${DECIDED_TEXT}. 2 more approvals are needed.`);
    expect(texts(card)).toContain('Waiting for 2 more of 3 approvers.');
  });

  it('keeps an approver who already approved read-only', () => {
    const card = toApprovalCard(makeView('voted', AWAITING, { model: { requiredApprovals: 2, approvals: [{ ...ALICE, at: DECIDED_AT }] } }));
    expect(inputs(card)).toEqual([]);
    expect(card.actions ?? []).toEqual([]);
    expect(texts(card)).toContain('You approved. 1 more approval is needed from other approvers before Linkgate approves it.');
  });

  it('says when too few approvers are listed to reach the quorum', () => {
    const card = toApprovalCard(makeView('shared', AWAITING, { model: { requiredApprovals: 3, approverIds: approverIds(2) } }));
    expect(texts(card).join('\n')).toMatch(/Only 2 approvers are listed who may approve, but this request needs 3 different approvals/);
  });

  it('names every approver of a quorum on the final card', () => {
    const card = toApprovalCard(makeView('shared', { state: 'approved', by: ALICE, at: DECIDED_AT }, { model: { approvals: [{ id: 'x', name: 'Grace', at: REQUESTED_AT }, { ...ALICE, at: DECIDED_AT }] } }));
    expect(texts(card)).toContain(`Approved by Grace at ${REQUESTED_TEXT}, Alice Admin at ${DECIDED_TEXT}`);
  });

  it('shows what failed, how often and the last error when Linkgate gave up, and what to do', () => {
    const card = toApprovalCard(makeView('approver', AWAITING, { model: { failure: { during: 'setting the status to Approved', attempts: 5, error: 'RestError: 503 ServiceUnavailable', at: DECIDED_AT } } }));
    const shown = texts(card);
    expect(shown).toContain(`Linkgate gave up after 5 attempts at setting the status to Approved (the last at ${DECIDED_TEXT}).`);
    expect(shown).toContain('Last error: RestError: 503 ServiceUnavailable');
    expect(shown).toContain('An approver decides it here (Approve tries the change again), or set the status in the portal.');
    expect(objectsOfType(card, 'Action.Execute').map((a) => a.verb)).toEqual(['approve', 'reject']);
  });
});

describe('toApprovalCard: text written by people', () => {
  it('turns a markdown link in the request message into visible text', () => {
    // Prepare
    const view = makeView('approver', AWAITING, { model: { requestMessage: 'Please [click to approve](https://evil.example/login) now' } });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card)).toContain('“Please click to approve (https://evil.example/login) now”');
    expect(shownStrings(card).filter((t) => /\]\(/.test(t))).toEqual([]);
  });

  it('breaks nested links, reference links, mentions and DATE macros', () => {
    // Prepare
    const hostile = 'a [x [y] z](https://e.example) [r][1]\n[1]: https://e.example <at>Alice</at> <AT id="0">Bob</AT> {{DATE(2020-01-01T00:00:00Z)}}';

    // Act
    const text = neutralizeText(hostile, 300, { multiline: true });

    // Assess
    expect(text).not.toMatch(/\]\(|\]:|\]\[/);
    expect(text).not.toMatch(/<\/?at\b/i);
    expect(text).not.toContain('{{');
    expect(text).toContain('Alice');
    expect(text).toContain('Bob');
  });

  it('neutralises links and mentions in names, comments and errors as well', () => {
    // Prepare
    const by = { id: ALICE.id, name: '<at>CEO</at> [Security team](https://evil.example)' };
    const view = makeView('shared', { state: 'rejected', by, at: DECIDED_AT, comment: 'see [policy](https://evil.example/p)' });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card)).toContain(`Rejected by CEO Security team (https://evil.example) at ${DECIDED_TEXT}: see policy (https://evil.example/p)`);
    expect(JSON.stringify(card)).not.toMatch(/<at>|\]\(/);
  });

  it('caps the message at 300 and the comment at 500 characters', () => {
    // Prepare
    const view = makeView('shared', { state: 'approved', by: ALICE, at: DECIDED_AT, comment: 'c'.repeat(2000) }, { model: { requestMessage: 'm'.repeat(2000) } });

    // Act
    const card = toApprovalCard(view);
    const message = texts(card).find((t) => t.startsWith('“'))!;
    const outcome = texts(card).find((t) => t.startsWith('Approved by'))!;
    const comment = outcome.slice(outcome.indexOf(': ') + 2);

    // Assess
    expect(Array.from(message.slice(1, -1))).toHaveLength(300);
    expect(message.endsWith('…”')).toBe(true);
    expect(Array.from(comment)).toHaveLength(500);
  });

  it('never splits an emoji when it truncates', () => {
    // Prepare
    const text = '🔑'.repeat(400);

    // Act
    const capped = neutralizeText(text, 300);

    // Assess
    expect(Array.from(capped)).toHaveLength(300);
    expect(capped).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe('envelopes', () => {
  it('toMessageActivity wraps the card with a plain-text summary', () => {
    // Prepare
    const view = makeView('shared', AWAITING);

    // Act
    const activity = toMessageActivity(view);

    // Assess
    expect(activity).toEqual({
      type: 'message',
      summary: 'Awaiting review: private endpoint request for key vault kv-prod',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: toApprovalCard(view) }],
    });
  });

  it.each([
    [{ state: 'approved', by: ALICE, at: DECIDED_AT } as ReviewStatus, 'Approved by Alice Admin: private endpoint request for key vault kv-prod'],
    [{ state: 'expired', at: DECIDED_AT, action: 'leave-pending' } as ReviewStatus, 'Expired: private endpoint request for key vault kv-prod'],
    [{ state: 'approved', by: { id: 'x', name: '[Boss](https://evil.example)' }, at: DECIDED_AT } as ReviewStatus, 'Approved by Boss (https://evil.example): private endpoint request for key vault kv-prod'],
  ])('summary for %j is "%s"', (status, summary) => {
    // Prepare
    const view = makeView('shared', status);

    // Act
    const activity = toMessageActivity(view);

    // Assess
    expect(activity.summary).toBe(summary);
  });

  it('toInvokeCardResponse is the Universal Actions card response', () => {
    // Prepare
    const view = makeView('approver', AWAITING);

    // Act
    const response = toInvokeCardResponse(view);

    // Assess
    expect(response).toEqual({ statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: toApprovalCard(view) });
  });
});

describe('toApprovalCard: out-of-band alert', () => {
  const alertView = (audience: ReviewCardView['audience'], status: ReviewStatus = AWAITING, alert: NonNullable<ReviewCardModel['alert']> = ALERT) =>
    makeView(audience, status, { model: { alert } });

  it('says what was approved, from where, by whom, when and why, and the description in Azure', () => {
    // Prepare
    const view = alertView('shared');

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card).slice(0, 2)).toEqual(['Approved outside Linkgate: key vault kv-prod', 'Approved in Azure, awaiting review']);
    expect(objectsOfType(card, 'FactSet')[0]?.facts).toEqual([
      { title: 'Key Vault', value: 'kv-prod' },
      { title: 'Resource group', value: 'rg-secrets' },
      { title: 'Subscription', value: '11111111-1111-1111-1111-111111111111' },
      { title: 'Connection', value: 'pe-app.1234' },
      { title: 'Private endpoint', value: 'pe-app' },
      { title: 'Requester subscription', value: '22222222-2222-2222-2222-222222222222' },
      { title: 'Requester tenant', value: 'External tenant (33333333-3333-3333-3333-333333333333)' },
      { title: 'Approved by', value: PORTAL_ADMIN },
      { title: 'Seen', value: OBSERVED_TEXT },
    ]);
    expect(texts(card)).toContain('“Approved for the payments migration”');
    expect(texts(card)).toContain('**Why flagged:** flag-external: Approvals outside Linkgate for other tenants are reviewed.');
    expect(texts(card).join('\n')).not.toMatch(/Why review|Private endpoint request/);
    expect(objectsOfType(card, 'Action.OpenUrl').map((link) => link.title)).toEqual(['Open key vault in portal', 'Open private endpoint']);
  });

  it('says plainly when Azure’s events did not name who approved', () => {
    // Prepare
    const view = alertView('shared', AWAITING, { observedAt: OBSERVED_AT, summary: 'No rule matched; flagged by default.' });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(objectsOfType(card, 'FactSet')[0]?.facts).toContainEqual({ title: 'Approved by', value: "Not known: Azure's events did not name who approved" });
    expect(texts(card)).toContain('(no description)');
    expect(texts(card)).toContain('**Why flagged:** external-tenants: No rule matched; flagged by default.');
  });

  it('offers an approver exactly Reject and Keep, and no Approve', () => {
    // Prepare
    const view = alertView('approver');

    // Act
    const card = toApprovalCard(view);
    const check = checkWithOfficialParser(card);

    // Assess
    expect(check.parseEvents).toEqual([]);
    expect(check.validationEvents).toEqual([]);
    expect(check.roundTrip).toEqual(card);
    const data = { approvalKey: view.model.approvalKey, generation: 7 };
    expect(objectsOfType(card, 'Action.Execute')).toEqual([
      { type: 'Action.Execute', title: 'Reject', verb: 'reject', style: 'destructive', data, associatedInputs: 'auto' },
      { type: 'Action.Execute', title: 'Keep', verb: 'keep', data, associatedInputs: 'auto' },
    ]);
    expect(JSON.stringify(card)).not.toMatch(/"approve"|"Approve"/);
  });

  it('warns that a reject disconnects for good, and takes a comment for both buttons', () => {
    // Prepare
    const view = alertView('approver');

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(inputs(card)).toEqual([
      expect.objectContaining({ type: 'Input.Text', id: 'comment', isMultiline: true, placeholder: 'Reason (required to reject, optional to keep)', maxLength: 500 }),
    ]);
    expect(objectsOfType(card, 'TextBlock')).toContainEqual(
      expect.objectContaining({
        text: 'Reject disconnects this private endpoint and is permanent: a rejected connection can never be approved again; the requester must create a new private endpoint.',
        color: 'Attention',
      }),
    );
    expect(texts(card)).toContain('Keep leaves the connection approved as it is.');
  });

  it('the shared message is read-only and refreshes for the approvers; no quorum, no expiry', () => {
    // Prepare
    const view = makeView('shared', AWAITING, { model: { alert: ALERT, requesterUnknown: true, requiredApprovals: 2, expiresAt: EXPIRES_AT } });

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(objectsOfType(card, 'Action.Execute').filter((a) => a.verb !== 'refresh')).toEqual([]);
    expect(inputs(card)).toEqual([]);
    expect(card.refresh?.userIds).toHaveLength(3);
    expect(texts(card)).toContain('Waiting for one of 3 approvers to reject or keep it.');
    expect(texts(card).join('\n')).not.toMatch(/two different approvers|Expires/);
  });

  it.each(['requester', 'viewer'] as const)('a %s sees the alert without buttons', (audience) => {
    // Prepare, Act
    const card = toApprovalCard(alertView(audience));

    // Assess
    expect(objectsOfType(card, 'Action.Execute')).toEqual([]);
    expect(inputs(card)).toEqual([]);
    expect(card.refresh).toBeUndefined();
  });

  it.each([
    ['rejected', { state: 'rejected', by: ALICE, at: DECIDED_AT, comment: 'Unknown partner' }, `Rejected by Alice Admin at ${DECIDED_TEXT}: Unknown partner`],
    ['kept', { state: 'kept', by: ALICE, at: DECIDED_AT, comment: 'Known partner' }, `Kept by Alice Admin at ${DECIDED_TEXT}: the connection stays approved: Known partner`],
    ['kept without comment', { state: 'kept', by: ALICE, at: DECIDED_AT }, `Kept by Alice Admin at ${DECIDED_TEXT}: the connection stays approved`],
  ] as const)('after the decision (%s) shows the outcome, without buttons', (_label, status, line) => {
    // Prepare
    const view = alertView('approver', status);

    // Act
    const card = toApprovalCard(view);

    // Assess
    expect(texts(card)).toContain(line);
    expect(objectsOfType(card, 'Action.Execute')).toEqual([]);
    expect(inputs(card)).toEqual([]);
    expect(summaryText(view)).toMatch(/^(Rejected|Kept) by Alice Admin: connection approved outside Linkgate for key vault kv-prod$/);
  });
});

describe('portalResourceUrl', () => {
  it('links to the resource blade in the current directory', () => {
    // Prepare, Act
    const url = portalResourceUrl(VAULT_ID);

    // Assess
    expect(url).toBe(`https://portal.azure.com/#resource${VAULT_ID}`);
  });

  it('switches to the given tenant and portal host', () => {
    // Prepare, Act
    const url = portalResourceUrl(`${VAULT_ID}/`, { tenantId: 'contoso.onmicrosoft.com', portalHost: 'portal.azure.us' });

    // Assess
    expect(url).toBe(`https://portal.azure.us/#@contoso.onmicrosoft.com/resource${VAULT_ID}`);
  });
});
