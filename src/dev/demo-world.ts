import type { Rule } from '../domain/policy/rule.js';
import type { EmulatedAdmin } from './entra-emulator/index.js';

/**
 * The made-up organisation the local stack runs: Contoso owns a vault, a storage account and a
 * SQL server; its app team asks from inside the tenant, a partner (Fabrikam) from outside, and
 * Northwind is deny-listed.
 */
export const DEMO = {
  homeTenantId: 'c0a1b2c3-0000-4000-8000-00000000c0de',
  partnerTenantId: 'fab00000-0000-4000-8000-00000000fab0',
  deniedTenantId: 'dead0000-0000-4000-8000-00000000dead',
  vaultSubscriptionId: '5ec00000-0000-4000-8000-000000000001',
  appSubscriptionId: 'a9900000-0000-4000-8000-000000000002',
  partnerSubscriptionId: 'fab00000-0000-4000-8000-000000000003',
  deniedSubscriptionId: 'dead0000-0000-4000-8000-000000000004',
  hiddenSubscriptionId: '41dd0000-0000-4000-8000-000000000005',
  resourceGroup: 'rg-secrets',
  vaultName: 'kv-payments',
  storageAccountName: 'stcontosodata',
  sqlServerName: 'sql-contoso-orders',
  /** The client ID of Linkgate's API application: the audience of admin tokens. */
  apiClientId: 'a91c1e47-0000-4000-8000-0000000000a9',
} as const;

/** The Private Link resources of the demo, all in the platform subscription's resource group. */
export const DEMO_RESOURCES = [
  { type: 'Microsoft.KeyVault/vaults', name: DEMO.vaultName },
  { type: 'Microsoft.Storage/storageAccounts', name: DEMO.storageAccountName },
  { type: 'Microsoft.Sql/servers', name: DEMO.sqlServerName },
] as const;

/** The canonical resource ID of a demo resource. */
export function demoResourceId(type: string, name: string): string {
  return `/subscriptions/${DEMO.vaultSubscriptionId}/resourceGroups/${DEMO.resourceGroup}/providers/${type}/${name}`;
}

export const DEMO_SUBSCRIPTIONS = [
  { subscriptionId: DEMO.vaultSubscriptionId, tenantId: DEMO.homeTenantId, displayName: 'Contoso Platform', visibility: 'visible' as const },
  { subscriptionId: DEMO.appSubscriptionId, tenantId: DEMO.homeTenantId, displayName: 'Contoso Payments App', visibility: 'visible' as const },
  { subscriptionId: DEMO.partnerSubscriptionId, tenantId: DEMO.partnerTenantId, displayName: 'Fabrikam Integration', visibility: 'visible' as const },
  { subscriptionId: DEMO.deniedSubscriptionId, tenantId: DEMO.deniedTenantId, displayName: 'Northwind Sandbox', visibility: 'visible' as const },
  { subscriptionId: DEMO.hiddenSubscriptionId, tenantId: '00000000-0000-4000-8000-000000000000', displayName: 'Unknown', visibility: 'forbidden' as const },
];

/** Seeded at start: in-tenant → approve, deny-listed tenant → reject, everything else → review. */
export const DEMO_RULES: Rule[] = [
  {
    name: 'deny-listed-tenants',
    description: 'Tenants we never connect to.',
    priority: 10,
    enabled: true,
    mode: 'enforce',
    action: 'reject',
    conditions: { requesterTenant: [DEMO.deniedTenantId] },
  },
  {
    name: 'in-tenant',
    description: 'Endpoints from our own Entra tenant are approved automatically.',
    priority: 20,
    enabled: true,
    mode: 'enforce',
    action: 'approve',
    conditions: { requesterTenant: ['home'] },
  },
  {
    name: 'everyone-else',
    description: 'Anything else goes to a person.',
    priority: 1000,
    enabled: true,
    mode: 'enforce',
    action: 'review',
    conditions: {},
  },
  {
    name: 'out-of-band-in-tenant',
    description: 'Approvals made outside Linkgate for our own endpoints need no alert; any other is flagged (the default).',
    priority: 10,
    enabled: true,
    mode: 'enforce',
    action: 'ignore',
    appliesTo: 'out-of-band',
    conditions: { requesterTenant: ['home'] },
  },
];

/** People of the demo. Object IDs are what Entra would put in `aadObjectId`. */
export const DEMO_PEOPLE = {
  approverAda: { objectId: 'ada00000-0000-4000-8000-0000000000a1', name: 'Ada Approver', role: 'approver' },
  approverGrace: { objectId: 'ace00000-0000-4000-8000-0000000000a2', name: 'Grace Approver', role: 'approver' },
  viewerBob: { objectId: 'b0b00000-0000-4000-8000-0000000000b1', name: 'Bob Bystander', role: 'viewer' },
  requesterRita: { objectId: 'e1a00000-0000-4000-8000-0000000000e1', name: 'Rita Requester', role: 'requester' },
} as const;

/**
 * Who may use the admin APIs locally, as app role assignments on the API application would say.
 * Ada and Grace both hold Rules.Write, so a rule change Ada proposes can be confirmed by Grace;
 * Bob only reads the audit; Rita holds no role.
 */
export const DEMO_ADMINS: readonly EmulatedAdmin[] = [
  { ...pick(DEMO_PEOPLE.approverAda), username: 'ada@contoso.example', roles: ['Audit.Read', 'Rules.Write', 'Operate'] },
  { ...pick(DEMO_PEOPLE.approverGrace), username: 'grace@contoso.example', roles: ['Audit.Read', 'Rules.Write'] },
  { ...pick(DEMO_PEOPLE.viewerBob), username: 'bob@contoso.example', roles: ['Audit.Read'] },
  { ...pick(DEMO_PEOPLE.requesterRita), username: 'rita@contoso.example', roles: [] },
];

function pick(person: { objectId: string; name: string }): { objectId: string; name: string } {
  return { objectId: person.objectId, name: person.name };
}

/** The Teams team and channel the demo bot is installed in. */
export const DEMO_TEAMS = {
  tenantId: DEMO.homeTenantId,
  teamId: '19:platform-team@thread.tacv2',
  teamName: 'Platform',
  channelId: '19:privatelink-approvals@thread.tacv2',
  channelName: 'Private Link approvals',
  botId: '28:b07b0700-0000-4000-8000-000000000b07',
  botAppId: 'b07b0700-0000-4000-8000-000000000b07',
} as const;
