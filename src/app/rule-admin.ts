import { systemActor } from '../domain/audit.js';
import type { StoredRule } from '../domain/policy/engine.js';
import { parseRule, type Rule } from '../domain/policy/rule.js';
import { RuleValidationError } from '../domain/errors.js';
import type { AuditPort, RulesPort } from './ports.js';

/**
 * Reading and writing rules. A rule is validated when it is written; one that cannot be
 * understood is refused with a RuleValidationError naming the field, and nothing is stored.
 * Every change is audited.
 */
export interface RuleAdminDeps {
  readonly rules: RulesPort;
  readonly audit: AuditPort;
}

export interface RuleListing {
  readonly rules: readonly Rule[];
  readonly unreadable: ReadonlyArray<{ readonly name: string; readonly error: string }>;
}

export async function listRules(deps: RuleAdminDeps): Promise<RuleListing> {
  const stored: StoredRule[] = await deps.rules.list();
  return {
    rules: stored.flatMap((r) => (r.ok ? [r.rule] : [])),
    unreadable: stored.flatMap((r) => (r.ok ? [] : [{ name: r.name, error: r.error }])),
  };
}

/** Validates `body` as the rule named `name` (the path's name wins when the body has none) and stores it. */
export async function writeRule(deps: RuleAdminDeps, name: string, body: unknown): Promise<Rule> {
  const withName = typeof body === 'object' && body !== null && !Array.isArray(body) ? { name, ...body } : body;
  const rule = parseRule(withName);
  if (rule.name.toLowerCase() !== name.toLowerCase()) {
    throw new RuleValidationError('name', `'${rule.name}' differs from the name in the path ('${name}')`);
  }
  await deps.rules.put(rule);
  await auditRuleChange(deps, rule.name, 'written', rule);
  return rule;
}

/** False when there was no such rule. */
export async function deleteRule(deps: RuleAdminDeps, name: string): Promise<boolean> {
  const deleted = await deps.rules.delete(name);
  if (deleted) await auditRuleChange(deps, name, 'deleted');
  return deleted;
}

async function auditRuleChange(deps: RuleAdminDeps, name: string, change: string, rule?: Rule): Promise<void> {
  await deps.audit.append({
    kind: 'human',
    outcome: 'skipped',
    actor: systemActor('rules-api'),
    summary: `Rule '${name}' ${change}.`,
    ruleName: name,
    ...(rule ? { detail: { rule } } : {}),
  });
}

export interface RuleAdmin {
  list(): Promise<RuleListing>;
  write(name: string, body: unknown): Promise<Rule>;
  delete(name: string): Promise<boolean>;
}

export function createRuleAdmin(deps: RuleAdminDeps): RuleAdmin {
  return { list: () => listRules(deps), write: (name, body) => writeRule(deps, name, body), delete: (name) => deleteRule(deps, name) };
}
