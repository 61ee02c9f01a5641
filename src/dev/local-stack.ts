import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { allFunctions } from '../../functions/all.js';
import type { Logger } from '../app/ports.js';
import { loadConfig } from '../config.js';
import { ConfigError } from '../domain/errors.js';
import { createServices, setServices, type Services } from '../composition.js';
import type { AuditEntry } from '../domain/audit.js';
import { startArmEmulator, type ArmEmulator } from './arm-emulator/index.js';
import { startAzuriteTables, type AzuriteTables } from './azurite.js';
import { attachEntraEmulator, ENTRA_EMULATOR_PATH, type EntraEmulator } from './entra-emulator/index.js';
import { DEMO, DEMO_ADMINS, DEMO_PEOPLE, DEMO_RESOURCES, DEMO_RULES, DEMO_SUBSCRIPTIONS, DEMO_TEAMS } from './demo-world.js';
import { attachTeamsEmulator, CONNECTOR_PATH, type TeamsEmulator } from './teams-emulator/index.js';
import { startDevHost, type DevHost } from './dev-host.js';

export interface LocalStackOptions {
  /** Dev host port; default 7071 (LINKGATE_PORT), 0 picks a free one. */
  readonly port?: number;
  /** Settings as the app would read them; configuring an endpoint replaces the matching embedded emulator. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the stack writes its state file and the emulator CA; default `.linkgate`. */
  readonly stateDir?: string;
  /** Receives every audit entry as it is written (the console demo prints them). */
  readonly onAudit?: (entry: AuditEntry) => void;
  readonly log?: Logger;
  readonly hostLog?: (line: string) => void;
  readonly timers?: boolean;
  /** How the emulator delivers events to the dev host; `false` delivers none. Default Event Grid schema. */
  readonly eventSchema?: 'EventGridSchema' | 'CloudEventSchemaV1_0' | false;
  /** Emulator provisioning delay after a PUT. */
  readonly provisioningDelayMs?: number;
}

export interface LocalStack {
  readonly services: Services;
  readonly host: DevHost;
  readonly emulator: ArmEmulator | undefined;
  readonly tables: AzuriteTables | undefined;
  /** The Teams emulator page and Bot Connector, unless a real bot is configured. */
  readonly teams: TeamsEmulator | undefined;
  /** The local Entra token issuer for admin APIs, unless an API application is configured. */
  readonly entra: EntraEmulator | undefined;
  readonly functionsUrl: string;
  readonly webhookUrl: string;
  close(): Promise<void>;
}

export const STATE_FILE = 'stack.json';

/**
 * Azurite's table service (in memory), the Key Vault management emulator, and the dev host
 * serving the same function specs Azure runs. Settings that name a real Table endpoint or
 * ARM endpoint replace the matching emulator.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const baseEnv = { ...(options.env ?? process.env) };
  const stateDir = options.stateDir ?? '.linkgate';
  mkdirSync(stateDir, { recursive: true });
  const closers: Array<() => Promise<void>> = [];
  try {
    const env: Record<string, string | undefined> = {
      LINKGATE_DEV_MODE: 'true',
      LINKGATE_HOME_TENANT_ID: DEMO.homeTenantId,
      LINKGATE_SWEEP_SUBSCRIPTIONS: DEMO.vaultSubscriptionId,
      LINKGATE_LEASE_SECONDS: '60',
      ...baseEnv,
    };

    let tables: AzuriteTables | undefined;
    if (!env.LINKGATE_TABLES_ENDPOINT && !env.LINKGATE_TABLES_CONNECTION_STRING) {
      tables = await startAzuriteTables();
      closers.push(() => tables!.close());
      env.LINKGATE_TABLES_CONNECTION_STRING = tables.connectionString;
    }

    let emulator: ArmEmulator | undefined;
    if (!env.LINKGATE_ARM_ENDPOINT) {
      emulator = await startArmEmulator({
        subscriptions: DEMO_SUBSCRIPTIONS,
        provisioningDelayMs: options.provisioningDelayMs ?? 400,
        pageSize: 25,
      });
      closers.push(() => emulator!.close());
      for (const resource of DEMO_RESOURCES) {
        emulator.createResource({ type: resource.type, subscriptionId: DEMO.vaultSubscriptionId, resourceGroup: DEMO.resourceGroup, name: resource.name, tenantId: DEMO.homeTenantId });
      }
      // One file per process, so a second stack (or a failed start) never overwrites a running one's CA.
      const caFile = join(stateDir, `arm-emulator-ca.${process.pid}.pem`);
      closers.push(async () => rmSync(caFile, { force: true }));
      writeFileSync(caFile, emulator.caPem);
      env.LINKGATE_ARM_ENDPOINT = emulator.url;
      env.LINKGATE_ARM_CA_FILE = caFile;
      env.LINKGATE_CREDENTIAL ??= 'dev-token';
    }

    // The bot posts to the Teams emulator on the dev host, so the host's port is fixed first.
    const requestedPort = options.port ?? readPort(env.LINKGATE_PORT);
    const port = requestedPort === 0 ? await freePort() : requestedPort;
    const hostUrl = `http://127.0.0.1:${port}`;
    const embeddedTeams = !env.LINKGATE_TEAMS_BOT_ID;
    if (embeddedTeams) {
      env.LINKGATE_TEAMS_BOT_ID = DEMO_TEAMS.botAppId;
      env.LINKGATE_TEAMS_TENANT_ID = DEMO_TEAMS.tenantId;
      env.LINKGATE_TEAMS_AUTH = 'dev-anonymous';
      env.LINKGATE_TEAMS_SERVICE_URL = `${hostUrl}${CONNECTOR_PATH}`;
      env.LINKGATE_REVIEW_CONVERSATION ??= DEMO_TEAMS.channelId;
      // Rule changes and proposals are announced in the team's General channel (its ID is the team ID).
      env.LINKGATE_ADMIN_CONVERSATION ??= DEMO_TEAMS.teamId;
      // Rita is listed too, so the demo shows the self-approval check on her own request.
      env.LINKGATE_REVIEW_APPROVERS ??= [DEMO_PEOPLE.approverAda.objectId, DEMO_PEOPLE.approverGrace.objectId, DEMO_PEOPLE.requesterRita.objectId].join(',');
    }

    // Admin tokens come from the local Entra issuer on the same host, unless an API application is configured.
    const embeddedAuth = !env.LINKGATE_API_CLIENT_ID;
    if (embeddedAuth) {
      env.LINKGATE_API_CLIENT_ID = DEMO.apiClientId;
      env.LINKGATE_AUTH_AUTHORITY = `${hostUrl}${ENTRA_EMULATOR_PATH}`;
    }

    const config = loadConfig(env);
    const wired = createServices(config, {
      ...(options.log ? { log: options.log } : {}),
      ...(options.onAudit ? { onAudit: options.onAudit } : {}),
    });
    setServices(wired);
    closers.push(async () => setServices(undefined));

    if ((await wired.rules.list()).length === 0) {
      for (const rule of DEMO_RULES) await wired.rules.put(rule);
    }

    const host = await startDevHost({
      functions: allFunctions,
      port,
      timers: options.timers ?? true,
      ...(options.hostLog ? { log: options.hostLog } : {}),
    });
    closers.push(() => host.close());
    const entra = embeddedAuth ? await attachEntraEmulator(host, { tenantId: DEMO.homeTenantId, apiClientId: DEMO.apiClientId, people: DEMO_ADMINS }) : undefined;
    let teams: TeamsEmulator | undefined;
    if (embeddedTeams) {
      teams = attachTeamsEmulator(host, { people: DEMO_PEOPLE, team: DEMO_TEAMS });
      closers.push(() => teams!.close());
      // Adds the bot to the demo channel the way Teams does, so its conversation reference is
      // stored through the real path and `linkgate teams channels` lists it.
      await teams.installBot();
    }
    const webhookUrl = `${host.url}/runtime/webhooks/eventgrid?functionName=resourceEvents`;
    const schema = options.eventSchema ?? 'EventGridSchema';
    if (emulator && schema) await emulator.subscribe(webhookUrl, { schema });

    const stateFile = join(stateDir, STATE_FILE);
    closers.push(async () => rmSync(stateFile, { force: true }));
    writeFileSync(
      stateFile,
      JSON.stringify(
        {
          functionsUrl: host.url,
          teamsUrl: teams?.pageUrl,
          emulatorUrl: emulator?.url,
          emulatorCaFile: env.LINKGATE_ARM_CA_FILE,
          ...(entra ? { auth: { authority: entra.authority, tenantId: DEMO.homeTenantId, apiClientId: DEMO.apiClientId, people: DEMO_ADMINS.map((p) => p.username) } } : {}),
          pid: process.pid,
          startedAt: new Date().toISOString(),
        },
        null,
        2,
      ),
    );

    return {
      services: wired,
      host,
      emulator,
      tables,
      teams,
      entra,
      functionsUrl: host.url,
      webhookUrl,
      close: () => closeAll(closers),
    };
  } catch (error) {
    await closeAll(closers);
    throw error;
  }
}

function readPort(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 7071;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('LINKGATE_PORT', `must be a port number from 0 to 65535, got '${value}'`);
  }
  return port;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function closeAll(closers: Array<() => Promise<void>>): Promise<void> {
  for (const close of closers.reverse()) {
    try {
      await close();
    } catch {
      // Closing is best effort; one failure must not keep the others open.
    }
  }
}
