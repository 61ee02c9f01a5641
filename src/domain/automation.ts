import type { PersonRef } from './rule-proposal.js';

/**
 * Break-glass: a hold on every automatic decision. While it is in place, a rule that says approve
 * or reject sends the connection to a person instead, so nothing is approved or rejected without
 * someone looking, whatever the rules say. Placing it only makes Linkgate stricter, so it takes
 * effect at once for anyone with the Operate role; lifting it returns to rules that were already
 * in force (and confirmed where four-eyes asked for it).
 */
export interface AutomationHold {
  readonly by: PersonRef;
  readonly at: Date;
  readonly reason: string;
}
