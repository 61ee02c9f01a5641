import type { IncomingMessage, ServerResponse } from 'node:http';
import { ArmError, notFound } from './arm-error.js';
import { parseJsonBody, readBody, writeResponse } from './http-io.js';
import { optionalString, requireObject, requiredString } from './input.js';
import type { ControlListener } from './server.js';
import type {
  ArmEmulator,
  ConnectionStatus,
  CreateResourceInput,
  CreateVaultInput,
  EmulatorSubscription,
  EventSchema,
  FaultSpec,
  SeedConnectionInput,
  SimulateRequestInput,
} from './types.js';

/** Bodies are passed on as the typed inputs; the emulator's methods validate every field themselves. */
type ControlAction = (emulator: ArmEmulator, body: unknown, url: URL) => Promise<{ status: number; body?: unknown }>;

/**
 * The emulator's own HTTPS control surface under `/_emulator/`, so a CLI in another process can play the
 * requester or the portal user. It needs no token and is not recorded in `calls`, since it is not ARM.
 */
const ACTIONS: Readonly<Record<string, ControlAction>> = {
  'GET /_emulator': async (emulator) => ({ status: 200, body: { url: emulator.url, endpoints: Object.keys(ACTIONS) } }),
  'POST /_emulator/requests': async (emulator, body) => ({
    status: 201,
    body: await emulator.simulateRequest(requireObject(body, 'The request body') as unknown as SimulateRequestInput),
  }),
  'POST /_emulator/connections/status': async (emulator, body) => {
    const input = requireObject(body, 'The request body');
    const connection = await emulator.setConnectionStatus(
      requiredString(input, 'connectionId'),
      requiredString(input, 'status') as ConnectionStatus,
      optionalString(input, 'description'),
      optionalString(input, 'actorObjectId'),
    );
    return { status: 200, body: connection };
  },
  'POST /_emulator/connections/delete': async (emulator, body) => {
    const connectionId = requiredString(requireObject(body, 'The request body'), 'connectionId');
    await emulator.deleteConnection(connectionId);
    return { status: 200, body: { deleted: connectionId } };
  },
  'GET /_emulator/connections': async (emulator, _body, url) => ({
    status: 200,
    body: { value: emulator.listConnections(url.searchParams.get('resourceId') ?? url.searchParams.get('vaultId') ?? undefined) },
  }),
  'POST /_emulator/connections/seed': async (emulator, body) => ({
    status: 201,
    body: emulator.seedConnection(requireObject(body, 'The request body') as unknown as SeedConnectionInput),
  }),
  'POST /_emulator/graph/refresh': async (emulator) => {
    emulator.refreshResourceGraph();
    return { status: 200, body: { refreshed: true } };
  },
  'GET /_emulator/throttling': async (emulator) => ({ status: 200, body: emulator.throttleStats() }),
  'GET /_emulator/calls': async (emulator) => ({ status: 200, body: { value: emulator.calls } }),
  'GET /_emulator/deliveries': async (emulator) => ({ status: 200, body: { value: emulator.deliveries } }),
  'POST /_emulator/faults': async (emulator, body) => {
    emulator.injectFault(requireObject(body, 'The fault') as unknown as FaultSpec);
    return { status: 201, body: { armed: body } };
  },
  'POST /_emulator/subscribe': async (emulator, body) => {
    const input = requireObject(body, 'The request body');
    const url = requiredString(input, 'url');
    const schema = optionalString(input, 'schema') as EventSchema | undefined;
    await emulator.subscribe(url, schema === undefined ? {} : { schema });
    return { status: 200, body: { subscribed: url, schema: schema ?? null } };
  },
  'POST /_emulator/vaults': async (emulator, body) => ({
    status: 201,
    body: emulator.createVault(requireObject(body, 'The request body') as unknown as CreateVaultInput),
  }),
  'POST /_emulator/resources': async (emulator, body) => ({
    status: 201,
    body: emulator.createResource(requireObject(body, 'The request body') as unknown as CreateResourceInput),
  }),
  'POST /_emulator/subscriptions': async (emulator, body) => {
    emulator.addSubscription(requireObject(body, 'The subscription') as unknown as EmulatorSubscription);
    return { status: 201, body };
  },
};

/** Event Grid's manual validation link; the emulator accepts it without further effect. */
const VALIDATION_PATH = /^\/_emulator\/validation\/[^/]+$/i;

export function createControlListener(emulator: ArmEmulator): ControlListener {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    try {
      const body = parseJsonBody(await readBody(req));
      const result = await dispatch(emulator, req.method ?? 'GET', url, body);
      writeResponse(res, result.status, result.body);
    } catch (error) {
      const { status, body } = controlError(error);
      writeResponse(res, status, body);
    }
  };
}

async function dispatch(
  emulator: ArmEmulator,
  method: string,
  url: URL,
  body: unknown,
): Promise<{ status: number; body?: unknown }> {
  const path = url.pathname.replace(/\/+$/, '').toLowerCase();
  if (method.toUpperCase() === 'GET' && VALIDATION_PATH.test(path)) return { status: 200, body: { validated: true } };
  const action = ACTIONS[`${method.toUpperCase()} ${path}`];
  if (!action) {
    throw notFound('UnknownControlEndpoint', `No control endpoint '${method} ${url.pathname}'. Known: ${Object.keys(ACTIONS).join('; ')}.`);
  }
  return action(emulator, body, url);
}

/** ArmErrors keep their status (400 for bad input, 404 for unknown IDs); anything else is bad input too. */
function controlError(error: unknown): { status: number; body: unknown } {
  if (error instanceof ArmError) return { status: error.status, body: error.toBody() };
  const message = error instanceof Error ? error.message : String(error);
  return { status: 400, body: { error: { code: 'BadRequest', message } } };
}
