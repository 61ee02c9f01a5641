import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { systemClock, type Clock, type Logger } from './app/ports.js';
import { createCardActionRelay, type ReviewNotifier } from './app/review-ports.js';
import { readAuditTrail } from './app/audit-trail.js';
import { reviewHooks, type CardDeps } from './app/cards.js';
import { createEventIntake } from './app/event-intake.js';
import { createRuleAdmin } from './app/rule-admin.js';
import { createAdminAccess } from './app/admin-access.js';
import { createEntraTokenValidator } from './adapters/auth/entra-tokens.js';
import { TableProposalsStore } from './adapters/tables/proposals-store.js';
import { createReviews } from './app/reviews.js';
import { retryDue } from './app/retries.js';
import type { StepDeps } from './app/steps.js';
import { parseResourceEvent } from './adapters/eventgrid/resource-event.js';
import { lazyDefaultAzureCredential } from './adapters/identity/lazy-credential.js';
import { createLazyTeamsBot } from './adapters/teams/lazy-teams-bot.js';
import { TableConversationsStore } from './adapters/tables/conversations-store.js';
import { createSweep } from './app/sweep.js';
import { cachedRules } from './app/rules-cache.js';
import { createWorkflow, type WorkflowSettings } from './app/workflow.js';
import type { ArmConnection } from './adapters/arm/arm-client-options.js';
import { ArmConnections } from './adapters/arm/arm-connections.js';
import { ResourceGraph } from './adapters/arm/resource-graph.js';
import { SubscriptionTenantResolver } from './adapters/arm/subscription-tenants.js';
import { TableApprovalsStore } from './adapters/tables/approvals-store.js';
import { TableAuditStore } from './adapters/tables/audit-store.js';
import { TableInventoryStore } from './adapters/tables/inventory-store.js';
import { TableRulesStore } from './adapters/tables/rules-store.js';
import { createTableClient, type TablesConnection } from './adapters/tables/table-clients.js';
import { TableTenantCache } from './adapters/tables/tenant-cache-store.js';
import { loadConfig, type Config } from './config.js';
import type { AuditEntry } from './domain/audit.js';

export const TABLES = { rules: 'rules', approvals: 'approvals', audit: 'audit', tenantCache: 'tenantcache', conversations: 'conversations', proposals: 'ruleproposals', inventory: 'connections' } as const;

/**
 * Builds the adapters once per cold start and hands them to the use cases.
 * Nothing else in the app constructs an SDK client.
 */
export interface ServiceOptions {
  readonly clock?: Clock;
  readonly log?: Logger;
  readonly tablePrefix?: string;
  /** Called after each audit entry is stored (the local stack prints them). */
  readonly onAudit?: (entry: AuditEntry) => void;
  readonly notifier?: ReviewNotifier;
}

export function createServices(config: Config, options: ServiceOptions = {}) {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? consoleLogger;
  const credential = createCredential(config);
  const arm: ArmConnection = {
    endpoint: config.arm.endpoint,
    credential,
    ...(config.arm.caPem ? { caPem: config.arm.caPem } : {}),
    retry: { maxRetries: config.arm.maxRetries, baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: config.arm.maxRetryAfterMs },
  };
  // The dev token is for the ARM emulator alone: a real Table endpoint always gets an Entra credential.
  const tablesCredential = config.credential.kind === 'dev-token' ? lazyDefaultAzureCredential() : credential;
  const tables: TablesConnection =
    config.tables.kind === 'endpoint'
      ? { kind: 'endpoint', endpoint: config.tables.endpoint, credential: tablesCredential }
      : { kind: 'connectionString', connectionString: config.tables.connectionString };
  const table = (name: string) => createTableClient(tables, `${options.tablePrefix ?? ''}${name}`);

  const connections = new ArmConnections(arm, undefined, { log, now: () => clock.now().getTime() });
  const approvals = new TableApprovalsStore(table(TABLES.approvals));
  const inventory = new TableInventoryStore(table(TABLES.inventory));
  const rules = cachedRules(new TableRulesStore(table(TABLES.rules)), { ttlMs: config.rulesCacheMs, now: () => clock.now().getTime() });
  const audit = observeAudit(new TableAuditStore(table(TABLES.audit), { now: () => clock.now() }), options.onAudit);
  const tenants = new SubscriptionTenantResolver(arm, new TableTenantCache(table(TABLES.tenantCache), () => clock.now()), {
    visibleMs: config.tenantCacheTtlMs,
    notVisibleMs: config.tenantCacheNotVisibleTtlMs,
  }, () => clock.now().getTime());
  const conversations = new TableConversationsStore(table(TABLES.conversations));
  // The bot answers clicks through the review use case, which posts through the bot's notifier;
  // the relay is that one edge of the cycle, connected as soon as the review use case exists.
  const clicks = createCardActionRelay();
  const teams = config.teams
    ? createLazyTeamsBot({
        botId: config.teams.botId,
        tenantId: config.teams.tenantId,
        serviceUrl: config.teams.serviceUrl,
        auth: config.teams.auth,
        ...(config.teams.cloud ? { cloud: config.teams.cloud } : {}),
        onCardAction: clicks.handleCardAction,
        onRefusedClick: clicks.refuseCardAction,
        conversations,
        log,
        now: () => clock.now(),
      })
    : undefined;
  const notifier = options.notifier ?? teams?.notifier;
  const cards: CardDeps = { approvals, audit, ...(notifier ? { notifier } : {}), clock, log, homeTenantId: config.homeTenantId, claimMs: 60_000 };
  const settings: WorkflowSettings = {
    homeTenantId: config.homeTenantId,
    leaseMs: config.leaseMs,
    actionTimeoutMs: config.actionTimeoutMs,
    pollMinMs: config.pollMinMs,
    pollMaxMs: config.pollMaxMs,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
    concurrency: 4,
    hintDebounceMs: config.hintDebounceMs,
    reviewDefaults: config.reviewDefaults,
  };
  const steps: StepDeps = { connections, approvals, audit, clock, log, settings, hooks: reviewHooks(cards) };
  const workflowDeps = { ...steps, tenants, rules, inventory, settings, self: () => connections.principalObjectId() };
  const workflow = createWorkflow(workflowDeps);
  // The sweep runs on a timer, so its ARM reads may wait out long Retry-After answers (ARM's read
  // bucket refills at 25 per second) where a hint's must answer Event Grid within 30 s.
  const sweepConnections = new ArmConnections({ ...arm, retry: { ...arm.retry, maxRetries: Math.max(arm.retry.maxRetries, 10), maxRetryAfterMs: Math.max(arm.retry.maxRetryAfterMs, 60_000) } });
  const graph = new ResourceGraph(arm, { clock, log });
  const sweep = createSweep({
    ...workflowDeps,
    sweepConnections,
    graph,
    directory: connections,
    sweep: { source: config.sweep.source, scope: config.sweep.scope, types: config.resourceTypes, concurrency: config.sweep.concurrency },
  });
  const reviews = createReviews({ ...steps, ...cards, clickBudgetMs: 8_000 });
  const retries = () => retryDue({ workflow, approvals, clock, log, settings });
  clicks.connect(reviews);
  const events = createEventIntake({ parse: (event) => parseResourceEvent(event, { types: config.resourceTypes }), audit, workflow });
  const proposals = new TableProposalsStore(table(TABLES.proposals));
  const adminConversation = config.ruleChanges.adminConversation;
  const ruleAdmin = createRuleAdmin({
    rules,
    proposals,
    audit,
    clock,
    log,
    settings: config.ruleChanges,
    ...(adminConversation && notifier ? { announce: (text: string) => notifier.announce(adminConversation, text) } : {}),
  });
  const tokens = config.auth
    ? createEntraTokenValidator({ authority: config.auth.authority, tenantId: config.homeTenantId, clientId: config.auth.clientId, audiences: config.auth.audiences })
    : undefined;
  const access = createAdminAccess({ tokens, audit, log });
  if (!tokens) log.warn('No API application is configured (LINKGATE_API_CLIENT_ID): the admin APIs refuse every request.');
  const auditTrail = { read: (params: URLSearchParams) => readAuditTrail({ audit }, params) };
  if (!teams) log.warn('No Teams bot is configured (LINKGATE_TEAMS_BOT_ID): reviews are recorded and wait, but no cards are posted.');
  return { config, clock, log, connections, graph, approvals, inventory, rules, proposals, audit, tenants, workflow, sweep, reviews, retries, conversations, teams, events, ruleAdmin, auditTrail, access };
}

export type Services = ReturnType<typeof createServices>;

/** Same store; `append` also tells an observer what was written. */
function observeAudit(store: TableAuditStore, onAudit: ((entry: AuditEntry) => void) | undefined): TableAuditStore {
  if (!onAudit) return store;
  const observed = Object.create(store) as TableAuditStore;
  observed.append = async (entry) => {
    const written = await store.append(entry);
    onAudit(written);
    return written;
  };
  observed.appendMany = async (entries) => {
    const written = await store.appendMany(entries);
    written.forEach(onAudit);
    return written;
  };
  return observed;
}

let current: Services | undefined;

/** The process-wide services, built from process.env on first use (cold start). */
export function getServices(): Services {
  current ??= createServices(loadConfig());
  return current;
}

/** Replaces the process-wide services (the local stack and tests build their own). */
export function setServices(services: Services | undefined): void {
  current = services;
}

function createCredential(config: Config): TokenCredential {
  if (config.credential.kind === 'dev-token') return devTokenCredential;
  return lazyDefaultAzureCredential(
    config.credential.managedIdentityClientId ? { managedIdentityClientId: config.credential.managedIdentityClientId } : {},
  );
}

/** Linkgate's object ID on the local stack (the `oid` of its dev token). */
export const DEV_PRINCIPAL_OBJECT_ID = '4c1d9a7e-2b3f-4e5a-9c8d-7f6e5d4c3b2a';

/**
 * A fixed token for the local emulators; config refuses it outside dev mode. It has a JWT's shape
 * (unsigned) so that, as with a managed identity's token, Linkgate can read its own object ID.
 */
const devTokenCredential: TokenCredential = {
  async getToken(): Promise<AccessToken> {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    return { token: `${part({ alg: 'none', typ: 'JWT' })}.${part({ oid: DEV_PRINCIPAL_OBJECT_ID, name: 'linkgate-dev' })}.`, expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};

const consoleLogger: Logger = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};
