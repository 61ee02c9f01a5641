import { randomBytes } from 'node:crypto';
import type { AuditEntry } from '../domain/audit.js';
import { ProposalError, RuleValidationError } from '../domain/errors.js';
import type { StoredRule } from '../domain/policy/engine.js';
import { canonical, reviewRuleChange } from '../domain/policy/rule-change.js';
import { isRuleName, parseRule, type Rule } from '../domain/policy/rule.js';
import { principalActor, principalDetail, type Principal } from '../domain/principal.js';
import { isOpen, type PersonRef, type RuleProposal } from '../domain/rule-proposal.js';
import type { Versioned } from '../domain/approval.js';
import type { AuditPort, Clock, Logger, ProposalsPort, RulesPort } from './ports.js';

/**
 * Reading and changing rules, with the four-eyes rule (src/domain/policy/rule-change.ts): a change
 * that could make Linkgate approve or reject on its own, or that changes approvers, becomes a
 * proposal that a second, different person with Rules.Write confirms; everything else takes effect
 * at once. Every change names the person in the audit, with the rule before and after.
 *
 * A rule is validated when it is written; one that cannot be understood is refused with a
 * RuleValidationError naming the field, and nothing is stored.
 */
export interface RuleAdminDeps {
  readonly rules: RulesPort;
  readonly proposals: ProposalsPort;
  readonly audit: AuditPort;
  readonly clock: Clock;
  readonly settings: { readonly fourEyes: boolean; readonly proposalTtlMs: number };
  /** Tells the admins' Teams conversation; best effort, a failure is logged and changes nothing. */
  readonly announce?: (text: string) => Promise<void>;
  readonly log?: Logger;
}

export interface RuleListing {
  readonly rules: readonly Rule[];
  readonly unreadable: ReadonlyArray<{ readonly name: string; readonly error: string }>;
}

export type RuleWriteResult =
  | { readonly kind: 'applied'; readonly rule: Rule; readonly reason: string; readonly unchanged: boolean }
  | { readonly kind: 'proposed'; readonly proposal: RuleProposal };

export interface RuleAdmin {
  list(): Promise<RuleListing>;
  write(by: Principal, name: string, body: unknown): Promise<RuleWriteResult>;
  /** False when there was no such rule. */
  delete(by: Principal, name: string): Promise<boolean>;
  /** Newest first; pending proposals past their expiry are marked expired on the way. */
  proposals(): Promise<RuleProposal[]>;
  confirm(by: Principal, id: string): Promise<{ readonly proposal: RuleProposal; readonly rule: Rule }>;
  /** Turns a proposal down (another person) or takes it back (its author); a reason is required. */
  decline(by: Principal, id: string, comment: string): Promise<RuleProposal>;
}

export function createRuleAdmin(deps: RuleAdminDeps): RuleAdmin {
  return {
    list: () => listRules(deps),
    write: (by, name, body) => writeRule(deps, by, name, body),
    delete: (by, name) => deleteRule(deps, by, name),
    proposals: () => listProposals(deps),
    confirm: (by, id) => confirmProposal(deps, by, id),
    decline: (by, id, comment) => declineProposal(deps, by, id, comment),
  };
}

export async function listRules(deps: Pick<RuleAdminDeps, 'rules'>): Promise<RuleListing> {
  const stored: StoredRule[] = await deps.rules.list();
  return {
    rules: stored.flatMap((r) => (r.ok ? [r.rule] : [])),
    unreadable: stored.flatMap((r) => (r.ok ? [] : [{ name: r.name, error: r.error }])),
  };
}

/** A route parameter that cannot name a rule is refused before anything is read. */
export function checkRuleName(name: string | undefined): string {
  if (!name) throw new RuleValidationError('name', 'is missing from the path: /api/rules/{name}');
  if (!isRuleName(name)) {
    throw new RuleValidationError('name', `'${name.slice(0, 80)}' cannot name a rule: 1-64 characters, letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  return name;
}

/** How many times a write re-reads the rule when someone else changed it in between. */
const WRITE_ATTEMPTS = 3;

/** Validates `body` as the rule named `name` (the path's name wins when the body has none) and stores it or proposes it. */
export async function writeRule(deps: RuleAdminDeps, by: Principal, name: string, body: unknown): Promise<RuleWriteResult> {
  checkRuleName(name);
  const withName = typeof body === 'object' && body !== null && !Array.isArray(body) ? { name, ...body } : body;
  const after = parseRule(withName);
  if (after.name.toLowerCase() !== name.toLowerCase()) {
    throw new RuleValidationError('name', `'${after.name}' differs from the name in the path ('${name}')`);
  }
  for (let attempt = 1; ; attempt += 1) {
    const current = await deps.rules.get(after.name);
    const before = current?.stored.ok ? current.stored.rule : undefined;
    const version = current?.version ?? 'absent';
    const review = reviewRuleChange(before, after);
    // An unreadable row is treated as a rule that did not exist: whatever replaces it is judged on its own.
    if (review.needsSecondPerson && deps.settings.fourEyes) {
      return { kind: 'proposed', proposal: await propose(deps, by, { before, version, after, reason: review.reason }) };
    }
    if (before && canonical(before) === canonical(after)) return { kind: 'applied', rule: after, reason: 'unchanged', unchanged: true };
    if (await deps.rules.putIf(after, version)) {
      const reason = review.needsSecondPerson ? `four-eyes is off (LINKGATE_FOUR_EYES=false), so this took effect at once although ${review.reason}` : review.reason;
      await auditRuleChange(deps, by, { name: after.name, before, after, reason });
      return { kind: 'applied', rule: after, reason, unchanged: false };
    }
    if (attempt >= WRITE_ATTEMPTS) throw new ProposalError(`Rule '${after.name}' kept changing while it was written; read it again and retry. Nothing was changed.`, 'stale');
  }
}

export async function deleteRule(deps: RuleAdminDeps, by: Principal, name: string): Promise<boolean> {
  checkRuleName(name);
  for (let attempt = 1; ; attempt += 1) {
    const current = await deps.rules.get(name);
    if (!current) return false;
    if (await deps.rules.deleteIf(name, current.version)) {
      const before = current.stored.ok ? current.stored.rule : undefined;
      await auditRuleChange(deps, by, { name: current.stored.ok ? current.stored.rule.name : name, before, reason: reviewRuleChange(before, undefined).reason });
      return true;
    }
    if (attempt >= WRITE_ATTEMPTS) throw new ProposalError(`Rule '${name}' kept changing while it was deleted; read it again and retry. Nothing was changed.`, 'stale');
  }
}

async function propose(deps: RuleAdminDeps, by: Principal, change: { before: Rule | undefined; version: string; after: Rule; reason: string }): Promise<RuleProposal> {
  const now = deps.clock.now();
  const proposal: RuleProposal = {
    id: proposalId(now),
    ruleName: change.after.name,
    ...(change.before ? { before: change.before } : {}),
    beforeVersion: change.version,
    after: change.after,
    reason: change.reason,
    proposedBy: personOf(by),
    proposedAt: now,
    expiresAt: new Date(now.getTime() + deps.settings.proposalTtlMs),
    status: 'pending',
  };
  await deps.proposals.create(proposal);
  await tellAdmins(
    deps,
    `${by.name} proposed a change to rule '${proposal.ruleName}', which needs a second person with Rules.Write because ${change.reason}. ` +
      `Review it with \`linkgate proposals list\`, then \`linkgate proposals confirm ${proposal.id}\` or \`linkgate proposals decline ${proposal.id} --comment …\`. It expires ${proposal.expiresAt.toISOString()}.`,
  );
  await appendAdmin(deps, by, {
    outcome: 'proposed',
    summary: `${by.name} proposed a change to rule '${proposal.ruleName}'; it needs a second person with Rules.Write because ${change.reason}. Proposal ${proposal.id}, expires ${proposal.expiresAt.toISOString()}.`,
    ruleName: proposal.ruleName,
    correlationId: proposal.id,
    detail: { proposalId: proposal.id, before: change.before ?? null, after: change.after, reason: change.reason, expiresAt: proposal.expiresAt.toISOString() },
  });
  return proposal;
}

export async function listProposals(deps: RuleAdminDeps): Promise<RuleProposal[]> {
  const out: RuleProposal[] = [];
  for (const proposal of await deps.proposals.list()) out.push((await expireIfDue(deps, proposal)).value);
  return out;
}

export async function confirmProposal(deps: RuleAdminDeps, by: Principal, id: string): Promise<{ proposal: RuleProposal; rule: Rule }> {
  const found = await openProposal(deps, id);
  const proposal = found.value;
  if (proposal.proposedBy.objectId === by.objectId) {
    throw new ProposalError(`You proposed this change, so a second, different person with Rules.Write must confirm it. Nothing was changed.`, 'same-person');
  }
  // Claim it first: of two people confirming and declining at once, exactly one wins.
  let claimed = found;
  if (proposal.status === 'pending') {
    const result = await deps.proposals.replace({ ...proposal, status: 'confirmed', decidedBy: personOf(by), decidedAt: deps.clock.now() }, found.etag);
    if (result.kind === 'conflict') throw new ProposalError(`Proposal ${id} was acted on by someone else just now; list the proposals again. Nothing was changed.`, 'not-pending');
    claimed = result.record;
  }
  // The rule must still be what the proposal was made against; then it is written conditionally,
  // so a change that lands in between makes this one stale instead of being overwritten.
  const current = await deps.rules.get(proposal.ruleName);
  const alreadyApplied = current?.stored.ok === true && canonical(current.stored.rule) === canonical(proposal.after) && proposal.status === 'confirmed';
  const applied = alreadyApplied || ((current?.version ?? 'absent') === proposal.beforeVersion && (await deps.rules.putIf(proposal.after, proposal.beforeVersion)));
  if (!applied) {
    await deps.proposals.replace({ ...claimed.value, status: 'stale', decidedBy: personOf(by), decidedAt: deps.clock.now() }, claimed.etag);
    await appendAdmin(deps, by, {
      outcome: 'stale',
      summary: `${by.name} confirmed proposal ${id}, but rule '${proposal.ruleName}' changed after it was proposed; it was not applied. Propose the change again.`,
      ruleName: proposal.ruleName,
      correlationId: id,
      detail: { proposalId: id },
    });
    throw new ProposalError(`Rule '${proposal.ruleName}' changed after this proposal was made, so it was not applied. Propose the change again. Nothing was changed.`, 'stale');
  }
  const done = await deps.proposals.replace({ ...claimed.value, status: 'applied', decidedBy: personOf(by), decidedAt: deps.clock.now() }, claimed.etag);
  const final = done.kind === 'replaced' ? done.record.value : { ...claimed.value, status: 'applied' as const };
  await auditRuleChange(deps, by, {
    name: proposal.ruleName,
    before: proposal.before,
    after: proposal.after,
    reason: `confirmed by a second person (${proposal.reason})`,
    proposal: { id, proposedBy: proposal.proposedBy, proposedAt: proposal.proposedAt.toISOString() },
  });
  return { proposal: final, rule: proposal.after };
}

export async function declineProposal(deps: RuleAdminDeps, by: Principal, id: string, comment: string): Promise<RuleProposal> {
  const reason = comment.trim();
  if (!reason) throw new RuleValidationError('comment', 'a reason is required to decline or withdraw a proposal');
  const found = await openProposal(deps, id);
  if (found.value.status !== 'pending') throw new ProposalError(`Proposal ${id} is being applied; it can no longer be declined.`, 'not-pending');
  const withdrawn = found.value.proposedBy.objectId === by.objectId;
  const status = withdrawn ? 'withdrawn' : 'declined';
  const result = await deps.proposals.replace({ ...found.value, status, decidedBy: personOf(by), decidedAt: deps.clock.now(), comment: reason.slice(0, 500) }, found.etag);
  if (result.kind === 'conflict') throw new ProposalError(`Proposal ${id} was acted on by someone else just now; list the proposals again. Nothing was changed.`, 'not-pending');
  await tellAdmins(deps, `${by.name} ${withdrawn ? 'withdrew' : 'declined'} the proposed change to rule '${found.value.ruleName}' (${id}): ${reason.slice(0, 200)}`);
  await appendAdmin(deps, by, {
    outcome: status,
    summary: `${by.name} ${withdrawn ? 'withdrew' : 'declined'} the proposed change to rule '${found.value.ruleName}': ${reason.slice(0, 200)}`,
    ruleName: found.value.ruleName,
    correlationId: id,
    detail: { proposalId: id, comment: reason.slice(0, 500), proposedBy: found.value.proposedBy },
  });
  return result.record.value;
}

/** A proposal that may still be applied, or a ProposalError saying why not. */
async function openProposal(deps: RuleAdminDeps, id: string): Promise<Versioned<RuleProposal>> {
  const found = await deps.proposals.get(id);
  if (!found) throw new ProposalError(`There is no proposal ${id.slice(0, 80)}.`, 'not-found');
  const current = await expireIfDue(deps, found);
  if (current.value.status === 'expired') throw new ProposalError(`Proposal ${id} expired at ${current.value.expiresAt.toISOString()}; propose the change again.`, 'expired');
  if (!isOpen(current.value)) throw new ProposalError(`Proposal ${id} is ${current.value.status}; nothing was changed.`, 'not-pending');
  return current;
}

async function expireIfDue(deps: RuleAdminDeps, found: Versioned<RuleProposal>): Promise<Versioned<RuleProposal>> {
  if (found.value.status !== 'pending' || found.value.expiresAt > deps.clock.now()) return found;
  const result = await deps.proposals.replace({ ...found.value, status: 'expired' }, found.etag);
  if (result.kind === 'conflict') return (await deps.proposals.get(found.value.id)) ?? found;
  await deps.audit.append({
    kind: 'admin',
    outcome: 'expired',
    actor: { type: 'system', id: 'rules-api' },
    summary: `The proposed change to rule '${found.value.ruleName}' by ${found.value.proposedBy.name} expired unconfirmed; nothing was changed.`,
    ruleName: found.value.ruleName,
    correlationId: found.value.id,
    detail: { proposalId: found.value.id, proposedBy: found.value.proposedBy, expiresAt: found.value.expiresAt.toISOString() },
  });
  return result.record;
}

async function auditRuleChange(
  deps: RuleAdminDeps,
  by: Principal,
  change: { name: string; before: Rule | undefined; after?: Rule; reason: string; proposal?: { id: string; proposedBy: PersonRef; proposedAt: string } },
): Promise<void> {
  const verb = !change.after ? 'deleted' : change.before ? 'changed' : 'added';
  const confirmation = change.proposal ? `, confirming ${change.proposal.proposedBy.name}'s proposal ${change.proposal.id}` : '';
  await tellAdmins(deps, `${by.name} ${verb} rule '${change.name}'${confirmation}; it is in force now (${change.reason}).`);
  await appendAdmin(deps, by, {
    outcome: 'rule-changed',
    summary: `${by.name} ${verb} rule '${change.name}'${confirmation}.`,
    ruleName: change.name,
    ...(change.proposal ? { correlationId: change.proposal.id } : {}),
    detail: { change: verb, before: change.before ?? null, after: change.after ?? null, reason: change.reason, ...(change.proposal ? { proposal: change.proposal } : {}) },
  });
}

async function appendAdmin(deps: Pick<RuleAdminDeps, 'audit'>, by: Principal, entry: Pick<AuditEntry, 'outcome' | 'summary' | 'ruleName' | 'correlationId'> & { detail: Record<string, unknown> }): Promise<void> {
  await deps.audit.append({ kind: 'admin', actor: principalActor(by), ...entry, detail: { ...entry.detail, by: principalDetail(by) } });
}

async function tellAdmins(deps: Pick<RuleAdminDeps, 'announce' | 'log'>, text: string): Promise<void> {
  if (!deps.announce) return;
  try {
    await deps.announce(text);
  } catch (error) {
    // The audit is the record; the notice only points people at it.
    deps.log?.warn(`Could not tell the admins' conversation: ${(error as Error).message}`);
  }
}

function personOf(principal: Principal): PersonRef {
  return { objectId: principal.objectId, name: principal.name };
}

/** `YYYYMMDDhhmmss-` and 8 random hex digits: sorts by time, and is safe as a Table key and in a URL. */
function proposalId(now: Date): string {
  return `${now.toISOString().replace(/\D/g, '').slice(0, 14)}-${randomBytes(4).toString('hex')}`;
}
