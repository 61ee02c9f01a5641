import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resourceOf } from '../domain/resource-id.js';
import { describeResource, findResourceType, RESOURCE_TYPES } from '../domain/resource-types.js';
import { readOptionalFile, sendJson, type HttpResult } from './http.js';
import { azureTokenSource, localTokenSource, type LocalAuth, type TokenSource } from './tokens.js';

/**
 * `linkgate` — drives a running Linkgate (the local stack by default) from the shell.
 *
 *   linkgate simulate request (--vault NAME | --type TYPE --resource NAME) --from-subscription ID [--message TEXT] [--endpoint NAME]
 *   linkgate simulate status --connection ID --status Approved|Rejected|Disconnected [--description TEXT]
 *   linkgate simulate delete --connection ID
 *   linkgate audit [--resource ID | --vault ID] [--type TYPE] [--connection ID] [--subscription ID] [--actor ID] [--outcome O]
 *                  [--from ISO] [--to ISO] [--page-size N] [--all] [--json]
 *   linkgate connections [--state S] [--type T] [--resource ID] [--requester-tenant T] [--requester-subscription S]
 *                  [--decided-by linkgate|elsewhere|none] [--out-of-band flagged|ignored] [--page-size N] [--all] [--json]
 *   linkgate rules list | rules put --file rule.json | rules delete NAME
 *   linkgate proposals list | proposals confirm ID | proposals decline ID --comment TEXT
 *   linkgate teams channels            conversations the bot was installed in
 *   linkgate sweep | replay --connection ID | whoami | automation status|hold|release
 *
 * Where to reach it: --api URL (or LINKGATE_API_URL, default from .linkgate/stack.json, else
 * http://127.0.0.1:7071); --emulator URL (or LINKGATE_EMULATOR_URL, default from .linkgate/stack.json).
 * Admin calls carry an Entra ID bearer token (src/cli/tokens.ts): locally from the stack's issuer as
 * `--as PERSON`, in Azure from your Azure sign-in for LINKGATE_API_CLIENT_ID.
 */
const USAGE = `Usage:
  linkgate simulate request (--vault NAME | --type TYPE --resource NAME) --from-subscription ID
                            [--message TEXT] [--endpoint NAME] [--requester OBJECT_ID]
  linkgate simulate status --connection ID --status Approved|Rejected|Disconnected [--description TEXT]
  linkgate simulate delete --connection ID
  linkgate audit [--resource ID | --vault ID] [--type TYPE] [--connection ID] [--subscription ID] [--actor ID] [--outcome OUTCOME]
                 [--from ISO] [--to ISO] [--page-size N] [--all] [--json]
  linkgate connections [--state STATE] [--type TYPE] [--resource ID] [--requester-tenant TENANT]
                 [--requester-subscription ID] [--decided-by linkgate|elsewhere|none]
                 [--out-of-band flagged|ignored] [--page-size N] [--all] [--json]
                                      every connection Linkgate has seen, in any state (role Audit.Read)
  linkgate rules list | rules put --file RULE.json | rules delete NAME
  linkgate proposals list [--json] | proposals confirm ID | proposals decline ID --comment TEXT
  linkgate teams channels [--json]
  linkgate sweep                      run the sweep now (role Operate)
  linkgate replay --connection ID     look at one connection again now; a failed one gets its attempts back (role Operate)
  linkgate automation status | automation hold --reason TEXT | automation release --reason TEXT
                                      break-glass: every approve/reject goes to a person (role Operate)
  linkgate whoami                     who the API takes you to be, and your roles
Options: --api URL (functions app), --emulator URL (ARM emulator), --state-dir DIR (default .linkgate)
         --as PERSON (local stack: ada, grace, bob or rita; default LINKGATE_USER, else ada)
Azure:   LINKGATE_API_URL, LINKGATE_API_CLIENT_ID (the API application) and an Azure sign-in (az login)
Types: ${RESOURCE_TYPES.map((t) => t.key).join(', ')} (or the ARM type, e.g. Microsoft.Storage/storageAccounts)`;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      vault: { type: 'string' },
      type: { type: 'string' },
      resource: { type: 'string' },
      'resource-group': { type: 'string' },
      subscription: { type: 'string' },
      'from-subscription': { type: 'string' },
      message: { type: 'string' },
      endpoint: { type: 'string' },
      requester: { type: 'string' },
      connection: { type: 'string' },
      status: { type: 'string' },
      description: { type: 'string' },
      actor: { type: 'string' },
      outcome: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'page-size': { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      file: { type: 'string' },
      api: { type: 'string' },
      emulator: { type: 'string' },
      'state-dir': { type: 'string' },
      as: { type: 'string' },
      comment: { type: 'string' },
      reason: { type: 'string' },
      state: { type: 'string' },
      'requester-tenant': { type: 'string' },
      'requester-subscription': { type: 'string' },
      'decided-by': { type: 'string' },
      'out-of-band': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const stateDir = values['state-dir'] ?? '.linkgate';
  const state = readState(stateDir);
  const apiUrl = (values.api ?? process.env.LINKGATE_API_URL ?? state.functionsUrl ?? 'http://127.0.0.1:7071').replace(/\/+$/, '');
  const tokens = tokenSource(state, values.as ?? process.env.LINKGATE_USER);
  const api = async (method: string, path: string, body?: unknown): Promise<HttpResult> =>
    sendJson(method, `${apiUrl}${path}`, body, { headers: { authorization: `Bearer ${await tokens().token()}` } });

  if (command === 'simulate') {
    const emulatorUrl = (values.emulator ?? process.env.LINKGATE_EMULATOR_URL ?? state.emulatorUrl)?.replace(/\/+$/, '');
    if (!emulatorUrl) throw new UsageError('No ARM emulator found: start the stack with `npm start` or pass --emulator URL.');
    const caFile = process.env.LINKGATE_EMULATOR_CA_FILE ?? state.emulatorCaFile;
    const ca = caFile ? readOptionalFile(caFile) : undefined;
    const call = (path: string, body: unknown) => sendJson('POST', `${emulatorUrl}/_emulator/${path}`, body, ca ? { ca } : {});
    if (sub === 'request') {
      const target = requestTarget(values.vault, values.type, values.resource);
      const fromSubscription = need(values['from-subscription'], '--from-subscription');
      const result = await call('requests', {
        ...target,
        fromSubscription,
        ...(values['resource-group'] ? { resourceGroup: values['resource-group'] } : {}),
        ...(values.subscription ? { subscriptionId: values.subscription } : {}),
        ...(values.message !== undefined ? { message: values.message } : {}),
        ...(values.endpoint ? { endpointName: values.endpoint } : {}),
        ...(values.requester ? { requesterObjectId: values.requester } : {}),
      });
      const connection = expectOk(result) as { id?: string; properties?: { privateLinkServiceConnectionState?: { status?: string } } };
      console.log(`Requested ${connection.id} (${connection.properties?.privateLinkServiceConnectionState?.status ?? 'Pending'}).`);
      console.log('Linkgate decides on the events this raised; see `linkgate audit --connection <id>`.');
      return 0;
    }
    if (sub === 'status') {
      const connectionId = need(values.connection, '--connection');
      const status = need(values.status, '--status');
      const result = expectOk(await call('connections/status', { connectionId, status, ...(values.description ? { description: values.description } : {}) }));
      printJson(result);
      return 0;
    }
    if (sub === 'delete') {
      expectOk(await call('connections/delete', { connectionId: need(values.connection, '--connection') }));
      console.log('Deleted.');
      return 0;
    }
    throw new UsageError(`Unknown command 'simulate ${sub ?? ''}'.`);
  }

  if (command === 'audit') {
    const params = new URLSearchParams();
    if (values.type !== undefined && !findResourceType(values.type)) throw new UsageError(`--type '${values.type}' is not a registered resource type.\n\n${USAGE}`);
    const map: Array<[string, string | undefined]> = [
      ['vault', expectResourceId(values.vault, '--vault')],
      ['resource', expectResourceId(values.resource, '--resource')],
      ['type', values.type],
      ['connection', values.connection],
      ['subscription', values.subscription],
      ['actor', values.actor],
      ['outcome', values.outcome],
      ['from', values.from],
      ['to', values.to],
      ['pageSize', values['page-size']],
    ];
    for (const [key, value] of map) if (value !== undefined) params.set(key, value);
    let printed = 0;
    for (;;) {
      const page = expectOk(await api('GET', `/api/audit?${params}`)) as {
        entries: AuditRow[];
        continuationToken?: string;
      };
      for (const entry of page.entries) {
        if (values.json) console.log(JSON.stringify(entry));
        else console.log(formatEntry(entry));
        printed += 1;
      }
      if (!values.all || !page.continuationToken) {
        if (page.continuationToken && !values.json) console.log(`… more: --all, or continue with the API's continuationToken`);
        break;
      }
      params.set('continuationToken', page.continuationToken);
    }
    if (!values.json) console.log(`${printed} entr${printed === 1 ? 'y' : 'ies'}`);
    return 0;
  }

  if (command === 'connections') {
    const params = new URLSearchParams();
    if (values.type !== undefined && !findResourceType(values.type)) throw new UsageError(`--type '${values.type}' is not a registered resource type.\n\n${USAGE}`);
    const map: Array<[string, string | undefined]> = [
      ['state', values.state],
      ['type', values.type],
      ['resource', expectResourceId(values.resource, '--resource')],
      ['requesterTenant', values['requester-tenant']],
      ['requesterSubscription', values['requester-subscription']],
      ['decidedBy', values['decided-by']],
      ['outOfBand', values['out-of-band']],
      ['pageSize', values['page-size']],
    ];
    for (const [key, value] of map) if (value !== undefined) params.set(key, value);
    let printed = 0;
    for (;;) {
      const page = expectOk(await api('GET', `/api/connections?${params}`)) as { entries: InventoryRow[]; continuationToken?: string };
      for (const entry of page.entries) {
        if (!values.json && printed === 0) console.log(INVENTORY_HEADER);
        console.log(values.json ? JSON.stringify(entry) : formatInventoryEntry(entry));
        printed += 1;
      }
      if (!values.all || !page.continuationToken) {
        if (page.continuationToken && !values.json) console.log(`… more: --all, or continue with the API's continuationToken`);
        break;
      }
      params.set('continuationToken', page.continuationToken);
    }
    if (!values.json) console.log(`${printed} connection${printed === 1 ? '' : 's'}`);
    return 0;
  }

  if (command === 'rules') {
    if (sub === 'list' || sub === undefined) {
      printJson(expectOk(await api('GET', '/api/rules')));
      return 0;
    }
    if (sub === 'put') {
      const file = need(values.file, '--file');
      const text = readFileSync(file, 'utf8');
      let rule: { name?: unknown };
      try {
        rule = JSON.parse(text) as { name?: unknown };
      } catch (error) {
        throw new UsageError(`${file} is not JSON: ${(error as Error).message}`);
      }
      if (typeof rule.name !== 'string') throw new UsageError(`${file} has no "name"`);
      const result = await api('PUT', `/api/rules/${encodeURIComponent(rule.name)}`, text);
      const written = expectOk(result) as { status?: string; message?: string; reason?: string; proposal?: { id: string; expiresAt: string } };
      if (written.status === 'proposed' && written.proposal) {
        console.log(`Proposed (${written.proposal.id}); nothing changes until a second person confirms it.`);
        console.log(written.message ?? '');
        console.log(`It expires ${written.proposal.expiresAt}.`);
      } else {
        console.log(`Rule '${rule.name}' ${written.status === 'unchanged' ? 'is unchanged' : 'took effect'} (${written.reason ?? ''}).`);
      }
      return 0;
    }
    if (sub === 'delete') {
      expectOk(await api('DELETE', `/api/rules/${encodeURIComponent(need(arg, 'NAME'))}`));
      console.log('Deleted.');
      return 0;
    }
    throw new UsageError(`Unknown command 'rules ${sub}'.`);
  }
  if (command === 'teams') {
    if (sub !== 'channels') throw new UsageError(`Unknown command 'teams ${sub ?? ''}'.`);
    const result = expectOk(await api('GET', '/api/teams/conversations')) as {
      conversations: Array<{ conversationId: string; conversationType: string; name?: string; teamName?: string; installedAt: string; removedAt?: string }>;
    };
    if (values.json) {
      printJson(result);
      return 0;
    }
    if (result.conversations.length === 0) console.log('The bot is not installed in any team, channel or chat yet.');
    for (const c of result.conversations) {
      const where = [c.teamName, c.name].filter(Boolean).join(' / ') || '(unnamed)';
      console.log(`${c.conversationId}  ${c.conversationType.padEnd(9)} ${where}${c.removedAt ? '  (removed)' : ''}`);
    }
    console.log('Use a conversation ID as LINKGATE_REVIEW_CONVERSATION or in a rule\'s review.conversation.');
    return 0;
  }
  if (command === 'proposals') {
    if (sub === 'list' || sub === undefined) {
      const { proposals } = expectOk(await api('GET', '/api/rule-proposals')) as { proposals: ProposalRow[] };
      if (values.json) {
        printJson(proposals);
        return 0;
      }
      if (proposals.length === 0) console.log('No rule change proposals.');
      for (const p of proposals) console.log(formatProposal(p));
      return 0;
    }
    if (sub === 'confirm') {
      const { rule } = expectOk(await api('POST', `/api/rule-proposals/${encodeURIComponent(need(arg, 'ID'))}/confirm`, {})) as { rule: { name: string } };
      console.log(`Confirmed: rule '${rule.name}' took effect.`);
      return 0;
    }
    if (sub === 'decline') {
      const { proposal } = expectOk(await api('POST', `/api/rule-proposals/${encodeURIComponent(need(arg, 'ID'))}/decline`, { comment: need(values.comment, '--comment') })) as { proposal: ProposalRow };
      console.log(`Proposal ${proposal.id} ${proposal.status}.`);
      return 0;
    }
    throw new UsageError(`Unknown command 'proposals ${sub}'.`);
  }
  if (command === 'sweep') {
    type Report = {
      source: string;
      durationMs: number;
      graphConnections: number;
      reread: number;
      resourcesListed: number;
      listedTypes: string[];
      outcomes: Record<string, number>;
      inventory: Record<string, number>;
      errors: Array<{ resourceId: string; error: string }>;
    };
    const report = expectOk(await api('POST', '/api/sweep', {})) as Report;
    const tally = (t: Record<string, number>) => Object.entries(t).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
    const found =
      report.source === 'resource-graph'
        ? `Resource Graph reported ${report.graphConnections} connection(s), ${report.reread} read again through ARM, ${report.resourcesListed} resource(s) listed through ARM${report.listedTypes.length ? ` (${report.listedTypes.join(', ')})` : ''}`
        : `${report.resourcesListed} resource(s) listed through ARM`;
    console.log(`Swept in ${report.durationMs} ms: ${found}.`);
    console.log(`  decisions: ${tally(report.outcomes)}`);
    console.log(`  inventory: ${tally(report.inventory)}`);
    console.log(`  ${report.errors.length} error(s)`);
    for (const e of report.errors) console.log(`  ${e.resourceId}: ${e.error}`);
    return 0;
  }
  if (command === 'replay') {
    const result = expectOk(await api('POST', '/api/connections/replay', { connectionId: need(values.connection, '--connection') })) as { connectionId: string; attemptsReset: boolean; outcome: string };
    console.log(`${result.connectionId.split('/').pop()}: ${result.outcome}${result.attemptsReset ? ' (its failed attempts were given back)' : ''}.`);
    return 0;
  }
  if (command === 'automation') {
    type Status = { automatic: boolean; hold?: { by: { name: string }; at: string; reason: string } };
    let status: Status;
    if (sub === 'status' || sub === undefined) status = expectOk(await api('GET', '/api/automation')) as Status;
    else if (sub === 'hold' || sub === 'release') status = expectOk(await api('POST', `/api/automation/${sub}`, { reason: need(values.reason, '--reason') })) as Status;
    else throw new UsageError(`Unknown command 'automation ${sub}'.`);
    console.log(status.hold ? `On hold since ${status.hold.at} by ${status.hold.by.name}: ${status.hold.reason}. Rules that say approve or reject send requests to a person.` : 'Rules decide automatically.');
    return 0;
  }
  if (command === 'whoami') {
    const me = expectOk(await api('GET', '/api/whoami')) as { objectId: string; name: string; kind: string; roles: string[] };
    console.log(`${me.name} (${me.objectId}, ${me.kind}) via ${tokens().describe}; roles: ${me.roles.length > 0 ? me.roles.join(', ') : 'none'}`);
    return 0;
  }
  throw new UsageError(`Unknown command '${command}'.`);
}

interface ProposalRow {
  id: string;
  ruleName: string;
  status: string;
  reason: string;
  proposedBy: { name: string };
  proposedAt: string;
  expiresAt: string;
  decidedBy?: { name: string };
  comment?: string;
}

export function formatProposal(p: ProposalRow): string {
  const decided = p.decidedBy ? ` by ${p.decidedBy.name}` : '';
  return `${p.id}  ${p.status.padEnd(9)} rule '${p.ruleName}' proposed by ${p.proposedBy.name} at ${p.proposedAt}${decided}; ${p.status === 'pending' ? `expires ${p.expiresAt}; ` : ''}${p.reason}${p.comment ? ` (${p.comment})` : ''}`;
}

/** Built on first use, so commands that need no token (simulate) never ask for one. */
function tokenSource(state: StackState, as: string | undefined): () => TokenSource {
  let source: TokenSource | undefined;
  return () => {
    if (source) return source;
    const clientId = process.env.LINKGATE_API_CLIENT_ID?.trim();
    if (state.auth && (!clientId || clientId.toLowerCase() === state.auth.apiClientId)) {
      source = localTokenSource(state.auth, as);
    } else if (clientId) {
      if (as) throw new UsageError('--as picks a person of the local stack; against Azure the token is your own sign-in.');
      source = azureTokenSource(clientId, process.env.LINKGATE_TENANT_ID ?? process.env.AZURE_TENANT_ID, process.env.LINKGATE_API_SCOPE);
    } else {
      throw new UsageError('No local stack is running and LINKGATE_API_CLIENT_ID is not set: start the stack with `npm start`, or set LINKGATE_API_URL and LINKGATE_API_CLIENT_ID for a deployment (README, "Security model").');
    }
    return source;
  };
}

interface AuditRow {
  time: string;
  kind: string;
  outcome: string;
  actor: { type: string; id: string; name?: string };
  summary: string;
  resourceId?: string;
  connectionId?: string;
}

/** One line per entry: when, what, which resource ("storage account stcontosodata"), which connection, who, and the summary. */
export function formatEntry(entry: AuditRow): string {
  const connection = entry.connectionId?.split('/').pop() ?? '-';
  const resource = entry.resourceId ? resourceOf(entry.resourceId) : undefined;
  const where = resource ? describeResource(resource.type, resource.name) : '-';
  const actor = `${entry.actor.type}:${entry.actor.name ?? entry.actor.id}`;
  return `${entry.time}  ${entry.kind.padEnd(8)} ${entry.outcome.padEnd(17)} ${where.padEnd(34)} ${connection.padEnd(28)} ${actor.padEnd(28)} ${entry.summary}`;
}

interface InventoryRow {
  connectionId: string;
  resourceId: string;
  resourceType: string;
  status: string;
  requesterSubscriptionId?: string;
  requesterTenantId?: string;
  firstSeenAt: string;
  firstSeenStatus: string;
  decidedBy: string;
  decider?: string;
  outOfBand?: string;
}

const INVENTORY_COLUMNS = [13, 10, 26, 30, 37, 37, 35] as const;

function inventoryLine(cells: readonly string[]): string {
  return cells.map((cell, i) => (i < INVENTORY_COLUMNS.length ? cell.padEnd(INVENTORY_COLUMNS[i] ?? 0) : cell)).join(' ').trimEnd();
}

export const INVENTORY_HEADER = inventoryLine(['STATUS', 'TYPE', 'RESOURCE', 'CONNECTION', 'REQUESTER SUBSCRIPTION', 'REQUESTER TENANT', 'FIRST SEEN', 'DECIDED BY']);

/** One line per connection: status, type, resource and connection name, requester, when and how it was first seen, who decided. */
export function formatInventoryEntry(entry: InventoryRow): string {
  const resource = resourceOf(entry.resourceId)?.name ?? entry.resourceId.split('/').pop() ?? '-';
  const connection = entry.connectionId.split('/').pop() ?? '-';
  const firstSeen = `${entry.firstSeenAt.replace(/\.\d{3}Z$/, 'Z')} ${entry.firstSeenStatus}`;
  const decided = `${entry.decidedBy}${entry.decider ? ` (${entry.decider})` : ''}${entry.outOfBand ? ` out-of-band: ${entry.outOfBand}` : ''}`;
  return inventoryLine([entry.status, entry.resourceType, resource, connection, entry.requesterSubscriptionId ?? '-', entry.requesterTenantId ?? '-', firstSeen, decided]);
}

/** `--vault NAME`, or `--type TYPE --resource NAME` for any registered type. */
function requestTarget(vault: string | undefined, type: string | undefined, resource: string | undefined): Record<string, string> {
  if (vault !== undefined) {
    if (type !== undefined || resource !== undefined) throw new UsageError(`Give --vault NAME, or --type TYPE with --resource NAME, not both.\n\n${USAGE}`);
    return { vault };
  }
  const known = findResourceType(need(type, '--type (or --vault)'));
  if (!known) throw new UsageError(`--type '${type}' is not a registered resource type.\n\n${USAGE}`);
  return { type: known.type, resource: need(resource, '--resource') };
}

interface StackState {
  auth?: LocalAuth;
  functionsUrl?: string;
  emulatorUrl?: string;
  emulatorCaFile?: string;
}

function readState(dir: string): StackState {
  const text = readOptionalFile(join(dir, 'stack.json'));
  if (!text) return {};
  try {
    return JSON.parse(text) as StackState;
  } catch {
    return {};
  }
}

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${flag} is required.\n\n${USAGE}`);
  return value;
}

function expectResourceId(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && !value.includes('/')) {
    const example = flag === '--vault' ? `Microsoft.KeyVault/vaults/${value}` : `Microsoft.Storage/storageAccounts/${value}`;
    throw new UsageError(`${flag} takes the resource ID, e.g. /subscriptions/<id>/resourceGroups/<rg>/providers/${example}`);
  }
  return value;
}

function expectOk(result: HttpResult): unknown {
  if (result.status >= 200 && result.status < 300) return result.body;
  const message = (result.body as { error?: unknown } | undefined)?.error;
  const text = typeof message === 'string' ? message : typeof message === 'object' && message ? JSON.stringify(message) : result.text;
  throw new Error(`HTTP ${result.status}: ${text}`);
}

function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Entry point for bin/linkgate.cjs and `npm run linkgate`. */
export function run(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      const code = (error as { code?: string }).code;
      if (code === 'ECONNREFUSED') {
        console.error(`linkgate: nothing answers at ${(error as { address?: string; port?: number }).address ?? '127.0.0.1'}:${(error as { port?: number }).port ?? ''}. Is the stack running (npm start)? Or pass --api / --emulator.`);
        process.exit(1);
      }
      console.error(error instanceof UsageError ? error.message : `linkgate: ${(error as Error).message}`);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}

if (require.main === module) run();
