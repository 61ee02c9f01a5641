import { describe, expect, it } from 'vitest';
import {
  APPROVAL_STATES,
  canApply,
  isInFlight,
  isTerminal,
  nextState,
  type ApprovalEvent,
  type ApprovalState,
} from '../../src/domain/approval-state-machine.js';
import { InvalidTransitionError } from '../../src/domain/errors.js';

const OPEN_STATES: readonly ApprovalState[] = ['Detected', 'Deciding', 'AwaitingReview', 'Approving', 'Rejecting', 'Failed'];
const TERMINAL_STATES: readonly ApprovalState[] = ['Approved', 'Rejected', 'Ignored', 'Expired', 'Vanished', 'DecidedElsewhere'];
const IN_FLIGHT_STATES: readonly ApprovalState[] = ['Deciding', 'Approving', 'Rejecting'];

const ALL_EVENTS: readonly ApprovalEvent[] = [
  { type: 'claim' },
  { type: 'resume' },
  { type: 'decided', action: 'approve' },
  { type: 'decided', action: 'reject' },
  { type: 'decided', action: 'review' },
  { type: 'decided', action: 'ignore' },
  { type: 'human', action: 'approve' },
  { type: 'human', action: 'reject' },
  { type: 'confirmed' },
  { type: 'vanished' },
  { type: 'changedElsewhere' },
  { type: 'failed' },
  { type: 'retry', action: 'approve' },
  { type: 'retry', action: 'reject' },
  { type: 'escalated' },
  { type: 'expired', action: 'leave-pending' },
  { type: 'expired', action: 'reject' },
];

/** Every transition the workflow allows, as [from, event, to]. */
const ALLOWED: ReadonlyArray<readonly [ApprovalState, ApprovalEvent, ApprovalState]> = [
  ['Detected', { type: 'claim' }, 'Deciding'],
  ['Failed', { type: 'claim' }, 'Deciding'],
  ['Deciding', { type: 'resume' }, 'Deciding'],
  ['Approving', { type: 'resume' }, 'Approving'],
  ['Rejecting', { type: 'resume' }, 'Rejecting'],
  ['Deciding', { type: 'decided', action: 'approve' }, 'Approving'],
  ['Deciding', { type: 'decided', action: 'reject' }, 'Rejecting'],
  ['Deciding', { type: 'decided', action: 'review' }, 'AwaitingReview'],
  ['Deciding', { type: 'decided', action: 'ignore' }, 'Ignored'],
  ['AwaitingReview', { type: 'human', action: 'approve' }, 'Approving'],
  ['AwaitingReview', { type: 'human', action: 'reject' }, 'Rejecting'],
  ['Approving', { type: 'confirmed' }, 'Approved'],
  ['Rejecting', { type: 'confirmed' }, 'Rejected'],
  ['AwaitingReview', { type: 'expired', action: 'leave-pending' }, 'Expired'],
  ['AwaitingReview', { type: 'expired', action: 'reject' }, 'Rejecting'],
  ['Deciding', { type: 'failed' }, 'Failed'],
  ['Approving', { type: 'failed' }, 'Failed'],
  ['Rejecting', { type: 'failed' }, 'Failed'],
  ['Failed', { type: 'retry', action: 'approve' }, 'Approving'],
  ['Failed', { type: 'retry', action: 'reject' }, 'Rejecting'],
  ['Failed', { type: 'escalated' }, 'AwaitingReview'],
  ...OPEN_STATES.map((from) => [from, { type: 'vanished' }, 'Vanished'] as const),
  ...OPEN_STATES.map((from) => [from, { type: 'changedElsewhere' }, 'DecidedElsewhere'] as const),
];

function label(event: ApprovalEvent): string {
  return 'action' in event ? `${event.type}(${event.action})` : event.type;
}

function isAllowed(from: ApprovalState, event: ApprovalEvent): boolean {
  return ALLOWED.some(([f, e]) => f === from && label(e) === label(event));
}

function refusal(from: ApprovalState, event: ApprovalEvent): InvalidTransitionError {
  try {
    nextState(from, event);
  } catch (error) {
    if (error instanceof InvalidTransitionError) return error;
    throw error;
  }
  throw new Error(`expected ${label(event)} from ${from} to be refused`);
}

describe('approval state machine: allowed transitions', () => {
  it.each(ALLOWED.map(([from, event, to]) => ({ from, event, to, name: label(event) })))(
    '$from --$name--> $to',
    ({ from, event, to }) => {
      // Prepare: the table row.

      // Act
      const reached = nextState(from, event);

      // Assess
      expect(reached).toBe(to);
      expect(canApply(from, event)).toBe(true);
    },
  );
});

describe('approval state machine: refused transitions', () => {
  it.each<{ from: ApprovalState; event: ApprovalEvent; text: string }>([
    { from: 'Detected', event: { type: 'decided', action: 'approve' }, text: 'decided(approve)' },
    { from: 'Detected', event: { type: 'confirmed' }, text: 'confirmed' },
    { from: 'Deciding', event: { type: 'claim' }, text: 'claim' },
    { from: 'Deciding', event: { type: 'human', action: 'approve' }, text: 'human(approve)' },
    { from: 'Approving', event: { type: 'decided', action: 'reject' }, text: 'decided(reject)' },
    { from: 'AwaitingReview', event: { type: 'confirmed' }, text: 'confirmed' },
    { from: 'Approved', event: { type: 'claim' }, text: 'claim' },
    { from: 'Rejected', event: { type: 'human', action: 'reject' }, text: 'human(reject)' },
    { from: 'Expired', event: { type: 'human', action: 'approve' }, text: 'human(approve)' },
    { from: 'Ignored', event: { type: 'decided', action: 'ignore' }, text: 'decided(ignore)' },
    { from: 'Failed', event: { type: 'confirmed' }, text: 'confirmed' },
  ])('$from refuses $text with InvalidTransitionError naming the state and the event', ({ from, event, text }) => {
    // Prepare: a state and an event the table does not pair.

    // Act
    const error = refusal(from, event);

    // Assess
    expect(error.from).toBe(from);
    expect(error.event).toBe(text);
    expect(error.name).toBe('InvalidTransitionError');
    expect(error.message).toBe(`transition '${text}' is not allowed from state '${from}'`);
    expect(canApply(from, event)).toBe(false);
  });

  it('no state accepts any event outside the table of allowed transitions', () => {
    // Prepare
    const pairs = APPROVAL_STATES.flatMap((from) => ALL_EVENTS.map((event) => ({ from, event })));

    // Act
    const unexpected = pairs.filter(({ from, event }) => canApply(from, event) !== isAllowed(from, event)).map(({ from, event }) => `${from} ${label(event)}`);

    // Assess
    expect(unexpected).toEqual([]);
  });

  it('nextState throws InvalidTransitionError for every pair outside the table', () => {
    // Prepare
    const refusedPairs = APPROVAL_STATES.flatMap((from) => ALL_EVENTS.map((event) => ({ from, event }))).filter(({ from, event }) => !isAllowed(from, event));

    // Act
    const errors = refusedPairs.map(({ from, event }) => refusal(from, event));

    // Assess
    expect(errors.map((e) => `${e.from} ${e.event}`)).toEqual(refusedPairs.map(({ from, event }) => `${from} ${label(event)}`));
  });
});

describe('approval state machine: classification', () => {
  it.each(TERMINAL_STATES)('%s is terminal and not in flight', (state) => {
    // Act
    const terminal = isTerminal(state);
    const inFlight = isInFlight(state);

    // Assess
    expect(terminal).toBe(true);
    expect(inFlight).toBe(false);
  });

  it.each(IN_FLIGHT_STATES)('%s is in flight and not terminal', (state) => {
    // Act
    const terminal = isTerminal(state);
    const inFlight = isInFlight(state);

    // Assess
    expect(inFlight).toBe(true);
    expect(terminal).toBe(false);
  });

  it.each<ApprovalState>(['Detected', 'AwaitingReview', 'Failed'])('%s is neither terminal nor in flight', (state) => {
    // Act
    const terminal = isTerminal(state);
    const inFlight = isInFlight(state);

    // Assess
    expect(terminal).toBe(false);
    expect(inFlight).toBe(false);
  });

  it('every state is classified as exactly one of terminal, in flight or waiting', () => {
    // Prepare
    const waiting = ['Detected', 'AwaitingReview', 'Failed'];

    // Act
    const classes = APPROVAL_STATES.map((state) => [isTerminal(state), isInFlight(state), waiting.includes(state)].filter(Boolean).length);

    // Assess
    expect(classes).toEqual(APPROVAL_STATES.map(() => 1));
  });
});

describe('approval state machine: the rules behind the table', () => {
  it('resume keeps an in-flight state as it is, so the leased step can be redone', () => {
    // Act
    const resumed = IN_FLIGHT_STATES.map((state) => nextState(state, { type: 'resume' }));

    // Assess
    expect(resumed).toEqual(IN_FLIGHT_STATES);
  });

  it.each<ApprovalState>(['Detected', 'AwaitingReview', 'Failed', ...TERMINAL_STATES])('resume is refused from %s, which holds no lease', (state) => {
    // Act
    const error = refusal(state, { type: 'resume' });

    // Assess
    expect(error.event).toBe('resume');
  });

  it('claim from Failed starts a new decision (a later hint retries)', () => {
    // Act
    const reached = nextState('Failed', { type: 'claim' });

    // Assess
    expect(reached).toBe('Deciding');
  });

  it.each<ApprovalState>(APPROVAL_STATES.filter((state) => state !== 'AwaitingReview'))(
    'a human decision is refused from %s (only AwaitingReview takes one)',
    (state) => {
      // Act
      const approve = canApply(state, { type: 'human', action: 'approve' });
      const reject = canApply(state, { type: 'human', action: 'reject' });

      // Assess
      expect([approve, reject]).toEqual([false, false]);
    },
  );

  it.each<ApprovalState>(APPROVAL_STATES.filter((state) => state !== 'AwaitingReview'))('expired is refused from %s (only a review can expire)', (state) => {
    // Act
    const error = refusal(state, { type: 'expired', action: 'leave-pending' });

    // Assess
    expect(error.event).toBe('expired(leave-pending)');
  });

  it.each(TERMINAL_STATES)('vanished and changedElsewhere are refused from terminal %s', (state) => {
    // Act
    const vanished = canApply(state, { type: 'vanished' });
    const changedElsewhere = canApply(state, { type: 'changedElsewhere' });

    // Assess
    expect([vanished, changedElsewhere]).toEqual([false, false]);
    expect(() => nextState(state, { type: 'vanished' })).toThrow(InvalidTransitionError);
    expect(() => nextState(state, { type: 'changedElsewhere' })).toThrow(InvalidTransitionError);
  });

  it.each<ApprovalState>(['Detected', 'AwaitingReview', 'Failed', ...TERMINAL_STATES])('failed is refused from %s, which runs no step', (state) => {
    // Act
    const applies = canApply(state, { type: 'failed' });

    // Assess
    expect(applies).toBe(false);
  });
});
