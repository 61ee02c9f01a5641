/**
 * Turns a review card view (app/review-ports) into the Adaptive Card 1.5 that Teams shows,
 * plus the two envelopes it travels in: the message activity the bot posts and the body of
 * the Universal Actions invoke response.
 *
 * One shared message goes to the channel. It is read-only for everyone; its `refresh`
 * clause makes Teams ask the bot for a per-user view for the approvers, who then see the
 * comment box and Approve / Reject buttons (Reject / Keep on an out-of-band alert, which has
 * no Approve). When the request is decided the bot replaces the shared message with a final
 * card (no inputs, no buttons, no refresh), which also replaces every per-user view.
 */
import { ActionSet, AdaptiveCard, Container, ExecuteAction, Fact, FactSet, OpenUrlAction, TextBlock, TextInput } from '@microsoft/teams.cards';
import type { CardElementArray, IAdaptiveCard, IExecuteAction, IRefreshDefinition, TextBlockOptions, TextColor } from '@microsoft/teams.cards';
import type { ReviewCardModel, ReviewCardView, ReviewStatus, TenantBadge } from '../../app/review-ports.js';
import { truncate } from '../../shared/text.js';

export const ADAPTIVE_CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

/**
 * Teams keeps user-specific views for at most 60 users per card: `refresh.userIds` may list
 * no more than 60 users. In chats and channels with 60 members or fewer Teams refreshes the
 * card for everyone anyway; in larger ones only the listed users get their view
 * automatically and the others use "Refresh card" in the message menu.
 */
export const MAX_REFRESH_USERS = 60;

/** Caps for text that comes from people rather than from Azure or configuration. */
export const TEXT_LIMITS = {
  message: 300,
  comment: 500,
  name: 100,
  notice: 300,
  rule: 300,
  error: 300,
  status: 40,
  summary: 200,
} as const;

/** A plain JSON Adaptive Card, ready to be serialised into an activity or invoke response. */
export type AdaptiveCardJson = IAdaptiveCard & { readonly version: '1.5'; readonly $schema: typeof ADAPTIVE_CARD_SCHEMA };

export interface MessageActivity {
  readonly type: 'message';
  readonly summary: string;
  readonly attachments: readonly [{ readonly contentType: typeof ADAPTIVE_CARD_CONTENT_TYPE; readonly content: AdaptiveCardJson }];
}

export interface InvokeCardResponse {
  readonly statusCode: 200;
  readonly type: typeof ADAPTIVE_CARD_CONTENT_TYPE;
  readonly value: AdaptiveCardJson;
}

type FinalStatus = Extract<ReviewStatus, { readonly at: Date }>;
type Line = { readonly text: string; readonly color?: TextColor; readonly subtle?: boolean };

export function toApprovalCard(view: ReviewCardView): AdaptiveCardJson {
  const { model, status } = view;
  const body: CardElementArray = [];

  if (view.notice) {
    body.push(new TextBlock(plainLine(view.notice, TEXT_LIMITS.notice), { wrap: true, weight: 'Bolder', color: 'Warning' }));
  }
  const alert = model.alert;
  if (alert) {
    body.push(...alertHead(model, alert, status));
  } else {
    body.push(
      new TextBlock(`Private endpoint request for ${plainLine(`${model.resource.noun} ${model.resource.name}`, TEXT_LIMITS.name)}`, { wrap: true, size: 'Medium', weight: 'Bolder', style: 'heading' }),
      lineBlock(statusBadge(status), { weight: 'Bolder', spacing: 'None' }),
      requestFacts(model),
      requestMessage(model.requestMessage),
      new TextBlock(whyReview(model.rule), { wrap: true, spacing: 'Small' }),
    );
  }

  if (model.failure) body.push(failureBlock(model, status));

  const links = portalLinks(model);
  if (links.length > 0) body.push(new ActionSet(...links));

  // An alert is decided by one approver (reject or keep): no quorum to count.
  if (status.state === 'awaiting' && !alert) body.push(...quorumLines(model));

  // The expiry only matters while the request is still open; on a decided card it would read
  // as a deadline that no longer applies. An alert never expires.
  if (model.expiresAt && status.state === 'awaiting' && !alert) {
    const then = model.timeoutAction === 'reject' ? 'rejected automatically' : 'left Pending';
    body.push(new TextBlock(`Expires ${when(model.expiresAt)}; then ${then}`, { wrap: true, isSubtle: true, spacing: 'Small' }));
  }

  const outcome = outcomeLine(status, model);
  if (outcome) body.push(lineBlock(outcome, { weight: 'Bolder', separator: true }));

  const card = new AdaptiveCard().withOptions({ version: '1.5', $schema: ADAPTIVE_CARD_SCHEMA, fallbackText: summaryText(view) });

  // Inputs, buttons and refresh exist only while the request waits for a decision; every
  // other status is read-only for everyone.
  if (status.state === 'awaiting') {
    switch (view.audience) {
      case 'approver':
        body.push(...(alert ? alertControls() : approverControls()));
        card.withActions(...(alert ? alertButtons(model) : decisionButtons(model)));
        break;
      case 'shared': {
        const eligible = eligibleApprovers(model);
        body.push(...(alert ? alertWaitingLines(eligible.length) : waitingLines(eligible.length, model)));
        // With nobody eligible there is no approver view to hand out: an empty `userIds` would
        // switch automatic refresh off anyway, so the card goes without `refresh`.
        if (eligible.length > 0) card.withRefresh(refreshDefinition(model, eligible));
        break;
      }
      case 'requester':
        // A notice (e.g. the answer to a click the requester was not allowed to make) already
        // says why there are no buttons; repeating it would push the card down.
        if (!view.notice) body.push(readOnlyLine(alert ? 'You requested this endpoint, so someone else must review it.' : 'You requested this endpoint, so someone else must approve it.'));
        break;
      case 'voted':
        if (!view.notice) body.push(readOnlyLine(`You approved. ${missingText(model)} from other approvers before Linkgate approves it.`));
        break;
      case 'viewer':
        if (!view.notice) body.push(readOnlyLine('Only the listed approvers can decide this request.'));
        break;
    }
  }

  return toPlainJson(card.withBody(...body)) as AdaptiveCardJson;
}

function lineBlock(line: Line, options: TextBlockOptions): TextBlock {
  return new TextBlock(line.text, {
    wrap: true,
    ...options,
    ...(line.color ? { color: line.color } : {}),
    ...(line.subtle ? { isSubtle: true } : {}),
  });
}

/** The activity to post (or to update in place) in the review conversation. */
export function toMessageActivity(view: ReviewCardView): MessageActivity {
  return {
    type: 'message',
    summary: summaryText(view),
    attachments: [{ contentType: ADAPTIVE_CARD_CONTENT_TYPE, content: toApprovalCard(view) }],
  };
}

/** The body of the `adaptiveCard/action` invoke response: the card this user should now see. */
export function toInvokeCardResponse(view: ReviewCardView): InvokeCardResponse {
  return { statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: toApprovalCard(view) };
}

/**
 * A short plain-text line for notifications and chat previews (the activity `summary`) and
 * for clients that cannot render the card (`fallbackText`).
 */
export function summaryText(view: ReviewCardView): string {
  const resource = plainLine(`${view.model.resource.noun} ${view.model.resource.name}`, TEXT_LIMITS.name);
  const status = view.status;
  let head: string;
  switch (status.state) {
    case 'awaiting':
      head = 'Awaiting review';
      break;
    case 'approving':
    case 'rejecting':
    case 'approved':
    case 'rejected':
    case 'kept':
      head = `${statusBadge(status).text} by ${plainLine(status.by.name, TEXT_LIMITS.name)}`;
      break;
    default:
      head = statusBadge(status).text;
  }
  const what = view.model.alert ? `connection approved outside Linkgate for ${resource}` : `private endpoint request for ${resource}`;
  return truncate(`${head}: ${what}`, TEXT_LIMITS.summary);
}

/**
 * Approvers who get their approver view through refresh: each approver once, in the
 * configured order, without the requester (who may not approve their own request).
 */
export function eligibleApprovers(model: ReviewCardModel): string[] {
  const requester = model.requester.objectId?.trim().toLowerCase();
  const seen = new Set<string>();
  for (const id of model.approverIds) {
    const key = id.trim().toLowerCase();
    if (key && key !== requester) seen.add(key);
  }
  return [...seen];
}

/**
 * Teams matches `refresh.userIds` against user MRIs. An Entra user's MRI is
 * `8:orgid:{objectId}`; an ID that already is an MRI (`8:orgid:…`, `29:…`) passes through.
 */
export function teamsUserMri(objectIdOrMri: string): string {
  const id = objectIdOrMri.trim();
  return /^\d+:/.test(id) ? id : `8:orgid:${id.toLowerCase()}`;
}

/**
 * Makes text written by people safe to show in a markdown TextBlock: Adaptive Card markdown
 * renders `[text](url)` as a link whose target is hidden, so a request message could dress up
 * a phishing link as "Approve here"; `<at>` tags could render as mentions; `{{DATE(…)}}`
 * would be formatted by the host and could fake a timestamp. Links become `text (url)` so the
 * target is visible, leftover link syntax is broken apart, mention tags are dropped, control
 * and bidirectional-override characters (which can disguise text) are removed, and the result
 * is capped at `max` characters.
 */
export function neutralizeText(value: string, max: number, options: { readonly multiline?: boolean } = {}): string {
  let text = value
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0008\u000B-\u001F\u007F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, '')
    .replace(/<\/?at\b[^>]*>/gi, '')
    .replace(/!?\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?[^)\n]*\)/g, (_match, label: string, url: string) => {
      const shown = label.trim();
      return shown ? `${shown} (${url})` : `(${url})`;
    })
    // Whatever link syntax is left (nested brackets, reference definitions) no longer parses
    // once `]` is not directly followed by `(` or `:`.
    .replace(/\]([(:[])/g, '] $1')
    .replace(/\{\{/g, '{ {');
  text = options.multiline ? text.replace(/[ \t]+\n/g, '\n').replace(/\n{3,}/g, '\n\n') : text.replace(/\s+/g, ' ');
  return truncate(text.trim(), max);
}

function plainLine(value: string, max: number): string {
  return neutralizeText(value, max);
}

/**
 * `{{DATE}}`/`{{TIME}}` let each client show the time in the reader's own time zone and
 * locale. The host only recognises `yyyy-mm-ddThh:mm:ssZ`, without milliseconds.
 */
function when(date: Date): string {
  if (Number.isNaN(date.getTime())) return 'an unknown time';
  const iso = date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `{{DATE(${iso}, SHORT)}} {{TIME(${iso})}}`;
}

function statusBadge(status: ReviewStatus): Line {
  switch (status.state) {
    case 'awaiting':
      return { text: 'Awaiting review', color: 'Accent' };
    case 'approving':
      return { text: 'Approving…', subtle: true };
    case 'rejecting':
      return { text: 'Rejecting…', subtle: true };
    case 'approved':
      return { text: 'Approved', color: 'Good' };
    case 'rejected':
      return { text: 'Rejected', color: 'Attention' };
    case 'kept':
      return { text: 'Kept', color: 'Good' };
    case 'decided-elsewhere':
      return { text: `${plainLine(status.status, TEXT_LIMITS.status)} outside Linkgate`, color: 'Warning' };
    case 'vanished':
      return { text: 'Deleted', subtle: true };
    case 'expired':
      return { text: 'Expired', color: 'Warning' };
    case 'failed':
      return { text: 'Failed', color: 'Attention' };
  }
}

function outcomeLine(status: ReviewStatus, model: ReviewCardModel): Line | undefined {
  const quorum = (model.approvals?.length ?? 0) > 1 ? model.approvals : undefined;
  switch (status.state) {
    case 'awaiting':
      return undefined;
    case 'approving':
      return { text: `Approving… (by ${quorum ? quorum.map((vote) => plainLine(vote.name, TEXT_LIMITS.name)).join(', ') : plainLine(status.by.name, TEXT_LIMITS.name)})`, subtle: true };
    case 'rejecting':
      return { text: `Rejecting… (by ${plainLine(status.by.name, TEXT_LIMITS.name)})`, subtle: true };
    case 'approved':
      // A quorum names every approver with the time of their approval.
      if (quorum) return { text: `Approved by ${approvalsText(quorum)}${commentSuffix(status.comment)}`, color: 'Good' };
      return finalOutcome(status);
    default:
      return finalOutcome(status);
  }
}

function approvalsText(approvals: NonNullable<ReviewCardModel['approvals']>): string {
  return approvals.map((vote) => `${plainLine(vote.name, TEXT_LIMITS.name)} at ${when(vote.at)}`).join(', ');
}

/** How many approvals are still missing, as a sentence start: "1 more approval is needed". */
function missingText(model: ReviewCardModel): string {
  const missing = Math.max(0, (model.requiredApprovals ?? 1) - (model.approvals?.length ?? 0));
  return missing === 1 ? '1 more approval is needed' : `${missing} more approvals are needed`;
}

/**
 * While the review waits: why it needs more than one approver when the requester is unknown,
 * who approved so far (name and time), and how many more are needed.
 */
function quorumLines(model: ReviewCardModel): CardElementArray {
  const required = model.requiredApprovals ?? 1;
  const approvals = model.approvals ?? [];
  const lines: CardElementArray = [];
  if (model.requesterUnknown && required > 1) {
    lines.push(
      new TextBlock(
        required === 2
          ? 'Linkgate could not tell who requested this connection, so it needs two different approvers.'
          : `Linkgate could not tell who requested this connection; approving it needs ${required} different approvers.`,
        { wrap: true, weight: 'Bolder', color: 'Warning', spacing: 'Small' },
      ),
    );
  } else if (required > 1) {
    lines.push(new TextBlock(`Approving needs ${required} different approvers.`, { wrap: true, weight: 'Bolder', spacing: 'Small' }));
  }
  if (approvals.length > 0) {
    lines.push(new TextBlock(`Approved so far: ${approvalsText(approvals)}. ${missingText(model)}.`, { wrap: true, spacing: 'Small' }));
  }
  return lines;
}

/** Linkgate gave up acting by itself: what failed, how often, the last error, and what to do. */
function failureBlock(model: ReviewCardModel, status: ReviewStatus): Container {
  const failure = model.failure;
  const attempts = failure?.attempts ?? 0;
  const lines = [
    new TextBlock(`Linkgate gave up after ${attempts} attempt${attempts === 1 ? '' : 's'} at ${plainLine(failure?.during ?? 'acting', TEXT_LIMITS.name)} (the last at ${when(failure?.at ?? new Date(NaN))}).`, {
      wrap: true,
      weight: 'Bolder',
      color: 'Attention',
    }),
    new TextBlock(`Last error: ${plainLine(failure?.error ?? 'unknown', TEXT_LIMITS.error)}`, { wrap: true, spacing: 'Small' }),
  ];
  if (status.state === 'awaiting') {
    const retry = model.alert ? 'Reject tries the change again' : 'Approve tries the change again';
    lines.push(new TextBlock(`An approver decides it here (${retry}), or set the status in the portal.`, { wrap: true, spacing: 'Small' }));
  }
  return new Container(...lines).withStyle('attention').withSpacing('Small');
}

function finalOutcome(status: FinalStatus): Line {
  const at = when(status.at);
  switch (status.state) {
    case 'approved':
      return { text: `Approved by ${plainLine(status.by.name, TEXT_LIMITS.name)} at ${at}${commentSuffix(status.comment)}`, color: 'Good' };
    case 'rejected':
      return { text: `Rejected by ${plainLine(status.by.name, TEXT_LIMITS.name)} at ${at}${commentSuffix(status.comment)}`, color: 'Attention' };
    case 'kept':
      return { text: `Kept by ${plainLine(status.by.name, TEXT_LIMITS.name)} at ${at}: the connection stays approved${commentSuffix(status.comment)}`, color: 'Good' };
    case 'decided-elsewhere':
      return { text: `Status set to ${plainLine(status.status, TEXT_LIMITS.status)} outside Linkgate (portal or CLI) at ${at}`, color: 'Warning' };
    case 'vanished':
      return { text: 'The connection was deleted before anyone decided', subtle: true };
    case 'expired':
      return { text: `Expired at ${at}; ${status.action === 'reject' ? 'rejected automatically' : 'left Pending'}`, color: 'Warning' };
    case 'failed':
      return { text: `Failed: ${plainLine(status.error, TEXT_LIMITS.error)}`, color: 'Attention' };
  }
}

function commentSuffix(comment: string | undefined): string {
  const text = comment ? plainLine(comment, TEXT_LIMITS.comment) : '';
  return text ? `: ${text}` : '';
}

const TENANT_BADGES: Readonly<Record<TenantBadge, string>> = {
  'same-tenant': 'Same tenant',
  external: 'External tenant',
  'not-visible': 'Not visible to Linkgate',
  unknown: 'Unknown',
};

function requestFacts(model: ReviewCardModel): FactSet {
  return new FactSet(...resourceFacts(model), new Fact('Requested', when(model.requestedAt)), ...requesterFacts(model));
}

/** What the connection is on: the resource, its group and subscription (request and alert cards alike). */
function resourceFacts(model: ReviewCardModel): Fact[] {
  return [
    new Fact(plainLine(model.resource.typeName, TEXT_LIMITS.name), plainLine(model.resource.name, TEXT_LIMITS.name)),
    new Fact('Resource group', plainLine(model.resource.resourceGroup, TEXT_LIMITS.name)),
    new Fact('Subscription', plainLine(model.resource.subscriptionId, TEXT_LIMITS.name)),
  ];
}

/** Where the connection comes from: the private endpoint, its subscription and tenant. */
function requesterFacts(model: ReviewCardModel): Fact[] {
  const requester = model.requester;
  const tenantId = requester.tenantId ? plainLine(requester.tenantId, TEXT_LIMITS.name) : '';
  const tenant = tenantId ? `${TENANT_BADGES[requester.badge]} (${tenantId})` : TENANT_BADGES[requester.badge];
  return [
    new Fact('Private endpoint', optional(requester.privateEndpointName ?? lastSegment(requester.privateEndpointId))),
    new Fact('Requester subscription', optional(requester.subscriptionId)),
    new Fact('Requester tenant', tenant),
  ];
}

function optional(value: string | undefined): string {
  const text = value ? plainLine(value, TEXT_LIMITS.name) : '';
  return text || 'Unknown';
}

function lastSegment(resourceId: string | undefined): string | undefined {
  return resourceId?.split('/').filter(Boolean).pop();
}

function requestMessage(message: string | undefined): Container {
  const text = message ? neutralizeText(message, TEXT_LIMITS.message, { multiline: true }) : '';
  const block = text ? new TextBlock(`“${text}”`, { wrap: true }) : new TextBlock('(no message)', { wrap: true, isSubtle: true });
  return new Container(block).withStyle('emphasis').withSpacing('Small');
}

function whyReview(rule: ReviewCardModel['rule']): string {
  const summary = plainLine(rule.summary, TEXT_LIMITS.rule);
  const name = rule.name ? plainLine(rule.name, TEXT_LIMITS.name) : '';
  return `**Why review:** ${name ? `${name}: ${summary}` : summary}`;
}

function portalLinks(model: ReviewCardModel): OpenUrlAction[] {
  const { links } = model;
  const out: OpenUrlAction[] = [];
  // Links are built by the app layer, but only https URLs become buttons: anything else is a
  // bug upstream and should not turn into a clickable target.
  if (isHttps(links.resource)) out.push(new OpenUrlAction(links.resource, { title: `Open ${plainLine(model.resource.noun, TEXT_LIMITS.name)} in portal` }));
  if (links.privateEndpoint && isHttps(links.privateEndpoint)) out.push(new OpenUrlAction(links.privateEndpoint, { title: 'Open private endpoint' }));
  return out;
}

function isHttps(url: string): boolean {
  try {
    return new URL(url).protocol === 'https:';
  } catch {
    return false;
  }
}

type Alert = NonNullable<ReviewCardModel['alert']>;

/**
 * The top of an out-of-band alert: what was approved (the resource and the connection), from
 * where (the private endpoint, its subscription and tenant), by whom (when Azure's events said),
 * when Linkgate saw it, why it is flagged, and the connection's description in Azure.
 */
function alertHead(model: ReviewCardModel, alert: Alert, status: ReviewStatus): CardElementArray {
  const approvedBy = alert.approvedBy ? plainLine(alert.approvedBy, TEXT_LIMITS.name) : '';
  const badge: Line = status.state === 'awaiting' ? { text: 'Approved in Azure, awaiting review', color: 'Warning' } : statusBadge(status);
  const description = alert.description ? neutralizeText(alert.description, TEXT_LIMITS.message, { multiline: true }) : '';
  const rule = alert.ruleName ?? model.rule.name;
  return [
    new TextBlock(`Approved outside Linkgate: ${plainLine(`${model.resource.noun} ${model.resource.name}`, TEXT_LIMITS.name)}`, { wrap: true, size: 'Medium', weight: 'Bolder', style: 'heading' }),
    lineBlock(badge, { weight: 'Bolder', spacing: 'None' }),
    new TextBlock(
      'This private endpoint connection was approved in Azure without a decision by Linkgate (in the portal, the CLI, or automatically for a requester who holds the approval permission).',
      { wrap: true, spacing: 'Small' },
    ),
    new FactSet(
      ...resourceFacts(model),
      new Fact('Connection', optional(model.connectionName)),
      ...requesterFacts(model),
      new Fact('Approved by', approvedBy || "Not known: Azure's events did not name who approved"),
      new Fact('Seen', when(alert.observedAt)),
    ),
    new Container(
      new TextBlock('Description in Azure', { wrap: true, isSubtle: true, size: 'Small' }),
      description ? new TextBlock(`“${description}”`, { wrap: true, spacing: 'None' }) : new TextBlock('(no description)', { wrap: true, isSubtle: true, spacing: 'None' }),
    )
      .withStyle('emphasis')
      .withSpacing('Small'),
    new TextBlock(`**Why flagged:** ${rule ? `${plainLine(rule, TEXT_LIMITS.name)}: ` : ''}${plainLine(alert.summary, TEXT_LIMITS.rule)}`, { wrap: true, spacing: 'Small' }),
  ];
}

/** An alert's approver view: one comment box for both buttons, and what each of them does. */
function alertControls(): CardElementArray {
  return [
    new TextInput({
      id: 'comment',
      label: 'Comment',
      isMultiline: true,
      placeholder: 'Reason (required to reject, optional to keep)',
      maxLength: TEXT_LIMITS.comment,
      separator: true,
    }),
    new TextBlock(
      'Reject disconnects this private endpoint and is permanent: a rejected connection can never be approved again; the requester must create a new private endpoint.',
      { wrap: true, color: 'Attention' },
    ),
    new TextBlock('Keep leaves the connection approved as it is.', { wrap: true, isSubtle: true, spacing: 'Small' }),
  ];
}

/** Reject and Keep; an alert has no Approve (the connection already is approved). */
function alertButtons(model: ReviewCardModel): ExecuteAction[] {
  return [
    new ExecuteAction({ title: 'Reject', verb: 'reject', style: 'destructive', data: actionData(model), associatedInputs: 'auto' }),
    new ExecuteAction({ title: 'Keep', verb: 'keep', data: actionData(model), associatedInputs: 'auto' }),
  ];
}

function alertWaitingLines(approvers: number): CardElementArray {
  if (approvers === 0) return [readOnlyLine('No approvers are configured for this alert: decide it in the portal.')];
  const lines = [readOnlyLine(approvers === 1 ? 'Waiting for 1 approver to reject or keep it.' : `Waiting for one of ${approvers} approvers to reject or keep it.`)];
  if (approvers > MAX_REFRESH_USERS) {
    lines.push(new TextBlock('Approvers who see no buttons: choose Refresh card in the message menu.', { wrap: true, isSubtle: true, size: 'Small', spacing: 'None' }));
  }
  return lines;
}

function approverControls(): CardElementArray {
  return [
    new TextInput({
      id: 'comment',
      label: 'Comment',
      isMultiline: true,
      placeholder: 'Reason (required to reject)',
      maxLength: TEXT_LIMITS.comment,
      separator: true,
    }),
    new TextBlock('Rejecting is permanent: a rejected connection can never be approved later.', { wrap: true, color: 'Attention' }),
  ];
}

function actionData(model: ReviewCardModel): { approvalKey: string; generation: number } {
  return { approvalKey: model.approvalKey, generation: model.generation };
}

function decisionButtons(model: ReviewCardModel): ExecuteAction[] {
  // `associatedInputs: 'auto'` sends the comment box with the click; the generation lets the
  // bot recognise a click on an older card.
  return [
    new ExecuteAction({ title: 'Approve', verb: 'approve', style: 'positive', data: actionData(model), associatedInputs: 'auto' }),
    new ExecuteAction({ title: 'Reject', verb: 'reject', style: 'destructive', data: actionData(model), associatedInputs: 'auto' }),
  ];
}

function waitingLines(approvers: number, model: ReviewCardModel): CardElementArray {
  if (approvers === 0) return [readOnlyLine('No approvers are configured for this request.')];
  const required = model.requiredApprovals ?? 1;
  const approved = model.approvals?.length ?? 0;
  const missing = Math.max(0, required - approved);
  // Fails closed and says so: with fewer eligible approvers than approvals needed, nobody can approve.
  if (approvers - approved < missing) {
    return [
      readOnlyLine(
        `Only ${approvers} approver${approvers === 1 ? ' is' : 's are'} listed who may approve, but this request needs ${required} different approvals: add approvers (review.approvers) or decide it in the portal. It can still be rejected here.`,
      ),
    ];
  }
  const lines = [
    readOnlyLine(
      required <= 1
        ? approvers === 1
          ? 'Waiting for 1 approver.'
          : `Waiting for one of ${approvers} approvers.`
        : `Waiting for ${missing} more of ${approvers} approvers.`,
    ),
  ];
  if (approvers > MAX_REFRESH_USERS) {
    lines.push(new TextBlock('Approvers who see no buttons: choose Refresh card in the message menu.', { wrap: true, isSubtle: true, size: 'Small', spacing: 'None' }));
  }
  return lines;
}

function readOnlyLine(text: string): TextBlock {
  return new TextBlock(text, { wrap: true, isSubtle: true, separator: true });
}

function refreshDefinition(model: ReviewCardModel, approvers: readonly string[]): IRefreshDefinition {
  const action: IExecuteAction = new ExecuteAction({ title: 'Refresh', verb: 'refresh', data: actionData(model) });
  return { action, userIds: approvers.slice(0, MAX_REFRESH_USERS).map(teamsUserMri) };
}

/**
 * The builders write every schema default onto each object (`requires: {}`,
 * `isVisible: true`, `spacing: 'Default'`, …), some of them newer than 1.5. Dropping those
 * keeps the payload to what a 1.5 host reads and well under the Teams message size limit.
 * Action `data` is copied untouched: it is the bot's own payload.
 */
const BUILDER_DEFAULTS: Readonly<Record<string, readonly unknown[]>> = {
  isVisible: [true],
  separator: [false],
  height: ['auto'],
  spacing: ['Default'],
  isSortKey: [false],
  showBorder: [false],
  roundedCorners: [false],
  bleed: [false],
  wrap: [false],
  isSubtle: [false],
  isRequired: [false],
  isMultiline: [false],
  mode: ['primary'],
  isEnabled: [true],
  conditionallyEnabled: [false],
  style: ['default', 'Text'],
};

function toPlainJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toPlainJson);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined) continue;
    if (key === 'data') {
      out[key] = JSON.parse(JSON.stringify(child)) as unknown;
      continue;
    }
    if (BUILDER_DEFAULTS[key]?.includes(child)) continue;
    if (key === 'requires' && typeof child === 'object' && child !== null && Object.keys(child).length === 0) continue;
    out[key] = toPlainJson(child);
  }
  return out;
}
