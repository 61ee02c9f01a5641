import { getServices } from '../src/composition.js';
import { adminRoute } from './admin-http.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * GET /api/teams/conversations (Rules.Write or Operate) — the Teams conversations the bot was
 * installed in (and those it was removed from, with `removedAt`), for `linkgate teams channels`
 * to pick a review channel.
 */
export const teamsConversationsApiHandler = adminRoute(
  () => ['Rules.Write', 'Operate'],
  () => 'GET /api/teams/conversations',
  async () => {
    const conversations = await getServices().conversations.list();
    conversations.sort((a, b) => (a.teamName ?? a.name ?? '').localeCompare(b.teamName ?? b.name ?? '') || a.conversationId.localeCompare(b.conversationId));
    return { status: 200, jsonBody: { conversations } };
  },
);

export const teamsConversationsApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'teamsConversations',
  route: 'teams/conversations',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: teamsConversationsApiHandler,
};
