import type {
  ApprovalsPort,
  AuditInput,
  AuditPort,
  Clock,
  ConnectionsPort,
  CreateResult,
  InventoryPort,
  Logger,
  OperationPoll,
  OperationRef,
  ProposalsPort,
  ReplaceResult,
  RulesPort,
  SetStatusResult,
  StatusChange,
  TenantResolver,
} from '../../src/app/ports.js';
import type { ReviewCardView, ReviewNotifier } from '../../src/app/review-ports.js';
import { reviewHooks, type CardDeps } from '../../src/app/cards.js';
import { createReviews } from '../../src/app/reviews.js';
import type { StepDeps } from '../../src/app/steps.js';
import { createWorkflow, type WorkflowSettings } from '../../src/app/workflow.js';
import type { ApprovalRecord, Versioned } from '../../src/domain/approval.js';
import { isTerminal } from '../../src/domain/approval-state-machine.js';
import type { AuditEntry } from '../../src/domain/audit.js';
import type { RuleProposal } from '../../src/domain/rule-proposal.js';
import type { AutomationHold } from '../../src/domain/automation.js';
import { PermanentDeliveryError } from '../../src/domain/errors.js';
import { toConnectionStatus, type PrivateEndpointConnection } from '../../src/domain/connection.js';
import type { RequesterTenant, StoredRule } from '../../src/domain/policy/engine.js';
import { parseRule, type Rule } from '../../src/domain/policy/rule.js';
import { connectionRef, parsePrivateEndpointId, resourceRef, type ConnectionRef, type ResourceRef } from '../../src/domain/resource-id.js';
import { KEY_VAULT } from '../../src/domain/resource-types.js';
import { indexEntryOf, type InventoryEntry, type InventoryIndexEntry, type InventoryPage, type InventoryQuery } from '../../src/domain/inventory.js';

export const HOME_TENANT = '11111111-1111-4111-8111-111111111111';
export const OTHER_TENANT = '22222222-2222-4222-8222-222222222222';
export const DENIED_TENANT = '33333333-3333-4333-8333-333333333333';
export const VAULT_SUB = 'aaaaaaaa-0000-4000-8000-000000000001';
export const HOME_SUB = 'aaaaaaaa-0000-4000-8000-000000000002';
export const OTHER_SUB = 'bbbbbbbb-0000-4000-8000-000000000003';
export const DENIED_SUB = 'cccccccc-0000-4000-8000-000000000004';
export const HIDDEN_SUB = 'dddddddd-0000-4000-8000-000000000005';

export const VAULT: ResourceRef = resourceRef(KEY_VAULT, VAULT_SUB, 'rg-secrets', 'kv-payments');

export const DEMO_RULES: Rule[] = [
  parseRule({ name: 'deny-listed', priority: 10, action: 'reject', conditions: { requesterTenant: [DENIED_TENANT] } }),
  parseRule({ name: 'in-tenant', priority: 20, action: 'approve', conditions: { requesterTenant: ['home'] } }),
  parseRule({ name: 'everyone-else', priority: 100, action: 'review' }),
];

export class FakeClock implements Clock {
  constructor(public current = new Date('2026-11-30T10:00:00Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  async sleep(ms: number): Promise<void> {
    this.current = new Date(this.current.getTime() + ms);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

interface StoredConnection {
  ref: ConnectionRef;
  status: string;
  description: string;
  provisioningState: string;
  etag: number;
  endpointId: string;
}

/** Key Vault connections with Azure's rules: a rejection is final, PUTs answer Updating first. */
export class FakeConnections implements ConnectionsPort {
  readonly connections = new Map<string, StoredConnection>();
  readonly puts: Array<{ id: string; change: StatusChange }> = [];
  /** Runs before a PUT is applied; lets a test change the world in between. */
  beforePut?: (ref: ConnectionRef) => SetStatusResult | undefined | Promise<SetStatusResult | undefined>;
  /** How many GETs see Updating after a PUT. */
  updatingReads = 1;
  /** What an accepted PUT answers as the way to follow it (Azure-AsyncOperation or Location); none by default. */
  putOperation?: OperationRef;
  /**
   * What pollOperation answers, in order, the last one again and again: an answer, an error to
   * throw, or a function of the connection (to hand back the connection as it ended).
   */
  operationAnswers: Array<OperationPoll | Error | ((ref: ConnectionRef) => OperationPoll)> = [];
  /** Every call, in order: `get`, `put`, and `poll <kind> <url>`. */
  readonly calls: string[] = [];
  private pendingUpdating = new Map<string, number>();

  add(name: string, endpointSubscription: string, message = 'please', status = 'Pending', vault: ResourceRef = VAULT): ConnectionRef {
    const ref = connectionRef(vault, name);
    this.connections.set(ref.key, {
      ref,
      status,
      description: message,
      provisioningState: 'Succeeded',
      etag: 1,
      endpointId: `/subscriptions/${endpointSubscription}/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-${name}`,
    });
    return ref;
  }

  setStatus_outside(ref: ConnectionRef, status: string): void {
    const stored = this.connections.get(ref.key);
    if (stored) {
      stored.status = status;
      stored.etag += 1;
    }
  }

  async list(vault: ResourceRef): Promise<PrivateEndpointConnection[] | undefined> {
    return [...this.connections.values()].filter((c) => c.ref.resource.key === vault.key).map((c) => this.view(c));
  }

  async get(ref: ConnectionRef): Promise<PrivateEndpointConnection | undefined> {
    this.calls.push('get');
    const stored = this.connections.get(ref.key);
    if (!stored) return undefined;
    const left = this.pendingUpdating.get(ref.key) ?? 0;
    if (left > 0) {
      this.pendingUpdating.set(ref.key, left - 1);
      if (left - 1 === 0) stored.provisioningState = 'Succeeded';
    }
    return this.view(stored);
  }

  async setStatus(ref: ConnectionRef, change: StatusChange): Promise<SetStatusResult> {
    const injected = await this.beforePut?.(ref);
    if (injected) return injected;
    this.puts.push({ id: ref.id, change });
    this.calls.push('put');
    const stored = this.connections.get(ref.key);
    if (!stored) return { kind: 'gone' };
    if (change.etag !== undefined && change.etag !== `"${stored.etag}"`) return { kind: 'conflict', message: 'etag mismatch' };
    if (stored.status === 'Rejected' && change.status === 'Approved') return { kind: 'refused', message: 'a rejected connection cannot be approved' };
    stored.status = change.status;
    stored.description = change.description;
    stored.etag += 1;
    stored.provisioningState = 'Updating';
    this.pendingUpdating.set(ref.key, this.updatingReads);
    return { kind: 'accepted', connection: this.view(stored), ...(this.putOperation ? { operation: this.putOperation } : {}) };
  }

  async pollOperation(ref: ConnectionRef, operation: OperationRef): Promise<OperationPoll> {
    this.calls.push(`poll ${operation.kind} ${operation.url}`);
    const next = this.operationAnswers.length > 1 ? this.operationAnswers.shift() : this.operationAnswers[0];
    if (next === undefined) throw new Error('the test gave pollOperation no answer');
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next(ref) : next;
  }

  /** The connection with its provisioning finished, as a Location's final 200 carries it. */
  finished(ref: ConnectionRef): PrivateEndpointConnection {
    const stored = this.connections.get(ref.key);
    if (!stored) throw new Error(`no connection ${ref.id}`);
    stored.provisioningState = 'Succeeded';
    this.pendingUpdating.delete(ref.key);
    return this.view(stored);
  }

  private view(stored: StoredConnection): PrivateEndpointConnection {
    return {
      ref: stored.ref,
      rawStatus: stored.status,
      status: toConnectionStatus(stored.status),
      description: stored.description,
      provisioningState: stored.provisioningState,
      etag: `"${stored.etag}"`,
      privateEndpoint: parsePrivateEndpointId(stored.endpointId),
      rawPrivateEndpointId: stored.endpointId,
    };
  }
}

export class FakeTenants implements TenantResolver {
  readonly lookups: string[] = [];
  failNext = 0;
  private readonly tenants = new Map<string, RequesterTenant>([
    [HOME_SUB, { kind: 'visible', tenantId: HOME_TENANT }],
    [VAULT_SUB, { kind: 'visible', tenantId: HOME_TENANT }],
    [OTHER_SUB, { kind: 'visible', tenantId: OTHER_TENANT }],
    [DENIED_SUB, { kind: 'visible', tenantId: DENIED_TENANT }],
  ]);
  async resolve(subscriptionId: string): Promise<RequesterTenant> {
    this.lookups.push(subscriptionId);
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('ARM answered 503 Service Unavailable');
    }
    return this.tenants.get(subscriptionId) ?? { kind: 'not-visible' };
  }
}

export class FakeRules implements RulesPort {
  private readonly versions = new Map<string, string>();
  private version = 0;
  constructor(public stored: StoredRule[] = DEMO_RULES.map((rule) => ({ ok: true, rule }))) {}
  async list(): Promise<StoredRule[]> {
    return this.stored;
  }
  async get(name: string) {
    const stored = this.stored.find((r) => nameOf(r).toLowerCase() === name.toLowerCase());
    return stored ? { stored, version: this.versionOf(nameOf(stored)) } : undefined;
  }
  async put(rule: Rule): Promise<void> {
    this.stored = [...this.stored.filter((r) => nameOf(r).toLowerCase() !== rule.name.toLowerCase()), { ok: true, rule }];
    this.versions.set(rule.name.toLowerCase(), `v${++this.version}`);
  }
  async putIf(rule: Rule, expected: string): Promise<boolean> {
    const current = await this.get(rule.name);
    if ((current?.version ?? 'absent') !== expected) return false;
    await this.put(rule);
    return true;
  }
  async delete(name: string): Promise<boolean> {
    const before = this.stored.length;
    this.stored = this.stored.filter((r) => nameOf(r).toLowerCase() !== name.toLowerCase());
    this.versions.delete(name.toLowerCase());
    return this.stored.length < before;
  }
  async deleteIf(name: string, expected: string): Promise<boolean> {
    const current = await this.get(name);
    if (!current || current.version !== expected) return false;
    return this.delete(name);
  }
  current?: AutomationHold;
  async hold() {
    return this.current;
  }
  async setHold(hold: AutomationHold | undefined) {
    this.current = hold;
  }
  async forDecision() {
    return this.current ? { rules: this.stored, hold: this.current } : { rules: this.stored };
  }
  private versionOf(name: string): string {
    const key = name.toLowerCase();
    if (!this.versions.has(key)) this.versions.set(key, `v${++this.version}`);
    return this.versions.get(key) as string;
  }
}

function nameOf(stored: StoredRule): string {
  return stored.ok ? stored.rule.name : stored.name;
}

/** Proposals with Table Storage's ETag rules. */
export class FakeProposals implements ProposalsPort {
  readonly rows = new Map<string, Versioned<RuleProposal>>();
  private version = 0;
  async create(proposal: RuleProposal): Promise<void> {
    if (this.rows.has(proposal.id)) throw new Error(`proposal ${proposal.id} exists`);
    this.rows.set(proposal.id, { value: proposal, etag: `p${++this.version}` });
  }
  async get(id: string) {
    return this.rows.get(id);
  }
  async list() {
    return [...this.rows.values()].sort((a, b) => b.value.id.localeCompare(a.value.id));
  }
  async replace(proposal: RuleProposal, etag: string): Promise<ReplaceResult<RuleProposal>> {
    const current = this.rows.get(proposal.id);
    if (!current || current.etag !== etag) return { kind: 'conflict' };
    const record = { value: proposal, etag: `p${++this.version}` };
    this.rows.set(proposal.id, record);
    return { kind: 'replaced', record };
  }
}

/** ETag semantics like Table Storage: every write gets a new version; a stale one is refused. */
export class FakeApprovals implements ApprovalsPort {
  readonly rows = new Map<string, Versioned<ApprovalRecord>>();
  private version = 0;
  async get(connection: ConnectionRef) {
    return this.rows.get(connection.key);
  }
  async listOpen(vault: ResourceRef) {
    return [...this.rows.values()].filter((r) => r.value.connection.resource.key === vault.key && !isTerminal(r.value.state));
  }
  async resourcesWithOpenRecords() {
    return [...new Set([...this.rows.values()].filter((r) => !isTerminal(r.value.state)).map((r) => r.value.connection.resource.id))];
  }
  async listForReviewTimer() {
    return [...this.rows.values()].filter((r) => r.value.state === 'AwaitingReview' || r.value.card?.stale === true);
  }
  async listResource(resource: ResourceRef) {
    return [...this.rows.values()].filter((r) => r.value.connection.resource.key === resource.key);
  }
  async listAll() {
    return [...this.rows.values()];
  }
  async listFailed() {
    return [...this.rows.values()].filter((r) => r.value.state === 'Failed');
  }
  async create(record: ApprovalRecord): Promise<CreateResult<ApprovalRecord>> {
    const key = record.connection.key;
    if (this.rows.has(key)) return { kind: 'exists' };
    const stored = { value: record, etag: this.nextEtag() };
    this.rows.set(key, stored);
    return { kind: 'created', record: stored };
  }
  async replace(record: ApprovalRecord, etag: string): Promise<ReplaceResult<ApprovalRecord>> {
    const key = record.connection.key;
    const current = this.rows.get(key);
    if (!current || current.etag !== etag) return { kind: 'conflict' };
    const stored = { value: record, etag: this.nextEtag() };
    this.rows.set(key, stored);
    return { kind: 'replaced', record: stored };
  }
  private nextEtag() {
    this.version += 1;
    return `W/"${this.version}"`;
  }
}

/** The inventory in memory, keyed as the table is: by resource, then connection. */
export class FakeInventory implements InventoryPort {
  readonly entries = new Map<string, InventoryEntry>();
  private readonly versions = new Map<string, number>();
  writes = 0;
  async listResource(resourceKey: string): Promise<InventoryEntry[]> {
    return [...this.entries.values()].filter((e) => e.resourceId.toLowerCase() === resourceKey);
  }
  async index(): Promise<Map<string, InventoryIndexEntry>> {
    return new Map([...this.entries].map(([key, entry]) => [key, { ...indexEntryOf(entry), etag: `W/"${this.versions.get(key)}"`, ...(entry.owed ? { owed: true } : {}) }]));
  }
  async indexOf(resourceKey: string): Promise<Map<string, InventoryIndexEntry>> {
    return new Map([...(await this.index())].filter(([key]) => this.entries.get(key)?.resourceId.toLowerCase() === resourceKey));
  }
  async write(entries: readonly InventoryEntry[]): Promise<void> {
    this.writes += entries.length;
    for (const entry of entries) this.store(entry);
  }
  async claim(entry: InventoryEntry, expected: string): Promise<boolean> {
    const key = entry.connectionId.toLowerCase();
    const current = this.versions.get(key);
    if (expected === 'absent' ? current !== undefined : expected !== `W/"${current}"`) return false;
    this.writes += 1;
    this.store(entry);
    return true;
  }
  async claimMany(claims: readonly { entry: InventoryEntry; expected: string }[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const { entry, expected } of claims) out.push(await this.claim(entry, expected));
    return out;
  }
  private store(entry: InventoryEntry) {
    const key = entry.connectionId.toLowerCase();
    this.entries.set(key, entry);
    this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
  }
  async query(query: InventoryQuery): Promise<InventoryPage> {
    const entries = [...this.entries.values()].filter(
      (e) =>
        (!query.status || e.status.toLowerCase() === query.status.toLowerCase()) &&
        (!query.type || e.resourceType === query.type.key) &&
        (!query.resourceKey || e.resourceId.toLowerCase() === query.resourceKey) &&
        (!query.decidedBy || e.decidedBy === query.decidedBy) &&
        (!query.outOfBand || e.outOfBand === query.outOfBand),
    );
    return { entries };
  }
  get(connectionId: string): InventoryEntry | undefined {
    return this.entries.get(connectionId.toLowerCase());
  }
}

export class FakeAudit implements AuditPort {
  readonly entries: AuditEntry[] = [];
  async append(entry: AuditInput): Promise<AuditEntry> {
    const full = { ...entry, id: entry.id ?? String(this.entries.length + 1), time: entry.time ?? new Date() } as AuditEntry;
    this.entries.push(full);
    return full;
  }
  /** Same id and time is the same entry, as in the table. */
  async appendMany(entries: readonly AuditInput[]): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for (const entry of entries) {
      const existing = entry.id ? this.entries.find((e) => e.id === entry.id && e.time.getTime() === entry.time?.getTime()) : undefined;
      out.push(existing ?? (await this.append(entry)));
    }
    return out;
  }
  kinds(connectionId?: string): string[] {
    return this.entries
      .filter((e) => !connectionId || e.connectionId === connectionId.toLowerCase())
      .map((e) => `${e.kind}:${e.outcome}`);
  }
}

export const silentLog: Logger = { info: () => {}, warn: () => {}, error: () => {} };

export const SETTINGS: WorkflowSettings = {
  homeTenantId: HOME_TENANT,
  leaseMs: 60_000,
  actionTimeoutMs: 20_000,
  pollMinMs: 100,
  pollMaxMs: 10_000,
  maxAttempts: 3,
  retryBaseMs: 30_000,
  concurrency: 4,
  reviewDefaults: { approvers: [], timeoutAction: 'leave-pending' },
};

/**
 * The hint and review use cases over in-memory fakes, wired as the composition wires them. Without
 * a notifier, reviews are recorded and wait, and no card is posted.
 */
export function harness(overrides: Partial<WorkflowSettings> = {}, notifier?: ReviewNotifier, reviewSettings: { clickBudgetMs?: number; claimMs?: number; log?: Logger } = {}) {
  const ports = {
    connections: new FakeConnections(),
    tenants: new FakeTenants(),
    rules: new FakeRules(),
    approvals: new FakeApprovals(),
    inventory: new FakeInventory(),
    audit: new FakeAudit(),
    clock: new FakeClock(),
    log: reviewSettings.log ?? silentLog,
  };
  const settings = { ...SETTINGS, ...overrides };
  const cards: CardDeps = { ...ports, ...(notifier ? { notifier } : {}), homeTenantId: HOME_TENANT, claimMs: reviewSettings.claimMs ?? 60_000 };
  const steps: StepDeps = { ...ports, settings, hooks: reviewHooks(cards) };
  const workflow = createWorkflow({ ...ports, ...steps, settings });
  const reviews = createReviews({ ...steps, ...cards, clickBudgetMs: reviewSettings.clickBudgetMs ?? 5_000 });
  return { ...ports, settings, workflow, reviews, hint: { resource: VAULT, source: 'event' as const, eventId: 'evt-1' } };
}

export class FakeNotifier implements ReviewNotifier {
  readonly posts: Array<{ conversationId: string; view: ReviewCardView; activityId: string }> = [];
  readonly updates: Array<{ conversationId: string; activityId: string; view: ReviewCardView }> = [];
  readonly replies: Array<{ conversationId: string; activityId: string; text: string }> = [];
  failPosts = 0;
  /** Posts answer 404 ConversationNotFound, which will not change on a retry. */
  refusePosts = false;
  async post(conversationId: string, view: ReviewCardView) {
    if (this.refusePosts) throw new PermanentDeliveryError('Teams answered 404 ConversationNotFound', 'post', conversationId, 404, 1);
    if (this.failPosts > 0) {
      this.failPosts -= 1;
      throw new Error('Teams answered 503');
    }
    const activityId = `act-${this.posts.length + 1}`;
    this.posts.push({ conversationId, view, activityId });
    return { activityId };
  }
  async update(conversationId: string, activityId: string, view: ReviewCardView) {
    this.updates.push({ conversationId, activityId, view });
  }
  async reply(conversationId: string, activityId: string, text: string) {
    this.replies.push({ conversationId, activityId, text });
  }
  readonly announcements: { conversationId: string; text: string }[] = [];
  async announce(conversationId: string, text: string) {
    this.announcements.push({ conversationId, text });
  }
  lastViewOf(activityId: string): ReviewCardView | undefined {
    return [...this.updates].reverse().find((u) => u.activityId === activityId)?.view ?? this.posts.find((p) => p.activityId === activityId)?.view;
  }
}

export const APPROVER_ADA = { id: 'ada00000-0000-4000-8000-0000000000a1', name: 'Ada' };
export const APPROVER_GRACE = { id: 'ace00000-0000-4000-8000-0000000000a2', name: 'Grace' };
export const BYSTANDER = { id: 'b0b00000-0000-4000-8000-0000000000b1', name: 'Bob' };
export const REQUESTER = { id: 'e1a00000-0000-4000-8000-0000000000e1', name: 'Rita' };

/** A workflow with human review: external requests go to a channel with two approvers. */
export function reviewHarness(overrides: Partial<WorkflowSettings> = {}) {
  const notifier = new FakeNotifier();
  const h = harness(
    {
      reviewDefaults: {
        conversation: '19:approvals@thread.tacv2',
        approvers: [APPROVER_ADA.id, APPROVER_GRACE.id, REQUESTER.id],
        remindAfterHours: 4,
        expireAfterDays: 2,
        timeoutAction: 'leave-pending',
      },
      ...overrides,
    },
    notifier,
  );
  return { ...h, notifier };
}
