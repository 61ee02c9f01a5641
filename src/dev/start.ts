import type { AuditEntry } from '../domain/audit.js';
import { resourceOf } from '../domain/resource-id.js';
import { describeResource } from '../domain/resource-types.js';
import { DEMO, DEMO_PEOPLE, DEMO_RESOURCES, demoResourceId } from './demo-world.js';
import { startLocalStack } from './local-stack.js';

/**
 * `npm start`: the local stack on embedded defaults, then a short demo: four requests, and a
 * rule change that waits for a second person.
 * LINKGATE_DEMO=false starts the stack without the demo.
 */
async function main(): Promise<void> {
  const quietHost = process.env.LINKGATE_VERBOSE !== 'true';
  const stack = await startLocalStack({
    onAudit: printAudit,
    log: { info: () => {}, warn: (m) => console.warn(`  ! ${m}`), error: (m) => console.error(`  ✖ ${m}`) },
    // Quiet by default: only failed invocations (the host's own "Executed … (Failed, …)" line).
    ...(quietHost ? { hostLog: (line: string) => (/^Executed '[^']+' \(Failed,/.test(line) ? console.log(`  host: ${line}`) : undefined) } : {}),
  });
  const shutdown = async () => {
    console.log('\nStopping…');
    await stack.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());

  console.log(`
Linkgate local stack
  Functions host   ${stack.functionsUrl}   (Event Grid: /runtime/webhooks/eventgrid?functionName=resourceEvents)
  Teams emulator   ${stack.teams?.pageUrl ?? '(a real bot is configured)'}   ← open it to approve or reject reviews
  ARM emulator     ${stack.emulator?.url ?? '(configured endpoint)'}
  Table Storage    ${stack.tables ? `Azurite in memory at ${stack.tables.url}` : '(configured endpoint)'}
  Home tenant      ${DEMO.homeTenantId}
  Resources        ${DEMO_RESOURCES.map((r) => demoResourceId(r.type, r.name)).join('\n                   ')}
  Rules            deny-listed-tenants → reject, in-tenant → approve, everyone-else → review
`);

  if (process.env.LINKGATE_DEMO !== 'false' && stack.emulator) {
    console.log(`Demo: three private endpoint requests arrive at key vault ${DEMO.vaultName}, and one at storage account ${DEMO.storageAccountName}.\n`);
    const vault = { type: 'keyvault', resource: DEMO.vaultName, noun: `key vault ${DEMO.vaultName}` };
    const storage = { type: 'storage', resource: DEMO.storageAccountName, noun: `storage account ${DEMO.storageAccountName}` };
    const requests = [
      { ...vault, who: 'Contoso payments app (same tenant)', fromSubscription: DEMO.appSubscriptionId, endpointName: 'pe-payments-api', message: 'Payments API reads signing keys' },
      { ...storage, who: 'Contoso data team (same tenant)', fromSubscription: DEMO.appSubscriptionId, endpointName: 'pe-data-export', message: 'Nightly export to the data lake' },
      { ...vault, who: 'Northwind (deny-listed tenant)', fromSubscription: DEMO.deniedSubscriptionId, endpointName: 'pe-northwind', message: 'pls connect' },
      {
        ...vault,
        who: 'Fabrikam (partner tenant)',
        fromSubscription: DEMO.partnerSubscriptionId,
        endpointName: 'pe-fabrikam-sync',
        message: 'Nightly partner sync, ticket CHG-1042',
        requesterObjectId: DEMO_PEOPLE.requesterRita.objectId,
      },
    ];
    for (const { who, noun, ...request } of requests) {
      console.log(`→ ${who} requests ${request.endpointName} to ${noun}: "${request.message}"`);
      await stack.emulator.simulateRequest(request);
      await waitForQuiet(1_500);
    }
    // Connections approved before Linkgate was deployed raised no event Linkgate saw: the sweep
    // finds them through Resource Graph, inventories them and judges each approval.
    console.log(`\n→ Two connections to ${storage.noun} were approved before Linkgate was deployed: one from Contoso, one from Fabrikam. The sweep runs:`);
    const storageId = demoResourceId('Microsoft.Storage/storageAccounts', DEMO.storageAccountName);
    stack.emulator.seedConnection({ resourceId: storageId, status: 'Approved', fromSubscription: DEMO.appSubscriptionId, endpointName: 'pe-legacy-reporting', description: 'Approved in the portal, 2025' });
    stack.emulator.seedConnection({ resourceId: storageId, status: 'Approved', fromSubscription: DEMO.partnerSubscriptionId, endpointName: 'pe-fabrikam-legacy', description: 'Approved in the portal, 2025' });
    await stack.services.sweep();
    await waitForQuiet(1_000);
    console.log('\nFinal state in the ARM emulator:');
    for (const c of stack.emulator.listConnections()) {
      const state = c.properties.privateLinkServiceConnectionState;
      const resource = resourceOf(c.id);
      const where = resource ? describeResource(resource.type, resource.name) : '';
      console.log(`  ${where.padEnd(34)} ${c.name.padEnd(50)} ${String(state.status).padEnd(9)} ${state.description ?? ''}`);
    }
    if (stack.entra) await demoFourEyes(stack.functionsUrl, await stack.entra.issue({ person: 'ada' }));
  }

  if (stack.teams) {
    console.log(`
The Fabrikam request waits for a person. Open ${stack.teams.pageUrl}, choose "Ada Approver",
add a comment and press Approve (or Reject, which is permanent). Bob Bystander sees a read-only card;
Rita Requester is an approver too, but cannot approve her own request (her card says so).
The Fabrikam connection approved before Linkgate has an alert card ("Approved outside Linkgate"):
an approver can Reject it (a reason is required; it is permanent) or Keep it. The Contoso one was
ignored by the rule out-of-band-in-tenant. Every connection seen is in the inventory:
  npx linkgate connections --as bob
  npx linkgate connections --out-of-band flagged --as bob`);
  }
  console.log(`
Try it:
  npx linkgate simulate request --vault ${DEMO.vaultName} --from-subscription ${DEMO.partnerSubscriptionId} --message "hello"
  npx linkgate simulate request --type sql --resource ${DEMO.sqlServerName} --from-subscription ${DEMO.partnerSubscriptionId} --message "orders replica"
  npx linkgate audit --resource ${demoResourceId('Microsoft.Storage/storageAccounts', DEMO.storageAccountName)}
  npx linkgate audit --type keyvault
  npx linkgate whoami --as grace      (admin calls carry a token from the local Entra issuer)
Ctrl-C stops the stack.`);
}

/**
 * Ada, through the real rules API with a token from the local Entra issuer, asks for a rule that
 * would approve Fabrikam automatically; it waits for a second person.
 */
async function demoFourEyes(functionsUrl: string, token: string): Promise<void> {
  console.log(`\n→ Ada Approver asks for a rule that approves Fabrikam automatically (PUT /api/rules/fabrikam-auto):`);
  const response = await fetch(`${functionsUrl}/api/rules/fabrikam-auto`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ priority: 30, action: 'approve', conditions: { requesterTenant: [DEMO.partnerTenantId] }, description: 'Fabrikam is a trusted partner.' }),
  });
  const answer = (await response.json()) as { proposal?: { id: string } };
  await waitForQuiet(300);
  if (response.status === 202 && answer.proposal) {
    console.log(`  HTTP 202: nothing changed until a second person confirms. Try, as Ada (refused) and as Grace:
    npx linkgate proposals confirm ${answer.proposal.id} --as ada
    npx linkgate proposals confirm ${answer.proposal.id} --as grace`);
  } else {
    console.log(`  HTTP ${response.status}: ${JSON.stringify(answer)}`);
  }
}

function printAudit(entry: AuditEntry): void {
  const connection = entry.connectionId?.split('/').pop() ?? '';
  const resource = entry.resourceId ? resourceOf(entry.resourceId) : undefined;
  // "storage account stcontosodata / pe-data-export.…": which resource, then which connection.
  const name = resource ? `${describeResource(resource.type, resource.name)}${connection ? ` / ${connection}` : ''}` : connection;
  const who = entry.actor.type === 'rule' ? `rule '${entry.actor.id}'` : entry.actor.name ?? entry.actor.id;
  switch (entry.kind) {
    case 'human':
      console.log(`  person  ${name}: ${entry.summary}`);
      break;
    case 'hint':
      console.log(`  event   ${entry.summary}`);
      break;
    case 'decision':
      console.log(`  decide  ${name}: ${entry.outcome.toUpperCase()} — ${entry.summary}${tenantNote(entry)}`);
      break;
    case 'action':
      console.log(`  act     ${name}: ${entry.summary} (${who})`);
      break;
    case 'result':
      console.log(`  result  ${name}: ${entry.outcome} — ${entry.summary}`);
      break;
    case 'admin':
      console.log(`  admin   ${entry.outcome}: ${entry.summary}`);
      break;
    default:
      console.log(`  ${entry.kind.padEnd(7)} ${name} ${entry.outcome}: ${entry.summary}`);
  }
}

function tenantNote(entry: AuditEntry): string {
  const tenant = entry.requesterTenantId;
  if (!tenant) return '';
  const label = tenant === DEMO.homeTenantId ? 'home tenant' : tenant === 'not-visible' ? 'subscription not visible' : `tenant ${tenant}`;
  return ` [requester: ${label}]`;
}

/** The demo paces itself so each request's lines print together. */
function waitForQuiet(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().catch((error: unknown) => {
  const message = (error as Error).message;
  const hint = /EADDRINUSE/.test(message) ? '\nIs another stack running? Stop it, or choose another port with LINKGATE_PORT=7072.' : '';
  console.error(`Linkgate could not start: ${message}${hint}`);
  process.exit(1);
});
