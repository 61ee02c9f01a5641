import { Script } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '@microsoft/teams.api';
import type { FunctionSpec } from '../../functions/registry.js';
import { DEMO_PEOPLE, DEMO_TEAMS } from '../../src/dev/demo-world.js';
import { startDevHost, type DevHost } from '../../src/dev/dev-host.js';
import { attachTeamsEmulator, type TeamsEmulator } from '../../src/dev/teams-emulator/index.js';
import { PAGE_SCRIPT } from '../../src/dev/teams-emulator/page.js';

const CARD = 'application/vnd.microsoft.card.adaptive';
const ada = DEMO_PEOPLE.approverAda;

function card(title: string): Record<string, unknown> {
  return {
    type: 'AdaptiveCard',
    version: '1.5',
    body: [{ type: 'TextBlock', text: title, wrap: true }],
    actions: [{ type: 'Action.Execute', title: 'Approve', verb: 'approve', data: { key: 'k1' } }],
    refresh: { action: { type: 'Action.Execute', verb: 'refresh', data: { key: 'k1' } }, userIds: [`8:orgid:${ada.objectId}`] },
  };
}

function cardActivity(title: string): Record<string, unknown> {
  return { type: 'message', from: { id: DEMO_TEAMS.botId, role: 'bot' }, attachments: [{ contentType: CARD, content: card(title) }] };
}

/** The bot's messaging endpoint: records every activity and answers card actions with a card. */
function stubBot(received: any[]): FunctionSpec {
  return {
    kind: 'http',
    name: 'messages',
    route: 'messages',
    methods: ['POST'],
    authLevel: 'anonymous',
    handler: async (request) => {
      const activity = (await request.json()) as any;
      received.push({ activity, authorization: request.headers.get('authorization') });
      if (activity.type === 'invoke' && activity.name === 'adaptiveCard/action') {
        return {
          status: 200,
          jsonBody: {
            statusCode: 200,
            type: CARD,
            value: { type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text: `${activity.from.name} sent ${activity.value.action.verb}` }] },
          },
        };
      }
      return { status: 200 };
    },
  };
}

let host: DevHost;
let teams: TeamsEmulator;
let received: any[];
let clock: Date;

beforeEach(async () => {
  received = [];
  clock = new Date('2025-03-10T10:00:00.000Z');
  host = await startDevHost({ port: 0, timers: false, log: () => {}, functions: [stubBot(received)] });
  teams = attachTeamsEmulator(host, { people: DEMO_PEOPLE, team: DEMO_TEAMS, now: () => clock });
});
afterEach(async () => {
  await teams.close();
  await host.close();
});

const channel = DEMO_TEAMS.channelId;
const bearer = { authorization: 'Bearer dev-token', 'content-type': 'application/json' };

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = bearer) {
  const res = await fetch(`${teams.serviceUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const activities = (conversationId: string, activityId?: string) =>
  `/v3/conversations/${conversationId}/activities${activityId === undefined ? '' : `/${activityId}`}`;

async function postCard(title: string): Promise<string> {
  const res = await call('POST', activities(channel), cardActivity(title));
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/** Reads Server-Sent Events frames until `want` matches one or the bound passes. */
async function openEvents(url: string) {
  const abort = new AbortController();
  const res = await fetch(url, { signal: abort.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const frames: { event: string; data: any }[] = [];
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const raw = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(raw)?.[1];
          const data = /^data: (.*)$/m.exec(raw)?.[1];
          if (event) frames.push({ event, data: data ? JSON.parse(data) : undefined });
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    res,
    frames,
    async waitFor(want: (f: { event: string; data: any }) => boolean, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const hit = frames.find(want);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`No matching event; got ${JSON.stringify(frames)}`);
    },
    async close() {
      abort.abort();
      await pump;
    },
  };
}

describe('teams emulator: Bot Connector', () => {
  it('stores a posted card with a numeric Teams message ID and shows it in the page state', async () => {
    // Act
    const id = await postCard('Request 1');

    // Assess
    expect(id).toMatch(/^[1-9]\d*$/);
    const [message] = teams.messages(channel);
    expect(message).toMatchObject({
      id,
      conversationId: channel,
      from: { id: DEMO_TEAMS.botId, role: 'bot' },
      timestamp: clock.toISOString(),
      card: card('Request 1'),
      deleted: false,
      replies: [],
    });
    expect(message!.history).toHaveLength(1);
    const state = (await (await fetch(`${host.url}/teams/state`)).json()) as any;
    expect(state.messages.map((m: any) => m.id)).toEqual([id]);
    expect(state.channel).toEqual({ id: channel, name: DEMO_TEAMS.channelName });
    expect(state.people.map((p: any) => p.name)).toEqual(['Ada Approver', 'Grace Approver', 'Bob Bystander', 'Rita Requester']);
    // What the page matches against refresh.userIds, as Teams does: MRIs, not bare object IDs.
    expect(state.people[0].mris).toEqual([`8:orgid:${ada.objectId}`, `29:${ada.objectId}`]);
  });

  it('threads replies sent with ;messageid= and to the reply URL under their root', async () => {
    // Prepare
    const root = await postCard('Request 1');

    // Act
    const byThreadId = await call('POST', activities(`${channel};messageid=${root}`), { type: 'message', text: 'Reminder 1' });
    const byUrl = await call('POST', activities(channel, root), { type: 'message', text: 'Reminder 2' });
    const replyToReply = await call('POST', activities(channel, byUrl.body.id), { type: 'message', text: 'Reminder 3' });
    const unthreaded = await call('POST', activities(channel), { type: 'message', text: 'Not a reply', replyToId: root });

    // Assess
    expect([byThreadId.status, byUrl.status, replyToReply.status, unthreaded.status]).toEqual([201, 201, 201, 201]);
    const messages = teams.messages(channel);
    expect(messages.map((m) => m.text ?? 'card')).toEqual(['card', 'Not a reply']);
    expect(messages[0]!.replies.map((r) => [r.text, r.replyToId])).toEqual([
      ['Reminder 1', root],
      ['Reminder 2', root],
      ['Reminder 3', root],
    ]);
    expect(teams.messages(`${channel};messageid=${root}`)).toHaveLength(2);
  });

  it('replaces a message on PUT and keeps every version', async () => {
    // Prepare
    const id = await postCard('Pending');
    clock = new Date(clock.getTime() + 5_000);

    // Act
    const res = await call('PUT', activities(channel, id), { ...cardActivity('Approved by Ada Approver'), id });

    // Assess
    expect(res).toMatchObject({ status: 200, body: { id } });
    const [message] = teams.messages(channel);
    expect(message!.card).toEqual(card('Approved by Ada Approver'));
    expect(message!.lastModified).toBe(clock.toISOString());
    expect(message!.history.map((v) => (v.attachments[0]!.content as any).body[0].text)).toEqual(['Pending', 'Approved by Ada Approver']);
  });

  it('requires a bearer token and answers unknown conversations and activities with Bot Framework errors', async () => {
    // Prepare
    const id = await postCard('Request 1');

    // Act
    const anonymous = await call('POST', activities(channel), cardActivity('x'), { 'content-type': 'application/json' });
    const unknown = await call('POST', activities('19:nope@thread.tacv2'), cardActivity('x'));
    const missing = await call('PUT', activities(channel, '123'), cardActivity('x'));
    const targeted = await call('POST', `${activities(channel)}?isTargetedActivity=true`, cardActivity('x'));
    const notMessage = await call('PUT', activities(channel, id), { type: 'typing' });

    // Assess
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('Unauthorized');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 'ConversationNotFound', message: expect.stringContaining('19:nope@thread.tacv2') } });
    expect(missing.status).toBe(404);
    expect(targeted.status).toBe(501);
    expect(notMessage.status).toBe(400);
    expect(teams.messages(channel)).toHaveLength(1);
  });

  it('answers 429 with Retry-After past 7 writes a second per conversation and stores nothing then', async () => {
    // Prepare
    for (let i = 0; i < 7; i++) await postCard(`Burst ${i}`);

    // Act
    const limited = await call('POST', activities(channel), cardActivity('One too many'));
    const otherConversation = await call('POST', activities(DEMO_TEAMS.teamId), cardActivity('General'));
    clock = new Date(clock.getTime() + 1_000);
    const later = await call('POST', activities(channel), cardActivity('After a second'));

    // Assess
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.body.error.code).toBe('Throttled');
    expect(otherConversation.status).toBe(201);
    expect(later.status).toBe(201);
    expect(teams.messages(channel).map((m) => (m.card as any).body[0].text)).not.toContain('One too many');
    expect(teams.messages(channel)).toHaveLength(8);
  });

  it('applies the 60 per 30 seconds window as well', async () => {
    // Prepare: 60 writes spread so the one-second window never fills
    for (let i = 0; i < 60; i++) {
      await postCard(`Paced ${i}`);
      clock = new Date(clock.getTime() + 200);
    }

    // Act
    const limited = await call('POST', activities(channel), cardActivity('Over 60'));

    // Assess
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBe(18);
  });

  it('does not limit when rateLimit is false', async () => {
    // Prepare
    await teams.close();
    await host.close();
    host = await startDevHost({ port: 0, timers: false, log: () => {}, functions: [stubBot(received)] });
    teams = attachTeamsEmulator(host, { people: DEMO_PEOPLE, team: DEMO_TEAMS, now: () => clock, rateLimit: false });

    // Act
    for (let i = 0; i < 20; i++) await postCard(`Burst ${i}`);

    // Assess
    expect(teams.messages(channel)).toHaveLength(20);
  });

  it('works with the Teams SDK client: create, threaded reply, update', async () => {
    // Prepare
    const api = new Client(teams.serviceUrl, { token: 'dev-token' });

    // Act
    const created = await api.conversations.createActivity(channel, cardActivity('From the SDK') as any);
    await api.conversations.createActivity(`${channel};messageid=${created.id}`, { type: 'message', text: 'SDK reply' } as any);
    await api.conversations.updateActivity(channel, created.id, cardActivity('Updated by the SDK') as any);

    // Assess
    const [message] = teams.messages(channel);
    expect(message!.id).toBe(created.id);
    expect((message!.card as any).body[0].text).toBe('Updated by the SDK');
    expect(message!.replies.map((r) => r.text)).toEqual(['SDK reply']);
  });
});

describe('teams emulator: live updates', () => {
  it('streams post, reply and update events to the page', async () => {
    // Prepare
    const events = await openEvents(`${host.url}/teams/events`);
    expect(events.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await events.waitFor((f) => f.event === 'hello');

    // Act
    const id = await postCard('Live');
    await call('POST', activities(channel, id), { type: 'message', text: 'a reply' });
    await call('PUT', activities(channel, id), cardActivity('Live, updated'));

    // Assess
    await events.waitFor((f) => f.event === 'change' && f.data.kind === 'updated');
    expect(events.frames.filter((f) => f.event === 'change').map((f) => [f.data.kind, f.data.rootId])).toEqual([
      ['posted', id],
      ['replied', id],
      ['updated', id],
    ]);
    await events.close();
  });

  it('ends open event streams when the host closes, without waiting for the grace period', async () => {
    // Prepare
    const events = await openEvents(`${host.url}/teams/events`);
    await events.waitFor((f) => f.event === 'hello');

    // Act
    const started = Date.now();
    await host.close();

    // Assess
    expect(Date.now() - started).toBeLessThan(1_000);
    await events.close();
  });
});

describe('teams emulator: the Teams side', () => {
  it('click() sends the Universal Actions invoke Teams sends and returns the bot answer', async () => {
    // Prepare
    const id = await postCard('Request 1');
    const reply = await call('POST', activities(channel, id), cardActivity('A card in the thread'));

    // Act
    const answer = await teams.click({ activityId: id, objectId: ada.objectId, verb: 'approve', data: { key: 'k1', comment: 'ok' } });
    const onReply = await teams.click({ activityId: reply.body.id, objectId: ada.objectId, verb: 'approve' });

    // Assess
    expect(answer).toEqual({
      status: 200,
      body: { statusCode: 200, type: CARD, value: { type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text: 'Ada Approver sent approve' }] } },
    });
    expect(onReply.status).toBe(200);
    const [first, second] = received;
    expect(first.authorization).toBeNull();
    expect(first.activity).toEqual({
      type: 'invoke',
      name: 'adaptiveCard/action',
      id: expect.stringMatching(/^f:/),
      timestamp: clock.toISOString(),
      localTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/),
      locale: 'en-US',
      localTimezone: expect.any(String),
      channelId: 'msteams',
      serviceUrl: teams.serviceUrl,
      from: { id: `29:${ada.objectId}`, aadObjectId: ada.objectId, name: 'Ada Approver' },
      conversation: { id: `${channel};messageid=${id}`, conversationType: 'channel', tenantId: DEMO_TEAMS.tenantId, isGroup: true },
      recipient: { id: DEMO_TEAMS.botId, name: 'Linkgate' },
      replyToId: id,
      entities: [expect.objectContaining({ type: 'clientInfo', locale: 'en-US' })],
      channelData: {
        tenant: { id: DEMO_TEAMS.tenantId },
        team: { id: DEMO_TEAMS.teamId, name: DEMO_TEAMS.teamName },
        channel: { id: channel, name: DEMO_TEAMS.channelName },
        source: { name: 'message' },
        legacy: { replyToId: id },
      },
      value: { action: { type: 'Action.Execute', verb: 'approve', data: { key: 'k1', comment: 'ok' } }, trigger: 'manual' },
    });
    // A card in a thread: the invoke names the reply, the conversation names the thread root.
    expect(second.activity.replyToId).toBe(reply.body.id);
    expect(second.activity.conversation.id).toBe(`${channel};messageid=${id}`);
    await expect(teams.click({ activityId: '42', objectId: ada.objectId, verb: 'approve' })).rejects.toThrow(/No message 42/);
  });

  it('POST /teams/invoke sends refreshes with trigger automatic and passes the bot answer through', async () => {
    // Prepare
    const id = await postCard('Request 1');

    // Act
    const res = await fetch(`${host.url}/teams/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ activityId: id, objectId: ada.objectId, verb: 'refresh', data: { key: 'k1' }, trigger: 'automatic' }),
    });
    const bad = await fetch(`${host.url}/teams/invoke`, { method: 'POST', body: '{"activityId":1}' });

    // Assess
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).body.value.body[0].text).toBe('Ada Approver sent refresh');
    expect(received[0].activity.value).toEqual({ action: { type: 'Action.Execute', verb: 'refresh', data: { key: 'k1' } }, trigger: 'automatic' });
    expect(bad.status).toBe(400);
  });

  it('installBot() sends conversationUpdate (teamMemberAdded) and installationUpdate (add) on the picked channel, as Teams does', async () => {
    // Act
    await teams.installBot();

    // Assess
    const picked = channel;
    const selectedChannel = { id: channel };
    const [update, install] = received.map((r) => r.activity);
    expect(update).toMatchObject({
      type: 'conversationUpdate',
      channelId: 'msteams',
      serviceUrl: teams.serviceUrl,
      membersAdded: [{ id: DEMO_TEAMS.botId }],
      conversation: { id: picked, conversationType: 'channel', tenantId: DEMO_TEAMS.tenantId, isGroup: true },
      recipient: { id: DEMO_TEAMS.botId, name: 'Linkgate' },
      from: { aadObjectId: ada.objectId },
      channelData: {
        eventType: 'teamMemberAdded',
        settings: { selectedChannel },
        team: { id: DEMO_TEAMS.teamId, name: DEMO_TEAMS.teamName },
        tenant: { id: DEMO_TEAMS.tenantId },
      },
    });
    expect(update.channelData.channel).toBeUndefined();
    expect(install).toMatchObject({
      type: 'installationUpdate',
      action: 'add',
      conversation: { id: picked, conversationType: 'channel', tenantId: DEMO_TEAMS.tenantId },
      channelData: {
        settings: { selectedChannel },
        channel: { id: picked },
        team: { id: DEMO_TEAMS.teamId, name: DEMO_TEAMS.teamName },
        tenant: { id: DEMO_TEAMS.tenantId },
      },
    });
    expect(teams.sent().map((a) => a.type)).toEqual(['conversationUpdate', 'installationUpdate']);
    expect(((await (await fetch(`${host.url}/teams/state`)).json()) as any).installed).toBe(true);
  });

  it('knows the team\'s General channel (ID = team ID) as a conversation the bot can post to', async () => {
    // Act
    const posted = await call('POST', activities(DEMO_TEAMS.teamId), cardActivity('Hello General'));

    // Assess
    expect(teams.conversations()).toEqual([
      { id: channel, name: DEMO_TEAMS.channelName },
      { id: DEMO_TEAMS.teamId, name: 'General' },
    ]);
    expect(posted.status).toBe(201);
    expect(teams.messages(DEMO_TEAMS.teamId).map((m) => m.id)).toEqual([posted.body.id]);
    expect(teams.messages(channel)).toEqual([]);
  });

  it('serves the page, its script and the official renderer', async () => {
    // Act
    const page = await fetch(teams.pageUrl);
    const html = await page.text();
    const script = await fetch(`${host.url}/teams/app.js`);
    const renderer = await fetch(`${host.url}/teams/adaptivecards.js`);
    const css = await fetch(`${host.url}/teams/adaptivecards.css`);

    // Assess
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain(`Linkgate · Teams emulator · channel ${DEMO_TEAMS.channelName}`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(() => new Script(PAGE_SCRIPT)).not.toThrow();
    expect(await renderer.text()).toContain('AdaptiveCards');
    expect(css.status).toBe(200);
  });

  it('answers 503 once closed', async () => {
    // Act
    await teams.close();

    // Assess
    expect((await fetch(`${host.url}/teams/state`)).status).toBe(503);
    expect((await call('POST', activities(channel), cardActivity('late'))).status).toBe(503);
  });
});
