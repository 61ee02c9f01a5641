import type { Actor } from './audit.js';
import { userActor } from './audit.js';

/**
 * Who is calling an admin API, as a validated Entra ID access token says (src/adapters/auth).
 * App roles are what the API's application registration defines and an administrator assigns to
 * people, groups or applications; the token carries the caller's assignments in its `roles` claim.
 */
export const APP_ROLES = ['Audit.Read', 'Rules.Write', 'Operate'] as const;
export type AppRole = (typeof APP_ROLES)[number];

export interface Principal {
  /** Entra object ID of the person or the application's service principal, lower case. */
  readonly objectId: string;
  readonly tenantId: string;
  /** Display name from the token (`name`, else the application's name or ID). */
  readonly name: string;
  /** `user` for a delegated token (a person signed in to a client), `app` for an application's own token. */
  readonly kind: 'user' | 'app';
  /** The app roles the token carries that Linkgate knows; unknown role names are dropped. */
  readonly roles: ReadonlySet<AppRole>;
}

export function hasAnyRole(principal: Principal, roles: readonly AppRole[]): boolean {
  return roles.some((role) => principal.roles.has(role));
}

/** The principal as the audit names it: object ID and display name. */
export function principalActor(principal: Principal): Actor {
  return userActor(principal.objectId, principal.name);
}

/** The part of a principal an audit entry's detail keeps. */
export function principalDetail(principal: Principal): { objectId: string; name: string; kind: string; roles: string[] } {
  return { objectId: principal.objectId, name: principal.name, kind: principal.kind, roles: [...principal.roles].sort() };
}
