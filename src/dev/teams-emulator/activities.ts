/**
 * The activities the Teams service sends to a bot's messaging endpoint, built the way Teams
 * builds them for a channel. Shapes follow the @microsoft/teams.api types
 * (IAdaptiveCardActionInvokeActivity, AdaptiveCardInvokeValue, IConversationUpdateActivity,
 * IInstalledActivity) and the payloads Teams documents for Universal Actions: in a channel the
 * conversation ID of an activity about a post carries `;messageid=<thread root>`, `from` is the
 * user's `29:` ID with their Entra object ID, and `recipient` is the bot's `28:` ID.
 */
import { randomUUID } from 'node:crypto';

export interface EmulatedPerson {
  readonly objectId: string;
  readonly name: string;
  readonly role: string;
}

/** The team and channel the emulated bot lives in (DEMO_TEAMS has this shape). */
export interface EmulatedTeam {
  readonly tenantId: string;
  readonly teamId: string;
  readonly teamName: string;
  readonly channelId: string;
  readonly channelName: string;
  readonly botId: string;
  readonly botAppId: string;
}

export interface ActivityContext {
  readonly team: EmulatedTeam;
  readonly botName: string;
  readonly serviceUrl: string;
  readonly now: Date;
}

export interface InvokeInput {
  /** The message whose card was clicked. */
  readonly activityId: string;
  /** Its thread root (the message itself unless it is a reply). */
  readonly rootId: string;
  readonly verb: string | undefined;
  readonly data: Record<string, unknown>;
  readonly title?: string;
  readonly actionId?: string;
  /** `manual` for a click, `automatic` for a refresh Teams runs by itself. */
  readonly trigger: 'manual' | 'automatic';
}

/** The `adaptiveCard/action` invoke Teams sends for an Action.Execute (or a refresh). */
export function adaptiveCardInvoke(ctx: ActivityContext, person: EmulatedPerson, input: InvokeInput): Record<string, unknown> {
  const { team } = ctx;
  return {
    ...envelope(ctx, person, `${team.channelId};messageid=${input.rootId}`),
    type: 'invoke',
    name: 'adaptiveCard/action',
    replyToId: input.activityId,
    channelData: {
      tenant: { id: team.tenantId },
      team: { id: team.teamId, name: team.teamName },
      channel: { id: team.channelId, name: team.channelName },
      source: { name: 'message' },
      legacy: { replyToId: input.activityId },
    },
    value: {
      action: {
        type: 'Action.Execute',
        ...(input.actionId !== undefined ? { id: input.actionId } : {}),
        ...(input.title !== undefined ? { title: input.title } : {}),
        ...(input.verb !== undefined ? { verb: input.verb } : {}),
        data: input.data,
      },
      trigger: input.trigger,
    },
  };
}

/**
 * Every team has a General channel whose conversation ID is the team ID: Teams' earlier example of
 * the bot being added to a team has `conversation.id` equal to `channelData.team.id`
 * (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events),
 * and Graph calls it the team's primary channel, General
 * (https://learn.microsoft.com/graph/api/team-get-primarychannel).
 */
export const GENERAL_CHANNEL_NAME = 'General';

/**
 * What Teams sends when the app is added to a team: the bot joins as a member
 * (`conversationUpdate` / `teamMemberAdded`), then the `installationUpdate` (action `add`).
 *
 * Shaped like Microsoft's current example
 * (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events):
 * both arrive on the channel picked in the install dialog, which is also named in
 * `channelData.settings.selectedChannel` (by ID alone), while `channelData.team.id` is the team
 * (its General channel). An earlier version of that page showed the events arriving on General
 * with no selected channel; the bot stores whichever conversations an install names, so both work.
 */
export function botAddedToTeam(ctx: ActivityContext, installer: EmulatedPerson): Record<string, unknown> {
  const { team } = ctx;
  return {
    ...envelope(ctx, installer, team.channelId),
    type: 'conversationUpdate',
    membersAdded: [{ id: team.botId }],
    channelData: {
      settings: { selectedChannel: { id: team.channelId } },
      team: { id: team.teamId, name: team.teamName },
      eventType: 'teamMemberAdded',
      tenant: { id: team.tenantId },
    },
  };
}

/**
 * The `installationUpdate` (action `add`) that accompanies the installation. Unlike the
 * `conversationUpdate`, Teams' example also carries `channelData.channel` (the conversation's
 * channel, by ID only) and `source`.
 */
export function appInstalled(ctx: ActivityContext, installer: EmulatedPerson): Record<string, unknown> {
  const { team } = ctx;
  return {
    ...envelope(ctx, installer, team.channelId),
    type: 'installationUpdate',
    action: 'add',
    channelData: {
      settings: { selectedChannel: { id: team.channelId } },
      channel: { id: team.channelId },
      team: { id: team.teamId, name: team.teamName },
      tenant: { id: team.tenantId },
      source: { name: 'message' },
    },
  };
}

/** The user's Teams ID. Teams' real `29:` IDs are opaque; one derived from the object ID keeps runs reproducible. */
export function teamsUserId(objectId: string): string {
  return `29:${objectId}`;
}

function envelope(ctx: ActivityContext, person: EmulatedPerson, conversationId: string): Record<string, unknown> {
  const { team, now } = ctx;
  return {
    id: `f:${randomUUID()}`,
    timestamp: now.toISOString(),
    localTimestamp: localIso(now),
    channelId: 'msteams',
    serviceUrl: ctx.serviceUrl,
    from: { id: teamsUserId(person.objectId), aadObjectId: person.objectId, name: person.name },
    conversation: { id: conversationId, conversationType: 'channel', tenantId: team.tenantId, isGroup: true },
    recipient: { id: team.botId, name: ctx.botName },
    entities: [{ type: 'clientInfo', locale: 'en-US', country: 'US', platform: 'Web', timezone: timeZone() }],
    locale: 'en-US',
    localTimezone: timeZone(),
  };
}

/** ISO 8601 in the machine's local time with its offset, e.g. `2025-03-10T11:00:00.000+01:00`. */
function localIso(at: Date): string {
  const offsetMinutes = -at.getTimezoneOffset();
  const local = new Date(at.getTime() + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function timeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
