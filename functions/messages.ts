import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getServices } from '../src/composition.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * POST /api/messages — the bot's messaging endpoint, where the Bot Connector delivers Teams
 * activities (card clicks, installs). The function key cannot be used here: Azure Bot Service
 * calls the endpoint configured on the bot without one. The request is authenticated by the Bot
 * Framework JWT in its Authorization header instead, which the Teams SDK validates (401 when
 * missing or invalid) before anything is read from the activity.
 */
export async function messagesHandler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch (error) {
    return { status: 400, jsonBody: { error: `The body is not JSON: ${(error as Error).message}` } };
  }
  // Fetch-style Headers already hold lower-case names; the SDK looks up `authorization`.
  const headers: Record<string, string> = {};
  request.headers.forEach((value, key) => {
    headers[key.toLowerCase()] = value;
  });
  const { teams } = getServices();
  if (!teams) {
    return { status: 503, jsonBody: { error: 'No Teams bot is configured (LINKGATE_TEAMS_BOT_ID); nothing was processed.' } };
  }
  const response = await teams.handle({ body, headers });
  if (response.status >= 500) context.error(`Teams activity answered ${response.status}`);
  return response.body === undefined ? { status: response.status } : { status: response.status, jsonBody: response.body };
}

export const messages: HttpFunctionSpec = {
  kind: 'http',
  name: 'messages',
  route: 'messages',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: messagesHandler,
};
