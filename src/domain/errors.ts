/**
 * One error hierarchy for expected outcomes. Each carries `name` and keeps `cause`,
 * so a handler can map it to a 4xx, an audit entry or a card message; anything that
 * is not a LinkgateError is unexpected and is rethrown so the platform retries.
 */
export class LinkgateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input (an event, a query, an ID) could not be understood. Never leads to an action. */
export class InvalidInputError extends LinkgateError {
  constructor(
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A rule could not be understood. `field` names the offending field path. */
export class RuleValidationError extends LinkgateError {
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

/** An approval workflow transition that the state machine does not allow. */
export class InvalidTransitionError extends LinkgateError {
  constructor(
    readonly from: string,
    readonly event: string,
  ) {
    super(`transition '${event}' is not allowed from state '${from}'`);
  }
}

/** A setting is missing or not understood. Raised at cold start, naming the setting. */
export class ConfigError extends LinkgateError {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`Configuration setting ${setting} ${message}`);
  }
}

/** A query the audit store cannot serve as asked: bad page size, bad or foreign continuation token. Maps to HTTP 400. */
export class AuditQueryError extends LinkgateError {
  constructor(
    message: string,
    readonly code: 'invalid-page-size' | 'invalid-token' | 'token-mismatch' | 'invalid-query',
  ) {
    super(message);
  }
}

/** A Teams (Bot Connector) call that failed: not retryable, or out of attempts. Later may work. */
export class TeamsDeliveryError extends LinkgateError {
  constructor(
    message: string,
    readonly operation: 'post' | 'update' | 'reply',
    readonly conversationId: string,
    /** HTTP status of the last answer; undefined when there was none (network error). */
    readonly status: number | undefined,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Teams will give the same answer again: the conversation or message does not exist, or the bot
 * may not post there. Callers stop retrying and tell someone (see ReviewNotifier).
 */
export class PermanentDeliveryError extends TeamsDeliveryError {}

/** A request to an admin API carries no identity Linkgate accepts: no token, or one that fails validation. Maps to 401. */
export class AuthenticationError extends LinkgateError {
  constructor(
    message: string,
    readonly code: 'missing-token' | 'invalid-token' | 'not-configured' | 'keys-unavailable',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The caller is known but lacks the app role (or the four-eyes rule forbids what they asked). Maps to 403. */
export class AuthorizationError extends LinkgateError {}

/** A rule change proposal that cannot be acted on as asked: unknown, no longer pending, expired or stale. */
export class ProposalError extends LinkgateError {
  constructor(
    message: string,
    readonly code: 'not-found' | 'not-pending' | 'expired' | 'stale' | 'same-person',
  ) {
    super(message);
  }
}
