import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { getServices } from '../src/composition.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * GET /api/teams/conversations — the Teams conversations the bot was installed in (and those it
 * was removed from, with `removedAt`), for `linkgate teams channels` to pick a review channel.
 */
export async function teamsConversationsApiHandler(_request: HttpRequest): Promise<HttpResponseInit> {
  const conversations = await getServices().conversations.list();
  conversations.sort((a, b) => (a.teamName ?? a.name ?? '').localeCompare(b.teamName ?? b.name ?? '') || a.conversationId.localeCompare(b.conversationId));
  return { status: 200, jsonBody: { conversations } };
}

export const teamsConversationsApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'teamsConversations',
  route: 'teams/conversations',
  methods: ['GET'],
  authLevel: 'function',
  handler: teamsConversationsApiHandler,
};
