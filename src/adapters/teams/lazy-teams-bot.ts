import type { ReviewNotifier } from '../../app/review-ports.js';
import { loadOnFirstUse } from '../load-on-first-use.js';
import type { TeamsBot, TeamsBotOptions } from './teams-bot.js';

type TeamsBotModule = Pick<typeof import('./teams-bot.js'), 'createTeamsBot'>;

/**
 * The Teams bot, loaded on first use. The Teams SDK and the cards package are the largest part of
 * the bundle, and only `/api/messages` and posting a review card need them, so the event, audit,
 * rules and sweep functions start without parsing them (measured in the README's build section).
 */
export function createLazyTeamsBot(options: TeamsBotOptions, load: () => Promise<TeamsBotModule> = () => import('./teams-bot.js')): TeamsBot {
  const bot = loadOnFirstUse(async () => (await load()).createTeamsBot(options));
  const notifier: ReviewNotifier = {
    post: async (conversationId, view) => (await bot()).notifier.post(conversationId, view),
    update: async (conversationId, activityId, view) => (await bot()).notifier.update(conversationId, activityId, view),
    reply: async (conversationId, activityId, text) => (await bot()).notifier.reply(conversationId, activityId, text),
    announce: async (conversationId, text) => (await bot()).notifier.announce(conversationId, text),
  };
  return {
    notifier,
    handle: async (request) => (await bot()).handle(request),
  };
}
