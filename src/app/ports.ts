import type { ApprovalRecord, Versioned } from '../domain/approval.js';
import type { AuditEntry, AuditPage, AuditQuery } from '../domain/audit.js';
import type { ConnectionStatus, PrivateEndpointConnection } from '../domain/connection.js';
import type { RequesterTenant, StoredRule } from '../domain/policy/engine.js';
import type { Rule } from '../domain/policy/rule.js';
import type { RuleProposal } from '../domain/rule-proposal.js';
import type { Principal } from '../domain/principal.js';
import type { AutomationHold } from '../domain/automation.js';
import type { ConnectionRef, PrivateEndpointRef, ResourceRef } from '../domain/resource-id.js';
import type { ResourceType } from '../domain/resource-types.js';
import type { InventoryEntry, InventoryIndexEntry, InventoryPage, InventoryQuery } from '../domain/inventory.js';

/** A reason to look at a resource again. Never trusted as a statement of fact. */
export interface Hint {
  readonly resource: ResourceRef;
  readonly source: 'event' | 'sweep' | 'manual' | 'retry';
  readonly eventId?: string;
  /** When Azure raised the event. */
  readonly eventTime?: Date;
  readonly eventType?: string;
  readonly operationName?: string;
  readonly subject?: string;
  /** Object ID from the event's claims: who made the change that raised it. */
  readonly callerObjectId?: string;
}

/** What one delivered event turned out to be, once read at the boundary. */
export type Intake =
  | { readonly kind: 'hint'; readonly hint: Hint }
  | { readonly kind: 'unrelated'; readonly eventId: string; readonly eventType: string; readonly reason: string }
  | { readonly kind: 'invalid'; readonly eventId?: string; readonly error: string; readonly raw: unknown };

/**
 * The private endpoint connections of any registered resource type, through Azure Resource
 * Manager's generic contract ({resourceId}/privateEndpointConnections[/{name}]).
 */
export interface ConnectionsPort {
  /** All connections of a resource, or `undefined` when the resource does not exist (any more). */
  list(resource: ResourceRef): Promise<PrivateEndpointConnection[] | undefined>;
  /** `undefined` when the connection is gone (404, or 204 with no body). */
  get(ref: ConnectionRef, options?: CallOptions): Promise<PrivateEndpointConnection | undefined>;
  setStatus(ref: ConnectionRef, change: StatusChange, options?: CallOptions): Promise<SetStatusResult>;
  /**
   * Asks once how an accepted change is getting on, by the URL its PUT gave (`operation`). Throws
   * for an answer it does not understand; the caller then re-reads the connection instead.
   * Absent: the caller re-reads the connection until its provisioning is final.
   */
  pollOperation?(ref: ConnectionRef, operation: OperationRef, options?: CallOptions): Promise<OperationPoll>;
}

/** Finds the resources of a type in a subscription (for the sweep). */
export interface ResourceDirectory {
  listResources(subscriptionId: string, type: ResourceType): Promise<ResourceRef[]>;
}

/** Where the sweep looks: listed subscriptions, or every subscription the identity can read. */
export type GraphScope = { readonly kind: 'tenant' } | { readonly kind: 'subscriptions'; readonly subscriptionIds: readonly string[] };

/** A connection as Resource Graph reports it: minutes behind ARM, so a candidate and never a fact to act on. */
export interface GraphConnection {
  readonly ref: ConnectionRef;
  readonly rawStatus: string | undefined;
  readonly status: ConnectionStatus | undefined;
  readonly privateEndpoint: PrivateEndpointRef | undefined;
  readonly rawPrivateEndpointId: string | undefined;
}

/** Finds connections and resources across many subscriptions at once (Azure Resource Graph). */
export interface ConnectionGraph {
  /** Every connection of the given types in scope. */
  connections(scope: GraphScope, types: readonly ResourceType[]): Promise<GraphConnection[]>;
  /** Every resource of the given types in scope (for types whose connections the graph does not report). */
  resources(scope: GraphScope, types: readonly ResourceType[]): Promise<ResourceRef[]>;
}

export interface CallOptions {
  /** Ends the call, retries and back-off waits included, when a caller's deadline passes. */
  readonly signal?: AbortSignal;
}

export interface StatusChange {
  readonly status: 'Approved' | 'Rejected';
  readonly description: string;
  /** Sent back in the PUT body: Azure Policy definitions that restrict approvals evaluate it. */
  readonly privateEndpointId?: string;
  /** The connection's ETag as last read; Azure may refuse the write when it moved on. */
  readonly etag?: string;
}

export type SetStatusResult =
  | {
      readonly kind: 'accepted';
      readonly connection: PrivateEndpointConnection | undefined;
      /** Where Azure says to follow the change, when its answer said so on ARM's own origin. */
      readonly operation?: OperationRef;
    }
  | { readonly kind: 'gone' }
  /** 409/412: the connection changed since it was read. */
  | { readonly kind: 'conflict'; readonly message: string }
  /** 400: Azure refused the change (for example approving a rejected connection). */
  | { readonly kind: 'refused'; readonly message: string };

/**
 * A long-running change to follow, as ARM hands it out (docs: "Track asynchronous Azure
 * operations"). `async-operation` is an Azure-AsyncOperation URL, which answers 200 with
 * `{ status, error? }`; `location` is a Location URL, which answers 202 while the change runs and
 * 200 (with the resource) or 204 once it is done. Azure-AsyncOperation is preferred when both
 * are given, as the docs say.
 */
export interface OperationRef {
  readonly kind: 'async-operation' | 'location';
  readonly url: string;
  /** The Retry-After of the answer that gave the URL: how long Azure asks to wait before asking. */
  readonly retryAfterMs?: number;
}

/** How an operation ended. `Unknown`: its URL answered 404, so only the connection itself can say. */
export type OperationStatus = 'Succeeded' | 'Failed' | 'Canceled' | 'Unknown';

/** One answer from an operation's URL. */
export type OperationPoll =
  | {
      readonly kind: 'running';
      /** The Retry-After of this answer. */
      readonly retryAfterMs?: number;
      /** A new URL to ask next time (a Location answer may move it). */
      readonly operation?: OperationRef;
    }
  | {
      readonly kind: 'done';
      readonly status: OperationStatus;
      /** The connection as the change left it, when the final answer carried it (a Location's 200). */
      readonly connection?: PrivateEndpointConnection;
      /** What Azure said went wrong, for a Failed or Canceled operation. */
      readonly message?: string;
    };

export interface TenantResolver {
  /** Throws on transient failures; 403/404 come back as `not-visible`. */
  resolve(subscriptionId: string): Promise<RequesterTenant>;
}

/** Where resolved tenants are kept between lookups (a tenant rarely changes; ARM reads are throttled). */
export interface TenantCache {
  get(subscriptionId: string): Promise<RequesterTenant | undefined>;
  put(subscriptionId: string, tenant: RequesterTenant, ttlMs: number): Promise<void>;
}

export interface RulesPort {
  /** Every stored rule, understood or not; never throws for a bad row. */
  list(): Promise<StoredRule[]>;
  /** One rule with the version (ETag) it was read at; undefined when there is none. */
  get(name: string): Promise<{ readonly stored: StoredRule; readonly version: string } | undefined>;
  /** Unconditional write (seeding the local stack). */
  put(rule: Rule): Promise<void>;
  /** Writes only while the stored version is still `expected` (a version, or `absent`); false when it moved. */
  putIf(rule: Rule, expected: string): Promise<boolean>;
  delete(name: string): Promise<boolean>;
  /** Deletes only while the stored version is still `expected`; false when it moved or is gone. */
  deleteIf(name: string, expected: string): Promise<boolean>;
  /** The break-glass hold on automatic decisions, if one is in place. */
  hold(): Promise<AutomationHold | undefined>;
  /** Every rule and the hold, read together: what one decision needs. */
  forDecision(): Promise<{ readonly rules: StoredRule[]; readonly hold?: AutomationHold }>;
  /** Places the hold (replacing one in place) or, with undefined, lifts it. */
  setHold(hold: AutomationHold | undefined): Promise<void>;
}

export interface ProposalsPort {
  create(proposal: RuleProposal): Promise<void>;
  get(id: string): Promise<Versioned<RuleProposal> | undefined>;
  /** Every proposal, newest first (the table holds few: pending ones and recent history). */
  list(): Promise<Versioned<RuleProposal>[]>;
  replace(proposal: RuleProposal, etag: string): Promise<ReplaceResult<RuleProposal>>;
}

export type CreateResult<T> = { readonly kind: 'created'; readonly record: Versioned<T> } | { readonly kind: 'exists' };
export type ReplaceResult<T> = { readonly kind: 'replaced'; readonly record: Versioned<T> } | { readonly kind: 'conflict' };

export interface ApprovalsPort {
  get(connection: ConnectionRef): Promise<Versioned<ApprovalRecord> | undefined>;
  /** Every record of a resource (one partition). */
  listResource(resource: ResourceRef): Promise<Versioned<ApprovalRecord>[]>;
  /** Records of a resource that are not in a terminal state. */
  listOpen(resource: ResourceRef): Promise<Versioned<ApprovalRecord>[]>;
  /** Resource IDs that have records not in a terminal state (for the sweep). */
  resourcesWithOpenRecords(): Promise<string[]>;
  /** Records awaiting review, and records whose posted card no longer shows their state. */
  listForReviewTimer(): Promise<Versioned<ApprovalRecord>[]>;
  /** Every record (the sweep reads them once per run to tell Linkgate's decisions from others'). */
  listAll(): Promise<Versioned<ApprovalRecord>[]>;
  /** Records in state Failed (the retry timer picks those whose next attempt is due). */
  listFailed(): Promise<Versioned<ApprovalRecord>[]>;
  create(record: ApprovalRecord): Promise<CreateResult<ApprovalRecord>>;
  /** ETag-conditioned replace; `conflict` means another writer won (412). */
  replace(record: ApprovalRecord, etag: string): Promise<ReplaceResult<ApprovalRecord>>;
}

/** The inventory of every connection seen (src/domain/inventory.ts). */
export interface InventoryPort {
  /** Every entry of one resource (one partition). */
  listResource(resourceKey: string): Promise<InventoryEntry[]>;
  /** Every entry's comparison fields and version, keyed by lower-case connection ID (one scan, few columns). */
  index(): Promise<Map<string, InventoryIndexEntry>>;
  /** The same for one resource (one partition). */
  indexOf(resourceKey: string): Promise<Map<string, InventoryIndexEntry>>;
  /**
   * Writes one entry only if it is still as read: absent (`absent`) or at the version (ETag) given.
   * False when another writer got there first; what that writer saw is then recorded instead.
   */
  claim(entry: InventoryEntry, expected: string): Promise<boolean>;
  /** Many claims in few requests (first-seen ones of a resource together); one answer per claim, in order. */
  claimMany(claims: readonly { readonly entry: InventoryEntry; readonly expected: string }[]): Promise<boolean[]>;
  /** Inserts or replaces entries; entries of one resource are written together where the store allows. */
  write(entries: readonly InventoryEntry[]): Promise<void>;
  /** Throws AuditQueryError for a continuation token it did not issue. */
  query(query: InventoryQuery): Promise<InventoryPage>;
}

export type AuditInput = Omit<AuditEntry, 'id' | 'time'> & { readonly id?: string; readonly time?: Date };

export interface AuditPort {
  /** Resolves once the entry is written, or, inside a look that writes its entries together, queued (steps.ts bufferAudit). */
  append(entry: AuditInput): Promise<unknown>;
  /** Many entries in few requests; each is written once even when some were written before (same id and time). */
  appendMany(entries: readonly AuditInput[]): Promise<unknown>;
}

export interface AuditReader {
  /** Throws AuditQueryError for a page it cannot serve (a bad or foreign continuation token). */
  query(query: AuditQuery): Promise<AuditPage>;
}

export interface Clock {
  now(): Date;
  /** Waits `ms`, or less when `signal` ends first (the caller then checks the signal). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** Checks an admin request's bearer token (src/adapters/auth/entra-tokens.ts). */
export interface TokenValidator {
  /** The caller, or an AuthenticationError saying what is wrong with the token. */
  validate(authorization: string | null | undefined): Promise<Principal>;
}
