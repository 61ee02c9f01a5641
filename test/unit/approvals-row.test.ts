import { describe, expect, it } from 'vitest';
import { fromEntity, toEntity } from '../../src/adapters/tables/approvals-store.js';
import type { ApprovalRecord } from '../../src/domain/approval.js';
import { connectionRef } from '../../src/domain/resource-id.js';
import { VAULT } from './fakes.js';

const REF = connectionRef(VAULT, 'pe-app.1');
const DETECTED = new Date('2026-11-30T10:00:00Z');

/** A row as the store wrote it before the record split: flat card columns, `decidedBy` as `type:id`, `vaultId`. */
function oldRow(decidedBy: string, extra: Record<string, unknown> = {}) {
  return {
    partitionKey: encodeURIComponent(VAULT.key),
    rowKey: encodeURIComponent(REF.name.toLowerCase()),
    etag: 'W/"1"',
    open: false,
    connectionId: REF.id,
    connectionName: REF.name,
    vaultId: VAULT.id,
    state: 'Approved',
    generation: 2,
    attempts: 0,
    detectedAt: DETECTED,
    updatedAt: DETECTED,
    decisionAction: 'approve',
    decidedBy,
    cardConversationId: '19:approvals@thread.tacv2',
    cardActivityId: 'act-7',
    cardPostedAt: DETECTED,
    cardState: 'AwaitingReview',
    cardStale: true,
    ...extra,
  };
}

describe('approvals rows: the record split and rows in the older format', () => {
  it('reads an older row: a person who decided, the card from flat columns, the resource from vaultId', () => {
    // Prepare
    const row = oldRow('user:ada00000-0000-4000-8000-0000000000a1', { decidedByName: 'Ada' });
    // Act
    const { value } = fromEntity(row);
    // Assess
    expect(value.connection.key).toBe(REF.key);
    expect(value.connection.resource.id).toBe(VAULT.id);
    expect(value.decidedBy).toEqual({ type: 'user', id: 'ada00000-0000-4000-8000-0000000000a1', name: 'Ada' });
    expect(value.card).toEqual({
      conversationId: '19:approvals@thread.tacv2',
      activityId: 'act-7',
      postedAt: DETECTED,
      shownState: 'AwaitingReview',
      stale: true,
    });
  });

  it('reads an older row decided by a rule and one decided by Linkgate itself', () => {
    expect(fromEntity(oldRow('rule:in-tenant')).value.decidedBy).toEqual({ type: 'rule', id: 'in-tenant' });
    expect(fromEntity(oldRow('system:reviews', { decidedByName: 'Linkgate (review expired)' })).value.decidedBy).toEqual({
      type: 'system',
      id: 'reviews',
      name: 'Linkgate (review expired)',
    });
  });

  it('writes typed decider columns and flat card columns, and reads them back to the same record', () => {
    // Prepare
    const record: ApprovalRecord = {
      connection: REF,
      state: 'AwaitingReview',
      generation: 1,
      attempts: 0,
      detectedAt: DETECTED,
      updatedAt: DETECTED,
      approvers: ['ada00000-0000-4000-8000-0000000000a1'],
      decidedBy: { type: 'user', id: 'ada00000-0000-4000-8000-0000000000a1', name: 'Ada' },
      card: { conversationId: '19:approvals@thread.tacv2', activityId: 'act-1', shownState: 'AwaitingReview', claimUntil: DETECTED },
    };
    // Act
    const entity = toEntity(record);
    const read = fromEntity({ ...entity, etag: 'W/"2"' });
    // Assess
    expect(entity).toMatchObject({ deciderType: 'user', deciderId: 'ada00000-0000-4000-8000-0000000000a1', decidedByName: 'Ada', cardActivityId: 'act-1', open: true });
    expect(entity).not.toHaveProperty('decidedBy');
    expect(entity).not.toHaveProperty('card');
    expect(read.value).toEqual(record);
  });
});

describe('approvals rows: quorum approvals, retry time and give-up', () => {
  it('keeps the approvals list and the give-up as JSON columns and reads them back as they were', () => {
    // Prepare
    const record: ApprovalRecord = {
      connection: REF,
      state: 'AwaitingReview',
      generation: 1,
      attempts: 0,
      detectedAt: DETECTED,
      updatedAt: DETECTED,
      requiredApprovals: 3,
      approvals: [
        { id: 'ada00000-0000-4000-8000-0000000000a1', name: 'Ada', at: DETECTED, comment: 'ok' },
        { id: 'ace00000-0000-4000-8000-0000000000a2', name: 'Grace', at: new Date('2026-11-30T10:05:00Z') },
      ],
      nextAttemptAt: new Date('2026-11-30T10:01:00Z'),
      failure: { during: 'acting', attempts: 5, error: 'RestError: 503', at: DETECTED },
    };
    // Act
    const entity = toEntity(record);
    const read = fromEntity({ ...entity, etag: 'W/"3"' });
    // Assess
    expect(typeof entity.approvals).toBe('string');
    expect(typeof entity.failure).toBe('string');
    expect(read.value).toEqual(record);
  });

  it('reads a row written before quorums as having no approvals, and drops an entry that is not a whole vote', () => {
    expect(fromEntity(oldRow('rule:in-tenant')).value).not.toHaveProperty('approvals');
    const row = oldRow('rule:in-tenant', { approvals: JSON.stringify([{ id: 'x', name: 'X', at: DETECTED.toISOString() }, { id: 'y' }, 'z']), failure: '{not json' });
    const { value } = fromEntity(row);
    expect(value.approvals).toEqual([{ id: 'x', name: 'X', at: DETECTED }]);
    expect(value).not.toHaveProperty('failure');
  });
});
