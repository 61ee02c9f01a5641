import { AuthenticationError, AuthorizationError } from '../domain/errors.js';
import { hasAnyRole, principalActor, principalDetail, type AppRole, type Principal } from '../domain/principal.js';
import type { AuditPort, Logger, TokenValidator } from './ports.js';

/**
 * Who may call an admin API: a valid Entra ID token of the home tenant (TokenValidator) carrying
 * one of the app roles the route asks for. A refusal for a missing role is audited with the
 * caller's identity; a request with no valid token is only logged, since it names nobody and
 * anyone on the internet can send one.
 */
export interface AdminAccess {
  /** `roles` empty: any valid token. `action` names what was asked, for the audit and the message. */
  authorize(authorization: string | null | undefined, roles: readonly AppRole[], action: string): Promise<Principal>;
}

export interface AdminAccessDeps {
  /** Absent when no API application is configured: every request is refused. */
  readonly tokens: TokenValidator | undefined;
  readonly audit: AuditPort;
  readonly log: Logger;
}

export function createAdminAccess(deps: AdminAccessDeps): AdminAccess {
  return {
    async authorize(authorization, roles, action) {
      if (!deps.tokens) {
        throw new AuthenticationError(
          'The admin APIs are off: no API application is configured (LINKGATE_API_CLIENT_ID). See the README, "Security model". Nothing was done.',
          'not-configured',
        );
      }
      let principal: Principal;
      try {
        principal = await deps.tokens.validate(authorization);
      } catch (error) {
        if (error instanceof AuthenticationError) deps.log.warn(`Refused ${action}: ${error.message}`);
        throw error;
      }
      if (roles.length > 0 && !hasAnyRole(principal, roles)) {
        const held = principal.roles.size > 0 ? [...principal.roles].join(', ') : 'none';
        const message = `${action} needs the app role ${roles.join(' or ')}; your token carries ${held}. Ask an administrator to assign the role on Linkgate's API application (README, "Security model"). Nothing was done.`;
        await deps.audit.append({
          kind: 'admin',
          outcome: 'not-allowed',
          actor: principalActor(principal),
          summary: `${principal.name} was refused: ${action} needs ${roles.join(' or ')}.`,
          detail: { action, needs: roles, by: principalDetail(principal) },
        });
        throw new AuthorizationError(message);
      }
      return principal;
    },
  };
}
