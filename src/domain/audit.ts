/**
 * The audit trail's vocabulary. An audit entry is written once and never changed.
 * Storage layout lives with the adapter (src/adapters/tables/audit-store.ts).
 */

export const AUDIT_KINDS = ['hint', 'decision', 'action', 'result', 'error', 'human', 'skip', 'admin', 'sweep'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export const ACTOR_TYPES = ['rule', 'user', 'system'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

/**
 * Who caused a step: a rule (by name), a person (Entra object ID and display name) or Linkgate
 * itself (a component such as `resourceEvents`, with a display name where one is shown).
 */
export type Actor =
  | { readonly type: 'rule'; readonly id: string; readonly name?: string }
  | { readonly type: 'user'; readonly id: string; readonly name?: string }
  | { readonly type: 'system'; readonly id: string; readonly name?: string };

export function ruleActor(name: string): Actor {
  return { type: 'rule', id: name };
}

/** `objectId` as the boundary adapter normalised it (lower case). */
export function userActor(objectId: string, name: string): Actor {
  return { type: 'user', id: objectId, name };
}

export function systemActor(component: string, name?: string): Actor {
  return name === undefined ? { type: 'system', id: component } : { type: 'system', id: component, name };
}

/** The actor as the audit names it: who, without the display name a decision carries for its card. */
export function auditActor(actor: Actor): Actor {
  return { type: actor.type, id: actor.id } as Actor;
}

/**
 * Outcomes are short, stable words so the audit can be filtered by them.
 * `received`: a hint arrived. `invalid`: input could not be understood (kept verbatim in `detail`).
 * `approve`/`reject`/`review`/`ignore`: what a decision said. `shadow`: what a shadow rule would have done.
 * `approved`/`rejected`: an action's confirmed result. `vanished`: the connection was gone.
 * `decided-elsewhere`: someone else changed the status first. `failed`: an action failed.
 * `duplicate`: a hint or step that another instance already handled.
 * `posted`: a review card was posted. `reminded`: a reminder was posted. `expired`: a review ran out of time.
 * `not-allowed`: someone who may not decide clicked a button, or called an admin API without the role; nothing changed.
 * Admin APIs (kind `admin`): `rule-changed`: a rule was written or deleted (detail: before, after, by whom);
 * `proposed`: a change waits for a second person; `declined`/`withdrawn`: a proposal was turned down by
 * another person or taken back by its author; `stale`: the rule changed after the proposal, which was not applied;
 * `held`/`released`: automatic decisions were put on hold (break-glass) or released.
 * `out-of-band`: a connection was found Approved without Linkgate's decision (detail: what the rules made of it, flag or ignore).
 * `kept`: a person left an out-of-band approval in place. `sweep`: one sweep's summary (what it found and did).
 */
export const AUDIT_OUTCOMES = [
  'received',
  'unrelated',
  'invalid',
  'approve',
  'reject',
  'review',
  'ignore',
  'shadow',
  'approved',
  'rejected',
  'vanished',
  'decided-elsewhere',
  'failed',
  'duplicate',
  'skipped',
  'posted',
  'reminded',
  'expired',
  'not-allowed',
  'rule-changed',
  'proposed',
  'declined',
  'withdrawn',
  'stale',
  'held',
  'released',
  'out-of-band',
  'kept',
  'sweep',
] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEntry {
  /** Unique, sortable within a millisecond; assigned by the writer when absent. */
  readonly id: string;
  readonly time: Date;
  readonly kind: AuditKind;
  readonly outcome: AuditOutcome;
  readonly actor: Actor;
  /** Human-readable one-liner, e.g. "Approved by rule 'in-tenant'". */
  readonly summary: string;
  /** Normalised (lower-case) ID of the Private Link resource (vault, storage account, …), when known. */
  readonly resourceId?: string;
  /** Canonical ARM type of that resource (`Microsoft.Storage/storageAccounts`); the store derives it from the ID when absent. */
  readonly resourceType?: string;
  /** Normalised (lower-case) private endpoint connection resource ID, when known. */
  readonly connectionId?: string;
  readonly privateEndpointId?: string;
  readonly requesterSubscriptionId?: string;
  /** Tenant GUID, or `not-visible` when the subscription could not be read. */
  readonly requesterTenantId?: string;
  readonly requestMessage?: string;
  readonly ruleName?: string;
  /** Event Grid event ID or another correlation handle. */
  readonly correlationId?: string;
  /** Structured detail (explanation, error, raw payload excerpt), stored as JSON. */
  readonly detail?: unknown;
}

export interface AuditQuery {
  /** One resource's history (its own partition). */
  readonly resourceId?: string;
  /** Canonical ARM type; matched case-insensitively. */
  readonly resourceType?: string;
  readonly connectionId?: string;
  readonly requesterSubscriptionId?: string;
  /** Matches actor.id exactly (case-insensitive). */
  readonly actor?: string;
  readonly outcome?: AuditOutcome;
  /** Inclusive lower bound. */
  readonly from?: Date;
  /** Exclusive upper bound. */
  readonly to?: Date;
  /** 1..1000, default 50. */
  readonly pageSize?: number;
  /** Opaque token from a previous page. */
  readonly continuationToken?: string;
}

export interface AuditPage {
  readonly entries: readonly AuditEntry[];
  /** Present when more entries may follow. */
  readonly continuationToken?: string;
}
